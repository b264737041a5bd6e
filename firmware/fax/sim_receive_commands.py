"""`sim.fax_receive`: a fax machine on the simulated exchange that answers calls and keeps what it
receives (`linebox sim fax NUMBER receive`), the far end for trying fax sending on the simulator.

Simulator only (refused with `unavailable` on hardware), like every `sim.*` command.
"""
from __future__ import annotations

from typing import Any

from ..api import ApiContext, ApiError, command
from .sim_commands import MODEMS


@command("sim.fax_receive", on="store")
def sim_fax_receive(ctx: ApiContext, number: str, answer_at_ring: int = 1, ecm: bool = True, modem: str = "v17",
                    ident: str = "") -> dict:
    """Remote fax machine `number` answers calls at ring `answer_at_ring` and receives; the pages land
    in DATA/sim-fax/<number>-received.tif (`sim.fax_status` gives the session's report)."""
    if not 1 <= len(number) <= 32 or not number.isdigit():
        raise ApiError("bad_request", "number must be 1-32 digits")
    if not 1 <= answer_at_ring <= 10:
        raise ApiError("bad_request", "answer_at_ring: 1 to 10")
    if modem not in MODEMS:
        raise ApiError("bad_request", f"modem must be one of {', '.join(MODEMS)}")
    if len(ident) > 20 or not all(c.isdigit() or c in "+ " for c in ident):
        raise ApiError("bad_request", "ident: up to 20 digits, '+' and spaces")
    folder = ctx.data_dir / "sim-fax"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{number}-received.tif"

    def arm(engine: Any) -> dict:
        co = getattr(engine.board, "co", None)
        if co is None:
            raise ApiError("unavailable", "the simulator commands work only when Linebox runs on the simulated board")
        try:
            fax = co.fax_machine(number, ident=ident, ecm=ecm, modem=modem)
        except ValueError as exc:               # the number is already a phone on the exchange
            raise ApiError("conflict", f"{exc}; choose another number for the fax machine") from None
        fax.ident, fax.ecm, fax.modem = ident, ecm, modem
        fax.receive_into(path, answer_at_ring=answer_at_ring)
        return {"ok": True, "fax": number, "state": fax.state, "file": str(path)}
    return ctx.on_media(arm).result(timeout=5)
