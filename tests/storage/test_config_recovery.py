"""A damaged config.json at start-up: fall back to the last good copy, or to defaults; never crash, never delete."""
import json
import logging

import pytest

from firmware.config import DEFAULT_SETTINGS, Config


@pytest.fixture
def two_versions(tmp_path):
    """config.json holds site "second"; config.json.bak the previous good state, site "first"."""
    path = tmp_path / "config.json"
    cfg = Config(path)
    cfg.seed_defaults(["fxs1", "fxs2"], ["fxo1"])
    cfg.update_settings(site_name="first")
    cfg.update_settings(site_name="second")
    return path


def _aside(path):
    return sorted(path.parent.glob(path.name + ".corrupt-*"))


DAMAGE = {
    "truncated": lambda raw: raw[: len(raw) // 2],
    "empty": lambda raw: b"",
    "whitespace": lambda raw: b"\n  \n",
    "garbage bytes": lambda raw: bytes(range(256)) * 4,
    "zeroed block": lambda raw: b"\0" * len(raw),      # what some SD cards return after a power cut
    "not an object": lambda raw: b"[1, 2, 3]",
    "bad table": lambda raw: json.dumps({"extensions": [1, 2]}).encode(),
    "bad version": lambda raw: json.dumps({"_meta": {"version": "x"}}).encode(),
    "hand edit broke an extension": lambda raw: _edit(raw, lambda d: d["extensions"]["1"].pop("number")),
    "hand edit wrong type": lambda raw: _edit(raw, lambda d: d["lines"]["1"].update(enabled="yes")),
}


def _edit(raw: bytes, change) -> bytes:
    doc = json.loads(raw)
    change(doc)
    return json.dumps(doc, indent=2).encode()


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_config_falls_back_to_last_good_copy(two_versions, caplog, damage):
    path = two_versions
    bad = DAMAGE[damage](path.read_bytes())
    path.write_bytes(bad)
    good_backup = path.with_name("config.json.bak").read_bytes()
    with caplog.at_level(logging.INFO, logger="linebox.config"):
        cfg = Config(path)
    assert cfg.settings()["site_name"] == "first"
    assert [e["number"] for e in cfg.extensions()] == ["201", "202"]
    warnings = [r for r in caplog.records if r.name == "linebox.config" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    msg = warnings[0].getMessage()
    assert "unreadable" in msg and "falling back to the last good copy config.json.bak" in msg
    assert cfg.recovery == msg
    # The damaged file is kept for rescue (unless it is 0 bytes); the good copy is back in place.
    kept = _aside(path)
    if bad:
        assert [p.read_bytes() for p in kept] == [bad] and str(kept[0]) in msg
    else:
        assert kept == []
    assert path.read_bytes() == good_backup
    # The next start is clean, and writing works and keeps a backup again.
    caplog.clear()
    cfg.update_settings(site_name="third")
    with caplog.at_level(logging.INFO, logger="linebox.config"):
        again = Config(path)
    assert again.settings()["site_name"] == "third" and again.recovery is None
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert json.loads(path.with_name("config.json.bak").read_text())["settings"]["1"]["site_name"] == "first"


def test_missing_config_with_backup_falls_back(two_versions, caplog):
    path = two_versions
    path.unlink()
    with caplog.at_level(logging.WARNING, logger="linebox.config"):
        cfg = Config(path)
    assert cfg.settings()["site_name"] == "first"
    assert "does not exist" in caplog.text and "falling back" in caplog.text
    assert path.exists()


def test_both_copies_unreadable_starts_from_defaults_and_keeps_both(two_versions, caplog):
    path = two_versions
    backup = path.with_name("config.json.bak")
    path.write_bytes(b'{"settings": {"1": {"site_na')
    backup.write_bytes(b"\xff\xfe garbage")
    with caplog.at_level(logging.INFO, logger="linebox.config"):
        cfg = Config(path)
    assert cfg.settings() == DEFAULT_SETTINGS
    assert cfg.extensions() == [] and cfg.lines() == []
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "starting from defaults" in errors[0] and "not valid JSON" in errors[0] \
        and "not UTF-8" in errors[0]
    assert [p.read_bytes() for p in _aside(path)] == [b'{"settings": {"1": {"site_na']
    assert [p.read_bytes() for p in _aside(backup)] == [b"\xff\xfe garbage"]
    # First run again: seeding works, and the file is written fresh.
    cfg.seed_defaults(["fxs1"], ["fxo1"])
    assert Config(path).extensions()[0]["number"] == "201"


def test_first_start_is_quiet(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="linebox.config"):
        cfg = Config(tmp_path / "sub" / "config.json")
    assert cfg.settings() == DEFAULT_SETTINGS and cfg.recovery is None and cfg.version == 0
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_two_damaged_starts_in_a_row_keep_both_damaged_files(two_versions):
    path = two_versions
    path.write_bytes(b"{broken 1")
    Config(path)
    path.write_bytes(b"{broken 2")
    Config(path)
    assert sorted(p.read_bytes() for p in _aside(path)) == [b"{broken 1", b"{broken 2"]
