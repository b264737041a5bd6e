"""`sim.fax_*`: fax machines on the simulated exchange of a running Linebox (`linebox sim fax ...`):
one that calls a line and sends (`sim.fax_send`), one that answers as a fax (`sim.fax_answer`).

Simulator only (refused with `unavailable` on hardware), like every `sim.*` command.
"""
from __future__ import annotations

from typing import Any

from ..api import ApiContext, ApiError, command
from .charts import CHART_KINDS, document

MODEMS = ("v17", "v29", "v27ter")


def _number(number: str) -> str:
    if not 1 <= len(number) <= 32 or not number.isdigit():
        raise ApiError("bad_request", "number must be 1-32 digits")
    return number


def _co(engine: Any) -> Any:
    co = getattr(engine.board, "co", None)
    if co is None:
        raise ApiError("unavailable", "the simulator commands work only when Linebox runs on the simulated board")
    return co


def _machine_folder(ctx: ApiContext, modem: str, ident: str) -> Any:
    """The checked settings of a simulated fax machine; the folder its documents are kept in."""
    if modem not in MODEMS:
        raise ApiError("bad_request", f"modem must be one of {', '.join(MODEMS)}")
    if len(ident) > 20 or not all(c.isdigit() or c in "+ " for c in ident):
        raise ApiError("bad_request", "ident: up to 20 digits, '+' and spaces")
    folder = ctx.data_dir / "sim-fax"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@command("sim.fax_send", on="store")
def sim_fax_send(ctx: ApiContext, number: str, line: int = 1, pages: str = "lineart,text", lpi: int = 98,
                 ecm: bool = True, modem: str = "v17", ident: str = "") -> dict:
    """A remote fax machine `number` calls our line `line` (1-based) and sends generated test charts
    (`pages`: comma-separated lineart, text, halftone; `lpi` 98 or 196)."""
    from dsp_ext.fax import write_tiff
    number = _number(number)
    kinds = [k.strip() for k in pages.split(",") if k.strip()]
    if not kinds or len(kinds) > 60 or any(k not in CHART_KINDS for k in kinds):
        raise ApiError("bad_request", f"pages: 1 to 60 of {', '.join(CHART_KINDS)}, comma-separated")
    if lpi not in (98, 196):
        raise ApiError("bad_request", "lpi must be 98 or 196")
    folder = _machine_folder(ctx, modem, ident)
    path = folder / f"{number}.tif"
    write_tiff(path, document(kinds, lpi), lpi)

    def start(engine: Any) -> dict:
        co = _co(engine)
        if not 1 <= line <= len(co.lines):
            raise ApiError("bad_request", f"no line {line}; the board has {len(co.lines)}")
        fax = co.fax_machine(number, ident=ident, ecm=ecm, modem=modem)
        fax.ident, fax.ecm, fax.modem = ident, ecm, modem
        fax.send_document(path, to=co.line_number(line))
        return {"ok": True, "fax": number, "line": line, "pages": len(kinds), "state": fax.state}
    return ctx.on_media(start).result(timeout=5)


@command("sim.fax_answer", on="store")
def sim_fax_answer(ctx: ApiContext, number: str, ring: int = 1, ecm: bool = True, modem: str = "v17",
                   ident: str = "") -> dict:
    """Remote number `number` on the simulated exchange answers calls as a fax machine at ring `ring`
    (1-9) and keeps what it receives (for the send side: `linebox fax send`, a fax machine on a phone
    port). `sim.fax_status` tells what arrived; the document is `<data>/sim-fax/<number>-received.tif`."""
    number = _number(number)
    if not 1 <= ring <= 9:
        raise ApiError("bad_request", "ring: answer at ring 1 to 9")
    folder = _machine_folder(ctx, modem, ident)
    path = folder / f"{number}-received.tif"

    def start(engine: Any) -> dict:
        co = _co(engine)
        try:
            fax = co.fax_machine(number, ident=ident, ecm=ecm, modem=modem)
        except ValueError as exc:
            raise ApiError("conflict", f"{exc}; choose another number") from None
        fax.ident, fax.ecm, fax.modem = ident, ecm, modem
        fax.receive_into(path, answer_at_ring=ring)
        return {"ok": True, "fax": number, "answers_at_ring": ring, "keeps": str(path), "state": fax.state}
    return ctx.on_media(start).result(timeout=5)


@command("sim.fax_status", on="media")
def sim_fax_status(ctx: ApiContext, number: str) -> dict:
    """State of remote fax machine `number` and the report of its last session (None while it runs)."""
    from drivers.sim.fax import FaxMachine
    fax = _co(ctx.engine).remotes.get(_number(number))
    if not isinstance(fax, FaxMachine):
        raise ApiError("not_found", f"no fax machine {number}; start one with `linebox sim fax {number} send`")
    r = fax.report
    return {"fax": number, "state": fax.state,
            "report": None if r is None else {"done": r.done, "result": r.result_text, "result_code": r.result,
                                              "pages_sent": r.pages_tx, "pages_received": r.pages_rx,
                                              "rate": r.bit_rate, "ecm": r.ecm,
                                              "remote_ident": r.remote_ident}}
