"""`linebox run`: the service main. Media loop on its own thread, web server on the main thread.

    board (HAT or simulator) → Config + CallRecords in DATA → Engine + MediaLoop (thread)
    → FastAPI app (uvicorn, main thread) → SIGTERM/SIGINT: stop serving, stop the
    media loop, flush records.
"""
from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import os
import secrets
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.port import Board
from dsp_ext.countries import profile

from .control import EngineControl, StatusUpdate
from .engine import Engine
from .media import MediaLoop

log = logging.getLogger("linebox")

TOKEN_FILE = "sim.token"
PID_FILE = "linebox.pid"
SHUTDOWN_EVENT = "shutdown"     # published when the service is asked to stop: event streams end


def make_board(kind: str, country: str, realtime: bool = True) -> tuple[Board, bool]:
    """The board to run on and whether it is the simulator."""
    if kind not in ("auto", "sim"):
        raise ValueError(f"unknown board {kind!r}; use auto or sim")
    if kind == "auto":
        try:
            detect = importlib.import_module("drivers.detect")
        except ImportError:
            detect = None
        board = detect.detect_board(country=country) if detect is not None else None
        if board is not None:
            log.info("running on %s", getattr(board, "name", type(board).__name__))
            return board, False
        log.warning("no HAT found, running the simulated board")
    from drivers.sim import SimBoard
    return SimBoard(country=country, realtime=realtime), True


def write_token(data_dir: Path) -> str:
    """A fresh bearer token for /api/sim, readable by the owner only."""
    token = secrets.token_urlsafe(32)
    path = data_dir / TOKEN_FILE
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token


@dataclass
class Service:
    board: Board
    simulated: bool
    config: Any
    records: Any
    control: EngineControl
    engine: Engine
    media: MediaLoop
    data_dir: Path
    sim_token: str | None = None
    data_claim: Any = None       # the locked pid file: DATA belongs to this process while it is open
    reports: Any = None          # the reports thread (firmware.reports.aggregate.AggregatorThread)

    def stop(self) -> None:
        if self.reports is not None:
            self.reports.stop()
        self.media.stop()
        self.engine.shutdown()
        for name in ("flush", "close"):
            fn = getattr(self.records, name, None)
            if fn is not None:
                fn()
        close = getattr(self.config, "close", None)
        if close is not None:
            close()
        if self.sim_token:
            with contextlib.suppress(FileNotFoundError):
                (self.data_dir / TOKEN_FILE).unlink()
        if self.data_claim is not None:
            self.data_claim.close()          # releases the lock
            self.data_claim = None


class DataDirError(ValueError):
    """The data directory cannot be used (shown to the user as one line)."""


LOCK_RETRIES = 40
LOCK_RETRY_S = 0.05


