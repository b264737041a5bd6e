"""Helpers for desk scenarios: engine API calls as the web makes them, on a simulated board."""
from __future__ import annotations

import time

from firmware.api import EngineApi, LocalClient


def client(p) -> LocalClient:
    return LocalClient(EngineApi(config=p.config, records=p.records, data_dir=p.data_dir, control=p.control))


def call(p, api: LocalClient, name: str, **args):
    """Run command `name`; the media thread is the test's own stepping, so step until it is done
    (store commands that wait on the media thread need the steps too)."""
    fut = api.api.submit(name, args)
    deadline = time.monotonic() + 20
    while not fut.done():
        p.run(0.01)
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} did not complete")
        time.sleep(0.001)
    return fut.result()


def answer(p, ext: str) -> None:
    p.run_until(lambda: p.phone(ext).is_ringing, 6)
    p.phone(ext).off_hook()
    p.run(0.6)
