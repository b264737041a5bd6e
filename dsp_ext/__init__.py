"""The C DSP core (compiled by cffi into `dsp_ext._dsp`) and its thin Python face.

Everything is 8 kHz, int16, processed in frames of any length (the media loop
uses 80-sample frames). Each class wraps one per-channel C state object.
"""
