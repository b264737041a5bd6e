"""`linebox sim remote NUMBER behave ...` (POST /api/sim/remote/NUMBER, action "behave"): a far end
that answers at ring N and says hello; the engine dials it and times the answer from the audio."""
from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from drivers.sim.speech import speech_available
from webui.app import create_app

TOKEN = "test-sim-token"


@pytest.mark.skipif(not speech_available(), reason="needs espeak-ng")
def test_far_end_behaviour_through_the_sim_api(tmp_path: Path) -> None:
    from firmware.harness import Pbx
    pbx = Pbx(data_dir=tmp_path / "pbx")
    pbx.run(0.1)
    app = create_app(control=pbx.control, config=pbx.config, records=pbx.records,
                     data_dir=tmp_path / "web", clock=lambda: pbx.now, sim_token=TOKEN)
    client = TestClient(app)
    auth = {"Authorization": f"Bearer {TOKEN}"}

    def post(path: str, body: dict):
        # the action runs on the engine's thread: the harness runs it with the engine held still
        return client.post(path, json=body, headers=auth)
    try:
        r = post("/api/sim/remote/5550123", {"action": "behave", "answer_at_ring": 1, "say": "hello"})
        assert r.status_code == 200, r.text
        assert post("/api/sim/remote/5550124", {"action": "behave", "answer_at_ring": 99}).status_code == 422
        remote = pbx.co.remote("5550123")
        assert remote.auto_answer_after_rings == 1 and remote.greeting is not None
        phone = pbx.phone("201")
        phone.off_hook()
        pbx.run(0.5)
        phone.dial("95550123")
        pbx.run_until(lambda: remote.state == "connected", 20)
        truth = pbx.now
        pbx.run_until(lambda: pbx.state("fxs1") == "in-call", 5)
        pbx.run(4)
        phone.on_hook()
        pbx.run(1.5)
        pbx.records.flush()
        (rec,) = pbx.records.search()
        assert rec["disposition"] == "answered" and rec["answered"] == pytest.approx(truth, abs=0.5)
    finally:
        pbx.close()
