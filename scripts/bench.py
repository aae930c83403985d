#!/usr/bin/env python3
"""Whole-run benchmark: the sweep against its peer (DuckDB SQL of the same rules) and
against the decode and encode floors, on the same files in the same run. Run through
scripts/bench.sh.

For each size (default 1M and 10M cards, Parquet, seed 1): generate once (kept under
WORK), then time `siths-sweep run` (all threads, and 1 thread), the peer, the decode
floor and the encode floor (card_decisions.parquet written again from memory through the
sweep's own writer, by its own timing, without reading the file back), median of RUNS
runs each, peak RSS from /usr/bin/time -v; check that sweep and peer agree on every
organisation's verdict counts; for the sizes in CSV_SIZES (default the largest), also
sweep the same export written as CSV in the same rounds and check that every output not
naming the input files is the Parquet sweep's byte for byte; print a Markdown report and
write it into BENCHMARKS.md between the bench markers.
"""
import json
import os

import duckdb
import platform
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target/release/siths-sweep")
FLOOR = os.path.join(ROOT, "target/release/decode-floor")
ENCODE = os.path.join(ROOT, "target/release/encode-floor")
PY = sys.executable
WORK = os.environ.get("WORK", os.path.join(ROOT, "target/bench"))
RUNS = int(os.environ.get("RUNS", "3"))
SIZES = [int(s) for s in os.environ.get("SIZES", "1000000 10000000").split()]
# Sizes also swept from a CSV export of the same data (`generate --format csv`), in the
# same rounds: the largest size unless CSV_SIZES says otherwise ("" for none).
CSV_SIZES = [int(s) for s in os.environ.get("CSV_SIZES", str(max(SIZES))).split()]
# Outputs that do not name the input files: the same bytes from CSV as from Parquet.
SAME_FROM_CSV = ["card_decisions.parquet", "org_compliance.parquet", "org_compliance.csv", "admin_review.parquet",
                 "revocation_candidates.parquet", "revocation_candidates.csv", "revocation_certificates.parquet",
                 "revocation_certificates.csv"]
AS_OF = "2021-11-15"


