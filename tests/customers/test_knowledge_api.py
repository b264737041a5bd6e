"""The knowledge base through the engine API: articles saved and searched (every word, title
matches first), suggested by disposition (the owner's list first, then articles tagged with
the code), refusals."""
from __future__ import annotations

import pytest

from firmware.api import ApiError


def test_search_and_suggest_by_disposition(api):
    hours = api.call_sync("kb.save", article={"title": "Opening hours", "body": "Mon-Fri 9-17.",
                                              "tags": ["hours"], "dispositions": ["consultation"]})["id"]
    fees = api.call_sync("kb.save", article={"title": "Fees", "body": "Our opening fee is 10 EUR.",
                                             "dispositions": ["order"]})["id"]
    refund = api.call_sync("kb.save", article={"title": "Refunds", "body": "Within 30 days.",
                                               "dispositions": ["complaint"]})["id"]
    assert [a["id"] for a in api.call_sync("kb.search", q="opening")] == [hours, fees]     # title match first
    assert [a["id"] for a in api.call_sync("kb.search", q="opening fee")] == [fees]
    assert [a["id"] for a in api.call_sync("kb.search", disposition="complaint")] == [refund]
    api.call_sync("dispositions.save", codes=[{"code": "complaint", "label": "Complaint", "kb": [fees]}])
    assert [a["id"] for a in api.call_sync("kb.search", disposition="complaint")] == [fees, refund]
    api.call_sync("kb.save", article={"id": hours, "title": "Opening hours", "body": "Mon-Sat 9-17."})
    assert api.call_sync("kb.get", id=hours)["body"] == "Mon-Sat 9-17."
    assert api.call_sync("kb.search", q="100% _x") == []                 # LIKE wildcards are plain text


def test_refusals(api):
    with pytest.raises(ApiError) as exc:
        api.call_sync("kb.save", article={"title": " "})
    assert exc.value.code == "bad_request" and "title is required" in exc.value.message
    with pytest.raises(ApiError) as exc:
        api.call_sync("kb.get", id=42)
    assert exc.value.code == "not_found"
    with pytest.raises(ApiError) as exc:
        api.call_sync("kb.save", article={"id": 42, "title": "x"})
    assert exc.value.code == "not_found"
