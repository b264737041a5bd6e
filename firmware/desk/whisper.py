"""Whisper the caller's name to the agent before connecting (queues with `whisper_name` on).

When a caller enters such a queue (ENTERQUEUE, seen on the media thread), the number is handed to
a worker thread: it looks the caller up in the customer database (the `customers.pop` command, a
read) and speaks the name with
espeak-ng (8 kHz), off the media tick. When an agent takes the call, the connect hook (media
thread) finds the samples ready and the agent hears the name while the caller hears music on
hold; then they are put through. A caller not in the database, or a name not spoken in time,
is simply put through. The name is untrusted text: printable characters only, at most 60, given to
espeak-ng as one argument after `--` (no shell, no SSML).
"""
from __future__ import annotations

import logging
import queue
import shutil
import subprocess
import tempfile
import threading
import weakref
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger("linebox.desk")

NAME_MAX = 60
KEEP = 200                        # names kept ready (callers waiting at most)
SPEAK_TIMEOUT_S = 10


def clean_name(name: str) -> str:
    text = "".join(c if c.isprintable() else " " for c in str(name or ""))[:NAME_MAX]
    return " ".join(text.split()).lstrip("-")


def speak_name(name: str) -> np.ndarray | None:
    """`name` spoken by espeak-ng, as 8 kHz int16 samples (None: nothing to say or no espeak-ng)."""
    from ..prompts import read_wav
    text = clean_name(name)
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if not text or espeak is None or sox is None:
        return None
    with tempfile.TemporaryDirectory(prefix="linebox-name-") as tmp:
        raw, out = Path(tmp) / "raw.wav", Path(tmp) / "8k.wav"
        subprocess.run([espeak, "-v", "en-us", "-s", "160", "-w", str(raw), "--", text],
                       capture_output=True, timeout=SPEAK_TIMEOUT_S, check=True)
        subprocess.run([sox, "--no-show-progress", str(raw), "-r", "8000", "-c", "1", "-b", "16",
                        "-e", "signed-integer", str(out)], capture_output=True, timeout=SPEAK_TIMEOUT_S, check=True)
        samples = read_wav(out)
    loud = np.flatnonzero(np.abs(samples.astype(np.int32)) > 200)
    if loud.size == 0:
        return None
    return samples[max(0, loud[0] - 400): loud[-1] + 400]


class NameWhisper:
    """Per engine: prepares the names of callers entering whispering queues; whispers on connect."""

    def __init__(self, engine: Any, svc: Any) -> None:
        self.engine, self.svc = engine, svc
        cfg_path = getattr(engine.config, "path", None)
        self.data_dir = Path(cfg_path).parent if cfg_path is not None else None
        self.ready: OrderedDict[str, np.ndarray | None] = OrderedDict()
        self._jobs: queue.Queue = queue.Queue()
        self._thread = threading.Thread(target=self._work, name="desk-names", daemon=True)
        self._thread.start()
        svc.events.listeners.append(self._event)
        svc.connect_hooks.append(self._connected)
        engine.shutdown_listeners.append(self.close)

    # ---- media thread
    def _event(self, row: dict) -> None:
        if row["event"] != "ENTERQUEUE":
            return
        q = self.svc.queues.get(row["queue"], {})
        if not q.get("whisper_name") or self.data_dir is None:
            return
        self._jobs.put((row["call_id"], row["data2"]))

    def _connected(self, conn: Any) -> None:
        samples = self.ready.pop(conn.call.id, None)
        if samples is not None and len(samples) and self.svc.queues.get(conn.queue, {}).get("whisper_name"):
            conn.whisper_to_agent(samples)

    # ---- worker thread
    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            call_id, number = job
            try:
                samples = self._name_samples(number)
            except Exception:  # noqa: BLE001 - a failed lookup or speech only means no whisper
                log.exception("could not prepare the caller's name for call %s", call_id)
                samples = None
            self.ready[call_id] = samples
            while len(self.ready) > KEEP:
                self.ready.popitem(last=False)

    def _name_samples(self, number: str) -> np.ndarray | None:
        """The caller's name from the customer database, asked through its engine API command
        (`customers.pop`, a read) so the desk depends on the contract, not on the package."""
        from ..api import REGISTRY, ApiContext, load_commands, validate
        if not number or self.data_dir is None:
            return None
        if "customers.pop" not in REGISTRY:
            load_commands()
        if "customers.pop" not in REGISTRY:
            return None
        cmd, kwargs = validate("customers.pop", {"number": number})
        ctx = ApiContext(self.engine.config, self.engine.records, self.data_dir, self.engine.control)
        contact = cmd.fn(ctx, **kwargs).get("contact") or {}
        return speak_name(contact["name"]) if contact.get("name") else None

    def close(self) -> None:
        self._jobs.put(None)


_RUNNING: weakref.WeakKeyDictionary[Any, NameWhisper] = weakref.WeakKeyDictionary()


def register(engine: Any) -> NameWhisper | None:
    from ..callcenter import service_of
    svc = service_of(engine)
    if svc is None:
        return None
    _RUNNING[engine] = whisper = NameWhisper(engine, svc)
    return whisper


def whisper_of(engine: Any) -> NameWhisper | None:
    return _RUNNING.get(engine)
