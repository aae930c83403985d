#!/usr/bin/env python3
"""Where a sweep's memory goes: runs `siths-sweep run` on an export, samples its resident
set and CPU time every 50 ms, and reports per stage the peak RSS reached and the cores
busy on average (CPU seconds over wall seconds: 2.0 on two cores is no idle core;
stage boundaries from the manifest's `timings_ms`, which are laps in run order).

    scripts/rss_trace.py EXPORT_DIR [OUT_DIR] [extra run arguments ...]
"""
import json
import os
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
TICK = os.sysconf("SC_CLK_TCK")
samples = []  # (seconds since start, RSS MiB, CPU seconds so far)
while proc.poll() is None:
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            rss = next(int(line.split()[1]) // 1024 for line in f if line.startswith("VmRSS:"))
        with open(f"/proc/{proc.pid}/stat") as f:
            # utime and stime, after the parenthesised command name.
            fields = f.read().rsplit(")", 1)[1].split()
            cpu = (int(fields[11]) + int(fields[12])) / TICK
        samples.append((time.monotonic() - start, rss, cpu))
    except (FileNotFoundError, StopIteration, ProcessLookupError):
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
print(f"wall {wall:.2f} s, peak RSS {max(m for _, m, _ in samples):,} MiB")
print(f"{'stage':<22} {'s':>7} {'peak MiB':>9} {'cores':>6}")


def report(name, t, end):
    inside = [(s, m, c) for (s, m, c) in samples if t <= s < end]
    peak = max((m for _, m, _ in inside), default=0)
    # Cores busy: CPU time between the stage's first and last samples over their distance.
    busy = (inside[-1][2] - inside[0][2]) / (inside[-1][0] - inside[0][0]) if len(inside) > 2 else float("nan")
    print(f"{name:<22} {end - t:7.2f} {peak:9,} {busy:6.2f}")


t = 0.0
for stage, ms in laps.items():
    report(stage, t, t + ms / 1000)
    t += ms / 1000
report("(publish, exit)", t, wall)
