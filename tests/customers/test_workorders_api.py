"""Work orders through the engine API: the life cycle with its refusals, dispatch to a person
(internal message) or department (e-mail, to a real SMTP server), overdue flags, reopening by a
repeat contact inside the first-contact-resolution window (and not after it), follow-up tasks."""
from __future__ import annotations

import time

import pytest

from firmware.api import ApiError


def _dispatch(api, oid, **kw):
    args = {"assignee": "carol", "due": time.time() + 3600, **kw}
    return api.call_sync("workorders.transition", id=oid, to="dispatched", by="sup", **args)


def test_life_cycle_history_and_refusals(api):
    wo = api.call_sync("workorders.create", title="No dial tone", number="2125550133", call_id="c9",
                       recording="c9.wav", created_by="alice")
    oid = wo["id"]
    assert wo["state"] == "submitted" and wo["e164"] == "+12125550133" and wo["recording"] == "c9.wav"
    with pytest.raises(ApiError) as exc:
        api.call_sync("workorders.transition", id=oid, to="resolved")
    assert "cannot go to resolved" in exc.value.message and "reviewed" in exc.value.message
    api.call_sync("workorders.transition", id=oid, to="reviewed", by="sup")
    with pytest.raises(ApiError) as exc:
        api.call_sync("workorders.transition", id=oid, to="dispatched", by="sup")
    assert "person or a department" in exc.value.message
    with pytest.raises(ApiError) as exc:
        api.call_sync("workorders.transition", id=oid, to="dispatched", assignee="carol")
    assert "due time" in exc.value.message
    assert api.call_sync("workorders.get", id=oid)["state"] == "reviewed"        # refusals changed nothing
    d = _dispatch(api, oid)
    assert d["state"] == "dispatched" and d["assignee"] == "carol" and d["notified"] == ["message:carol"]
    inbox = api.call_sync("messages.open", user="carol")["inbox"]
    assert inbox and "No dial tone" in inbox[0]["body"]
    api.call_sync("workorders.transition", id=oid, to="in_progress", by="carol")
    done = api.call_sync("workorders.transition", id=oid, to="resolved", by="carol", note="line reset")
    assert [h["to_state"] for h in done["history"]] == ["submitted", "reviewed", "dispatched", "in_progress",
                                                        "resolved"]
    assert done["history"][-1]["note"] == "line reset"
    tasks = api.call_sync("workorders.followups")
    assert [(t["order_id"], t["number"]) for t in tasks] == [(oid, "2125550133")]
    api.call_sync("workorders.followup_done", id=tasks[0]["id"], by="alice", satisfied=True, note="happy")
    assert api.call_sync("workorders.followups") == []
    closed = api.call_sync("workorders.transition", id=oid, to="closed", by="sup")
    assert closed["state"] == "closed" and closed["closed_at"] is not None
    with pytest.raises(ApiError):
        api.call_sync("workorders.transition", id=oid, to="in_progress")


def test_overdue_flag_and_filters(api):
    a = api.call_sync("workorders.create", title="Late one")["id"]
    b = api.call_sync("workorders.create", title="On time one")["id"]
    for oid in (a, b):
        api.call_sync("workorders.transition", id=oid, to="reviewed")
    _dispatch(api, a, due=time.time() - 60, department="Field")
    _dispatch(api, b, due=time.time() + 86400)
    assert api.call_sync("workorders.get", id=a)["overdue"] is True
    assert api.call_sync("workorders.get", id=b)["overdue"] is False
    assert [o["id"] for o in api.call_sync("workorders.list", filters={"overdue": True})] == [a]
    assert [o["id"] for o in api.call_sync("workorders.list", filters={"state": "open", "q": "time"})] == [b]
    with pytest.raises(ApiError) as exc:
        api.call_sync("workorders.list", filters={"colour": "red"})
    assert "Unknown filter" in exc.value.message
    with pytest.raises(ApiError) as exc:
        api.call_sync("workorders.list", filters={"state": "lost"})
    assert "Unknown state" in exc.value.message


def test_repeat_contact_within_fcr_window_reopens(api):
    cid = api.call_sync("customers.save", contact={"name": "Eve", "numbers": ["2125550144"]})["id"]
    oid = api.call_sync("workorders.create", title="Invoice wrong", contact_id=cid, number="2125550144",
                        call_id="first")["id"]
    for to in ("reviewed",):
        api.call_sync("workorders.transition", id=oid, to=to)
    _dispatch(api, oid)
    api.call_sync("workorders.transition", id=oid, to="resolved")
    # the wrap-up of the call that resolved it does not reopen it
    same = api.call_sync("interactions.record", call_id="first", number="2125550144", agent="bob",
                         resolved=True, work_order_id=oid)
    assert same["reopened"] == []
    again = api.call_sync("interactions.record", call_id="second", number="+1 212 555 0144", agent="bob")
    assert again["reopened"] == [oid] and again["contact_id"] == cid
    order = api.call_sync("workorders.get", id=oid)
    assert order["state"] == "in_progress" and order["reopened"] == 1
    assert "first-contact-resolution" in order["history"][-1]["note"]
    assert [f["state"] for f in order["followups"]] == ["cancelled"]


def test_repeat_contact_after_the_window_does_not_reopen(api):
    oid = api.call_sync("workorders.create", title="Old", number="2125550155")["id"]
    api.call_sync("workorders.transition", id=oid, to="reviewed")
    _dispatch(api, oid)
    api.call_sync("workorders.transition", id=oid, to="resolved")
    later = time.time() + 8 * 86400                                     # default window: 7 days
    out = api.call_sync("interactions.record", call_id="late", number="2125550155", agent="bob", at=later)
    assert out["reopened"] == [] and api.call_sync("workorders.get", id=oid)["state"] == "resolved"
