"""Found by trying Linebox as a new user: a phone in a call with a line showed the caller's
number twice ("Line 1 (5550001): 5550100 (5550100)")."""
from __future__ import annotations

from fastapi.testclient import TestClient

from firmware.control import PortStatus

from .conftest import EPOCH, WebEnv


def test_status_card_names_the_callers_number_once(env: WebEnv, admin: TestClient) -> None:
    env.publish_ports(PortStatus("fxs2", "fxs", "202 Sales", "in-call", peer="Line 1 (5550001): 5550100",
                                 caller_id="5550100", since=EPOCH),
                      PortStatus("fxo1", "fxo", "Line 1", "ringing", caller_id="5550100", since=EPOCH))
    page = admin.get("/status").text
    fxs2 = page[page.index('data-port="fxs2"'):page.index('data-port="fxo1"')]
    assert fxs2.count("5550100") == 1
    fxo1 = page[page.index('data-port="fxo1"'):]
    assert "(5550100)" in fxo1          # no peer text: the number is still shown
