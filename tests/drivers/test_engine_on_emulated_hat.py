"""The engine's own scenario tests, run unchanged on the emulated HAT instead of the simulated board.

The emulated HAT is the real Si3215/Si3050 drivers over emulated SPI/GPIO/PCM
with the same VirtualPhones and CentralOffice on the chips' line sides, so a
scenario passing here shows the port abstraction holds. `Pbx` builds
`drivers.sim.SimBoard`; for these tests that name yields the emulated HAT.
A representative subset runs here to keep within the drivers' time budget.
"""
import pathlib
import sys

import pytest

import drivers.sim
from drivers.emulated_hat import EmulatedHatBoard, emulated_hat_board
from firmware.harness import Pbx

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "engine"))
import test_internal_calls as internal  # noqa: E402
import test_lines as lines  # noqa: E402


def _hat_as_simboard(fxs=4, fxo=2, country="US", seed=0, realtime=False, **options):
    return emulated_hat_board(None, country=country, seed=seed, fxs=fxs, fxo=fxo, **options)


@pytest.fixture(autouse=True)
def on_emulated_hat(monkeypatch):
    monkeypatch.setattr(drivers.sim, "SimBoard", _hat_as_simboard)


@pytest.fixture
def pbx():
    with Pbx(country="US", seed=1) as p:
        assert isinstance(p.board, EmulatedHatBoard)
        p.run(0.2)
        yield p


test_extension_call_rings_with_cadence_caller_id_and_two_way_audio = \
    internal.test_extension_call_rings_with_cadence_caller_id_and_two_way_audio
test_ring_timeout_gives_busy_and_no_answer = internal.test_ring_timeout_gives_busy_and_no_answer
test_dial_tone_us_is_350_plus_440 = internal.test_dial_tone_us_is_350_plus_440
test_outbound_call_two_way_audio_echo_cancelled_and_far_end_disconnect = \
    lines.test_outbound_call_two_way_audio_echo_cancelled_and_far_end_disconnect
test_loop_drop_disconnect = lines.test_loop_drop_disconnect
test_inbound_call_rings_the_routed_extension_with_caller_id = \
    lines.test_inbound_call_rings_the_routed_extension_with_caller_id
test_line_in_use_by_a_parallel_phone_is_skipped = lines.test_line_in_use_by_a_parallel_phone_is_skipped
test_outbound_to_a_busy_number = lines.test_outbound_to_a_busy_number
test_pulse_dialling_reaches_the_extension = internal.test_pulse_dialling_reaches_the_extension
test_calling_a_busy_extension_gives_busy = internal.test_calling_a_busy_extension_gives_busy
