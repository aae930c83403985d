#!/usr/bin/env python3
"""Differential check: the sweep's per-organisation verdict counts against the peer's.

    compare_peer.py SWEEP_OUT PEER_OUT      exit 1 and the first differences if they differ
"""
import sys

import duckdb

cols = ["ready", "blocked", "upgraded", "violation", "revoke", "replace", "out_of_scope"]
sweep, peer = sys.argv[1], sys.argv[2]
con = duckdb.connect()
diff = con.execute(f"""
    SELECT coalesce(s.org_id, p.org_id) AS org_id, {", ".join(f"s.{c} AS s_{c}, p.{c} AS p_{c}" for c in cols)}
    FROM (SELECT org_id, {", ".join(cols)} FROM '{sweep}/org_compliance.parquet' WHERE cards_total > 0) s
    FULL JOIN '{peer}/org_verdicts.parquet' p USING (org_id)
    WHERE {" OR ".join(f"s.{c} IS DISTINCT FROM p.{c}" for c in cols)}
    ORDER BY 1 LIMIT 10
""").fetchall()
orgs, cards = con.execute(f"SELECT count(*), sum(cards_total) FROM '{sweep}/org_compliance.parquet' WHERE cards_total > 0").fetchone()
if diff:
    print(f"compare_peer: DIFFERENT verdict counts, e.g.:")
    for d in diff:
        print("  ", d)
    sys.exit(1)
print(f"compare_peer: sweep and peer agree on every verdict count of {orgs} organisations ({cards} cards)")
