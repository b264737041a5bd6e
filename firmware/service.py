"""`linebox run` / `linebox engine` / `linebox web`: the service, as two processes.

    engine process (`linebox engine`, or `linebox run`, which also supervises the web):
        board (HAT or simulator) → Config + CallRecords in DATA → Engine + MediaLoop (thread)
        → EngineApi (store thread) → ApiServer on DATA/engine.sock (its own threads)
        → real-time hygiene (GC frozen, SCHED_FIFO media thread, memory locked, where permitted)
    web process (`linebox web`, started and restarted by `linebox run`):
        FastAPI (uvicorn) with an EngineClient on DATA/engine.sock; config and records read-only;
        unprivileged (`linebox-web` user when started as root and it exists) and niced.

Why two processes: in one process the web server's page rendering held the interpreter lock
while the media loop waited (tick p99 20 ms with 4 browsers, see bench/realtime); and a web
crash could take the calls with it. `--single-process` keeps the old layout for comparison.
SIGTERM/SIGINT: stop the web, stop serving the API, stop the media loop, flush records.
"""
from __future__ import annotations

import contextlib
import fcntl
import importlib
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.port import Board
from dsp_ext.countries import profile

from .child_process import exit_with_parent, lower_priority
from .control import EngineControl, StatusUpdate
from .engine import Engine
from .media import MediaLoop
from .sqlite_files import close_under

log = logging.getLogger("linebox")

TOKEN_FILE = "sim.token"
PID_FILE = "linebox.pid"
SHUTDOWN_EVENT = "shutdown"     # published when the service is asked to stop: event streams end


