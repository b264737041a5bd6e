"""`linebox hw probe` and `linebox hw test PORT`: installer tools for the HAT.

    linebox hw probe                 what was found, chip revisions, line voltage per FXO, loop per FXS
    linebox hw test fxs1             ring the phone (pick it up: loop current is measured)
    linebox hw test fxo1             seize the line and listen for dial tone

`--emulated` runs the same code on the emulated HAT (no hardware needed);
`--board ID` skips detection. Exit status: 0 ok, 1 something to fix, 2 bad usage.
"""
from __future__ import annotations

import argparse
import logging
import sys

import numpy as np

from dsp_ext.countries import profile
from dsp_ext.levels import RATE, rms_dbm0

__all__ = ["register", "main"]

log = logging.getLogger("linebox.hw")
FRAMES_PER_S = 100


def _test_seconds(text: str) -> float:
    """A test rings a real phone: keep it between 1 s and 2 minutes."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not 1 <= value <= 120:
        raise argparse.ArgumentTypeError("--seconds must be between 1 and 120")
    return value


def register(subparsers) -> None:
    hw = subparsers.add_parser("hw", help="probe and test the telephony HAT")
    sub = hw.add_subparsers(dest="hw_cmd", required=True)
    for name, helptext in (("probe", "show the board, chips, line voltage per FXO, loop state per FXS"),
                           ("test", "ring an FXS phone / seize an FXO line and listen for dial tone")):
        p = sub.add_parser(name, help=helptext)
        if name == "test":
            p.add_argument("port", help="port name, e.g. fxs1 or fxo2")
            p.add_argument("--seconds", type=_test_seconds, default=6.0,
                           help="how long to ring / listen, 1-120 (default 6)")
            p.add_argument("--answer-after", type=float, default=None,
                           help="--emulated only: the emulated phone picks up after this many seconds")
        p.add_argument("--board", help="board id (e.g. 2fxs2fxo) instead of detecting it")
        p.add_argument("--emulated", action="store_true", help="use the emulated HAT (no hardware)")
        p.add_argument("--country", default="US", help="country profile (US, UK, DE, ...)")
        p.set_defaults(fn=run)


def main(argv: list[str] | None = None, out=None) -> int:
    parser = argparse.ArgumentParser(prog="linebox")
    register(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(argv)
    return run(args, out or sys.stdout)


def run(args: argparse.Namespace, out=None) -> int:
    out = out or sys.stdout
    try:
        board, found_by = _open_board(args)
    except ValueError as exc:
        print(f"linebox hw: {exc}", file=out)
        return 2
    if board is None:
        print("No Linebox HAT found: no HAT EEPROM and no chips answering on SPI.\n"
              "Check that the HAT is seated, that config.txt has the board's dtoverlay (see board/README.md),\n"
              "and that SPI is enabled (ls /dev/spidev0.*). Linebox runs on the simulated board meanwhile.",
              file=out)
        return 1
    try:
        if args.hw_cmd == "probe":
            return probe(board, found_by, out)
        return _test(board, args, out)
    finally:
        board.stop()


def _open_board(args):
    profile(args.country)                                    # unknown country: ValueError, one line
    if args.emulated:
        from drivers.emulated_hat import emulated_hat_board
        return emulated_hat_board(args.board or "2fxs2fxo", country=args.country), "emulation"
    from drivers.detect import HAT_DIR, detect_board, read_hat_product
    if args.board:
        from board import load_board
        from drivers.detect import build_hat_board, open_spi_bus
        d = load_board(args.board)
        return build_hat_board(d, open_spi_bus(d), args.country), f"--board {args.board}"
    product = read_hat_product(HAT_DIR)
    board = detect_board(log, country=args.country)
    if board is None:
        return None, ""
    matched = product and board.definition.hat_product == product
    return board, f'HAT EEPROM "{product}"' if matched else "probing the chips over SPI"


def _ticks(board, n: int, tx=None) -> list:
    events = []
    for _ in range(n):
        events.extend(board.tick(tx or {}).events)
    return events


def probe(board, found_by: str, out) -> int:
    """Print what the board has; returns 1 if any port is out of service."""
    if not getattr(board, "started", True):
        board.start()
    _ticks(board, 10)                                        # let the monitors read the lines
    d = board.definition
    print(f"Board: {d.name} (board file {d.id}), found by {found_by}", file=out)
    print(f"Audio: {d.alsa_device}, {d.channels} x 16-bit TDM slots at 8 kHz; SPI bus {d.spi_bus}", file=out)
    bad = 0
    for port in board.ports:
        info = port.describe()
        head = f"  {port.name:<5} "
        if port.fault:
            bad += 1
            print(f"{head}FAULT: {port.fault}", file=out)
            continue
        if info["kind"] == "fxs":
            loop = "off hook" if info["off_hook"] else "on hook"
            print(f"{head}{info['chip']} rev {info['revision']}  cs{info['cs']} slot {info['timeslot']}  "
                  f"battery {info['battery_v']:.1f} V  loop: {loop}, {info['loop_current_ma']:.1f} mA", file=out)
        elif "line_voltage" in info and info.get("chip") == "Si3050":
            v = info["line_voltage"] or 0.0
            print(f"{head}Si3050 rev {info['revision']} + {info['line_side']}  cs{info['cs']} slot "
                  f"{info['timeslot']}  line: {v:+.0f} V ({_line_state(v)})", file=out)
        else:
            print(f"{head}{info.get('chip', '?')}", file=out)
    print("All ports OK." if not bad else f"{bad} port(s) out of service: see above.", file=out)
    return 1 if bad else 0


def _line_state(v: float) -> str:
    if abs(v) < 3:
        return "no line voltage: cable unplugged or line dead"
    if abs(v) < 20:
        return "in use by another phone on the line"
    return "idle" + (", reversed polarity" if v < 0 else "")


def _test(board, args, out) -> int:
    if not getattr(board, "started", True):
        board.start()
    port = board.by_name.get(args.port)
    if port is None:
        print(f"linebox hw: no port {args.port!r}; this board has {', '.join(board.by_name)}", file=out)
        return 2
    _ticks(board, 10)                                        # fresh line / loop readings
    if port.fault:
        print(f"{port.name}: out of service: {port.fault}", file=out)
        return 1
    if port.kind == "fxs":
        return _test_fxs(board, port, args, out)
    return _test_fxo(board, port, args, out)


def _test_fxs(board, port, args, out) -> int:
    answer_at = None
    if args.answer_after is not None:
        if not args.emulated:
            print("linebox hw: --answer-after only works with --emulated", file=out)
            return 2
        answer_at = round(args.answer_after * FRAMES_PER_S)
    cadence = profile(args.country).ring_cadence_ms
    print(f"{port.name}: ringing ({'/'.join(str(c) for c in cadence)} ms cadence) for up to "
          f"{args.seconds:g} s; pick up the phone to measure the loop", file=out)
    frames, t_ms, answered = round(args.seconds * FRAMES_PER_S), 0, None
    for f in range(frames):
        if answer_at is not None and f == answer_at:
            board.phone(port.name).off_hook()
        phase, on = t_ms % sum(cadence), True
        for i, step in enumerate(cadence):
            if phase < step:
                on = i % 2 == 0
                break
            phase -= step
        if not port.off_hook:
            port.set_ringing(on)
        t_ms += 10
        events = board.tick({}).events
        if any(e.port == port.name and e.type == "off_hook" for e in events):
            answered = f / FRAMES_PER_S
            break
    port.set_ringing(False)
    if answered is None:
        print(f"{port.name}: rang, nobody answered. If the bell did not ring, check the wiring to the "
              "phone (tip/ring) and that it is a ringer-equipped analog phone.", file=out)
        return 1
    _ticks(board, 20)
    ma = port.loop_current_ma()
    verdict = "ok" if 15 <= ma <= 45 else "out of range (expect 18-35 mA): check the line length and the phone"
    print(f"{port.name}: answered after {answered:.1f} s; loop current {ma:.1f} mA ({verdict}); "
          f"battery {port.battery_volts():.1f} V", file=out)
    return 0 if verdict == "ok" else 1


def _test_fxo(board, port, args, out) -> int:
    v = port.line_voltage
    volts = f"{v:+.0f} V" if v is not None else "not measurable on this port"
    print(f"{port.name}: line voltage on hook {volts}; going off hook", file=out)
    port.set_off_hook(True)
    frames = max(50, round(min(args.seconds, 3.0) * FRAMES_PER_S))
    rx = []
    for _ in range(frames):
        rx.append(board.tick({}).rx[port.name])
    ma = getattr(port, "loop_current_ma", None)
    port.set_off_hook(False)
    _ticks(board, 5)
    audio = np.concatenate(rx[20:])                          # skip the seizure transient
    level = rms_dbm0(audio)
    freqs = _dominant(audio)
    ma_txt = f"; loop current {ma:.1f} mA" if isinstance(ma, float) else ""
    if level < -40 or not freqs:
        print(f"{port.name}: no dial tone heard (level {level:.0f} dBm0){ma_txt}. Check the line cable and "
              "that the line is active (plug a phone into it).", file=out)
        return 1
    expect = profile(args.country).dial.freqs
    match = all(any(abs(f - e) <= 15 for f in freqs) for e in expect)
    print(f"{port.name}: dial tone found: {'+'.join(f'{f:.0f}' for f in freqs)} Hz at {level:.0f} dBm0"
          f"{ma_txt} ({'matches' if match else 'does not match'} the {args.country} dial tone "
          f"{'+'.join(str(int(e)) for e in expect)} Hz)", file=out)
    return 0 if match else 1


def _dominant(audio: np.ndarray, n: int = 2) -> list[float]:
    x = audio.astype(np.float64) * np.hanning(audio.size)
    mag = np.abs(np.fft.rfft(x))
    hz = np.fft.rfftfreq(audio.size, 1 / RATE)
    mag[(hz < 200) | (hz > 3400)] = 0
    peaks = []
    for _ in range(n):
        k = int(np.argmax(mag))
        if mag[k] <= 0 or (peaks and mag[k] < 0.1 * peaks[0][1]):
            break
        peaks.append((hz[k], mag[k]))
        mag[max(0, k - 8):k + 9] = 0
    return sorted(round(f) for f, _ in peaks)
