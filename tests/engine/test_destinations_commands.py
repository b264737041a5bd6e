"""Engine API `destinations.*`: the one catalog behind every picker, with plain names, and a kind
registered by an app appears in it by itself (issue 9, item 10)."""
from __future__ import annotations

import pytest

from firmware.api import ApiError, EngineApi
from firmware.apps import ivr_store
from firmware.apps.ivr_store import register_ivr_destination, save_menu


@pytest.fixture
def api(pbx):
    engine_api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
    yield engine_api
    engine_api.close()


def call(api, name: str, **args):
    return api.submit(name, args).result(timeout=5)


def test_plain_names_tell_ringing_from_voicemail_and_lines_offer_only_route_kinds(pbx, api):
    pbx.config.save_extension({**pbx.config.extension("202"), "name": "Reception"}, original_number="202")
    save_menu(pbx.config, {"id": "main", "name": "Main", "language": "en", "greeting": "", "timeout_s": 5,
                           "retries": 2, "direct_dial": True, "fallback": "hangup:", "options": {}})
    names = call(api, "destinations.names", destinations=["extension:202", "voicemail:202", "ivr:main", "202",
                                                           "201,202", "group:all", "hangup:"])
    assert names["extension:202"] == "Ring 202 Reception"
    assert names["voicemail:202"] == "Voicemail of 202 Reception"
    assert names["ivr:main"] == "Menu: Main (main)"
    assert names["202"] == "Ring 202 Reception"
    assert names["201,202"].startswith("Ring 201") and names["201,202"].endswith("202 Reception together")
    assert names["group:all"] == "Ring every phone"
    assert names["hangup:"] == "Say goodbye and hang up"

    ivr = {k["kind"]: k for k in call(api, "destinations.list", purpose="ivr")["kinds"]}
    assert {"extension", "voicemail", "ivr", "hangup"} <= set(ivr)
    assert {"value": "voicemail:202", "name": "Voicemail of 202 Reception"} in ivr["voicemail"]["targets"]
    line = {k["kind"]: k for k in call(api, "destinations.list", purpose="line")["kinds"]}
    assert {"value": "202", "name": "Ring 202 Reception"} in line["extension"]["targets"]
    assert "hangup" not in line and "directory" not in line          # not a line route
    tc = {k["kind"] for k in call(api, "destinations.list", purpose="timecondition")["kinds"]}
    assert "timecondition" not in tc
    with pytest.raises(ApiError):
        call(api, "destinations.list", purpose="queue-of-nonsense")

    pbx.config.set_inbound_route("fxo1", "ivr:main")
    assert call(api, "destinations.used_by", destination="ivr:main")["used_by"] == ["Line 1"]


def test_a_kind_an_app_registers_appears_in_every_picker(pbx, api):
    register_ivr_destination("testqueue", "Queue", lambda cfg, v: None, lambda cfg: [("sales", "Sales queue")])
    try:
        kinds = {k["kind"]: k for k in call(api, "destinations.list", purpose="ivr")["kinds"]}
        assert kinds["testqueue"]["targets"] == [{"value": "testqueue:sales", "name": "Queue: Sales queue"}]
    finally:
        ivr_store.DESTINATIONS.pop("testqueue", None)
