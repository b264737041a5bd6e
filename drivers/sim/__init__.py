"""The simulated board: virtual analog phones, virtual lines, a simulated central office.

A board like any other behind `drivers.port`; the engine cannot tell it is
simulated. Audio is real PCM. See `board.py` for the entry point.
"""
from .board import Recording, SimBoard
from .co import CentralOffice
from .line import LineSignal, SubscriberLine
from .phone import VirtualPhone
from .ports import SimFxoPort, SimFxsPort
from .remote import RemoteParty

__all__ = ["SimBoard", "Recording", "CentralOffice", "SubscriberLine", "LineSignal", "VirtualPhone",
           "RemoteParty", "SimFxsPort", "SimFxoPort"]
