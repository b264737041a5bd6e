"""Line calibration for installers: learn a line's tones, measure its echo path, suggest gains.

Public face: `start_session` / `CalibrationSession` (media thread), `analyse` (store
thread), `estimate_echo_path`, `load_profile` / `save_profile`, and the engine API
commands in `commands.py` (`line.calibrate`, ...). `run_calibration` is the one
function the CLI and tests drive, over any engine API `call`.
"""
from .analysis import analyse
from .echo_path import EchoPathEstimate, estimate_echo_path, probe
from .session import CalibrationSession, start_session
from .store import load_profile, load_profiles, save_profile

__all__ = ["analyse", "EchoPathEstimate", "estimate_echo_path", "probe", "CalibrationSession",
           "start_session", "load_profile", "load_profiles", "save_profile"]
