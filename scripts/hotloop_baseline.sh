#!/usr/bin/env bash
# Rewrites guard/benches/hotloop.baseline with the current instructions per card of the
# hot-loop guard. A deliberate step: run it only when a change is meant to move the
# count (a new rule, a faster loop), and say in the commit message why it moved.
#
#   scripts/hotloop_baseline.sh
set -euo pipefail
cd "$(dirname "$0")/.."
version=0.20.0
if ! target/tools/bin/gungraun-runner --version 2>/dev/null | grep -q "$version"; then
  cargo install gungraun-runner --version "$version" --locked --root target/tools
fi
export PATH="$PWD/target/tools/bin:$PATH"
# No limit while measuring (the bench fails on a baseline that is not a number).
baseline=guard/benches/hotloop.baseline
cp "$baseline" target/hotloop.baseline.old
HOTLOOP_MEASURE_ONLY=1 cargo bench --locked -p siths-sweep-guard --bench hotloop 2>&1 | tee target/hotloop.log
ir=$(awk '/Instructions:/ { gsub(/\|.*/, "", $2); print $2; exit }' target/hotloop.log)
per_card=$(python3 -c "print(round($ir / 5000, 1))")
sed -i "s/^[0-9.]\+$/$per_card/" "$baseline"
echo "baseline: $ir instructions for 5,000 cards = $per_card per card (was: $(grep -v '^#' target/hotloop.baseline.old))"
