#!/usr/bin/env bash
# The campaign measured whole: `generate --nights` (time, disk), every night swept (the
# exports and the big outputs deleted as it goes, so that a 10M-card campaign fits the
# disk), then `trend` over the nights under /usr/bin/time -v (wall time, peak RSS).
#
#   scripts/campaign_bench.sh CARDS [NIGHTS] [BIN]     default: 30 nights, target/release/siths-sweep
#   WORK=/big/disk scripts/campaign_bench.sh …          where it all goes (default: target/campaign-bench)
set -euo pipefail
cards=$1 nights=${2:-30} bin=${3:-target/release/siths-sweep}
work=${WORK:-target/campaign-bench}/$cards
rm -rf "$work"
mkdir -p "$work/reports"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $cards cards, $nights nights"
/usr/bin/time -v "$bin" generate --out "$work/exports" --nights "$nights" --cards "$cards" --as-of 2021-11-15 \
  2> "$work/generate.time" | tail -1
wall() { awk -F': ' '/Elapsed/{print $2}' "$1" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }'; }
rss() { awk -F': ' '/Maximum resident/{print int($2/1024)}' "$1"; }
echo "generate --nights $nights --cards $cards: $(wall "$work/generate.time") s, peak $(rss "$work/generate.time") MiB, disk $(du -sh "$work/exports" | cut -f1)"
sweep_s=0
for night in "$work"/exports/*/; do
  n=$(basename "$night")
  /usr/bin/time -v "$bin" run --quiet --input "$night" --out "$work/reports/$n" --as-of "$n" > /dev/null 2> "$work/run.time"
  sweep_s=$(python3 -c "print(round($sweep_s + $(wall "$work/run.time"), 2))")
  rm -rf "$night"
  # trend reads only the manifest and org_compliance.parquet.
  find "$work/reports/$n" -maxdepth 1 -type f ! -name manifest.json ! -name org_compliance.parquet -delete
done
echo "sweeping the $nights nights: $sweep_s s in all"
/usr/bin/time -v "$bin" trend --history "$work/reports" --out "$work/trend" 2> "$work/trend.time" | tail -1
echo "trend over $nights nights of $cards cards: $(wall "$work/trend.time") s, peak $(rss "$work/trend.time") MiB"
python3 - "$work/trend" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(f"{sys.argv[1]}/national_trend.csv", encoding="utf-8")))
f = list(csv.DictReader(open(f"{sys.argv[1]}/org_forecast.csv", encoding="utf-8")))
country = next(r for r in f if r["org_id"] == "")
off = sum(1 for r in f if r["org_id"] and r["on_track"] == "false")
print(f"nights {len(rows)}; remaining {rows[0]['remaining']} -> {rows[-1]['remaining']}; "
      f"country shortfall {country['shortfall']}, projected done {country['projected_done'] or 'never'}; "
      f"{off} of {len(f) - 1} organisations off track")
PY
