"""The web reaches the engine only through the engine API (issue 8): no route module imports a
firmware store or the configuration, or queues closures onto the media thread; every command
is documented for `api.describe`; engine refusals become the right HTTP status in one place."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

from firmware.api import REGISTRY, ApiContext, ApiError, EngineApi, LocalClient, command, load_commands
from firmware.apps import speeddial

from .conftest import page_token

WEBUI = Path(__file__).resolve().parents[2] / "webui"
# The app's assembly and the status page (which reads the extension of the user's own phone from
# the read-only configuration view) are checked by the layering contracts instead.
NOT_YET = {"routes_status.py", "sim_api.py", "app.py", "state.py"}
# What else the web may import from firmware: the engine API and its transport (the socket client),
# and libraries that hold no engine state and write nothing: the setup code's feature code (a
# constant), the Prometheus text of the health figures, the impulse-response picture, the update
# bundle's room check (free space against a size, shared with the engine's URL fetch), and the
# reports library, which reads records.db / reports.db read-only (as issue 8 allows).
ALLOWED_FIRMWARE = {"firmware.api", "firmware.api_wire", "firmware.control", "firmware.firstboot",
                    "firmware.media_health", "firmware.linecal.picture", "firmware.update.room"}
ALLOWED_PREFIXES = ("firmware.reports.",)


def _web_modules() -> list[Path]:
    return sorted(p for p in WEBUI.glob("*.py") if p.name not in NOT_YET)


@pytest.mark.parametrize("path", _web_modules(), ids=lambda p: p.name)
def test_web_module_reaches_the_engine_only_through_the_api(path: Path) -> None:
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            names = []
        for name in names:
            if name == "firmware" or name.startswith("firmware."):
                assert name in ALLOWED_FIRMWARE or name.startswith(ALLOWED_PREFIXES), \
                    f"{path.name}:{node.lineno} imports {name}"
        if isinstance(node, ast.Attribute):
            assert node.attr != "config", f"{path.name}:{node.lineno} reads the engine's Config (.config)"
            if node.attr == "call" and isinstance(node.value, ast.Attribute):
                assert node.value.attr != "control", f"{path.name}:{node.lineno} calls control.call"


def test_every_command_is_documented_and_described() -> None:
    load_commands()
    # (other tests register throw-away commands of their own; only the firmware's count here)
    undocumented = sorted(name for name, c in REGISTRY.items()
                          if c.fn.__module__.startswith("firmware.") and not c.doc.strip())
    assert undocumented == []
    for domain in ("config", "forward", "groups", "messages", "addressbook", "voicemail", "ivr",
                   "timeconditions", "prompts", "permissions", "recordings", "conference"):
        assert any(n.startswith(domain + ".") for n in REGISTRY), domain


@pytest.fixture
def refusing_command():
    """A command that refuses with the code it is given (registered for one test only)."""
    def refuse(ctx: ApiContext, code: str) -> None:
        """Test only: refuse with `code`."""
        raise ApiError(code, f"refused with {code}")
    command("test_boundary.refuse", on="store")(refuse)
    yield
    REGISTRY.pop("test_boundary.refuse", None)


@pytest.mark.parametrize(("code", "status"), [("bad_request", 400), ("not_found", 404), ("conflict", 409),
                                              ("forbidden", 403), ("unavailable", 503), ("too_large", 413),
                                              ("internal", 500)])
def test_engine_refusals_become_http_statuses(env, refusing_command, code: str, status: int) -> None:
    app = env.app()

    @app.get("/api/test-boundary/{code}")
    async def refuse(code: str):      # a route that lets an engine refusal through
        return await app.state.web.api.call("test_boundary.refuse", code=code)

    from fastapi.testclient import TestClient
    client = TestClient(app)
    r = client.get(f"/api/test-boundary/{code}")
    assert r.status_code == status
    assert r.json() == {"error": f"refused with {code}"}


def test_unknown_command_and_wrong_types_are_refused_clearly(env) -> None:
    api = EngineApi(config=env.config, records=env.records, data_dir=env.data_dir, control=env.control)
    try:
        with pytest.raises(ApiError) as exc:
            api.submit("addressbook.add", {"extension": "201", "entry": "not an object"}).result(5)
        assert exc.value.code == "bad_request" and "entry" in exc.value.message
        with pytest.raises(ApiError) as exc:
            api.submit("config.save_extension", {"extension": {"number": "20x"}}).result(5)
        assert exc.value.code == "bad_request" and "20x" in exc.value.message
    finally:
        api.close()


def test_uploads_are_taken_from_the_spool_folder_only(env, admin) -> None:
    """The engine takes an upload by spool name only: a path is refused, nothing outside is read."""
    env.config.seed_defaults(["fxs1", "fxs2"], [])
    api = EngineApi(config=env.config, records=env.records, data_dir=env.data_dir, control=env.control)
    try:
        for bad in ("../config.json", "/etc/passwd", "config.json", "0" * 32 + ".wav"):
            with pytest.raises(ApiError) as exc:
                api.submit("prompts.upload", {"slug": "x", "upload": bad}).result(5)
            assert exc.value.code == "bad_request"
        assert (env.data_dir / "config.json").exists()
    finally:
        api.close()
    # Through the page: the spooled file is gone afterwards, refused or not.
    token = page_token(admin, "/prompts")
    r = admin.post("/prompts/upload", data={"csrf_token": token, "name": "hello"},
                   files={"file": ("x.wav", b"not audio", "audio/wav")}, headers={"accept": "text/html"})
    assert r.status_code == 400
    assert list((env.data_dir / "spool").glob("*")) == []


def test_spooled_uploads_nobody_took_are_swept(env) -> None:
    import os
    import time
    spool = env.data_dir / "spool"
    spool.mkdir()
    stale, fresh = spool / ("a" * 32 + ".upload"), spool / ("b" * 32 + ".upload")
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    old = time.time() - 2 * 3600
    os.utime(stale, (old, old))
    api = EngineApi(config=env.config, records=env.records, data_dir=env.data_dir, control=env.control)
    try:
        with pytest.raises(ApiError):
            api.submit("prompts.upload", {"slug": "x", "upload": "c" * 32 + ".upload"}).result(5)
    finally:
        api.close()
    assert not stale.exists() and fresh.exists()


PAGES = ["/extensions", "/lines", "/settings", "/users", "/phone/services", "/phone/groups", "/phone/messages",
         "/phone/addressbook", "/voicemail", "/voicemail/settings", "/ivr", "/timeconditions", "/prompts",
         "/permissions", "/recordings", "/recordings/settings", "/conference", "/history", "/account",
         "/api/extensions", "/api/lines", "/api/settings", "/api/recordings", "/api/history"]


def test_the_web_needs_no_config_object(env) -> None:
    """As in the two-process design: the web gets an engine API client and no Config. Every page
    of the converted route modules opens, and a change made through a form reaches the engine's
    configuration."""
    from fastapi.testclient import TestClient

    from webui.app import create_app

    from .conftest import do_setup

    env.config.seed_defaults(["fxs1", "fxs2"], ["fxo1"])
    api = EngineApi(config=env.config, records=env.records, data_dir=env.data_dir, control=env.control)
    try:
        app = create_app(control=env.control, config=None, records=env.records, data_dir=env.data_dir,
                         clock=env.clock, throttle_clock=env.clock, api=LocalClient(api))
        assert app.state.web.config is None
        client = TestClient(app, follow_redirects=False)
        assert do_setup(client).status_code == 303
        for path in PAGES:
            r = client.get(path)
            assert r.status_code == 200, (path, r.status_code, r.text[:300])
        token = page_token(client, "/phone/addressbook?ext=201")
        r = client.post("/phone/addressbook", data={"csrf_token": token, "ext": "201", "name": "Ann",
                                                    "number": "202"})
        assert r.status_code == 303
        assert [e["name"] for e in speeddial.load_book(env.config, "201")] == ["Ann"]
        assert "Ann" in client.get("/phone/addressbook?ext=201").text
    finally:
        api.close()
