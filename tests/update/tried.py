"""A release being tried, for the tests of what the stores do meanwhile: an update installed (the
old release rebooted into the new one once, with tryboot) and the tried release's engine started on
the data folder, with the Updater migrating through that engine's API when its health check commits."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from firmware.api import EngineApi, LocalClient
from firmware.harness import Pbx
from firmware.update.updater import Updater
from tests.update.test_updates import SimulatedPi, make_bundle


@contextlib.contextmanager
def tried_release(tmp_path: Path, keys: dict[str, Path], data: Path) -> Iterator[tuple[Pbx, Updater, LocalClient]]:
    pi = SimulatedPi(tmp_path / "pi")
    holder: dict[str, LocalClient] = {}
    up = Updater(pi.env, data / "update" / "state.json", keys["trusted"], "rpi5",
                 migrate=lambda: list(holder["api"].call_sync("update.migrate")["done"]))
    up.stage(make_bundle(tmp_path / "u.bundle", keys["release"]))
    up.install()                                    # the old release reboots into the new one
    assert up.state.phase == "trying"
    pbx = Pbx(country="US", seed=5, data_dir=data)   # the tried release's engine starts
    engine_api = EngineApi(config=pbx.config, records=pbx.records, data_dir=data, control=pbx.control)
    try:
        api = holder["api"] = LocalClient(engine_api, timeout=60)
        yield pbx, up, api
    finally:
        engine_api.close()
        pbx.close()
