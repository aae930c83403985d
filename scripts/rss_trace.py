#!/usr/bin/env python3
"""Where a sweep's memory goes: runs `siths-sweep run` on an export, samples its resident
set every 50 ms, and reports the peak RSS reached in each stage (stage boundaries from
the manifest's `timings_ms`, which are laps in run order).

    scripts/rss_trace.py EXPORT_DIR [OUT_DIR] [extra run arguments ...]
"""
import json
import subprocess
import sys
import time
from pathlib import Path

root = Path(__file__).resolve().parent.parent
export = Path(sys.argv[1])
out = Path(sys.argv[2]) if len(sys.argv) > 2 else root / "target" / "rss-trace-out"
extra = sys.argv[3:]
binary = root / "target" / "release" / "siths-sweep"
cmd = [str(binary), "run", "--input", str(export), "--out", str(out), "--as-of", "2021-11-15", "--force", "--quiet", *extra]
start = time.monotonic()
proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
samples = []
while proc.poll() is None:
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    samples.append((time.monotonic() - start, int(line.split()[1]) // 1024))
    except FileNotFoundError:
        break
    time.sleep(0.05)
wall = time.monotonic() - start
if proc.returncode != 0:
    sys.exit(f"run failed with {proc.returncode}")
timings = json.load(open(out / "manifest.json"))["timings_ms"]
# The manifest keeps stage durations by name; this is the order they run in. Start-up
# before the first stage is small and counted in the first.
ORDER = ["read_organisations", "read_id_admins", "read_cards", "read_certificates", "keys",
         "evaluate", "aggregate", "write", "org_reports", "diff"]
laps = {k: timings[k] for k in sorted(timings, key=lambda k: ORDER.index(k) if k in ORDER else len(ORDER))}
print(f"wall {wall:.2f} s, peak RSS {max(m for _, m in samples):,} MiB")
print(f"{'stage':<22} {'s':>7} {'peak MiB':>9}")
t = 0.0
for stage, ms in laps.items():
    end = t + ms / 1000
    inside = [m for (s, m) in samples if t <= s < end]
    print(f"{stage:<22} {ms / 1000:7.2f} {max(inside) if inside else 0:9,}")
    t = end
tail = [m for (s, m) in samples if s >= t]
print(f"{'(publish, exit)':<22} {wall - t:7.2f} {max(tail) if tail else 0:9,}")
