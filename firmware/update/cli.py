"""`linebox update ...`: stage a signed bundle, install it (tryboot), the boot-time check.

    linebox update stage BUNDLE       verify, write the inactive slot (refused: the reason, exit 2)
    linebox update install [--now]    reboot into it once, when no call is up and now/in the window
    linebox update check              at boot (linebox-update-check.service): commit or roll back
    linebox update status
    linebox update fetch URL          download (HTTPS only, capped), verify, write the inactive slot
    linebox update auto               (linebox-update-auto.timer) install by itself inside the window
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path


def _updater(args: argparse.Namespace):  # noqa: ANN202 - Updater, imported lazily
    from . import BootEnvironment, site
    from .updater import Updater
    data = Path(args.data)

    def backup() -> None:                            # in the niced worker child, as the engine does
        from ..backup import StoreLayout, run_worker
        run_worker(StoreLayout(data, data / "records.db"), label="before-update")

    def migrate() -> list[str]:
        from ..api_client import ApiConnection
        from ..api_wire import SOCKET_NAME
        with ApiConnection(data / SOCKET_NAME, client="update-check", timeout=600.0) as api:
            return list(api.call("update.migrate")["done"])
    return Updater(BootEnvironment.appliance(), data / "update" / "state.json", site.keys_dir(), site.board(),
                   backup=backup, migrate=migrate)


def _stage(args: argparse.Namespace) -> int:
    from .bundle import BundleRefused
    try:
        bundle = _updater(args).stage(Path(args.bundle))
    except BundleRefused as exc:
        print(exc)
        return 2
    print(f"release {bundle.release} written to the inactive slot; `linebox update install` to try it")
    return 0


def _install(args: argparse.Namespace) -> int:
    from ..api_client import ApiConnection
    from ..api_wire import SOCKET_NAME
    from .decision import may_install_now
    with ApiConnection(Path(args.data) / SOCKET_NAME, client="update") as api:
        calls = len(api.call("calls.list"))
    ok, why = may_install_now(calls, dt.datetime.now(), args.window, owner_now=args.now)
    if not ok:
        print(why)
        return 3
    from .slots import TrybootUnavailable
    try:
        _updater(args).install()
    except TrybootUnavailable as exc:
        print(exc)
        return 2
    return 0


def _fetch(args: argparse.Namespace) -> int:
    from . import site
    from .bundle import BundleRefused
    from .commands import MAX_BUNDLE_BYTES
    from .fetch import FetchRefused, fetch_bundle
    incoming = Path(args.data) / "update" / "incoming.bundle"
    try:
        fetch_bundle(args.url, incoming, max_bytes=MAX_BUNDLE_BYTES, cafile=site.update_cafile())
        bundle = _updater(args).stage(incoming)
    except (FetchRefused, BundleRefused) as exc:
        print(exc)
        return 2
    finally:
        incoming.unlink(missing_ok=True)
    print(f"release {bundle.release} fetched, verified and written to the inactive slot")
    return 0


def _auto(args: argparse.Namespace) -> int:
    from ..api_client import ApiConnection
    from ..api_wire import SOCKET_NAME
    with ApiConnection(Path(args.data) / SOCKET_NAME, client="update-auto") as api:
        outcome = api.call("update.auto")
    print(("installing: " if outcome["installing"] else "not installing: ") + outcome["why"])
    return 0


def _check(args: argparse.Namespace) -> int:
    from .health import run_health_check
    outcome = _updater(args).check_after_boot(lambda: run_health_check(Path(args.data), web_port=args.web_port))
    print(outcome)
    return 0


def _status(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from .decision import UpdateState
    print(json.dumps(asdict(UpdateState.load(Path(args.data) / "update" / "state.json")), indent=1))
    return 0


def register(sub) -> None:  # noqa: ANN001 - argparse's private subparsers type
    up = sub.add_parser("update", help="signed A/B updates: stage, install, boot-time check, status")
    ss = up.add_subparsers(dest="update_cmd", required=True)
    for name, fn, helptext in (("stage", _stage, "verify a bundle and write it to the inactive slot"),
                               ("install", _install, "reboot once into the staged slot (tryboot)"),
                               ("check", _check, "boot-time health check: commit or roll back"),
                               ("status", _status, "the update state"),
                               ("fetch", _fetch, "download a bundle over HTTPS, verify it, write the inactive slot"),
                               ("auto", _auto, "install a staged release if the owner's window and policy allow")):
        p = ss.add_parser(name, help=helptext)
        p.add_argument("--data", default="/var/lib/linebox")
        p.set_defaults(fn=fn)
        if name == "stage":
            p.add_argument("bundle")
        if name == "fetch":
            p.add_argument("url")
        if name == "install":
            p.add_argument("--now", action="store_true", help="the owner asks to install now (still waits for calls)")
            p.add_argument("--window", help="install only inside this daily window, e.g. 02:00-04:00")
        if name == "check":
            p.add_argument("--web-port", type=int, default=443)
