"""Benchmarks of the C DSP core against spandsp: `python3 -m bench` (see __main__.py)."""