def make_board(kind: str, country: str, realtime: bool = True, sim_phones: int = 4,
               sim_lines: int = 2) -> tuple[Board, bool]:
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
    return SimBoard(fxs=sim_phones, fxo=sim_lines, country=country, realtime=realtime), True


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
    api: Any = None              # firmware.api.EngineApi
    server: Any = None           # firmware.api_server.ApiServer (two-process service)
    housekeeper: Any = None
    reports: Any = None          # the reports worker process (firmware.reports.worker.ReportsWorkerProcess)
    watchdog: Any = None         # firmware.watchdog.MediaWatchdog (systemd WatchdogSec, fed while the loop ticks)

    def start_engine(self, *, api_socket: bool = True, api_group: str | None = None,
                     realtime: str = "auto") -> None:
        """API server, then real-time hygiene, then the media loop."""
        from .api_wire import SOCKET_NAME
        if api_socket:
            from .api_server import ApiServer
            self.server = ApiServer(self.api, self.data_dir / SOCKET_NAME, group=api_group)
            self.server.start()
        if realtime != "off":
            from . import realtime as rt
            rt.tune_gc()
            rt.lock_memory()
            self.media.on_start.append(rt.media_thread_realtime)
            self.housekeeper = rt.GcHousekeeper(lambda: len(self.engine.calls))
            self.housekeeper.start()
        self.media.start()
        from .watchdog import start_media_watchdog
        health = self.media.health
        self.watchdog = start_media_watchdog(lambda: health.ticks)
        self.reports = start_reports_worker(self)

    def stop(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stop()
        if self.reports is not None:
            self.reports.stop()
        if self.server is not None:
            self.server.stop()
        if self.housekeeper is not None:
            self.housekeeper.stop()
        self.media.stop()
        if self.housekeeper is not None:
            from . import realtime as rt
            rt.restore()
        if self.api is not None:
            self.api.close()
        self.engine.shutdown()
        for name in ("flush", "close"):
            fn = getattr(self.records, name, None)
            if fn is not None:
                fn()
        close = getattr(self.config, "close", None)
        if close is not None:
            close()
        close_under(self.data_dir)
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


def build_service(data_dir: Path, board_kind: str = "auto", country: str | None = None,
                  sim_phones: int = 4, sim_lines: int = 2) -> Service:
    from .config import Config
    from .harness import seed_config
    from .records import CallRecords
    if country:
        country = profile(country).code        # unknown country: one clear error before anything starts
    data_dir = Path(data_dir)
    claim = open_data_dir(data_dir)
    from .backup import StoreLayout
    from .backup.restore import recover_interrupted
    recover_interrupted(StoreLayout(data_dir, data_dir / "records.db"))   # before anything makes media folders
    config = Config(data_dir / "config.json")
    stored_country = str((config.settings() or {}).get("country") or "US")
    board, simulated = make_board(board_kind, country or stored_country, sim_phones=sim_phones, sim_lines=sim_lines)
    seed_config(config, board, country)
    from .update import keep_schemas_while_tried
    tried = keep_schemas_while_tried(data_dir)     # every store keeps its schema until the commit
    records = CallRecords(data_dir / "records.db", migrate=not tried)
    control = EngineControl()
    engine = Engine(board, config, records, control)
    from .apps.ivr import start_prompt_generation
    start_prompt_generation(engine, data_dir)      # first run: default prompts, in the background
    media = MediaLoop(board, engine, control)
    token = write_token(data_dir) if simulated else None
    from .api import EngineApi
    from .record_events import forward_call_records
    api = EngineApi(config=config, records=records, data_dir=data_dir, control=control)
    forward_call_records(control, records)          # call records on the event stream, engine side
    return Service(board, simulated, config, records, control, engine, media, data_dir, token, claim, api)


async def _web_unavailable(scope: dict, receive: Any, send: Any) -> None:
    """The stand-in web app when the real one could not start (the log says why)."""
    if scope["type"] != "http":
        return
    body = b"The Linebox web UI could not start; the phones keep working. The reason is in the Linebox log.\n"
    await send({"type": "http.response.start", "status": 503,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"),
                            (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def start_reports_worker(svc: Service) -> Any:
    """Reports: DATA/reports.db is aggregated (and the daily report e-mailed) by a child process of
    the engine, never in the engine's interpreter: no other CPU work shares the media loop's."""
    from .reports.worker import ReportsWorkerProcess
    worker = ReportsWorkerProcess(svc.data_dir)
    worker.start()
    return worker


def _server_class() -> type:
    import uvicorn

    class Server(uvicorn.Server):
        """uvicorn that tells the open live pages to end their event streams when asked to stop.

        Otherwise each open status or history tab holds the shutdown for the whole graceful
        timeout and is then cancelled with a page of traceback in the log.
        """

        def __init__(self, config: uvicorn.Config, on_exit: Any) -> None:
            super().__init__(config)
            self._on_exit = on_exit

        def handle_exit(self, sig: int, frame: Any) -> None:
            if not self.should_exit:
                self._on_exit()
            super().handle_exit(sig, frame)
    return Server


def run_single_process(data_dir: Path, board_kind: str = "auto", host: str = "0.0.0.0", port: int = 8080,
                       country: str | None = None, sim_phones: int = 4, sim_lines: int = 2,
                       realtime: str = "auto") -> int:
    """The old layout (web server and media loop in one process), kept to measure against."""

    from webui.app import create_app

    from .api import LocalClient
    svc = build_service(data_dir, board_kind, country, sim_phones, sim_lines)
    try:
        app = create_app(api=LocalClient(svc.api), control=svc.control, config=svc.config, records=svc.records,
                         data_dir=svc.data_dir, sim_token=svc.sim_token)
    except Exception:     # a web problem must never take the phones down
        log.exception("the web UI could not start; the phones keep working, the web answers 503")
        app = _web_unavailable
    svc.start_engine(api_socket=True, realtime=realtime)
    log.info("Linebox on %s (%s), country %s, data in %s, web UI on http://%s:%d/",
             getattr(svc.board, "name", "board"), "simulated" if svc.simulated else "hardware",
             svc.engine.country, svc.data_dir, host, port)
    from webui.http_server import server_config
    trusted = (svc.config.settings() or {}).get("trusted_proxies") or []
    server = _server_class()(server_config(app, host, port, trusted),
                             lambda: svc.control.publish(StatusUpdate(SHUTDOWN_EVENT)))

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


# ---- two processes --------------------------------------------------------------------------

WEB_USER = "linebox-web"
WEB_NICE = 10
EXIT_CANNOT_BIND = 3            # `linebox web` could not listen on --host/--port
RESTART_BACKOFF_S = (0.2, 0.5, 1.0, 2.0, 5.0, 10.0)
STABLE_AFTER_S = 30.0           # a web process up this long starts the back-off afresh


def _web_account() -> tuple[int, int] | None:
    """(uid, gid) of the web's own user when we are root and it exists; else run as we are."""
    if os.geteuid() != 0:
        return None
    try:
        import pwd
        pw = pwd.getpwnam(WEB_USER)
    except (KeyError, ImportError):
        return None
    return pw.pw_uid, pw.pw_gid


def share_with_web(data_dir: Path, group: str) -> None:
    """Give the web process's account (`group`, and the user of that name) what it needs in DATA,
    nothing more: DATA itself group-writable with the sticky bit (the web creates its own
    webui.sqlite; it cannot remove or rename the engine's files), call records and config
    group-readable (it opens them read-only), the simulator token and backup archives
    group-readable, and its
    own files (webui.sqlite*, metrics.token) owned by it."""
    import grp
    import pwd
    try:
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        log.warning("no group %s: the web process gets no extra access to %s", group, data_dir)
        return
    try:
        uid = pwd.getpwnam(group).pw_uid
    except KeyError:
        uid = -1
    try:
        os.chown(data_dir, -1, gid)
        os.chmod(data_dir, 0o1770)
        for name in ("records.db", "records.db-wal", "records.db-shm", "config.json", TOKEN_FILE):
            with contextlib.suppress(FileNotFoundError):
                os.chown(data_dir / name, -1, gid)
                os.chmod(data_dir / name, 0o640)
        backups = data_dir / "backups"       # firmware.backup archives: the web sends them as downloads
        backups.mkdir(mode=0o2750, exist_ok=True)
        os.chown(backups, -1, gid)
        os.chmod(backups, 0o2750)              # setgid: new archives get the group, mode 0640
        for archive in backups.glob("*.tar.gz"):
            os.chown(archive, -1, gid)
        if uid != -1:
            for name in ("webui.sqlite", "webui.sqlite-wal", "webui.sqlite-shm", "webui.sqlite-journal",
                         "metrics.token"):
                with contextlib.suppress(FileNotFoundError):
                    os.chown(data_dir / name, uid, gid)
    except PermissionError as exc:
        log.warning("cannot share %s with group %s (%s); run the engine as root or set it up by hand",
                    data_dir, group, exc)


class WebSupervisor:
    """Starts `linebox web` and restarts it when it dies (back-off), until `stop()`."""

    def __init__(self, data_dir: Path, host: str, port: int) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = port
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self.failed: str | None = None         # set when it cannot run at all (port in use)
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="web-supervisor", daemon=True)

    def command(self) -> list[str]:
        return [sys.executable, "-m", "firmware.cli", "web", "--data", str(self.data_dir),
                "--host", self.host, "--port", str(self.port), "--nice", str(WEB_NICE), "--supervised"]

    def _spawn(self) -> subprocess.Popen:
        account = _web_account()
        kwargs: dict[str, Any] = {}
        if account is not None:
            uid, gid = account
            share_with_web(self.data_dir, WEB_USER)
            kwargs = {"user": uid, "group": gid, "extra_groups": []}
        return subprocess.Popen(self.command(), close_fds=True, **kwargs)

    def start(self) -> None:
        self.thread.start()

    def _run(self) -> None:
        attempt = 0
        while not self._stop.is_set():
            started = time.monotonic()
            self.proc = self._spawn()
            rc = self.proc.wait()
            if self._stop.is_set():
                return
            if rc == EXIT_CANNOT_BIND and self.restarts == 0:
                self.failed = (f"could not serve the web UI on {self.host}:{self.port}: the address is in use or "
                               "not available (another program there? choose another with --port)")
                self._stop.set()
                return
            if time.monotonic() - started > STABLE_AFTER_S:
                attempt = 0
            delay = RESTART_BACKOFF_S[min(attempt, len(RESTART_BACKOFF_S) - 1)]
            log.warning("web process exited (status %s); restarting it in %.1f s (calls are not affected)", rc, delay)
            attempt += 1
            self.restarts += 1
            if self._stop.wait(delay):
                return

    def wait(self, timeout: float | None = None) -> bool:
        """True once stopped (asked to, or the web cannot run)."""
        return self._stop.wait(timeout)

    def terminate(self) -> None:
        """Ask the web process to stop (it ends its open pages' streams, then exits)."""
        self._stop.set()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)

    def stop(self, timeout: float = 5.0) -> None:
        self.terminate()
        proc = self.proc
        if proc is not None and proc.poll() is None:
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.thread.join(timeout)


def _until_signalled(flag: list[bool]) -> dict[int, Any]:
    """Install SIGINT/SIGTERM handlers that set `flag[0]`; returns the previous handlers.
    (A plain flag: a handler taking a lock the interrupted main thread holds would deadlock.)"""
    def stop_requested(signum: int, frame: object) -> None:
        flag[0] = True
    return {sig: signal.signal(sig, stop_requested) for sig in (signal.SIGINT, signal.SIGTERM)}


def run(data_dir: Path, board_kind: str = "auto", host: str = "0.0.0.0", port: int = 8080,
        country: str | None = None, sim_phones: int = 4, sim_lines: int = 2, single_process: bool = False,
        realtime: str = "auto", api_group: str | None = None, web: bool = True) -> int:
    """`linebox run` (engine + supervised web process) and `linebox engine` (`web=False`)."""
    if single_process:
        return run_single_process(data_dir, board_kind, host, port, country, sim_phones, sim_lines, realtime)
    old_nice = os.getpriority(os.PRIO_PROCESS, 0)
    if realtime != "off":
        from . import realtime as rt
        rt.raise_priority()                 # before any thread exists: they all inherit it
    try:
        svc = build_service(data_dir, board_kind, country, sim_phones, sim_lines)
    except BaseException:
        _restore_nice(old_nice)
        raise
    stopping = [False]
    previous = _until_signalled(stopping)
    supervisor = None
    try:
        if web and api_group is None and _web_account() is not None:
            api_group = WEB_USER                    # the web process's user may use the socket
        if api_group:
            share_with_web(svc.data_dir, api_group)
        svc.start_engine(api_group=api_group, realtime=realtime)
        log.info("Linebox engine on %s (%s), country %s, %d phones, %d lines, data in %s, API on %s",
                 getattr(svc.board, "name", "board"), "simulated" if svc.simulated else "hardware",
                 svc.engine.country, len(svc.board.fxs_ports), len(svc.board.fxo_ports), svc.data_dir,
                 svc.server.path if svc.server else "-")
        if web:
            supervisor = WebSupervisor(svc.data_dir, host, port)
            supervisor.start()
            log.info("web UI on http://%s:%d/ (its own process)", host, port)
            while not stopping[0] and not supervisor.wait(0.2):
                pass
        else:
            while not stopping[0]:
                time.sleep(0.2)
    finally:
        if supervisor is not None:
            supervisor.terminate()          # the web and the engine wind down side by side
        svc.stop()
        if supervisor is not None:
            supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        _restore_nice(old_nice)
        log.info("Linebox stopped")
    if supervisor is not None and supervisor.failed:
        log.error("%s", supervisor.failed)
        return 1
    return 0


def _restore_nice(nice: int) -> None:
    """Back to the nice value we started with (a service run inside a longer-lived process: tests)."""
    with contextlib.suppress(OSError):
        if os.getpriority(os.PRIO_PROCESS, 0) != nice:
            os.setpriority(os.PRIO_PROCESS, 0, nice)


def run_web(data_dir: Path, host: str = "0.0.0.0", port: int = 8080, nice: int = 0,
            supervised: bool = False, tls_dir: Path | None = None) -> int:
    """`linebox web`: the web UI as a client of the engine's socket (records and config read-only)."""
    if supervised:
        exit_with_parent()

    from webui.app import create_app
    from webui.engine_client import EngineClient

    from .api_wire import SOCKET_NAME
    from .config import Config
    from .records import CallRecordsReader
    if nice:
        lower_priority(nice)
    data_dir = Path(data_dir)
    form_parts_on_data_partition(data_dir)
    client = EngineClient(data_dir / SOCKET_NAME)
    token = None
    with contextlib.suppress(OSError):
        token = (data_dir / TOKEN_FILE).read_text().strip() or None
    config = Config.read_only(data_dir / "config.json")
    try:
        app = create_app(api=client, config=config,
                         records=CallRecordsReader(data_dir / "records.db"), data_dir=data_dir, sim_token=token)
    except Exception:     # a web problem must never take the phones down
        log.exception("the web UI could not start; the phones keep working, the web answers 503")
        app = _web_unavailable

    async def connect() -> None:           # the first page already has the port snapshot
        import asyncio
        client.snapshot()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_connected(client), 5.0)

    async def disconnect() -> None:
        await client.close()
    if app is not _web_unavailable:
        app.router.on_startup.append(connect)
        app.router.on_shutdown.append(disconnect)
    from webui.http_server import server_config
    trusted = (config.settings() or {}).get("trusted_proxies") or []
    from webui.tls_info import tls_options
    try:
        tls = tls_options(tls_dir)              # HTTPS with the appliance's own certificate (image/)
    except FileNotFoundError as exc:
        log.error("%s", exc)
        return EXIT_CANNOT_BIND
    server = _server_class()(server_config(app, host, port, trusted, **tls),
                             lambda: client.shutting_down(StatusUpdate(SHUTDOWN_EVENT)))
    try:
        server.run()
    except SystemExit:
        pass
    if not server.started:
        log.error("could not serve the web UI on %s:%d: the address is in use or not available "
                  "(another program there? choose another with --port)", host, port)
        return EXIT_CANNOT_BIND
    return 0


FORM_PARTS_DIR = "spool/parts"


def form_parts_on_data_partition(data_dir: Path) -> Path:
    """The web process's temporary folder: DATA/spool/parts, emptied at start.

    Starlette keeps every uploaded form part over 1 MiB in a temporary file in the default temp
    folder; on the image that is /tmp, a 64 MiB RAM disk, so an update bundle (about 2 GB) could
    not even be read (found by the boot test). The data partition has the room, and spool/ is
    already left out of backups."""
    import shutil
    import tempfile
    parts = data_dir / FORM_PARTS_DIR
    shutil.rmtree(parts, ignore_errors=True)          # what a killed web process left behind
    parts.mkdir(mode=0o700, parents=True, exist_ok=True)
    tempfile.tempdir = str(parts)
    return parts


async def _connected(client: Any) -> None:
    import asyncio
    while not client.connected:
        await asyncio.sleep(0.02)
