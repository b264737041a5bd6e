import pytest
from cc_scenarios import make_pbx


@pytest.fixture
def pbx(tmp_path):
    p = make_pbx(tmp_path)
    yield p
    p.close()
