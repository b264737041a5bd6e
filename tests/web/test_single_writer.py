"""The engine is the one writer of every store: simultaneous changes are applied one after the
other, so everything acknowledged is stored.

On the design before the engine API (each web request wrote the configuration itself from the
thread pool), 60 simultaneous address-book adds were all acknowledged and only some were
stored. Here the same burst goes through the web app (60 requests in flight at once on one
event loop, as 60 browsers would send them) and straight at the engine API from 60 threads.
"""
from __future__ import annotations

import asyncio
import concurrent.futures

import httpx

from firmware.api import EngineApi, LocalClient
from firmware.apps import forward, speeddial, voicemail_store

from .conftest import page_token

N = 60


def _seed(env) -> None:
    env.config.seed_defaults(["fxs1", "fxs2", "fxs3"], [])


async def _burst(app, cookies: dict, requests: list[tuple[str, dict]]) -> list[int]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", cookies=cookies,
                                 follow_redirects=False) as client:
        replies = await asyncio.gather(*(client.post(path, data=data) for path, data in requests))
    return [r.status_code for r in replies]


def test_sixty_simultaneous_address_book_adds_through_the_web_are_all_stored(env, admin):
    _seed(env)
    token = page_token(admin, "/phone/addressbook?ext=201")
    burst = [("/phone/addressbook", {"csrf_token": token, "ext": "201", "name": f"Contact {i:02d}",
                                     "number": f"{300 + i}"}) for i in range(N)]
    codes = asyncio.run(_burst(admin.app, dict(admin.cookies), burst))
    assert codes == [303] * N                                  # every add acknowledged ...
    names = sorted(e["name"] for e in speeddial.load_book(env.config, "201"))
    assert len(names) == N, f"{len(names)} of {N} acknowledged adds stored"
    assert names == [f"Contact {i:02d}" for i in range(N)]     # ... and every one stored


def test_sixty_simultaneous_address_book_deletes_through_the_web_delete_sixty_entries(env, admin):
    """Delete-by-position is a read-modify-write: two interleaved deletes of entry 0 would both
    be acknowledged and remove the same contact. One after the other, the book ends empty."""
    _seed(env)
    speeddial.save_book(env.config, "202", [{"name": f"C{i}", "number": f"{400 + i}"} for i in range(N)])
    token = page_token(admin, "/phone/addressbook?ext=202")
    burst = [("/phone/addressbook/delete", {"csrf_token": token, "ext": "202", "index": "0"})] * N
    codes = asyncio.run(_burst(admin.app, dict(admin.cookies), burst))
    assert codes == [303] * N
    left = speeddial.load_book(env.config, "202")
    assert left == [], f"{len(left)} of {N} entries left after {N} acknowledged deletes"


def test_sixty_simultaneous_adds_straight_at_the_engine_api_are_all_stored(env):
    _seed(env)
    api = EngineApi(config=env.config, records=env.records, data_dir=env.data_dir, control=env.control)
    client = LocalClient(api)
    try:
        with concurrent.futures.ThreadPoolExecutor(N) as pool:
            results = list(pool.map(lambda i: client.call_sync(
                "addressbook.add", extension="203", entry={"name": f"P{i:02d}", "number": f"{500 + i}"}),
                range(N)))
    finally:
        api.close()
    assert len(results) == N
    assert sorted(e["name"] for e in speeddial.load_book(env.config, "203")) == [f"P{i:02d}" for i in range(N)]


def _other(box: str) -> str:
    return "202" if box == "201" else "201"


def test_simultaneous_partial_changes_of_mailboxes_and_forwarding_all_kept(env):
    """Another read-modify-write store: a mailbox's settings (enabled, e-mail, PIN) and an
    extension's forwarding preferences are documents changed one field at a time. Changes of
    different fields sent at the same moment must all be in the stored document afterwards."""
    _seed(env)
    for n in range(204, 204 + 20):
        env.config.save_extension({"number": str(n), "name": f"Desk {n}"})
    boxes = [e["number"] for e in env.config.extensions()]
    api = EngineApi(config=env.config, records=env.records, data_dir=env.data_dir, control=env.control)
    client = LocalClient(api)
    jobs = []
    for box in boxes:
        jobs += [("voicemail.save_mailbox", {"box": box, "enabled": True}),
                 ("voicemail.save_mailbox", {"box": box, "email": f"u{box}@example.com"}),
                 ("forward.save", {"extension": box, "changes": {"dnd": True}}),
                 ("forward.save", {"extension": box, "changes": {"fwd_busy": _other(box)}}),
                 ("forward.save", {"extension": box, "changes": {"pickup_group": "7"}})]
    try:
        with concurrent.futures.ThreadPoolExecutor(len(jobs)) as pool:
            list(pool.map(lambda job: client.call_sync(job[0], **job[1]), jobs))
    finally:
        api.close()
    for box in boxes:
        mb = voicemail_store.mailbox_config(env.config, box)
        assert (mb["enabled"], mb["email"]) == (True, f"u{box}@example.com"), box
        p = forward.prefs_of(env.config, box)
        assert (p.dnd, p.fwd_busy, p.pickup_group) == (True, _other(box), "7"), box
