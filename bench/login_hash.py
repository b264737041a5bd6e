"""`python -m bench.login_hash`: what one password check costs (issue 9 item 1).

For the parameters Linebox uses (`webui.accounts.HASH_PARAMETERS`) and the argon2 library's
defaults, each in a fresh child process: median time of one verify, and the child's peak
memory (ru_maxrss) minus its memory before hashing. On a Pi 4 expect the times 3-5x these
x86 figures; memory is the same everywhere.
"""
from __future__ import annotations

import json
import platform
import statistics
import subprocess
import sys
import time

CHILD = r"""
import json, resource, sys, time
from argon2 import PasswordHasher
params = json.loads(sys.argv[1])
hasher = PasswordHasher(**params) if params else PasswordHasher()
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
stored = hasher.hash("correct horse battery")
times = []
for _ in range(int(sys.argv[2])):
    t = time.perf_counter()
    hasher.verify(stored, "correct horse battery")
    times.append(time.perf_counter() - t)
print(json.dumps({"times": times, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "base_kib": base}))
"""


def measure(params: dict, runs: int = 15) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(params), str(runs)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def main() -> None:
    from webui.accounts import HASH_PARAMETERS
    from webui.login_limit import HASH_SLOTS
    print("| parameters | median ms per verify (this host) | est. Pi 4 (x3-x5) | MiB per hash | "
          f"MiB with {HASH_SLOTS} at once |")
    print("|---|---:|---:|---:|---:|")
    for label, params in (("Linebox " + ", ".join(f"{k}={v}" for k, v in HASH_PARAMETERS.items()), HASH_PARAMETERS),
                          ("argon2-cffi defaults (before)", {})):
        r = measure(params)
        ms = statistics.median(r["times"]) * 1000
        mib = (r["peak_kib"] - r["base_kib"]) / 1024        # measured: the child's peak growth while hashing
        print(f"| {label} | {ms:.0f} | {3 * ms:.0f}-{5 * ms:.0f} | {mib:.0f} | {HASH_SLOTS * mib:.0f} |")
    print(f"\nmeasured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {platform.machine()}")


if __name__ == "__main__":
    main()
