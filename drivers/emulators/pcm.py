"""The emulated PCM link: the same `exchange` as `AlsaTdmStream`, moving the emulated world one frame."""
from __future__ import annotations

import numpy as np

from dsp_ext.levels import FRAME

from .world import EmulatedWorld

__all__ = ["EmulatedTdmLink"]


class EmulatedTdmLink:
    def __init__(self, world: EmulatedWorld) -> None:
        self.world = world
        self.channels = world.tdm.channels
        self.xruns = 0
        self.frames = 0

    def open(self) -> None:
        pass

    def close(self) -> None:
        pass

    def exchange(self, tx: np.ndarray) -> np.ndarray:
        if tx.shape != (FRAME, self.channels) or tx.dtype != self.world.tdm.down.dtype:
            raise ValueError(f"tx must be {self.world.tdm.down.dtype}[{FRAME}, {self.channels}], "
                             f"got {tx.dtype}{tx.shape}")
        self.world.tdm.down[:] = tx
        self.world.advance_ms(10)
        self.frames += 1
        return self.world.tdm.up.copy()
