"""Outbound permission rules without a call: the pattern language, the country plans, the class
ladder, stored-data robustness (a hand-edited config never trips the engine)."""
from __future__ import annotations

import pytest

from firmware.apps import permissions_store as store
from firmware.apps.permissions import Origin
from firmware.apps.permissions_patterns import COUNTRY_NUMBERS, PatternError, compile_pattern, matches
from firmware.config import ConfigError
from firmware.harness import Pbx


@pytest.mark.parametrize("pattern, yes, no", [
    ("NXXXXXX", ["5550100", "2000000"], ["1550100", "555010", "55501000", "555010a"]),
    ("1NXXNXXXXXX", ["12125550100"], ["11125550100", "12121550100"]),
    ("011.", ["0114420", "011442079460000"], ["011", "0104420"]),
    ("[1-3,7]X", ["10", "39", "70"], ["40", "80", "7"]),
    ("Z.", ["12", "9999"], ["1", "02"]),
    ("911", ["911"], ["9110", "91"]),
])
def test_pattern_language(pattern, yes, no):
    for n in yes:
        assert matches(pattern, n), (pattern, n)
    for n in no:
        assert not matches(pattern, n), (pattern, n)


@pytest.mark.parametrize("bad, message", [
    ("", "empty"), ("1.2", "may only come last"), (".", "may only come last"), ("12*", "not understood"),
    ("[5-1]", "not a digit set"), ("[]", "not understood"), ("1" * 25, "longer than"), ("X+", "not understood"),
    ("(0|1)", "not understood"), ("\\d", "not understood"),
])
def test_bad_patterns_are_refused_with_a_hint(bad, message):
    with pytest.raises(PatternError, match=message):
        compile_pattern(bad)


@pytest.mark.parametrize("country, expect", [
    ("US", {"911": "emergency", "5550100": "local", "2125550100": "local", "12125550100": "national",
            "011442079460000": "international", "19005551234": "premium", "9765555": "premium",
            "12129765555": "premium", "411": "unknown"}),
    ("UK", {"999": "emergency", "112": "emergency", "7946000": "local", "02079460000": "national",
            "07700900123": "national", "0033142685300": "international", "09011234567": "premium",
            "118118": "premium", "07011234567": "premium"}),
    ("DE", {"110": "emergency", "3012345": "local", "03012345678": "national", "01701234567": "national",
            "0044207946": "international", "09001234567": "premium", "11833": "premium"}),
    ("CN", {"110": "emergency", "119": "emergency", "87654321": "local", "13812345678": "national",
            "01087654321": "national", "001212555": "international", "16812345": "premium"}),
])
def test_country_plans_sort_numbers(country, expect):
    plan = COUNTRY_NUMBERS[country]
    assert {n: plan.category(n) for n in expect} == expect


def test_class_ladder_each_class_adds_one_kind_and_only_premium_allows_premium():
    classes = store.default_class_patterns("US")
    plan = COUNTRY_NUMBERS["US"]
    assert classes["internal"] == {"allow": [], "deny": list(plan.premium)}
    assert classes["local"]["allow"] == list(plan.local)
    assert classes["international"]["allow"] == [*plan.local, *plan.national, *plan.international]
    assert classes["premium"] == {"allow": [*plan.local, *plan.national, *plan.international, *plan.premium],
                                  "deny": []}


def test_authorise_walks_the_ladder_and_pins_never_lower_a_class():
    with Pbx(country="US", fxs=2, fxo=1) as pbx:
        eng = pbx.engine
        numbers = {"local": "5550100", "national": "12125550100", "international": "011442079460000",
                   "premium": "19005551234"}
        for rank, cls in enumerate(store.CLASSES):
            store.set_extension_policy(pbx.config, "201", cls)
            eng.reload_config()
            got = {kind: eng.authorise_outside(Origin("201", "fxs1"), n).allowed for kind, n in numbers.items()}
            assert got == {kind: i < rank for i, kind in enumerate(numbers)}, cls
        store.add_auth_code(pbx.config, "Temp", "59173", "local")
        eng.reload_config()
        assert eng.outside_policy.check_code("201", "59173") is not None
        eng.outside_policy.grant("fxs1", "local", "Temp")
        d = eng.authorise_outside(Origin("201", "fxs1"), numbers["premium"])    # premium class kept
        assert d.allowed and d.cos == "premium"


def test_weak_codes_and_bad_settings_are_refused_and_nothing_is_stored():
    with Pbx(country="US", fxs=2, fxo=1) as pbx:
        cfg = pbx.config
        before = cfg.version
        for code in ("1234", "9876", "0000", "12", "1234567890123", "12 34", "", "201"):
            with pytest.raises(ConfigError):
                store.add_auth_code(cfg, "A", code, "local")
        for kwargs in ({"default_class": "gold"}, {"calls_per_hour": True}, {"calls_per_hour": 1.5},
                       {"lockout_minutes": 0}, {"bogus": 1}, {"trunk_to_trunk": {"dial": True}}):
            with pytest.raises(ConfigError):
                store.update_general(cfg, **kwargs)
        with pytest.raises(ConfigError, match="label"):
            store.add_auth_code(cfg, "tab\there", "59173", "local")
        assert cfg.version == before


def test_hand_edited_permissions_never_trip_the_engine():
    with Pbx(country="US", fxs=2, fxo=1) as pbx:
        from tinydb.table import Document
        pbx.config.table("permissions").upsert(Document({
            "default_class": 7, "calls_per_hour": "lots", "extensions": {"201": "premium", "202": {"class": "x"}},
            "classes": {"local": {"allow": ["NXXXXXX", "((", 5], "deny": "1900."}},
            "auth_codes": [{"label": "broken"}, "junk"], "disa": {"enabled": "yes"},
        }, doc_id=1))
        eng = pbx.engine
        eng.reload_config()
        assert eng.outside_policy.classes["local"] == {"allow": ["NXXXXXX"], "deny": []}
        d = eng.authorise_outside(Origin("201", "fxs1"), "12125550100")     # default class (national)
        assert d.allowed and d.cos == "national"
        assert eng.outside_policy.check_code("201", "59173") is None         # broken entries never match
        assert eng.outside_policy.perms["disa"]["enabled"] is False           # "yes" is not True
        assert not eng.authorise_outside(Origin(channel="fxo1", via="disa"), "5550100").allowed
