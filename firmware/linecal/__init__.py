"""Line calibration for installers: learn a line's tones, measure its echo path, suggest gains.

Public face: `start_session` / `CalibrationSession` (media thread), `analyse` (store
thread), `estimate_echo_path`, `load_profile` / `save_profile`, `line_tone_plan` (a line's
tones: the country's corrected by its profile), `load_gains` / `apply_line_gains` (installer
gains), and the engine API commands in `commands.py` (`line.calibrate`, `line.apply_gains`,
...). `run_calibration` is the one function the CLI and tests drive, over any engine API `call`.
"""
from .analysis import analyse
from .echo_path import EchoPathEstimate, estimate_echo_path, probe
from .gains import LineGains, apply_line_gains, load_gains
from .session import CalibrationSession, start_session
from .store import load_profile, load_profiles, save_profile
from .tone_plan import line_tone_plan, line_tone_plans

__all__ = ["analyse", "EchoPathEstimate", "estimate_echo_path", "probe", "CalibrationSession",
           "start_session", "load_profile", "load_profiles", "save_profile", "line_tone_plan", "line_tone_plans",
           "LineGains", "apply_line_gains", "load_gains"]
