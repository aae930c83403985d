#!/usr/bin/env bash
# The sweep against its peer and the hardware, in one run on one machine:
#   scripts/bench.sh                     1M and 10M cards, 3 runs each (about 10 minutes)
#   SIZES="100000" RUNS=1 scripts/bench.sh
# Installs DuckDB into a local virtualenv (target/bench-venv) the first time, builds the
# release binaries, and writes the figures into BENCHMARKS.md (see scripts/bench.py).
set -euo pipefail
cd "$(dirname "$0")/.."
venv=target/bench-venv
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet duckdb
fi
cargo build --release --quiet
exec "$venv/bin/python" scripts/bench.py
