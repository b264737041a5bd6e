"""Phrases the engine scenarios share."""
from firmware.harness import Pbx


def off_hook_and_dial(pbx: Pbx, ext: str, digits: str, pulse: bool = False):
    """Lift `ext`'s handset, wait for dial tone, dial `digits`; returns the phone."""
    phone = pbx.phone(ext)
    phone.off_hook()
    pbx.run_until(lambda: pbx.state(pbx.engine.plan.extensions[ext].port) == "dialtone", 1)
    pbx.run(0.3)
    if pulse:
        phone.dial_pulse(digits)
    else:
        phone.dial(digits)
    pbx.run_until(lambda: not phone.busy_dialling, 30)
    return phone


def records(pbx: Pbx) -> list[dict]:
    pbx.records.flush()
    return sorted(pbx.records.search(), key=lambda r: r["start"])


def port_of(pbx: Pbx, ext: str) -> str:
    return pbx.engine.plan.extensions[ext].port
