"""The engine API registry: typed arguments, clear refusals, store and media threads."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from firmware.api import REGISTRY, ApiContext, ApiError, EngineApi, LocalClient, command
from firmware.control import EngineControl


@command("test.registry_add")
def _add(ctx: ApiContext, a: int, b: int = 2) -> dict:
    return {"sum": a + b, "thread": threading.current_thread().name}


@command("test.registry_engine", on="media")
def _engine(ctx: ApiContext) -> str:
    return str(ctx.engine)


@command("test.registry_crash")
def _crash(ctx: ApiContext) -> None:
    raise RuntimeError("secret detail")


@pytest.fixture
def api(tmp_path: Path):
    a = EngineApi(config=None, records=None, data_dir=tmp_path, control=EngineControl())
    yield a
    a.close()


def test_store_commands_run_on_the_single_store_thread(api: EngineApi) -> None:
    client = LocalClient(api)
    out = client.call_sync("test.registry_add", a=1)
    assert out["sum"] == 3 and out["thread"].startswith("store")


@pytest.mark.parametrize("args, words", [({"a": "x"}, "valid integer"), ({"a": 1, "z": 3}, "Extra inputs"),
                                         ({}, "Field required")])
def test_wrong_arguments_are_refused_by_name(api: EngineApi, args: dict, words: str) -> None:
    with pytest.raises(ApiError) as err:
        LocalClient(api).call_sync("test.registry_add", **args)
    assert err.value.code == "bad_request" and words in err.value.message


def test_unknown_command_and_internal_errors(api: EngineApi) -> None:
    with pytest.raises(ApiError) as err:
        LocalClient(api).call_sync("no.such.command")
    assert err.value.code == "not_found"
    with pytest.raises(ApiError) as err:
        LocalClient(api).call_sync("test.registry_crash")
    assert err.value.code == "internal" and "secret" not in err.value.message


def test_media_commands_run_on_the_media_tick(api: EngineApi) -> None:
    fut = api.submit("test.registry_engine", {})
    assert not fut.done()
    api.control.run_pending("the engine")
    assert fut.result(1) == "the engine"


def test_describe_lists_commands_with_schemas(api: EngineApi) -> None:
    out = LocalClient(api).call_sync("api.describe")
    names = {c["name"] for c in out["commands"]}
    assert {"api.describe", "test.registry_add"} <= names
    assert "test.registry_add" in REGISTRY
