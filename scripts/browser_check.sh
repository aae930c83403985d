#!/usr/bin/env bash
# Opens a sweep's summary.html in headless Chromium (Debian's package, installed if
# missing): the page must load from disk and show the manifest's verdict totals. Leaves
# a screenshot in target/summary.png. Given a `trend` output instead, checks trend.html:
# the country's remaining cards and one point per night; screenshot in target/trend.png.
#   scripts/browser_check.sh [OUTPUT_DIR]      default target/ci-sample
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/ci-sample}
abs=$(cd "$out" && pwd)
if ! command -v chromium >/dev/null 2>&1; then
  if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } >/dev/null 2>&1; then
    echo "browser check skipped: chromium is not installed and could not be installed"
    exit 0
  fi
fi
profile=$(mktemp -d)
flags=(--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking
       --disable-component-update --disable-sync "--user-data-dir=$profile")
if [ -f "$out/trend.html" ]; then
  page="file://$abs/trend.html"
  timeout 120 chromium "${flags[@]}" --dump-dom "$page" 2>/dev/null > "$profile/dom.html"
  python3 - "$out" "$profile/dom.html" <<'PY'
import csv, json, sys
out, dom = sys.argv[1], open(sys.argv[2], encoding="utf-8").read()
nights = list(csv.DictReader(open(f"{out}/national_trend.csv", encoding="utf-8")))
remaining = nights[-1]["remaining"]
if "SITHS upgrade campaign" not in dom:
    sys.exit("trend.html did not render its title")
if f"<strong>{remaining}</strong>" not in dom:
    sys.exit(f"trend.html in the browser lacks the remaining cards, {remaining}")
points = dom.count("<circle")
if points != len(nights):
    sys.exit(f"trend.html draws {points} nights in the burn-down, the trend has {len(nights)}")
print(f"browser check: trend.html renders {len(nights)} nights, {remaining} cards remaining")
PY
  timeout 120 chromium "${flags[@]}" --window-size=1100,1600 --screenshot="$(pwd)/target/trend.png" "$page" >/dev/null 2>&1
  test -s target/trend.png && echo "browser check: screenshot in target/trend.png"
  rm -rf "$profile"
  exit 0
fi
page="file://$abs/summary.html"
dom=$(timeout 120 chromium "${flags[@]}" --dump-dom "$page" 2>/dev/null)
as_of=$(python3 -c "import json; print(json.load(open('$out/manifest.json'))['as_of'])")
grep -q "SITHS upgrade sweep as of $as_of" <<<"$dom" || { echo "summary.html did not render its title"; exit 1; }
printf '%s' "$dom" > "$profile/dom.html"
python3 - "$out/manifest.json" "$profile/dom.html" <<'PY'
import json, sys
dom = open(sys.argv[2], encoding="utf-8").read()
verdicts = json.load(open(sys.argv[1]))["verdicts"]
for code, n in verdicts.items():
    if f">{code}</text>" not in dom or f">{n}</text>" not in dom:
        sys.exit(f"summary.html in the browser lacks {code} = {n}")
print("browser check: summary.html renders with every verdict total: " + ", ".join(f"{k} {v}" for k, v in verdicts.items()))
PY
timeout 120 chromium "${flags[@]}" --window-size=1100,1600 --screenshot="$(pwd)/target/summary.png" "$page" >/dev/null 2>&1
test -s target/summary.png && echo "browser check: screenshot in target/summary.png"
rm -rf "$profile"
