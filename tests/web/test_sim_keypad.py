"""Found by trying Linebox as a new user: `linebox sim phone 201 dial 202` on a hung-up phone was
queued and dialled at the next off-hook, so the next call misdialled ("202202")."""
from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from webui.app import create_app

TOKEN = "test-sim-token"


def test_sim_keypad_on_a_hung_up_phone_is_refused_not_queued(tmp_path: Path) -> None:
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
        r = post("/api/sim/phone/201", {"action": "dial", "digits": "202"})
        assert r.status_code == 400
        assert r.json()["error"] == "phone 201 is on hook; take it off hook first (linebox sim phone 201 offhook)"
        assert post("/api/sim/phone/201", {"action": "tone", "freqs": [1000]}).status_code == 400
        phone = pbx.phone("201")
        assert not phone.busy_dialling                 # nothing was queued for later
        assert post("/api/sim/phone/201", {"action": "offhook"}).status_code == 200
        pbx.run_until(lambda: pbx.state("fxs1") == "dialtone", 2)
        pbx.run(0.3)
        assert post("/api/sim/phone/201", {"action": "dial", "digits": "202"}).status_code == 200
        pbx.run_until(lambda: pbx.phone("202").is_ringing, 10)
    finally:
        client.close()
        pbx.close()
