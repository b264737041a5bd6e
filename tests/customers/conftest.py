import pytest

from firmware.api import EngineApi, LocalClient
from firmware.harness import Pbx


@pytest.fixture
def pbx(tmp_path):
    p = Pbx(country="US", seed=5, data_dir=tmp_path, fxo=2, fxs=4)
    p.run(0.05)
    yield p
    p.close()


@pytest.fixture
def api(pbx) -> LocalClient:
    engine_api = EngineApi(config=pbx.config, records=pbx.records, data_dir=pbx.data_dir, control=pbx.control)
    yield LocalClient(engine_api)
    engine_api.close()
