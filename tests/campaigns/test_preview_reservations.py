"""A previewed campaign number stays with its agent only while they are there, on the simulated
board in simulated time: it goes back to the front of the list when the agent's desk (its live
event stream, `campaign.desk_watch`) has been closed for the grace time, and at once when the
agent pauses or logs out; a desk reconnecting within the grace time (the stream is renewed every
25 s) keeps it. An agent never seen on a desk (an API client) keeps theirs until they act. The
Chromium test (close the page, the number returns to the list) is in tests/web."""
from __future__ import annotations

import pytest
from cc_scenarios import login, svc
from test_campaign_dialling import b64, campaign, ctx, pbx  # noqa: F401 (fixture)

from firmware.api import ApiError
from firmware.campaigns import commands as cmds
from firmware.campaigns.dialer import DESK_GRACE_S, dialer_of


def nxt(m, who: str) -> str:
    return cmds.campaign_preview_next(m, campaign="spring", username=who)["number"]["number"]


def watch(m, who: str, open_: bool) -> None:
    cmds.campaign_desk_watch(m, username=who, open=open_)


@pytest.fixture
def running(pbx):  # noqa: F811
    campaign(pbx, mode="preview", agents=["alice", "bob"])
    cmds.campaign_import(ctx(pbx), campaign="spring",
                         csv_b64=b64("number,name\n5550201,Ann\n5550202,Ben\n5550203,Cat\n"))
    login(pbx, "alice", "bob")
    cmds.campaign_start(ctx(pbx), campaign="spring")
    pbx.run(1.0)
    return ctx(pbx, media=True)


def test_a_stream_whose_close_was_lost_runs_out(pbx, running):  # noqa: F811
    """The web process died with the stream open: no close comes; the open runs out after its
    lease (the desk renews it every 25 s) plus the grace time."""
    from firmware.campaigns.dialer import DESK_LEASE_S
    m = running
    watch(m, "alice", True)
    assert nxt(m, "alice") == "5550201"
    pbx.run(DESK_LEASE_S)
    assert "alice" in dialer_of(pbx.engine).runs["spring"].reserved
    pbx.run(DESK_GRACE_S + 2)
    assert "alice" not in dialer_of(pbx.engine).runs["spring"].reserved


def test_a_closed_desk_gives_its_number_back_after_the_grace_time(pbx, running):  # noqa: F811
    m = running
    watch(m, "alice", True)
    assert nxt(m, "alice") == "5550201"
    watch(m, "bob", True)
    assert nxt(m, "bob") == "5550202"
    # the streams are renewed (closed, opened again half a second later): nothing changes
    for _ in range(3):
        pbx.run(25.0)
        watch(m, "alice", False)
        watch(m, "bob", False)
        pbx.run(0.5)
        watch(m, "alice", True)
        watch(m, "bob", True)
    assert nxt(m, "alice") == "5550201"
    # alice closes her desk: within the grace time it is still hers, then it goes back
    watch(m, "alice", False)
    pbx.run(DESK_GRACE_S - 5)
    assert "alice" in dialer_of(pbx.engine).runs["spring"].reserved
    pbx.run(7.0)
    assert "alice" not in dialer_of(pbx.engine).runs["spring"].reserved
    assert "bob" in dialer_of(pbx.engine).runs["spring"].reserved     # his desk is still open
    # bob skips Ben: next is Ann, back at the front of the list
    cmds.campaign_preview_skip(m, campaign="spring", username="bob")
    assert nxt(m, "bob") == "5550201"


def test_pause_or_logout_gives_it_back_at_once_an_api_client_keeps_it(pbx, running):  # noqa: F811
    m = running
    s = svc(pbx)
    assert nxt(m, "alice") == "5550201"                     # never on a desk: an API client
    assert nxt(m, "bob") == "5550202"
    pbx.run(3 * DESK_GRACE_S)
    assert nxt(m, "alice") == "5550201"                     # still hers
    s.pause(s.agents["alice"], "lunch")
    pbx.run(1.5)
    with pytest.raises(ApiError, match="No number is kept for you"):
        cmds.campaign_preview_dial(m, campaign="spring", username="alice")
    cmds.campaign_preview_skip(m, campaign="spring", username="bob")   # Ben back at the end
    assert nxt(m, "bob") == "5550201"                       # Ann went back to the front
    s.logout(s.agents["bob"])
    pbx.run(1.5)
    s.unpause(s.agents["alice"])
    assert nxt(m, "alice") == "5550201"                     # bob's (Ann) came back to the front
    with pytest.raises(ApiError, match="log in or unpause"):
        nxt(m, "bob")                                        # logged out: nothing to look at
