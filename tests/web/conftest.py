"""Fixtures for the web UI tests: a real Config, CallRecords and EngineControl in a temp dir."""
from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from firmware.config import Config
from firmware.control import EngineControl, PortStatus, StatusUpdate
from firmware.records import CallRecords
from webui.app import create_app

ADMIN = "owner"
ADMIN_PASSWORD = "Blue-Heron-Lamp-42"
EPOCH = 1_767_261_600.0      # 2026-01-01 10:00 UTC


class FakeClock:
    """Simulated time for session expiry and login back-off."""

    def __init__(self, start: float = EPOCH) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class WebEnv:
    data_dir: Path
    config: Config
    records: CallRecords
    control: EngineControl
    clock: FakeClock

    def app(self, **kwargs):
        return create_app(control=self.control, config=self.config, records=self.records,
                          data_dir=self.data_dir, clock=self.clock, throttle_clock=self.clock, **kwargs)

    def client(self, **kwargs) -> TestClient:
        return TestClient(self.app(**kwargs), follow_redirects=False)

    def publish_ports(self, *ports: PortStatus) -> None:
        self.control.publish(StatusUpdate("ports", ports=list(ports)))


def default_ports(now: float = EPOCH) -> list[PortStatus]:
    return [PortStatus(f"fxs{i}", "fxs", f"{200 + i} Phone {i}", "idle", since=now) for i in range(1, 5)] + \
           [PortStatus(f"fxo{i}", "fxo", f"Line {i}", "idle", since=now) for i in range(1, 3)]


@pytest.fixture
def env(tmp_path: Path) -> Iterator[WebEnv]:
    records = CallRecords(tmp_path / "records.db")
    e = WebEnv(tmp_path, Config(tmp_path / "config.json"), records, EngineControl(), FakeClock())
    e.publish_ports(*default_ports())
    yield e
    records.close()
    e.config.close()


@pytest.fixture
def client(env: WebEnv) -> TestClient:
    return env.client()


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html) or \
        re.search(r'<meta name="csrf-token" content="([^"]+)"', html)
    assert m, "page has no CSRF token"
    return m.group(1)


def error_of(html: str) -> str | None:
    m = re.search(r'class="alert error"[^>]*>([^<]*)<', html)
    return m.group(1).strip() if m else None


def setup_code_of(client: TestClient) -> str:
    """The first-boot setup code (printed on the console; read out on any phone)."""
    from firmware.firstboot import read_code
    return read_code(client.app.state.web.data_dir) or ""


def do_setup(client: TestClient, username: str = ADMIN, password: str = ADMIN_PASSWORD, code: str | None = None):
    page = client.get("/setup")
    return client.post("/setup", data={"username": username, "password": password, "confirm": password,
                                       "setup_code": setup_code_of(client) if code is None else code,
                                       "csrf_token": csrf_of(page.text)})


def login(client: TestClient, username: str, password: str):
    page = client.get("/login")
    return client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": csrf_of(page.text)})


@pytest.fixture
def admin(client: TestClient) -> TestClient:
    """A client logged in as the administrator created at first boot."""
    assert do_setup(client).status_code == 303
    return client


def page_token(client: TestClient, path: str = "/status") -> str:
    return csrf_of(client.get(path).text)


def add_user(admin_client: TestClient, username: str, role: str, password: str, extension: str = "") -> None:
    r = admin_client.post("/users", data={"username": username, "role": role, "password": password,
                                          "extension": extension, "csrf_token": page_token(admin_client, "/users")})
    assert r.status_code == 303, error_of(r.text)
