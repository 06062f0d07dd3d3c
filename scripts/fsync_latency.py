#!/usr/bin/env python3
"""fsync latency of the disk under a folder (default: the current one), as the durable store
meets it: append 4 KiB, fsync, 2000 times. Durable throughput at low concurrency is bound by
this figure, so read it beside the load test's.

    python3 scripts/fsync_latency.py [folder]
"""
import os
import sys
import tempfile
import time

folder = sys.argv[1] if len(sys.argv) > 1 else "."
with tempfile.NamedTemporaryFile(dir=folder) as f:
    times = []
    for _ in range(2000):
        os.write(f.fileno(), b"x" * 4096)
        started = time.perf_counter()
        os.fsync(f.fileno())
        times.append(time.perf_counter() - started)
times.sort()
print(
    "fsync after a 4 KiB append: median %.0f us, p90 %.0f us, p99 %.0f us, max %.1f ms"
    % (times[1000] * 1e6, times[1800] * 1e6, times[1980] * 1e6, times[-1] * 1e3)
)