def open_data_dir(data_dir: Path) -> Any:
    """Create DATA if needed and claim it for this process (an open, locked file to keep).

    Two services on one DATA would both write its config and records and take each other's
    simulator token; the second is refused, naming the first one's pid."""
    if data_dir.exists() and not data_dir.is_dir():
        raise DataDirError(f"cannot use {data_dir} as the data directory: it is a file, not a directory")
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataDirError(f"cannot use {data_dir} as the data directory: {exc.strerror or exc}") from None
    try:
        claim = open(data_dir / PID_FILE, "a+")
    except OSError as exc:
        raise DataDirError(f"cannot write in the data directory {data_dir}: {exc.strerror or exc}") from None
    # A forked helper process (espeak-ng, sox) holds a copy of the descriptor, and so the
    # lock, until it execs: a quick restart must not mistake that for another Linebox.
    for _attempt in range(LOCK_RETRIES):
        try:
            fcntl.flock(claim, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            time.sleep(LOCK_RETRY_S)
    else:
        claim.seek(0)
        pid = claim.read().strip() or "?"
        claim.close()
        raise DataDirError(f"another Linebox (pid {pid}) is already running with the data directory "
                           f"{data_dir}; stop it first, or give this one another --data") from None
    claim.seek(0)
    claim.truncate()
    claim.write(f"{os.getpid()}\n")
    claim.flush()
    return claim


def build_service(data_dir: Path, board_kind: str = "auto", country: str | None = None) -> Service:
    from .config import Config
    from .harness import seed_config
    from .records import CallRecords
    if country:
        country = profile(country).code        # unknown country: one clear error before anything starts
    data_dir = Path(data_dir)
    claim = open_data_dir(data_dir)
    config = Config(data_dir / "config.json")
    stored_country = str((config.settings() or {}).get("country") or "US")
    board, simulated = make_board(board_kind, country or stored_country)
    seed_config(config, board, country)
    records = CallRecords(data_dir / "records.db")
    control = EngineControl()
    engine = Engine(board, config, records, control)
    from .apps.ivr import start_prompt_generation
    start_prompt_generation(engine, data_dir)      # first run: default prompts, in the background
    media = MediaLoop(board, engine, control)
    token = write_token(data_dir) if simulated else None
    return Service(board, simulated, config, records, control, engine, media, data_dir, token, claim)


def start_reports_thread(svc: Service) -> Any:
    """Reports: DATA/reports.db is aggregated from the records on its own thread (never the media tick),
    which also sends the daily report by e-mail when the owner asked for it."""
    from .apps.voicemail_store import settings
    from .mailer import Mailer
    from .reports.aggregate import AggregatorThread, ReportAggregator
    from .reports.daily_mail import DailyReportMail
    from .reports.source import site_from_config
    aggregator = ReportAggregator(svc.data_dir, lambda: site_from_config(svc.config))
    daily = DailyReportMail(svc.config, aggregator, Mailer(lambda: settings(svc.config)))
    thread = AggregatorThread(aggregator, also=daily.tick)
    thread.start()
    return thread


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn that tells the open live pages to end their event streams when asked to stop.

        Otherwise each open status or history tab holds the shutdown for the whole graceful
        timeout and is then cancelled with a page of traceback in the log.
        """

        def __init__(self, config: uvicorn.Config, control: EngineControl) -> None:
            super().__init__(config)
            self._control = control

        def handle_exit(self, sig: int, frame: Any) -> None:
            if not self.should_exit:
                self._control.publish(StatusUpdate(SHUTDOWN_EVENT))
            super().handle_exit(sig, frame)
    return Server


def run(data_dir: Path, board_kind: str = "auto", host: str = "0.0.0.0", port: int = 8080,
        country: str | None = None) -> int:
    import uvicorn

    from webui.app import create_app
    svc = build_service(data_dir, board_kind, country)
    app = create_app(control=svc.control, config=svc.config, records=svc.records,
                     data_dir=svc.data_dir, sim_token=svc.sim_token)
    svc.media.start()
    svc.reports = start_reports_thread(svc)
    log.info("Linebox on %s (%s), country %s, data in %s, web UI on http://%s:%d/",
             getattr(svc.board, "name", "board"), "simulated" if svc.simulated else "hardware",
             svc.engine.country, svc.data_dir, host, port)
    server = _server_class()(uvicorn.Config(app, host=host, port=port, log_level="info",
                                            timeout_graceful_shutdown=2), svc.control)

    def stop_requested(signum: int, frame: object) -> None:
        # uvicorn handles SIGINT/SIGTERM while it serves, then re-raises the signal to
        # the handler that was there before: this one, so we still get to flush records.
        server.should_exit = True
    previous = {sig: signal.signal(sig, stop_requested) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run()
    except SystemExit:
        pass        # uvicorn exits when it cannot bind; said clearly below
    finally:
        svc.stop()
        for sig, handler in previous.items():      # run() may be called in a longer-lived process
            signal.signal(sig, handler)
        log.info("Linebox stopped")
    if not server.started:
        log.error("could not serve the web UI on %s:%d: the address is in use or not available "
                  "(another program there? choose another with --port)", host, port)
        return 1
    return 0