def timed(cmd):
    """Wall seconds, peak RSS (MiB) and CPU seconds (user + system) of one command."""
    t = time.perf_counter()
    p = subprocess.run(["/usr/bin/time", "-v"] + cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if p.returncode != 0 or "NOT the bytes" in p.stdout:
        sys.exit(f"failed: {' '.join(cmd)}\n{p.stdout}\n{p.stderr}")
    # The encode floor times its own writing (reading the table back is not the floor).
    own = re.search(r"^encode-floor: .* in ([0-9.]+) s", p.stdout, re.M)
    if own:
        wall = float(own.group(1))
    rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", p.stderr).group(1)) / 1024
    cpu = sum(float(re.search(rf"{k} time \(seconds\): ([0-9.]+)", p.stderr).group(1)) for k in ("User", "System"))
    return wall, rss, cpu


def summary(results):
    """Median wall, peak RSS, median CPU and the wall times of every run."""
    walls = [r[0] for r in results]
    return statistics.median(walls), max(r[1] for r in results), statistics.median(r[2] for r in results), walls


def interleaved(cmds, runs=RUNS):
    """Each command `runs` times, in rounds (a, b, c, a, b, c, ...): load from other
    users of a shared machine then falls on every command alike, not on whichever
    happened to run during it."""
    results = [[] for _ in cmds]
    for _ in range(runs):
        for i, cmd in enumerate(cmds):
            results[i].append(timed(cmd))
    return [summary(r) for r in results]


def main():
    os.makedirs(WORK, exist_ok=True)
    rows = []
    checks = []
    csv_rows = []
    for n in SIZES:
        data = os.path.join(WORK, f"export-{n}")
        if not os.path.exists(os.path.join(data, "cards.parquet")):
            subprocess.run([BIN, "generate", "--out", data, "--cards", str(n), "--force"], check=True)
        certs = duckdb.connect().execute(f"SELECT count(*) FROM '{data}/certificates.parquet'").fetchone()[0]
        out, peer = os.path.join(WORK, f"sweep-{n}"), os.path.join(WORK, f"peer-{n}")
        sweep_cmd = [BIN, "run", "--input", data, "--out", out, "--as-of", AS_OF, "--force", "--quiet"]
        one_thread = [BIN, "run", "--input", data, "--out", out + "-1thread", "--as-of", AS_OF, "--force",
                      "--quiet", "--threads", "1"]
        peer_cmd = [PY, os.path.join(ROOT, "scripts/peer_duckdb.py"), data, peer, "--as-of", AS_OF]
        # One thread right after all threads in every round: the speed-up is taken per
        # round, from adjacent runs, not from one run against a median of others.
        # The encode floor rewrites the card_decisions.parquet the sweep run before it wrote.
        cmds = [sweep_cmd, one_thread, peer_cmd, [FLOOR, data], [ENCODE, out]]
        csv_data, csv_out = os.path.join(WORK, f"csv-{n}"), os.path.join(WORK, f"sweep-{n}-csv")
        if n in CSV_SIZES:
            if not os.path.exists(os.path.join(csv_data, "cards.csv")):
                subprocess.run([BIN, "generate", "--out", csv_data, "--cards", str(n), "--format", "csv", "--force"], check=True)
            cmds.append([BIN, "run", "--input", csv_data, "--out", csv_out, "--as-of", AS_OF, "--force", "--quiet"])
        s_all, s_one, p_all, floor, enc, *from_csv = interleaved(cmds)
        if from_csv:
            same = all(open(os.path.join(out, f), "rb").read() == open(os.path.join(csv_out, f), "rb").read()
                       for f in SAME_FROM_CSV)
            csv_rows.append(dict(n=n, csv=from_csv[0], parquet=s_all, same=same))
        speedup = statistics.median(one / all_ for one, all_ in zip(s_one[3], s_all[3]))
        agree = subprocess.run([PY, os.path.join(ROOT, "scripts/compare_peer.py"), out, peer], capture_output=True, text=True)
        checks.append(agree.stdout.strip())
        stages = json.load(open(os.path.join(out, "manifest.json")))["timings_ms"]
        rows.append(dict(n=n, certs=certs, sweep=s_all, sweep1=s_one, speedup=speedup, peer=p_all, floor=floor, enc=enc, stages=stages,
                         agree=agree.returncode == 0))
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    mem = int(next(l.split()[1] for l in open("/proc/meminfo") if l.startswith("MemTotal"))) // 1024 // 1024
    rustc = subprocess.run(["rustc", "--version"], capture_output=True, text=True).stdout.strip()
    lines = [
        f"Machine: {os.cpu_count()} cores ({cpu}), {mem} GiB, {platform.system()} {platform.release()}; "
        f"{rustc}; DuckDB {duckdb.__version__}. Run {time.strftime('%Y-%m-%d')}; inputs swept as of {AS_OF}. "
        f"Median of {RUNS} runs, sweep, 1-thread sweep, peer and floors taken in turns; CPU s is user + system; "
        "the 2-thread speed-up is the median of each round's 1-thread / 2-thread ratio. "
        "The encode floor is card_decisions.parquet alone written from memory by the sweep's writer; "
        "decode + encode floor is a lower bound on a sweep with this reader and writer.",
        "",
        "| cards | certificates | sweep s | cards/s | peak RSS | sweep CPU s | peer s | peer RSS | peer CPU s | decode floor s | encode floor s | sweep/peer | sweep/floor | sweep/(decode+encode) | 1 thread s | 2 threads speed-up | agree |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        lines.append(
            f"| {r['n']:,} | {r['certs']:,} | {r['sweep'][0]:.2f} | {r['n'] / r['sweep'][0]:,.0f} | {r['sweep'][1]:,.0f} MiB "
            f"| {r['sweep'][2]:.1f} | {r['peer'][0]:.2f} | {r['peer'][1]:,.0f} MiB | {r['peer'][2]:.1f} | {r['floor'][0]:.2f} | {r['enc'][0]:.2f} "
            f"| {r['sweep'][0] / r['peer'][0]:.2f} | {r['sweep'][0] / r['floor'][0]:.2f} "
            f"| {r['sweep'][0] / (r['floor'][0] + r['enc'][0]):.2f} | {r['sweep1'][0]:.2f} "
            f"| {r['speedup']:.2f}× | {'yes' if r['agree'] else '**NO**'} |")
    lines += [""] + [
        f"Every run at {r['n']:,} cards (s): sweep {', '.join(f'{w:.2f}' for w in r['sweep'][3])}; "
        f"1 thread {', '.join(f'{w:.2f}' for w in r['sweep1'][3])}; "
        f"peer {', '.join(f'{w:.2f}' for w in r['peer'][3])}; floor {', '.join(f'{w:.2f}' for w in r['floor'][3])}; "
        f"encode floor {', '.join(f'{w:.2f}' for w in r['enc'][3])}."
        for r in rows
    ]
    if len(rows) >= 2:
        lines += ["", f"Scaling: {rows[-1]['n']:,} cards took {rows[-1]['sweep'][0] / rows[0]['sweep'][0]:.1f}× "
                      f"the time of {rows[0]['n']:,}."]
    for r in rows:
        lines += ["", f"Stages of the last all-threads run at {r['n']:,} cards (ms): " + ", ".join(f"{k} {v}" for k, v in r["stages"].items())]
    for c in csv_rows:
        lines += ["", f"CSV input at {c['n']:,} cards (the same export written by `generate --format csv`, "
                      f"swept in the same rounds): {c['csv'][0]:.2f} s, peak {c['csv'][1]:,.0f} MiB, "
                      f"CPU {c['csv'][2]:.1f} s: **{c['csv'][0] / c['parquet'][0]:.2f}×** the Parquet sweep's time and "
                      f"**{c['csv'][1] / c['parquet'][1]:.2f}×** its peak; runs {', '.join(f'{w:.2f}' for w in c['csv'][3])}; "
                      f"outputs that do not name the input files identical to the Parquet sweep's: "
                      f"{'yes' if c['same'] else '**NO**'}."]
    lines += [""] + [f"- {c}" for c in checks]
    report = "\n".join(lines)
    print(report)
    path = os.path.join(ROOT, "BENCHMARKS.md")
    text = open(path).read()
    start, end = "<!-- bench.sh begin -->", "<!-- bench.sh end -->"
    if start in text:
        text = text[: text.index(start) + len(start)] + "\n" + report + "\n" + text[text.index(end):]
        open(path, "w").write(text)
    if not all(r["agree"] for r in rows):
        sys.exit("sweep and peer disagree")
    if not all(c["same"] for c in csv_rows):
        sys.exit("the CSV sweep's outputs differ from the Parquet sweep's")


if __name__ == "__main__":
    main()
