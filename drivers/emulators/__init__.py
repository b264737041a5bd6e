"""Register-level emulators of the chips on our HATs, and the emulated world they live in.

They model what the datasheets describe (SPI framing, register reset values,
read-only bits, self-clearing bits, timers, interrupts, line-side physics) so
the real drivers can be tested without hardware. The analog ends are the
simulator's own models: a `VirtualPhone` on each SLIC, a `CentralOffice` line
on each DAA.
"""
