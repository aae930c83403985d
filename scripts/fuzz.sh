#!/usr/bin/env bash
# Runs every cargo-fuzz target for SECONDS each (default 600), new inputs kept under
# target/fuzz-corpus so the committed seed corpora in fuzz/corpus stay small.
#   cargo install cargo-fuzz --locked    (once)
#   scripts/fuzz.sh [SECONDS]
# cargo-fuzz wants nightly for its sanitizer flags; RUSTC_BOOTSTRAP=1 lets the stable
# toolchain of this machine accept them.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-600}
for t in csv_rows text_time personnummer; do
  mkdir -p "target/fuzz-corpus/$t"
  RUSTC_BOOTSTRAP=1 cargo fuzz run -O "$t" "target/fuzz-corpus/$t" "fuzz/corpus/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=4096 2>&1 | tail -n 3
done
