#!/usr/bin/env bash
# Whole-run figures for `generate` and `run` (Parquet) at the given card counts:
# wall time, cards per second and peak RSS from /usr/bin/time -v, plus the decode
# floor (the sweep's own reader doing nothing with what it reads).
#
#   scripts/measure.sh [CARDS ...]        default: 1000000 10000000
#   WORK=/big/disk scripts/measure.sh     where the generated data goes (default: target/measure)
set -euo pipefail
cd "$(dirname "$0")/.."
sizes=("${@:-1000000 10000000}")
[ $# -eq 0 ] && sizes=(1000000 10000000)
work=${WORK:-target/measure}
mkdir -p "$work"
cargo build --release --quiet
bin=target/release/siths-sweep
floor=target/release/decode-floor
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(rustc --version)"
printf '%-10s %-9s %9s %12s %10s\n' cards step wall_s cards_per_s peak_MiB
for n in "${sizes[@]}"; do
  data="$work/export-$n" out="$work/out-$n"
  for step in generate run; do
    if [ $step = generate ]; then
      cmd=("$bin" generate --out "$data" --cards "$n" --force)
    else
      cmd=("$bin" run --input "$data" --out "$out" --as-of 2021-11-15 --force --quiet)
    fi
    /usr/bin/time -v "${cmd[@]}" > /dev/null 2> "$work/time.txt"
    wall=$(awk -F': ' '/Elapsed/{print $2}' "$work/time.txt" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    rss=$(awk -F': ' '/Maximum resident/{print int($2/1024)}' "$work/time.txt")
    printf '%-10s %-9s %9.2f %12.0f %10s\n' "$n" "$step" "$wall" "$(echo "$n / $wall" | bc -l)" "$rss"
  done
  "$floor" "$data" | sed "s/^/           /"
  python3 -c "import json,sys; print('           stages (ms):', json.load(open('$out/manifest.json'))['timings_ms'])"
done
