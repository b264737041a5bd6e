"""Login under attack (issue 9 item 1): throttled before hashing, bounded concurrent hashing with
429 + Retry-After, argon2 sized for a Pi, and a back-off that cannot lock the owner out."""
from __future__ import annotations

import asyncio
import re
import socket
import threading
from urllib.parse import urlencode

import httpx
from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from webui.accounts import HASH_PARAMETERS
from webui.devices import DEVICE_COOKIE
from webui.login_limit import HASH_SLOTS, USER_FREE_FAILURES

from .conftest import ADMIN, ADMIN_PASSWORD, WebEnv, csrf_of, login
from .live_server import serve

MIB = 1024


def _peak_kib() -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as f:      # Linux: resets VmHWM to the current RSS
        f.write("5")


def _current_kib() -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", open("/proc/self/status").read()).group(1))


def test_sixty_simultaneous_logins_from_one_address_are_refused_before_hashing(env: WebEnv,
                                                                                admin: TestClient) -> None:
    app = env.app()
    with serve(app) as base:
        with httpx.Client(base_url=base) as c:
            token = csrf_of(c.get("/login").text)
            cookies = dict(c.cookies)
        start = threading.Barrier(60)
        codes: list[int] = []
        retry_after: list[str | None] = []

        host, port = base.removeprefix("http://").split(":")
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())

        def attempt(i: int) -> None:      # raw sockets: the clients add (almost) nothing to our memory
            body = urlencode({"username": f"guess{i}", "password": f"not-it-{i}", "csrf_token": token}).encode()
            request = (f"POST /login HTTP/1.1\r\nHost: {host}\r\nCookie: {cookie}\r\n"
                       "Content-Type: application/x-www-form-urlencoded\r\nConnection: close\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            with socket.create_connection((host, int(port)), timeout=60) as s:
                start.wait()
                s.sendall(request)
                reply = b""
                while chunk := s.recv(65536):
                    reply += chunk
            head = reply.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
            codes.append(int(head.split()[1]))
            m = re.search(r"^retry-after: *(\S+)", head, re.M)
            retry_after.append(m.group(1) if m else None)
        _reset_peak()
        before = _current_kib()
        threads = [threading.Thread(target=attempt, args=(i,)) for i in range(60)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        grown = _peak_kib() - before
    assert len(codes) == 60
    assert codes.count(429) >= 50, codes
    assert all(ra and ra.isdigit() for code, ra in zip(codes, retry_after, strict=True) if code == 429)
    # 60 hashes at the old 64 MiB each took 2.4 GB; now at most HASH_SLOTS x 19 MiB (+ threads, slack)
    assert grown < (HASH_SLOTS * 19 + 60) * MIB, f"memory grew by {grown // MIB} MiB"


def test_logins_from_many_addresses_never_hash_more_than_the_slots_at_once(env: WebEnv, admin: TestClient) -> None:
    app = admin.app
    pre = TestClient(app, follow_redirects=False)
    token = csrf_of(pre.get("/login").text)
    pre_cookie = pre.cookies.get("lb_pre")

    async def attack() -> list[httpx.Response]:
        async def one(i: int) -> httpx.Response:
            transport = httpx.ASGITransport(app=app, client=(f"10.1.{i // 250}.{i % 250 + 1}", 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://box",
                                         cookies={"lb_pre": pre_cookie}) as c:
                return await c.post("/login", data={"username": f"user{i}", "password": "wrong-password-1",
                                                     "csrf_token": token})
        return await asyncio.gather(*(one(i) for i in range(40)))
    _reset_peak()
    before = _current_kib()
    responses = asyncio.run(attack())
    grown = _peak_kib() - before
    codes = [r.status_code for r in responses]
    busy = [r for r in responses if r.status_code == 429]
    assert set(codes) <= {401, 429}
    assert len(busy) >= 30, codes                    # refused at once, not queued behind the hashes
    assert all(r.headers["retry-after"] == "1" and "busy" in r.text for r in busy)
    assert grown < (HASH_SLOTS * 19 + 80) * MIB, f"memory grew by {grown // MIB} MiB"


def test_owner_logs_in_from_a_known_device_while_the_account_is_attacked(env: WebEnv, admin: TestClient) -> None:
    app = admin.app
    owner = TestClient(app, follow_redirects=False, client=("192.168.1.20", 50000))
    assert login(owner, ADMIN, ADMIN_PASSWORD).status_code == 303
    assert owner.cookies.get(DEVICE_COOKIE)                  # this browser is now a known device
    owner.cookies.delete("lb_session")                       # the session ended; the device cookie stays
    # an attacker from many addresses, a few guesses each, at the owner's name
    for n in range(USER_FREE_FAILURES + 6):
        thief = TestClient(app, follow_redirects=False, client=(f"10.66.0.{n + 1}", 50000))
        for k in range(2):
            assert login(thief, ADMIN, f"guess-{n}-{k}-xyz").status_code in (401, 429)
    # a stranger's browser (no device cookie) is held back for that name ...
    stranger = TestClient(app, follow_redirects=False, client=("10.77.0.1", 50000))
    r = login(stranger, ADMIN, ADMIN_PASSWORD)
    assert r.status_code == 429 and r.headers["retry-after"].isdigit()
    # ... the owner's own browser is not
    assert login(owner, ADMIN, ADMIN_PASSWORD).status_code == 303
    # and a forged device cookie (other name, or altered signature) buys nothing
    forged = TestClient(app, follow_redirects=False, client=("10.77.0.2", 50000))
    name, device, sig = owner.cookies.get(DEVICE_COOKIE).split(":")
    forged.cookies.set(DEVICE_COOKIE, f"{name}:{device}:{'0' * len(sig)}")
    assert login(forged, ADMIN, ADMIN_PASSWORD).status_code == 429


def test_old_hashes_verify_and_are_rehashed_with_the_pi_parameters(env: WebEnv, admin: TestClient) -> None:
    accounts = admin.app.state.web.accounts
    store = accounts._store                                  # the test reaches into the file it owns
    old = PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4).hash(ADMIN_PASSWORD)
    with store.transaction() as db:
        db.execute("UPDATE users SET pw_hash=? WHERE username=?", (old, ADMIN))
    c = TestClient(admin.app, follow_redirects=False)
    assert login(c, ADMIN, ADMIN_PASSWORD).status_code == 303
    (row,) = store.query("SELECT pw_hash FROM users WHERE username=?", (ADMIN,))
    assert row["pw_hash"] != old
    assert f"m={HASH_PARAMETERS['memory_cost']},t={HASH_PARAMETERS['time_cost']},p=1" in row["pw_hash"]
    assert login(TestClient(admin.app, follow_redirects=False), ADMIN, ADMIN_PASSWORD).status_code == 303
