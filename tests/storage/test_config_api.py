"""The Config API the engine and the web code against: defaults, edits, one commit per change, listeners."""
import json
import threading

import pytest

from firmware.config import (
    DESTINATION_KINDS,
    Config,
    ConfigConflictError,
    ConfigError,
    ConfigSaveError,
    register_destination_kind,
)


@pytest.fixture
def cfg(tmp_path):
    c = Config(tmp_path / "config.json")
    c.seed_defaults(["fxs1", "fxs2", "fxs3", "fxs4"], ["fxo1", "fxo2"])
    return c


def test_seed_defaults_first_run_only(cfg):
    assert cfg.version == 1
    assert cfg.settings()["country"] == "US" and cfg.settings()["access_code"] == "9"
    assert [(e["number"], e["port"], e["enabled"]) for e in cfg.extensions()] == [
        ("201", "fxs1", True), ("202", "fxs2", True), ("203", "fxs3", True), ("204", "fxs4", True)]
    assert [(ln["name"], ln["port"]) for ln in cfg.lines()] == [("Line 1", "fxo1"), ("Line 2", "fxo2")]
    assert cfg.inbound_routes() == [{"line": "fxo1", "destination": "201"}, {"line": "fxo2", "destination": "201"}]
    cfg.delete_line("fxo2")
    cfg.seed_defaults(["fxs1"], ["fxo1", "fxo2", "fxo3"])          # not the first run any more
    assert [ln["port"] for ln in cfg.lines()] == ["fxo1"] and len(cfg.extensions()) == 4


def test_seed_without_phones_routes_to_everyone(tmp_path):
    c = Config(tmp_path / "config.json")
    c.seed_defaults([], ["fxo1"])
    assert c.inbound_routes() == [{"line": "fxo1", "destination": "group:all"}]


def test_every_change_is_one_commit_and_one_notification(cfg):
    seen = []
    cfg.add_listener(lambda: seen.append(cfg.version))
    cfg.update_settings(country="de", access_code="0", site_name="Müller GmbH", timezone="Europe/Berlin",
                        interdigit_ms=5000)
    cfg.save_extension({"number": "210", "name": "Lager", "port": None})
    cfg.save_extension({"number": "310", "name": "Büro"}, original_number="201")   # renumber: ext + routes
    cfg.save_line({"port": "fxo3", "number": "+49 (30) 1234-567"})
    cfg.set_inbound_route("fxo3", "group:310,202")
    cfg.save_line({"name": "Amt 3"}, original_port="fxo3")                         # edit keeps other fields
    cfg.delete_extension("210")
    cfg.delete_line("fxo2")
    assert seen == list(range(2, 10)) and cfg.version == 9
    s = cfg.settings()
    assert (s["country"], s["access_code"], s["site_name"], s["timezone"], s["interdigit_ms"]) == \
        ("DE", "0", "Müller GmbH", "Europe/Berlin", 5000)
    assert cfg.extension("310") == {"number": "310", "name": "Büro", "port": "fxs1", "enabled": True}
    assert cfg.extension("201") is None and cfg.extension("210") is None
    assert cfg.lines()[-1] == {"name": "Amt 3", "port": "fxo3", "number": "+49301234567", "enabled": True}
    assert cfg.inbound_routes() == [{"line": "fxo1", "destination": "310"},
                                    {"line": "fxo3", "destination": "group:310,202"}]
    # all of it is on disk, readable by a person: UTF-8, indented, with the version inside
    text = cfg.path.read_text(encoding="utf-8")
    assert "Müller GmbH" in text and '\n  "extensions": {' in text
    assert json.loads(text)["_meta"]["version"] == 9
    reopened = Config(cfg.path)
    assert (reopened.version, reopened.settings(), reopened.extensions(), reopened.lines(),
            reopened.inbound_routes()) == (9, cfg.settings(), cfg.extensions(), cfg.lines(), cfg.inbound_routes())


def test_renumbering_moves_every_route_and_moving_a_line_keeps_its_route(cfg):
    cfg.set_inbound_route("fxo2", "201,202")
    cfg.save_extension({"number": "301"}, original_number="201")
    assert [r["destination"] for r in cfg.inbound_routes()] == ["301", "301,202"]
    cfg.save_line({"port": "fxo5"}, original_port="fxo2")
    assert cfg.inbound_routes() == [{"line": "fxo1", "destination": "301"}, {"line": "fxo5", "destination": "301,202"}]
    cfg.delete_line("fxo5")
    assert cfg.inbound_routes() == [{"line": "fxo1", "destination": "301"}]


def test_edit_keeps_unspecified_fields_and_port_can_be_freed(cfg):
    cfg.save_extension({"name": "Reception"}, original_number="202")
    assert cfg.extension("202") == {"number": "202", "name": "Reception", "port": "fxs2", "enabled": True}
    cfg.save_extension({"port": None, "enabled": False}, original_number="202")
    cfg.save_extension({"number": "250", "port": "fxs2"})           # the freed port can be reused
    assert cfg.extension("202")["port"] is None and cfg.extension("250")["port"] == "fxs2"
    assert cfg.save_extension({"number": 260, "port": " FXS7 "}) == \
        {"number": "260", "name": "", "port": "fxs7", "enabled": True}


def test_extensions_sort_numerically(cfg):
    cfg.save_extension({"number": "1000"})
    cfg.save_extension({"number": "30"})
    assert [e["number"] for e in cfg.extensions()] == ["30", "201", "202", "203", "204", "1000"]


