#!/usr/bin/env bash
# Two builds of the sweep against each other on one export, in alternating runs (A, B,
# A, B, …) so that the machine's slow spells fall on both: wall time and peak RSS of
# each run, whether the two builds wrote the same bytes (every output but the
# manifest), and the memory check's estimate beside the measured peak.
#
#   scripts/ab.sh BIN_A BIN_B EXPORT [PAIRS]      default: 3 pairs
#   WORK=/big/disk scripts/ab.sh …                where the outputs go (default: target/ab)
set -euo pipefail
a=$1 b=$2 export=$3 pairs=${4:-3}
work=${WORK:-target/ab}
mkdir -p "$work"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; export $export"
printf '%-5s %-4s %8s %9s %11s\n' pair bin wall_s peak_MiB estimate_MiB
for i in $(seq 1 "$pairs"); do
  for side in A B; do
    bin=$a
    [ $side = B ] && bin=$b
    out="$work/out-$side"
    /usr/bin/time -v "$bin" run --input "$export" --out "$out" --as-of 2021-11-15 --force --quiet \
      > /dev/null 2> "$work/time.txt"
    wall=$(awk -F': ' '/Elapsed/{print $2}' "$work/time.txt" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    rss=$(awk -F': ' '/Maximum resident/{print int($2/1024)}' "$work/time.txt")
    est=$(python3 -c "import json; m = json.load(open('$out/manifest.json')).get('memory'); print(int(m['estimated_peak_bytes'] / 2**20) if m else '-')")
    printf '%-5s %-4s %8.2f %9s %11s\n' "$i" "$side" "$wall" "$rss" "$est"
  done
done
same=yes
for f in "$work"/out-A/*; do
  name=$(basename "$f")
  [ "$name" = manifest.json ] && continue
  cmp -s "$f" "$work/out-B/$name" || { same=no; echo "differs: $name"; }
done
echo "same output bytes (manifest aside): $same"
