"""The customer book through the engine API (as the agent desktop and the web use it): save,
get, search, merge, the screen pop (E.164 and last-digit matches, the raw caller ID kept, the
last five interactions newest first, open work orders), disposition codes, interactions at
wrap-up, refusals that say what to fix and store nothing."""
from __future__ import annotations

import pytest

from firmware.api import ApiError


def test_save_get_search_and_pop_by_e164(api):
    cid = api.call_sync("customers.save", contact={"name": "Ann Smith", "company": "Acme", "tags": ["VIP"],
                                                   "numbers": ["(212) 555-0101", "+44 20 7946 0958"],
                                                   "address": "1 Main St", "notes": "prefers mornings"})["id"]
    got = api.call_sync("customers.get", id=cid)
    assert got["name"] == "Ann Smith" and got["numbers"] == ["(212) 555-0101", "+44 20 7946 0958"]
    assert got["tags"] == ["VIP"]
    # the line delivers the number without punctuation and with the trunk prefix
    pop = api.call_sync("customers.pop", number="12125550101", call_id="c1")
    assert pop["raw"] == "12125550101" and pop["e164"] == "+12125550101" and pop["match"] == "e164"
    assert pop["contact"]["id"] == cid and pop["contact"]["company"] == "Acme"
    assert pop["interactions"] == [] and pop["work_orders"] == []
    assert api.call_sync("customers.pop", number="+442079460958")["contact"]["id"] == cid
    assert [c["id"] for c in api.call_sync("customers.search", q="acme", limit=10)] == [cid]
    assert [c["id"] for c in api.call_sync("customers.search", q="212 555 0101", limit=10)] == [cid]
    assert api.call_sync("customers.search", q="nobody", limit=10) == []


def test_pop_falls_back_on_last_digits_and_keeps_raw_caller_id(api):
    cid = api.call_sync("customers.save", contact={"name": "Bo", "numbers": ["555-0177"]})["id"]
    pop = api.call_sync("customers.pop", number="(646) 555-0177")       # area code the contact lacks
    assert pop["match"] == "last_digits" and pop["contact"]["id"] == cid and pop["e164"] == "+16465550177"
    unknown = api.call_sync("customers.pop", number="<script>alert(1)</script>")
    assert unknown["raw"] == "<script>alert(1)</script>" and unknown["contact"] is None
    assert unknown["e164"] is None and unknown["match"] is None


def test_interactions_newest_first_last_five_and_work_orders(api):
    cid = api.call_sync("customers.save", contact={"name": "Cy", "numbers": ["+1 212 555 0199"]})["id"]
    for i in range(7):
        api.call_sync("interactions.record", call_id=f"call{i}", number="2125550199", agent="alice", queue="600",
                      disposition="consultation", notes=f"note {i}", resolved=i % 2 == 0,
                      recording=f"rec{i}.wav", at=1_700_000_000 + i * 60)
    wo = api.call_sync("workorders.create", title="Broken handset", number="2125550199", contact_id=cid,
                       call_id="call6", created_by="alice")
    pop = api.call_sync("customers.pop", number="+12125550199")
    assert [i["notes"] for i in pop["interactions"]] == ["note 6", "note 5", "note 4", "note 3", "note 2"]
    first = pop["interactions"][0]
    assert first["agent"] == "alice" and first["disposition"] == "consultation" and first["resolved"] is True
    assert first["recording"] == "rec6.wav" and first["call_id"] == "call6" and first["at"] == 1_700_000_360
    assert pop["work_orders"] == [{"id": wo["id"], "title": "Broken handset", "state": "submitted", "due": None,
                                   "overdue": False}]
    history = api.call_sync("customers.history", id=cid, limit=50)
    assert [i["call_id"] for i in history["interactions"]] == [f"call{i}" for i in range(6, -1, -1)]
    assert [w["id"] for w in history["work_orders"]] == [wo["id"]]


