"""`linebox dsp ...`: the DSP core on WAV files, for installers diagnosing a line
and for tests. Input and output WAVs are 8 kHz mono 16-bit PCM; results are one
JSON object per line on stdout; errors are one line on stderr with a non-zero
exit status (2: bad input or usage, 1: the analysis found nothing usable, or
the output could not be written).

    linebox dsp dtmf-decode IN.wav [--sent SENT.wav]
    linebox dsp dtmf-encode DIGITS OUT.wav [--on-ms --off-ms --level-dbm0 --twist-db]
    linebox dsp echo-cancel --far FAR.wav --near NEAR.wav OUT.wav [--tail-ms 128] [--no-nlp]
    linebox dsp cid-encode --standard bell202|v23|dtmf [--format sdmf|mdmf] --number N [--name NAME]
                           [--datetime MMDDHHMM] OUT.wav
    linebox dsp cid-decode IN.wav [--standard auto|bell202|v23|dtmf]
    linebox dsp tones-detect IN.wav --country CC [--tones busy,congestion,dial,ringback]
    linebox dsp tones-learn IN.wav
    linebox dsp faxtone-detect IN.wav
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TextIO

import numpy as np

from dsp_ext.levels import FRAME, RATE, rms_dbm0
from dsp_ext.wav import WavError, read_wav, write_wav

__all__ = ["register", "main"]


class _Failed(Exception):
    """A one-line error for the user, with the exit status to return."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


def _emit(out: TextIO, obj: dict) -> None:
    out.write(json.dumps(obj, ensure_ascii=False) + "\n")


def _t(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds, 3)


def _frames(x: np.ndarray):
    for i in range(0, x.size, FRAME):
        yield x[i:i + FRAME]


def _write(path: str, x: np.ndarray) -> None:
    try:
        write_wav(path, x)
    except OSError as exc:
        raise _Failed(f"cannot write {path}: {exc.strerror or exc}", 1) from None


def _pairs(events, key, start_fields):
    """Match start/end events per key, in start order; an unfinished one ends at None."""
    open_: dict = {}
    done = []
    for e in events:
        k = key(e)
        if e.kind == "start":
            open_[k] = {**start_fields(e), "start": _t(e.time), "end": None}
            done.append(open_[k])
        elif k in open_:
            open_.pop(k)["end"] = _t(e.time)
    return done


# ---- commands ----

def _dtmf_decode(args, out) -> int:
    from dsp_ext.dtmf import DtmfReceiver
    x = np.concatenate([read_wav(args.input), np.zeros(FRAME * 4, np.int16)])   # 40 ms of silence ends a last digit
    sent = None
    if args.sent:
        sent = read_wav(args.sent)[:x.size]
        sent = np.concatenate([sent, np.zeros(x.size - sent.size, np.int16)])
    rx = DtmfReceiver()
    events = []
    for i in range(0, x.size, FRAME):
        events += rx.process(x[i:i + FRAME], sent=None if sent is None else sent[i:i + FRAME])
    for d in _pairs(events, lambda e: e.digit, lambda e: {"digit": e.digit, "level_dbm0": round(e.level_dbm0, 1)}):
        _emit(out, {"digit": d["digit"], "start": d["start"], "end": d["end"], "level_dbm0": d["level_dbm0"]})
    return 0


def _dtmf_encode(args, out) -> int:
    from dsp_ext.dtmf import check_digits, dtmf_encode
    check_digits(args.digits)
    if not args.digits:
        raise _Failed("no digits given; use 0-9 * # A-D")
    if not 1 <= args.on_ms <= 10000 or not 0 <= args.off_ms <= 10000:
        raise _Failed(f"--on-ms must be 1..10000 and --off-ms 0..10000, got {args.on_ms} and {args.off_ms}")
    if not -60 <= args.level_dbm0 <= 0 or not -10 <= args.twist_db <= 10:
        raise _Failed(f"--level-dbm0 must be -60..0 and --twist-db -10..10, got {args.level_dbm0} and {args.twist_db}")
    x = dtmf_encode(args.digits, args.on_ms, args.off_ms, args.level_dbm0, args.twist_db)
    _write(args.output, x)
    _emit(out, {"wrote": args.output, "digits": args.digits, "seconds": round(x.size / RATE, 3)})
    return 0


