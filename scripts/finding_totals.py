#!/usr/bin/env python3
"""National totals of every verdict and finding column of an org_compliance.csv."""
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1], newline="", encoding="utf-8")))
skip = {"org_id", "org_name", "cleared", "cleared_at", "upgrade_progress", "compliance"}
for col in rows[0].keys() if rows else []:
    if col not in skip:
        print(f"{col:28} {sum(int(r[col] or 0) for r in rows):>10}")
print(f"{'organisations':28} {len(rows):>10}")
print(f"{'cleared':28} {sum(r['cleared'] == 'true' for r in rows):>10}")