def test_merge_joins_numbers_tags_and_history(api):
    a = api.call_sync("customers.save", contact={"name": "Dee", "numbers": ["2125550111"], "tags": ["VIP"]})["id"]
    b = api.call_sync("customers.save", contact={"name": "Dee Jones", "numbers": ["2125550122"],
                                                 "tags": ["late payer"], "company": "Jones Ltd"})["id"]
    api.call_sync("interactions.record", call_id="x", number="2125550122", agent="bob", at=1_700_000_000)
    merged = api.call_sync("customers.merge", keep=a, drop=b)
    assert merged["numbers"] == ["2125550111", "2125550122"] and merged["tags"] == ["VIP", "late payer"]
    assert merged["company"] == "Jones Ltd"
    pop = api.call_sync("customers.pop", number="2125550122")
    assert pop["contact"]["id"] == a and [i["call_id"] for i in pop["interactions"]] == ["x"]
    with pytest.raises(ApiError) as exc:
        api.call_sync("customers.get", id=b)
    assert exc.value.code == "not_found"


def test_refusals_say_what_to_fix_and_store_nothing(api):
    for contact, words in [({"name": ""}, "name is required"), ({"name": "X", "numbers": ["12"]}, "not a phone number"),
                           ({"name": "X", "colour": "red"}, "Unknown contact field"),
                           ({"name": "X" * 300}, "longer than")]:
        with pytest.raises(ApiError) as exc:
            api.call_sync("customers.save", contact=contact)
        assert exc.value.code == "bad_request" and words in exc.value.message
    assert api.call_sync("customers.count") == 0
    with pytest.raises(ApiError) as exc:
        api.call_sync("customers.save", contact={"id": 99, "name": "Ghost"})
    assert exc.value.code == "not_found"
    with pytest.raises(ApiError) as exc:
        api.call_sync("interactions.record", call_id="c", number="1", agent="a", disposition="gossip")
    assert "Unknown disposition" in exc.value.message


def test_dispositions_are_the_owners(api):
    codes = api.call_sync("dispositions.list")
    assert [c["code"] for c in codes] == ["consultation", "complaint", "suggestion", "order"]
    art = api.call_sync("kb.save", article={"title": "Refund policy", "body": "30 days.", "dispositions": ["refund"]})
    saved = api.call_sync("dispositions.save", codes=[{"code": "refund", "label": "Refund request", "kb": [art["id"]]},
                                                      {"code": "complaint", "label": "Complaint"}])
    assert saved == [{"code": "refund", "label": "Refund request", "kb": [art["id"]]},
                     {"code": "complaint", "label": "Complaint", "kb": []}]
    with pytest.raises(ApiError) as exc:
        api.call_sync("dispositions.save", codes=[{"code": "a b"}])
    assert "may use only" in exc.value.message
    assert [c["code"] for c in api.call_sync("dispositions.list")] == ["refund", "complaint"]
    api.call_sync("interactions.record", call_id="c", number="2125550100", agent="a", disposition="refund")


def test_ids_and_times_out_of_range_are_refused_not_crashed(api):
    huge = 10 ** 30
    for name, args in [("customers.get", {"id": huge}), ("customers.delete", {"id": -1}),
                       ("customers.merge", {"keep": huge, "drop": 1}), ("workorders.get", {"id": huge}),
                       ("workorders.followup_done", {"id": huge, "by": "a"}), ("kb.get", {"id": 0}),
                       ("kb.delete", {"id": huge})]:
        with pytest.raises(ApiError) as exc:
            api.call_sync(name, **args)
        assert exc.value.code == "not_found", name
    with pytest.raises(ApiError) as exc:
        api.call_sync("customers.save", contact={"id": huge, "name": "X"})
    assert exc.value.code == "not_found"
    with pytest.raises(ApiError) as exc:
        api.call_sync("workorders.create", title="T", contact_id=huge)
    assert exc.value.code == "bad_request"
    with pytest.raises(ApiError) as exc:
        api.call_sync("interactions.record", call_id="c", number="1", agent="a", at=float("nan"))
    assert exc.value.code == "bad_request"