def _refuse_overwriting_an_input(output: str, **inputs: str) -> None:
    """OUT must be a new name: written over FAR or NEAR, the recording would be lost."""
    for option, path in inputs.items():
        try:
            same = os.path.samefile(output, path)
        except OSError:          # OUT does not exist yet (or the input is unreadable: said later)
            same = False
        if same:
            raise _Failed(f"{output} is one of the inputs (--{option} {path}); write the result to another "
                          "file, the recording would be lost")


def _echo_cancel(args, out) -> int:
    from dsp_ext.echo import EchoCanceller
    _refuse_overwriting_an_input(args.output, far=args.far, near=args.near)
    far, near = read_wav(args.far), read_wav(args.near)
    if far.size < near.size:            # nothing sent after FAR ends
        far = np.concatenate([far, np.zeros(near.size - far.size, np.int16)])
    far = far[:near.size]
    ec = EchoCanceller(tail_ms=args.tail_ms, nlp=not args.no_nlp)
    cleaned = np.concatenate([ec.process(f, n) for f, n in zip(_frames(far), _frames(near), strict=True)]
                             or [np.zeros(0, np.int16)])
    _write(args.output, cleaned)
    before, after = rms_dbm0(near), rms_dbm0(cleaned)
    _emit(out, {"wrote": args.output, "seconds": round(near.size / RATE, 3),
                "near_dbm0": round(before, 1) if np.isfinite(before) else None,
                "out_dbm0": round(after, 1) if np.isfinite(after) else None,
                "reduction_db": round(before - after, 1) if np.isfinite(before) and np.isfinite(after) else None})
    return 0


def _cid_encode(args, out) -> int:
    from dsp_ext.callerid import encode_caller_id
    fmt = "dtmf" if args.standard == "dtmf" else args.format
    if args.name and fmt == "sdmf":      # said in the CLI's own words (the library names its parameter)
        raise _Failed("--format sdmf carries no name; use --format mdmf, or leave out --name")
    x = encode_caller_id(standard=args.standard, fmt=fmt, number=args.number, name=args.name,
                         datetime=args.datetime)
    _write(args.output, x)
    _emit(out, {"wrote": args.output, "standard": args.standard, "format": fmt,
                "seconds": round(x.size / RATE, 3)})
    return 0


def _cid_decode(args, out) -> int:
    from dsp_ext.callerid import CallerIdReceiver
    x = read_wav(args.input)
    rx = CallerIdReceiver(standard=args.standard)
    for f in _frames(np.concatenate([x, np.zeros(FRAME * 20, np.int16)])):   # let a last message finish
        for message in rx.process(f):
            _emit(out, message.as_dict())
    return 0


def _tones_detect(args, out) -> int:
    from dsp_ext.tones import ToneDetector
    names = tuple(t.strip() for t in args.tones.split(",") if t.strip())
    x = read_wav(args.input)
    det = ToneDetector(args.country, names)
    events = []
    for f in _frames(x):
        events += det.process(f)
    for d in _pairs(events, lambda e: e.tone, lambda e: {"tone": e.tone}):
        _emit(out, d)
    return 0


def _tones_learn(args, out) -> int:
    from dsp_ext.tones import learn_tone
    x = read_wav(args.input)
    try:
        learned = learn_tone(x)
    except ValueError as exc:
        raise _Failed(f"{args.input}: {exc}", 1) from None
    _emit(out, learned.as_dict())
    return 0


def _faxtone_detect(args, out) -> int:
    from dsp_ext.faxtone import FaxToneDetector
    x = read_wav(args.input)
    det = FaxToneDetector()
    events = []
    for f in _frames(np.concatenate([x, np.zeros(FRAME * 5, np.int16)])):
        events += det.process(f)
    open_: dict = {}
    rows = []
    for e in events:
        if e.kind == "start":
            open_[e.tone] = {"tone": e.tone, "start": _t(e.time), "end": None, "phase_reversals": e.phase_reversals}
            rows.append(open_[e.tone])
        elif e.tone in open_:
            row = open_.pop(e.tone)
            row["end"], row["phase_reversals"] = _t(e.time), e.phase_reversals
    for row in rows:
        _emit(out, row)
    return 0


