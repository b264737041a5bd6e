"""OpenAPI-driven fuzz run of every route (issue 9 item 9): schemathesis generates path, query
and JSON-body values from the app's own OpenAPI schema and calls each operation as a logged-in
administrator (session cookie and CSRF token); no input may give a 500.

The schema is never served by the appliance (`openapi_url=None`: no map of the API for a LAN
stranger); the test takes it from `app.openapi()` in-process. Bounded: a few examples per
operation (about 90 operations), no shrinking, well under a minute.
"""
from __future__ import annotations

import re

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings

from .conftest import do_setup

EXAMPLES = 6
# The live event stream never ends by itself (it is tested in test_status_history); logging out
# would end the fuzzing session: every other operation is fuzzed.
SKIPPED = {("GET", "/api/events"), ("POST", "/logout")}


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory):
    """The web app on a real engine that ticks (media-thread commands such as calls.list answer)."""
    from .browser_kit import TickingOffice
    office = TickingOffice(tmp_path_factory.mktemp("fuzz"))
    app = office.app()
    admin = TestClient(app, follow_redirects=False)
    assert do_setup(admin).status_code == 303
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', admin.get("/status").text).group(1)
    yield app, {"lb_session": admin.cookies.get("lb_session")}, {"X-CSRF-Token": token}
    office.close()


def with_bodies(raw: dict) -> dict:
    """Most handlers read their body themselves (`request.json()`, `request.form()`), so FastAPI's
    schema does not describe it: give every state-changing operation an "any JSON" body (/api/)
    or an "any form fields" body (pages), so the bodies are fuzzed too."""
    for path, operations in raw["paths"].items():
        for method, op in operations.items():
            if method in ("post", "put", "patch") and "requestBody" not in op:
                if path.startswith("/api/"):
                    content = {"application/json": {"schema": {}}}
                else:
                    content = {"application/x-www-form-urlencoded": {"schema": {
                        "type": "object", "additionalProperties": {"type": "string"}}}}
                op["requestBody"] = {"required": True, "content": content}
    return raw


@pytest.fixture(scope="module")
def api_schema(fuzz_target):
    app = fuzz_target[0]
    assert app.openapi_url is None                 # not served by the box
    schema = schemathesis.openapi.from_dict(with_bodies(app.openapi()))
    schema.app = app
    return schema


def test_no_input_gives_a_server_error(api_schema, fuzz_target):
    _app, cookies, headers = fuzz_target
    failures: list[tuple] = []
    fuzzed = 0
    codes: dict[int, int] = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in SKIPPED:
            continue

        @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def fuzz(case) -> None:
            response = case.call(cookies=cookies, headers={**headers, **(case.headers or {})})
            codes[response.status_code] = codes.get(response.status_code, 0) + 1
            if response.status_code >= 500:
                failures.append((case.method, case.formatted_path, case.query, case.body,
                                 response.status_code, response.text[:200]))
        fuzz()
        fuzzed += 1
    assert fuzzed >= 80                     # every route of the app (about 90 operations)
    assert codes.get(200, 0) >= 50, codes         # fuzzed logged in, not just bounced at the door
    assert failures == []
