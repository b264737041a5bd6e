"""`run_calibration`: one function over any engine API `call`, for the CLI and the tests.

    profile = run_calibration(call, wait, "fxo1", number="5550100", as_extension="201")

`call(name, **args)` runs an engine API command and returns its result (raising
`ApiError`); `wait(seconds)` lets time pass (real seconds on a running service,
simulated ones on a `Pbx`). Re-pointing the CLI at another transport means
passing another `call`.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

POLL_S = 0.5


def run_calibration(call: Callable[..., Any], wait: Callable[[float], None], port: str, number: str = "",
                    as_extension: str = "", listen_s: int = 25,
                    progress: Callable[[dict], None] | None = None, timeout_s: float = 500.0,
                    inbound_wait_s: int = 0, expect_tone: str = "busy") -> dict:
    status = call("line.calibrate", port=port, number=number, as_extension=as_extension, listen_s=listen_s,
                  inbound_wait_s=inbound_wait_s, expect_tone=expect_tone)
    waited = 0.0
    last = None
    while status["phase"] not in ("captured", "failed"):
        if progress is not None and status["phase"] != last:
            progress(status)
            last = status["phase"]
        if waited > timeout_s:
            call("line.calibration_cancel", port=port)
            raise TimeoutError(f"calibration of {port} did not finish within {timeout_s:.0f} s")
        wait(POLL_S)
        waited += POLL_S
        status = call("line.calibration_status", port=port)
    return call("line.calibration_finish", port=port)


def describe(profile: dict) -> list[str]:
    """The profile as lines of text for a terminal."""
    out = [f"line {profile['port']} ({profile.get('country', '?')}), calibrated {profile.get('date', '?')}"]

    def tone(name: str, label: str) -> None:
        t = profile.get(name)
        if t is None:
            return
        if "error" in t:
            out.append(f"  {label}: not learned ({t['error']})")
        else:
            freqs = " x ".join(f"{f:g}" for f in t["freqs"]) if t.get("modulated") else \
                " + ".join(f"{f:g}" for f in t["freqs"])
            cad = "/".join(str(c) for c in t["cadence_ms"]) or "continuous"
            out.append(f"  {label}: {freqs} Hz, cadence {cad} ms, {t['level_dbm0']:.1f} dBm0")
    tone("dial_tone", "dial tone")
    tone("ringback", "ringback")
    tone("busy", "busy")
    tone("congestion", "congestion")
    tone("disconnect", "disconnect")
    if "ring" in profile:
        out.append(f"  ringing: a ring every {profile['ring']['period_ms']} ms")
    echo = profile.get("echo", {})
    if "error" in echo:
        out.append(f"  echo path: not measured ({echo['error']})")
    else:
        out.append(f"  echo path: ERL {echo['erl_db']:.1f} dB, delay {echo['delay_ms']:.1f} ms, "
                   f"tail {echo['tail_ms']:.0f} ms (measurement SNR {echo['snr_db']:.0f} dB)")
    gains = profile.get("suggested_gains", {})
    out.append(f"  suggested gains: receive {gains.get('rx_db', 0):+.0f} dB, transmit {gains.get('tx_db', 0):+.0f} dB")
    out += [f"    - {why}" for why in gains.get("why", [])]
    return out