# ---- argparse ----

def register(subparsers) -> None:
    dsp = subparsers.add_parser("dsp", help="DSP tools on 8 kHz mono WAV files (DTMF, tones, caller ID, fax, echo)",
                                description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = dsp.add_subparsers(dest="dsp_cmd", required=True)

    p = sub.add_parser("dtmf-decode", help="list the DTMF digits in a recording")
    p.add_argument("input", metavar="IN.wav")
    p.add_argument("--sent", metavar="SENT.wav",
                   help="what was sent to the line meanwhile: digits that are only its echo are ignored")
    p.set_defaults(fn=_run, dsp_fn=_dtmf_decode)

    p = sub.add_parser("dtmf-encode", help="write DTMF digits to a WAV file")
    p.add_argument("digits", metavar="DIGITS", help="0-9 * # A-D")
    p.add_argument("output", metavar="OUT.wav")
    p.add_argument("--on-ms", type=int, default=80)
    p.add_argument("--off-ms", type=int, default=80)
    p.add_argument("--level-dbm0", type=float, default=-10.0, help="row (low) tone level")
    p.add_argument("--twist-db", type=float, default=2.0, help="column tone level above the row tone")
    p.set_defaults(fn=_run, dsp_fn=_dtmf_encode)

    p = sub.add_parser("echo-cancel", help="remove the echo of FAR from NEAR")
    p.add_argument("--far", required=True, metavar="FAR.wav", help="what was sent to the line")
    p.add_argument("--near", required=True, metavar="NEAR.wav", help="what came back from the line")
    p.add_argument("output", metavar="OUT.wav")
    p.add_argument("--tail-ms", type=int, default=128)
    p.add_argument("--no-nlp", action="store_true", help="no non-linear processor / comfort noise")
    p.set_defaults(fn=_run, dsp_fn=_echo_cancel)

    p = sub.add_parser("cid-encode", help="write an on-line caller-ID signal")
    p.add_argument("--standard", required=True, choices=["bell202", "v23", "dtmf"])
    p.add_argument("--format", default="mdmf", choices=["sdmf", "mdmf"])
    p.add_argument("--number", required=True)
    p.add_argument("--name")
    p.add_argument("--datetime", metavar="MMDDHHMM")
    p.add_argument("output", metavar="OUT.wav")
    p.set_defaults(fn=_run, dsp_fn=_cid_encode)

    p = sub.add_parser("cid-decode", help="decode caller ID from a recording of the line")
    p.add_argument("input", metavar="IN.wav")
    p.add_argument("--standard", default="auto", choices=["auto", "bell202", "v23", "dtmf"])
    p.set_defaults(fn=_run, dsp_fn=_cid_decode)

    p = sub.add_parser("tones-detect", help="find call-progress tones of a country")
    p.add_argument("input", metavar="IN.wav")
    p.add_argument("--country", required=True, metavar="CC")
    p.add_argument("--tones", default="busy,congestion,dial,ringback", help="comma-separated")
    p.set_defaults(fn=_run, dsp_fn=_tones_detect)

    p = sub.add_parser("tones-learn", help="measure an unknown tone's frequencies, cadence and level")
    p.add_argument("input", metavar="IN.wav")
    p.set_defaults(fn=_run, dsp_fn=_tones_learn)

    p = sub.add_parser("faxtone-detect", help="find fax/modem tones (CNG, CED, ANSam)")
    p.add_argument("input", metavar="IN.wav")
    p.set_defaults(fn=_run, dsp_fn=_faxtone_detect)


def _run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        return args.dsp_fn(args, out)
    except _Failed as exc:
        status, message = exc.status, str(exc)
    except (WavError, ValueError) as exc:
        status, message = 2, str(exc)
    err.write(f"linebox dsp {args.dsp_cmd}: {' '.join(message.split())}\n")
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="linebox")
    register(parser.add_subparsers(dest="cmd", required=True))
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