def test_returned_dicts_are_copies(cfg):
    cfg.extensions()[0]["name"] = "changed"
    cfg.extension("201")["port"] = "fxs9"
    cfg.settings()["country"] = "UK"
    assert cfg.extension("201")["name"] == "Extension 201" and cfg.extension("201")["port"] == "fxs1"
    assert cfg.settings()["country"] == "US"


def test_generic_tables_share_the_atomic_storage(cfg):
    seen = []
    cfg.add_listener(lambda: seen.append(1))
    ivr = cfg.table("ivr")
    ivr.insert({"menu": "main", "options": {"1": "201", "0": "group:all"}})
    ivr.insert({"menu": "after hours"})
    assert len(ivr) == 2 and [d["menu"] for d in ivr] == ["main", "after hours"]
    assert ivr.search(lambda d: d["menu"] == "main")[0]["options"]["1"] == "201"
    assert seen == [1, 1] and cfg.version == 3
    assert Config(cfg.path).table("ivr").all() == ivr.all()
    for bad in ("extensions", "Bad Name", "../x", ""):
        with pytest.raises(ValueError):
            cfg.table(bad)


def test_concurrent_writers_all_land(cfg):
    def add(base: int) -> None:
        for i in range(20):
            cfg.save_extension({"number": str(base + i), "name": f"t{base}"})
    threads = [threading.Thread(target=add, args=(b,)) for b in (300, 400, 500, 600)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(cfg.extensions()) == 4 + 80 and cfg.version == 1 + 80
    assert len(Config(cfg.path).extensions()) == 84


def test_listener_failure_does_not_undo_the_change(cfg, caplog):
    def broken() -> None:
        raise RuntimeError("listener bug")
    later = []
    cfg.add_listener(broken)
    cfg.add_listener(lambda: later.append(cfg.version))
    cfg.update_settings(site_name="Shop")
    assert Config(cfg.path).settings()["site_name"] == "Shop" and later == [2]
    assert "listener" in caplog.text and "listener bug" in caplog.text


def test_failed_save_loses_nothing(cfg):
    """The disk refuses the write (here: the backup name is taken by a directory): state and file unchanged."""
    before = cfg.path.read_bytes()
    backup = cfg.path.with_name("config.json.bak")
    backup.unlink(missing_ok=True)
    backup.mkdir()
    (backup / "keep").write_text("x")
    seen = []
    cfg.add_listener(lambda: seen.append(1))
    with pytest.raises(ConfigSaveError) as err:
        cfg.save_extension({"number": "250"})
    assert "could not be saved" in str(err.value) and "nothing was changed" in str(err.value)
    assert cfg.extension("250") is None and cfg.version == 1 and seen == []
    assert cfg.path.read_bytes() == before
    assert not list(cfg.path.parent.glob(".*.tmp"))
    (backup / "keep").unlink()
    backup.rmdir()
    cfg.save_extension({"number": "250"})           # the disk is fine again: the next change goes through
    assert Config(cfg.path).extension("250") is not None


def test_transaction_groups_changes_into_one_commit_or_none(cfg):
    seen = []
    cfg.add_listener(lambda: seen.append(cfg.version))
    with cfg.transaction():
        cfg.save_line({"port": "fxo3", "name": "Fax line"})
        cfg.set_inbound_route("fxo3", "202")
    assert seen == [2] and cfg.inbound_routes()[-1] == {"line": "fxo3", "destination": "202"}
    before = cfg.path.read_bytes()
    with pytest.raises(ConfigError, match="extension 299 does not exist"), cfg.transaction():
        cfg.save_line({"port": "fxo4"})
        cfg.set_inbound_route("fxo4", "299")          # refused: the line above is not kept either
    assert [ln["port"] for ln in cfg.lines()] == ["fxo1", "fxo2", "fxo3"]
    assert seen == [2] and cfg.version == 2 and cfg.path.read_bytes() == before
    assert [ln["port"] for ln in Config(cfg.path).lines()] == ["fxo1", "fxo2", "fxo3"]


def test_saving_over_someone_elses_change_is_refused(cfg):
    other = Config(cfg.path)                       # e.g. a second process, or an installer's editor
    other.update_settings(site_name="theirs")
    with pytest.raises(ConfigConflictError) as err:
        cfg.update_settings(site_name="mine")
    assert "changed by another program" in str(err.value) and "Restart Linebox" in str(err.value)
    assert cfg.settings()["site_name"] == "Linebox" and cfg.version == 1
    assert Config(cfg.path).settings()["site_name"] == "theirs"
    other.update_settings(site_name="theirs again")    # the one that saved last keeps working
    assert Config(cfg.path).settings()["site_name"] == "theirs again"


def test_features_register_inbound_destination_kinds(cfg):
    register_destination_kind("echo-test")
    register_destination_kind("voicemail", lambda c, v: None if c.extension(v) else f"there is no mailbox {v}")
    try:
        cfg.set_inbound_route("fxo1", "echo-test:x")
        cfg.set_inbound_route("fxo2", "voicemail:202")
        assert [r["destination"] for r in cfg.inbound_routes()] == ["echo-test:x", "voicemail:202"]
        with pytest.raises(ConfigError, match="there is no mailbox 299"):
            cfg.set_inbound_route("fxo2", "voicemail:299")
        with pytest.raises(ConfigError, match="1 to 40 printable characters"):
            cfg.set_inbound_route("fxo2", "echo-test:")
        with pytest.raises(ValueError):
            register_destination_kind("Bad Kind")
    finally:
        DESTINATION_KINDS.pop("echo-test", None)
        DESTINATION_KINDS.pop("voicemail", None)
