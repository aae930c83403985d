#!/usr/bin/env python3
"""`siths-sweep query` against DuckDB (Python client) on the README's queries, over the
outputs of a sweep (default: bench.sh's 10M sweep, target/bench/sweep-10000000).

Each query is taken from README.md as written there (the `query --reports out/sample`
examples), run by both on the same Parquet files, in turns, RUNS times; wall time and
peak RSS from /usr/bin/time -v, medians. Both engines' answers are compared (same rows,
numbers to 9 digits) before any time is reported. Prints a Markdown table.

    target/bench-venv/bin/python scripts/query_bench.py [SWEEP_DIR]
    BIN=/tmp/siths-sweep-before target/bench-venv/bin/python scripts/query_bench.py
"""
import csv
import io
import json
import os
import re
import statistics
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import BIN, PY, ROOT, RUNS, timed  # noqa: E402

# Another build to measure (e.g. the code before a change): BIN=/path/to/siths-sweep.
BIN = os.environ.get("BIN", BIN)

DUCKDB = """
import sys, duckdb, json, os
folder, sql = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute("SET threads = 2")
for f in sorted(os.listdir(folder)):
    if f.endswith(".parquet"):
        con.execute(f"CREATE VIEW {f[:-8]} AS SELECT * FROM read_parquet('{os.path.join(folder, f)}')")
rows = con.execute(sql).fetchall()
print(json.dumps([[v if isinstance(v, (int, float, str)) or v is None else str(v) for v in r] for r in rows]))
"""


def readme_queries():
    text = open(os.path.join(ROOT, "README.md")).read()
    found = re.findall(r'siths-sweep query --reports out/sample(?: --format \w+)? "(.*?)"', text, re.S)
    return [" ".join(q.split()) for q in found]


def same(a, b):
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        for u, v in zip(x, y):
            if isinstance(u, float) or isinstance(v, float):
                if u is None or v is None or abs(float(u) - float(v)) > 1e-9 * max(1, abs(float(u))):
                    return False
            elif str(u) != str(v):
                return False
    return True


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target/bench/sweep-10000000")
    lines = [
        f"`query` against DuckDB {__import__('duckdb').__version__} (Python client, 2 threads) on the README's queries over "
        f"`{os.path.relpath(folder, ROOT)}`; median of {RUNS} runs in turns; peak RSS the largest.",
        "",
        "| query | rows | query s | DuckDB s | query/DuckDB | query RSS | DuckDB RSS | RSS ratio |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for n, sql in enumerate(readme_queries(), 1):
        ours = subprocess.run([BIN, "query", "--reports", folder, "--format", "json", sql], capture_output=True, text=True, check=True)
        ours = [list(r.values()) for r in json.loads(ours.stdout)]
        theirs = json.loads(subprocess.run([PY, "-c", DUCKDB, folder, sql], capture_output=True, text=True, check=True).stdout)
        if not same(ours, theirs):
            sys.exit(f"query {n}: the engines disagree\nquery: {ours[:5]}\nDuckDB: {theirs[:5]}")
        q_runs, d_runs = [], []
        for _ in range(RUNS):
            q_runs.append(timed([BIN, "query", "--reports", folder, sql]))
            d_runs.append(timed([PY, "-c", DUCKDB, folder, sql]))
        q, d = statistics.median(r[0] for r in q_runs), statistics.median(r[0] for r in d_runs)
        qm, dm = max(r[1] for r in q_runs), max(r[1] for r in d_runs)
        lines.append(f"| {n}. `{sql[:60]}…` | {len(ours)} | {q:.2f} | {d:.2f} | {q / d:.2f} | {qm:,.0f} MiB | {dm:,.0f} MiB | {qm / dm:.2f} |")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
