"""Storage timings (not a test: run `python3 tests/storage/bench_storage.py`).

Measures what the rest of Linebox pays: a config commit (fsync'd, with backup),
config reads, the media thread's cost to queue a call event, the writer's
throughput, and history search on a large table.
"""
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from firmware.config import Config  # noqa: E402
from firmware.records import CallRecords  # noqa: E402


def per_call(fn, n: int) -> float:
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return (time.perf_counter() - t) / n


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        root = Path(d)
        for fxs, fxo in ((4, 2), (120, 40)):
            cfg = Config(root / f"c{fxs}" / "config.json")
            cfg.seed_defaults([f"fxs{i}" for i in range(1, fxs + 1)], [f"fxo{i}" for i in range(1, fxo + 1)])
            w = per_call(lambda i, cfg=cfg: cfg.update_settings(site_name=f"s{i}"), 200)
            r = per_call(lambda i, cfg=cfg: cfg.extensions(), 200)
            size = cfg.path.stat().st_size
            print(f"config {fxs} ext/{fxo} lines ({size} B): commit {w * 1e3:.2f} ms, extensions() {r * 1e3:.3f} ms")

        rec = CallRecords(root / "calls.db")
        n = 100_000
        t = time.perf_counter()
        for i in range(n):
            rec.call_started(f"c{i}", start=1e9 + i, src=f"2{i % 100:02d}", dst=f"9555{i:06d}",
                             direction="outbound", line="fxo1", caller_id_name=f"Customer {i}")
            rec.call_ended(f"c{i}", at=1e9 + i + 30, disposition="answered")
        enqueue = (time.perf_counter() - t) / (2 * n)
        rec.flush(timeout=600)
        total = time.perf_counter() - t
        print(f"records: enqueue {enqueue * 1e6:.1f} us/event (media thread); "
              f"{2 * n / total:,.0f} events/s committed ({n:,} calls)")
        t = time.perf_counter()
        for i in range(200):
            rec.call_started(f"x{i}", start=2e9 + i, src="201", dst="202", direction="internal")
            rec.flush()
        print(f"records: one call_started + flush (one fsync'd commit) {(time.perf_counter() - t) / 200 * 1e3:.2f} ms")
        for q in ("", "Customer 99999", "555000123", "nobody"):
            s = per_call(lambda i, q=q: rec.search(q), 20)
            print(f"search({q!r}) over {n:,} rows: {s * 1e3:.1f} ms")
        rec.close()


if __name__ == "__main__":
    main()
