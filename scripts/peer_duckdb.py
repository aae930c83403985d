#!/usr/bin/env python3
"""The peer: SPEC.md's rules written as DuckDB SQL over the same Parquet export.

    peer_duckdb.py INPUT_DIR OUT_DIR [--as-of YYYY-MM-DD] [--threads N]

Writes OUT_DIR/card_decisions.parquet (sorted by org_id, card_id) and
OUT_DIR/org_verdicts.parquet (per-organisation verdict counts), and prints the wall
time. Used by scripts/bench.sh as the speed peer and as a differential test: its
per-organisation verdict counts must equal the sweep's.

Scope: the default policy; inputs as `generate` writes them (one Parquet file per
table, UTC timestamps, unique keys). Quarantine is the sweep's business: the peer only
drops certificates whose card does not exist, as the sweep does.
"""
import argparse
import os
import sys
import time

import duckdb

TZ = "Europe/Stockholm"

SQL = r"""
CREATE TEMP TABLE params AS SELECT
    DATE '{as_of}' AS d,
    timezone('{tz}', (DATE '{as_of}' + 1)::TIMESTAMP) AS after_d,
    timezone('{tz}', DATE '{as_of}'::TIMESTAMP) AS start_d,
    timezone('{tz}', DATE '2021-12-09'::TIMESTAMP) AS deadline_start,
    DATE '{as_of}' >= DATE '2021-12-09' AS deadline_passed;

CREATE TEMP TABLE orgs AS SELECT org_id FROM read_parquet('{input}/organisations.parquet');

-- Administrators: personnummer shape, century, Luhn, date; e-mail; dates.
CREATE TEMP TABLE admin_shape AS
SELECT a.*, row_number() OVER () AS rid, trim(personnummer) AS p,
       regexp_full_match(trim(personnummer), '\d{{10}}|\d{{6}}[-+]\d{{4}}|\d{{12}}|\d{{8}}[-+]\d{{4}}') AS shaped
FROM read_parquet('{input}/id_admins.parquet') a;

CREATE TEMP TABLE admin_pn AS
SELECT *,
       CASE WHEN length(digits) = 12 THEN substr(digits, 3) ELSE digits END AS ten,
       length(digits) = 12 AS long_form,
       (length(p) = 11 AND substr(p, 7, 1) = '+') AS plus
FROM (SELECT *, regexp_replace(p, '[-+]', '', 'g') AS digits FROM admin_shape);

CREATE TEMP TABLE admin_parts AS
SELECT *,
       CAST(substr(ten, 3, 2) AS INT) AS mm,
       CAST(substr(ten, 5, 2) AS INT) AS dd_written,
       CAST(substr(ten, 7, 3) AS INT) AS serial,
       CAST(substr(ten, 10, 1) AS INT) AS check_digit,
       CASE WHEN CAST(substr(ten, 5, 2) AS INT) > 60 THEN CAST(substr(ten, 5, 2) AS INT) - 60
            ELSE CAST(substr(ten, 5, 2) AS INT) END AS dd
FROM admin_pn WHERE shaped;

CREATE TEMP TABLE admin_year AS
SELECT ap.*,
       CASE WHEN long_form THEN CAST(substr(digits, 1, 4) AS INT)
            ELSE (year(pr.d) - year(pr.d) % 100) + CAST(substr(ten, 1, 2) AS INT)
                 - CASE WHEN ((year(pr.d) - year(pr.d) % 100) + CAST(substr(ten, 1, 2) AS INT), mm, dd)
                             > (year(pr.d), month(pr.d), day(pr.d)) THEN 100 ELSE 0 END
                 - CASE WHEN plus THEN 100 ELSE 0 END
       END AS yyyy
FROM admin_parts ap, params pr;

CREATE TEMP TABLE admin_valid AS
SELECT ay.*,
       TRY_CAST(printf('%04d-%02d-%02d', yyyy, mm, dd) AS DATE) AS birth,
       (10 - list_sum([ ((CAST(substr(ten, i + 1, 1) AS INT) * (2 - i % 2)) // 10)
                       + ((CAST(substr(ten, i + 1, 1) AS INT) * (2 - i % 2)) % 10) for i in range(9)]) % 10) % 10
           AS luhn,
       printf('%04d%s', yyyy, substr(ten, 3)) AS person
FROM admin_year ay;

CREATE TEMP TABLE admins_ok AS
SELECT a.org_id, v.person, a.trained_at
FROM admin_shape a
JOIN admin_valid v ON a.rid = v.rid, params pr
WHERE a.org_id IS NOT NULL AND trim(a.org_id) <> ''
  AND coalesce(trim(a.name), '') <> '' AND coalesce(trim(a.email), '') <> ''
  AND coalesce(trim(a.care_provider), '') <> '' AND coalesce(trim(a.care_unit), '') <> ''
  AND v.birth IS NOT NULL AND v.birth <= pr.d AND v.serial <> 0 AND v.luhn = v.check_digit
  AND regexp_full_match(trim(a.email), '[^@\s]+@[^@\s]*\.[^@\s]*')
  AND a.registered_at IS NOT NULL AND a.trained_at IS NOT NULL
  AND a.trained_at >= a.registered_at AND a.trained_at < pr.after_d;

CREATE TEMP TABLE clearance AS
SELECT org_id, list_sort(list(qualified_at))[2] AS cleared_at
FROM (SELECT org_id, person, min(trained_at) AS qualified_at FROM admins_ok GROUP BY ALL)
GROUP BY org_id;

-- Certificates per card.
CREATE TEMP TABLE cert_counts AS
SELECT card_id,
       count(*)::INT AS cert_count,
       count(*) FILTER (WHERE kind = 'telia')::INT AS telia_certs,
       count(*) FILTER (WHERE kind = 'third_party' AND active)::INT AS third_party_certs
FROM (
    SELECT c.card_id,
           CASE WHEN contains(lower(issuer), 'svensk e-identitet') OR contains(lower(issuer), 'siths') THEN 'card_issuer'
                WHEN contains(lower(issuer), 'telia') THEN 'telia' ELSE 'third_party' END AS kind,
           coalesce(NOT revoked, true) AND (not_after IS NULL OR not_after >= pr.start_d) AS active
    FROM read_parquet('{input}/certificates.parquet') c, params pr
)
GROUP BY card_id;

CREATE TEMP TABLE cards AS
SELECT c.card_id, c.org_id, c.ordered_at, c.sent_at, c.received_at, c.upgraded_at,
       c.has_auth_code, c.has_sign_code,
       CASE lower(trim(card_type)) WHEN 'siths' THEN 'SITHS' ELSE 'SITHS_EID' END AS card_type,
       CASE WHEN lower(trim(status)) IN ('ordered', 'beställt', 'beställd') THEN 'ordered'
            WHEN lower(trim(status)) IN ('sent', 'skickat', 'skickad') THEN 'sent'
            WHEN lower(trim(status)) IN ('received', 'mottaget', 'mottagen') THEN 'received'
            ELSE 'revoked' END AS status,
       (timezone('{tz}', c.ordered_at))::DATE + INTERVAL 3 MONTH AS due,
       o.org_id IS NOT NULL AS org_known,
       cl.cleared_at,
       coalesce(k.cert_count, 0) AS cert_count, coalesce(k.telia_certs, 0) AS telia_certs,
       coalesce(k.third_party_certs, 0) AS third_party_certs
FROM read_parquet('{input}/cards.parquet') c
LEFT JOIN orgs o USING (org_id)
LEFT JOIN clearance cl ON cl.org_id = c.org_id
LEFT JOIN cert_counts k ON k.card_id = c.card_id;

CREATE TEMP TABLE findings AS
SELECT c.*,
    s <> 'revoked' AND s IN ('ordered', 'sent') AND pr.d > due::DATE AS unissued,
    s <> 'revoked' AND old AND up AND (s IN ('ordered', 'sent') OR (s = 'received' AND received_at > upgraded_at)) AS before_received,
    s <> 'revoked' AND old AND up AND upgraded_at >= pr.deadline_start AS after_deadline,
    s <> 'revoked' AND old AND up AND (cleared_at IS NULL OR cleared_at > upgraded_at) AS before_cleared,
    s <> 'revoked' AND old AND NOT up AND pr.deadline_passed AS deadline_passed,
    s <> 'revoked' AND old AND NOT up AND NOT pr.deadline_passed AND s IN ('ordered', 'sent') AND NOT (pr.d > due::DATE) AS awaiting,
    s <> 'revoked' AND old AND NOT up AND NOT pr.deadline_passed AND cleared_at IS NULL AS not_cleared,
    s <> 'revoked' AND old AND NOT up AND NOT pr.deadline_passed
        AND (has_auth_code IS NOT TRUE OR has_sign_code IS NOT TRUE) AS codes_missing,
    s <> 'revoked' AND old AND NOT up AND NOT pr.deadline_passed AND cert_count > 6 AS too_many,
    s <> 'revoked' AND old AND third_party_certs > 0 AS third_party,
    (s = 'received' AND received_at IS NULL) OR sent_at < ordered_at OR received_at < ordered_at
        OR upgraded_at < ordered_at OR ordered_at >= pr.after_d OR sent_at >= pr.after_d
        OR received_at >= pr.after_d OR upgraded_at >= pr.after_d OR (NOT old AND up) AS inconsistent,
    NOT org_known AS unknown_org
FROM (SELECT *, status AS s, card_type = 'SITHS' AS old, upgraded_at IS NOT NULL AS up FROM cards) c, params pr;

CREATE TEMP TABLE decisions AS
SELECT card_id, org_id, card_type, status, cert_count, telia_certs, third_party_certs,
    CASE WHEN s = 'revoked' THEN 'OUT_OF_SCOPE'
         WHEN coalesce(unissued, false) OR coalesce(before_received, false) THEN 'REVOKE'
         WHEN NOT old THEN 'OUT_OF_SCOPE'
         WHEN up THEN CASE WHEN coalesce(after_deadline, false) OR coalesce(before_cleared, false)
                           THEN 'VIOLATION' ELSE 'UPGRADED' END
         WHEN deadline_passed THEN 'REPLACE'
         WHEN awaiting OR not_cleared OR codes_missing THEN 'BLOCKED'
         ELSE 'READY' END AS verdict
FROM findings;
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("input")
    ap.add_argument("out")
    ap.add_argument("--as-of", default="2021-11-15")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    started = time.perf_counter()
    con = duckdb.connect()
    con.execute(f"SET threads = {a.threads}")
    con.execute(f"SET TimeZone = '{TZ}'")
    con.execute(SQL.format(input=a.input, as_of=a.as_of, tz=TZ))
    con.execute(f"COPY (SELECT * FROM decisions ORDER BY org_id, card_id) TO '{a.out}/card_decisions.parquet' "
                "(FORMAT parquet, COMPRESSION zstd)")
    con.execute(f"""COPY (
        SELECT org_id,
               count(*) FILTER (WHERE verdict = 'READY') AS ready,
               count(*) FILTER (WHERE verdict = 'BLOCKED') AS blocked,
               count(*) FILTER (WHERE verdict = 'UPGRADED') AS upgraded,
               count(*) FILTER (WHERE verdict = 'VIOLATION') AS violation,
               count(*) FILTER (WHERE verdict = 'REVOKE') AS revoke,
               count(*) FILTER (WHERE verdict = 'REPLACE') AS replace,
               count(*) FILTER (WHERE verdict = 'OUT_OF_SCOPE') AS out_of_scope
        FROM decisions GROUP BY org_id ORDER BY org_id
    ) TO '{a.out}/org_verdicts.parquet' (FORMAT parquet, COMPRESSION zstd)""")
    print(f"peer_duckdb: {time.perf_counter() - started:.3f} s ({a.threads} threads, duckdb {duckdb.__version__})")


if __name__ == "__main__":
    sys.exit(main())
