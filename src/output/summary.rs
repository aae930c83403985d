//! `summary.html`: one self-contained page that an operator opens from disk or prints:
//! the night at a glance. It holds no wall-clock time, so it is as reproducible as the
//! other outputs.

use maud::{Markup, html};

use super::html::{bars, page, table};
use crate::aggregate::{OrgCounts, verdict_totals};
use crate::diff::DiffSummary;
use crate::evaluate::Evaluation;
use crate::ingest::Ingested;
use crate::rules::{Finding, Policy, Verdict};
use crate::time::format_date;

/// `n` with the noun in the number it takes ("1 organisation", "2 organisations").
fn counted(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The page for one sweep.
pub fn render(
    d: &Ingested,
    e: &Evaluation,
    counts: &[OrgCounts],
    policy: &Policy,
    change: Option<&DiffSummary>,
) -> String {
    let totals = verdict_totals(counts);
    let as_of = format_date(e.dates.as_of);
    let verdicts: Vec<(String, i64)> =
        Verdict::ALL.iter().map(|v| (v.code().to_string(), totals[*v as usize])).collect();
    let body = html! {
        h1 { "SITHS upgrade sweep as of " (as_of) }
        p.muted {
            "siths-sweep " (env!("CARGO_PKG_VERSION")) "; "
            (counted(totals.iter().sum(), "card", "cards")) " of "
            (counted(counts.len() as i64, "organisation", "organisations"))
            "; deadline " (format_date(policy.deadline)) "."
        }
        @if let Some(c) = change { (since_last_night(c)) }
        h2 { "Cards per verdict" }
        (bars(&verdicts, "#3b6ea5"))
        (progress(counts))
        (top_organisations(e, counts, "most revocation candidates", Verdict::Revoke))
        (top_organisations(e, counts, "most blocked cards", Verdict::Blocked))
        h2 { "Findings" }
        (table(&["finding", "cards"], &[false, true], Finding::ALL.iter().map(|&f| {
            vec![f.code().to_string(), counts.iter().map(|c| c.findings[f as usize]).sum::<i64>().to_string()]
        })))
        (inputs(d))
        h2 { "Policy" }
        (table(&[], &[], policy.to_json().as_object().into_iter().flatten().map(|(k, v)| vec![k.clone(), v.to_string()])))
    };
    page("en", &format!("SITHS sweep {as_of}"), &body)
}

/// The day's national change, from the diff against the previous night's sweep.
fn since_last_night(c: &DiffSummary) -> Markup {
    let (before, after) = c.upgraded_total;
    let since = c.previous_as_of.map_or_else(|| "the previous sweep".to_string(), format_date);
    html! {
        h2 { "Since " (since) }
        table {
            tr { td { "cards upgraded since then" } td.n { (after as i64 - before as i64) } }
            tr { td { "upgraded in all (upgraded + violation)" } td.n { (before) " → " (after) } }
            tr { td { "new revocation candidates" } td.n { (c.new) } }
            tr { td { "revocation candidates no longer" } td.n { (c.resolved) } }
            tr { td { "cards whose verdict changed" } td.n { (c.verdict_changes) } }
        }
        @for caveat in &c.caveats { p.muted { "Note: the two sweeps were " (caveat) "." } }
    }
}

/// How far the organisations with cards in scope have come, in tenths.
fn progress(counts: &[OrgCounts]) -> Markup {
    let mut bins = [0i64; 10];
    let mut none = 0;
    for c in counts.iter().filter(|c| c.cards_total > 0) {
        match c.upgrade_progress() {
            Some(p) => bins[((p * 10.0) as usize).min(9)] += 1,
            None => none += 1,
        }
    }
    let hist: Vec<(String, i64)> =
        bins.iter().enumerate().map(|(i, n)| (format!("{}–{}%", i * 10, i * 10 + 10), *n)).collect();
    html! {
        h2 { "Upgrade progress across organisations" }
        p.muted { "(upgraded + violation) / cards in scope, organisations with cards in scope." }
        (bars(&hist, "#5a9e6f"))
        p.muted { (none) " organisations have no card in scope." }
    }
}

/// The 20 organisations with the most cards of `verdict` (ties by org_id).
fn top_organisations(e: &Evaluation, counts: &[OrgCounts], title: &str, verdict: Verdict) -> Markup {
    let mut order: Vec<usize> = (0..counts.len()).collect();
    order.sort_by(|&a, &b| {
        counts[b].verdict(verdict).cmp(&counts[a].verdict(verdict)).then_with(|| e.orgs.ids[a].cmp(&e.orgs.ids[b]))
    });
    let rows = order.into_iter().take(20).filter(|&o| counts[o].verdict(verdict) > 0).map(|o| {
        vec![
            e.orgs.ids[o].clone(),
            e.orgs.names[o].clone().unwrap_or_default(),
            counts[o].verdict(verdict).to_string(),
            counts[o].cards_total.to_string(),
        ]
    });
    let column = verdict.code().to_lowercase();
    html! {
        h2 { "The 20 organisations with " (title) }
        (table(&["org_id", "name", &column, "cards"], &[false, false, true, true], rows))
    }
}

/// The input files, and the quarantined rows by error.
fn inputs(d: &Ingested) -> Markup {
    let mut by_error: std::collections::BTreeMap<&str, u64> = Default::default();
    for q in &d.quarantine {
        *by_error.entry(q.error.code()).or_default() += 1;
    }
    let files =
        d.files.iter().map(|f| vec![f.table.to_string(), f.rel.clone(), f.rows.to_string(), f.quarantined.to_string()]);
    html! {
        h2 { "Inputs" }
        (table(&["table", "file", "rows", "quarantined"], &[false, false, true, true], files))
        p {
            "Quarantined rows: " (d.quarantine.len())
            @for (code, n) in &by_error { "; " (code) " " (n) }
            " (details in quarantine.parquet)."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::counted;

    #[test]
    fn counts_take_the_number_of_their_noun() {
        assert_eq!(counted(0, "organisation", "organisations"), "0 organisations");
        assert_eq!(counted(1, "organisation", "organisations"), "1 organisation");
        assert_eq!(counted(2, "card", "cards"), "2 cards");
    }
}
