"""Call-center scenarios on the simulated board: phones 201-204 are agents' phones, the
simulated exchange's remote parties call in on the lines, which are routed to queue 600."""
from __future__ import annotations

import fcntl
import shutil
from pathlib import Path

import numpy as np

import firmware.callcenter.service as cc_service  # noqa: F401 - registers the queue prompts
from firmware.callcenter import model, service_of
from firmware.harness import Pbx
from firmware.prompts import generate_defaults, load_prompt

ROOT = Path(__file__).resolve().parents[2]
CACHE = ROOT / "tests" / ".artifacts" / "cc-prompts"
AGENTS = {"alice": ("1001", "4826", "201"), "bob": ("1002", "5937", "202"),
          "carol": ("1003", "6048", "203"), "dave": ("1004", "7159", "204")}


def cached_prompts() -> Path:
    CACHE.mkdir(parents=True, exist_ok=True)
    with open(CACHE / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        generate_defaults(CACHE, ["en"], list(cc_service.PROMPT_REFS))
    return CACHE


def prompt(ref: str) -> np.ndarray:
    return load_prompt(ref, "en", CACHE)


def contains(heard: np.ndarray, ref: np.ndarray) -> float:
    """Peak normalised cross-correlation of `ref` inside `heard` (1.0: the very same samples)."""
    h = heard.astype(np.float64)
    x = ref.astype(np.float64)
    if len(h) < len(x):
        return 0.0
    n = 1 << int(np.ceil(np.log2(len(h) + len(x))))
    corr = np.fft.irfft(np.fft.rfft(h, n) * np.conj(np.fft.rfft(x, n)), n)[: len(h) - len(x) + 1]
    energy = np.sqrt(np.convolve(h * h, np.ones(len(x)), "valid"))
    score = corr / (np.linalg.norm(x) * np.maximum(energy, 1e-9))
    return float(score.max())


def make_pbx(tmp_path: Path, fxo: int = 2, fxs: int = 4, seed: int = 3, disconnect: str = "both",
             **queue: object) -> Pbx:
    shutil.copytree(cached_prompts() / "en", tmp_path / "prompts" / "en", dirs_exist_ok=True)
    p = Pbx(country="US", seed=seed, data_dir=tmp_path, fxo=fxo, fxs=fxs)
    # The exchange signals a far end's hang-up with a loop break, then busy tone. (Busy tone alone
    # is missed while music plays: the echo canceller loses ERLE under that double talk, see
    # test_busy_tone_only_exchange_hangup_during_music; reported to the DSP core.)
    p.co.disconnect_signal = disconnect
    cfg = p.config
    for user, (number, pin, _ext) in AGENTS.items():
        if cfg.extension(_ext) is not None:
            model.save_agent(cfg, {"username": user, "name": user.title(), "number": number, "pin": pin})
    members = [{"agent": u, "penalty": 0} for u, (_n, _p, e) in AGENTS.items() if cfg.extension(e) is not None]
    q = {"number": "600", "name": "Sales", "strategy": "ringall", "members": members, "wrapup_s": 5,
         "ring_s": 10, "announce_every_s": 0, **queue}
    model.save_queue(cfg, q)
    for line in cfg.lines():
        cfg.set_inbound_route(line["port"], "queue:600")
    p.run(0.1)
    return p


def svc(p: Pbx):
    return service_of(p.engine)


def login(p: Pbx, *users: str) -> None:
    s = svc(p)
    for u in users:
        s.login(s.agents[u], AGENTS[u][2])
    p.run(0.05)


def events(p: Pbx, call_id: str | None = None) -> list[dict]:
    p.records.flush()
    if call_id is None:
        return p.records.query("SELECT * FROM queue_events ORDER BY id")
    return p.records.query("SELECT * FROM queue_events WHERE call_id = ? ORDER BY id", (call_id,))


def call_in(p: Pbx, number: str = "5550142", line: int = 1):
    r = p.co.remote(number, name="CUSTOMER")
    r.call(p.co.line_number(line))
    p.run_until(lambda: any(c.caller_number == number for c in svc(p).callers.values())
                or any(a.connection is not None for a in svc(p).agents.values()), 20)
    return r


def run_until_checked(p: Pbx, predicate, sim_s: float = 10.0) -> None:
    """Like run_until, but the PIN check runs on a worker thread (scrypt, off the media tick):
    give it real time too, on a busy machine."""
    import time
    deadline = time.monotonic() + 20
    steps = 0
    while not predicate():
        if steps * 0.05 > sim_s and time.monotonic() > deadline:
            raise TimeoutError("agent login did not complete")
        p.run(0.05)
        steps += 1
        time.sleep(0.002)       # simulated time at most 25x real: the check's 15 s timer waits for it
