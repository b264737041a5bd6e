import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "callcenter"))

from cc_scenarios import make_pbx  # noqa: E402


@pytest.fixture
def pbx(tmp_path):
    p = make_pbx(tmp_path)
    yield p
    p.close()
