"""spandsp's ADSI (caller ID) transmitter and receiver, loaded with cffi in ABI mode.

Used only by the interoperability tests, as an independent implementation to
check ours against. The declarations below are transcribed from the public
API in /usr/include/spandsp/adsi.h (and put_msg_func_t from async.h); nothing
is compiled, the shared library is opened at run time.
"""
from __future__ import annotations

import numpy as np
from cffi import FFI

LIBRARY = "/usr/lib/x86_64-linux-gnu/libspandsp.so.2"
LIBRARY_NAMES = (LIBRARY, "libspandsp.so.2", "libspandsp.so")

CLASS = 1            # ADSI_STANDARD_CLASS: Bellcore/Telcordia GR-30, Bell 202
CLIP = 2             # ADSI_STANDARD_CLIP: ETSI EN 300 659, V.23
CLIP_DTMF = 5        # ADSI_STANDARD_CLIP_DTMF: ETSI DTMF variants

_ffi = FFI()
_ffi.cdef("""
    typedef struct adsi_tx_state_s adsi_tx_state_t;
    typedef struct adsi_rx_state_s adsi_rx_state_t;
    typedef void (*put_msg_func_t)(void *user_data, const uint8_t *msg, int len);
    adsi_rx_state_t *adsi_rx_init(adsi_rx_state_t *s, int standard, put_msg_func_t put_msg, void *user_data);
    int adsi_rx_free(adsi_rx_state_t *s);
    int adsi_rx(adsi_rx_state_t *s, const int16_t amp[], int len);
    adsi_tx_state_t *adsi_tx_init(adsi_tx_state_t *s, int standard);
    int adsi_tx_free(adsi_tx_state_t *s);
    void adsi_tx_set_preamble(adsi_tx_state_t *s, int preamble_len, int preamble_ones_len,
                              int postamble_ones_len, int stop_bits);
    int adsi_tx(adsi_tx_state_t *s, int16_t amp[], int max_len);
    void adsi_tx_send_alert_tone(adsi_tx_state_t *s);
    int adsi_tx_put_message(adsi_tx_state_t *s, const uint8_t *msg, int len);
    int adsi_add_field(adsi_tx_state_t *s, uint8_t *msg, int len, uint8_t field_type,
                       uint8_t const *field_body, int field_len);
""")


def load():
    """The opened library, or raise OSError saying why it is not usable."""
    errors = []
    for name in LIBRARY_NAMES:
        try:
            return _ffi.dlopen(name)
        except OSError as err:
            errors.append(f"{name}: {err}")
    raise OSError("libspandsp not loadable (install Debian libspandsp-dev): " + "; ".join(errors))


class AdsiReceiver:
    """spandsp adsi_rx: feed int16 audio, collect the messages it delivers (bytes)."""

    def __init__(self, lib, standard: int) -> None:
        self._lib = lib
        self.messages: list[bytes] = []
        # keep the callback object alive as long as the receiver
        self._callback = _ffi.callback("put_msg_func_t", self._on_message)
        self._state = lib.adsi_rx_init(_ffi.NULL, standard, self._callback, _ffi.NULL)
        if self._state == _ffi.NULL:
            raise RuntimeError("adsi_rx_init failed")

    def _on_message(self, user_data, msg, length) -> None:
        if length > 0:
            self.messages.append(bytes(_ffi.buffer(msg, length)))

    def process(self, samples: np.ndarray, chunk: int = 160) -> list[bytes]:
        samples = np.ascontiguousarray(samples, dtype=np.int16)
        for i in range(0, len(samples), chunk):
            part = samples[i:i + chunk]
            self._lib.adsi_rx(self._state, _ffi.from_buffer("int16_t[]", part), len(part))
        return self.messages

    def close(self) -> None:
        if self._state != _ffi.NULL:
            self._lib.adsi_rx_free(self._state)
            self._state = _ffi.NULL


class AdsiTransmitter:
    """spandsp adsi_tx: queue a message, pull audio until it has been sent."""

    def __init__(self, lib, standard: int) -> None:
        self._lib = lib
        self._state = lib.adsi_tx_init(_ffi.NULL, standard)
        if self._state == _ffi.NULL:
            raise RuntimeError("adsi_tx_init failed")

    def build(self, msg_type: int, fields: list[tuple[int, bytes]]) -> bytes:
        """Build a message with spandsp's own field encoder (adsi_add_field)."""
        buf = _ffi.new("uint8_t[]", 512)
        length = self._lib.adsi_add_field(self._state, buf, 0, msg_type, _ffi.NULL, 0)
        for code, body in fields:
            length = self._lib.adsi_add_field(self._state, buf, length, code, body, len(body))
        return bytes(_ffi.buffer(buf, length))

    def send(self, message: bytes, max_seconds: float = 3.0) -> np.ndarray:
        accepted = self._lib.adsi_tx_put_message(self._state, message, len(message))
        if accepted <= 0:
            raise RuntimeError(f"adsi_tx_put_message refused the message ({accepted})")
        return self.drain(max_seconds)

    def alert_tone(self) -> np.ndarray:
        self._lib.adsi_tx_send_alert_tone(self._state)
        return self.drain(1.0)

    def drain(self, max_seconds: float) -> np.ndarray:
        out = []
        block = np.zeros(160, dtype=np.int16)
        for _ in range(int(max_seconds * 8000 / len(block))):
            n = self._lib.adsi_tx(self._state, _ffi.from_buffer("int16_t[]", block), len(block))
            if n <= 0:
                break
            out.append(block[:n].copy())
        return np.concatenate(out) if out else np.zeros(0, np.int16)

    def close(self) -> None:
        if self._state != _ffi.NULL:
            self._lib.adsi_tx_free(self._state)
            self._state = _ffi.NULL
