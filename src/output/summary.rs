//! `summary.html`: one self-contained page (no scripts, fonts or styles from elsewhere)
//! that an operator opens from disk or prints: the night at a glance. Every value from
//! the input is HTML-escaped; the page holds no wall-clock time, so it is as
//! reproducible as the other outputs.

use std::fmt::Write as _;

use crate::aggregate::{OrgCounts, verdict_totals};
use crate::evaluate::Evaluation;
use crate::ingest::Ingested;
use crate::rules::{Finding, Policy, Verdict};
use crate::time::format_date;

/// Escapes text for HTML element content and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em auto;max-width:60em;color:#222;padding:0 1em}\
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:.5em 0}td,th{padding:.2em .6em;border-bottom:1px solid #eee;text-align:left}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.muted{color:#666}svg text{font:12px sans-serif}\
@media print{body{margin:0;max-width:none}h2{break-after:avoid}table,svg{break-inside:avoid}}";

/// A horizontal bar chart as inline SVG.
fn bars(items: &[(String, i64)], colour: &str) -> String {
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let (label_w, bar_w, row_h) = (130, 420, 22);
    let height = items.len() as i64 * row_h + 4;
    let mut s = format!(
        "<svg role=\"img\" width=\"{}\" height=\"{height}\" viewBox=\"0 0 {} {height}\">",
        label_w + bar_w + 90,
        label_w + bar_w + 90
    );
    for (i, (label, v)) in items.iter().enumerate() {
        let y = i as i64 * row_h;
        let w = (*v as f64 / max as f64 * bar_w as f64).round() as i64;
        let _ = write!(
            s,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text><rect x=\"{label_w}\" y=\"{}\" width=\"{w}\" height=\"{}\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\">{v}</text>",
            label_w - 6,
            y + 15,
            escape(label),
            y + 3,
            row_h - 6,
            label_w + w + 6,
            y + 15
        );
    }
    s.push_str("</svg>");
    s
}

/// `n` with the noun in the number it takes ("1 organisation", "2 organisations").
fn counted(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// The page for one sweep.
pub fn render(d: &Ingested, e: &Evaluation, counts: &[OrgCounts], policy: &Policy) -> String {
    let totals = verdict_totals(counts);
    let cards: i64 = totals.iter().sum();
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>SITHS sweep {date}</title><style>{STYLE}</style></head><body>\
<h1>SITHS upgrade sweep as of {date}</h1><p class=\"muted\">siths-sweep {version}; {cards} of {orgs}; deadline {deadline}.</p>",
        date = format_date(e.dates.as_of),
        version = env!("CARGO_PKG_VERSION"),
        cards = counted(cards, "card", "cards"),
        orgs = counted(counts.len() as i64, "organisation", "organisations"),
        deadline = format_date(policy.deadline),
    );

    h.push_str("<h2>Cards per verdict</h2>");
    let verdict_items: Vec<(String, i64)> =
        Verdict::ALL.iter().map(|v| (v.code().to_string(), totals[*v as usize])).collect();
    h.push_str(&bars(&verdict_items, "#3b6ea5"));

    h.push_str("<h2>Upgrade progress across organisations</h2><p class=\"muted\">(upgraded + violation) / cards in scope, organisations with cards in scope.</p>");
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
    h.push_str(&bars(&hist, "#5a9e6f"));
    let _ = write!(h, "<p class=\"muted\">{none} organisations have no card in scope.</p>");

    let mut order: Vec<usize> = (0..counts.len()).collect();
    for (title, verdict) in [("most revocation candidates", Verdict::Revoke), ("most blocked cards", Verdict::Blocked)]
    {
        order.sort_by(|&a, &b| {
            counts[b].verdict(verdict).cmp(&counts[a].verdict(verdict)).then_with(|| e.orgs.ids[a].cmp(&e.orgs.ids[b]))
        });
        let _ = write!(
            h,
            "<h2>The 20 organisations with {title}</h2><table><tr><th>org_id</th><th>name</th><th class=\"n\">{}</th><th class=\"n\">cards</th></tr>",
            verdict.code().to_lowercase()
        );
        for &o in order.iter().take(20).filter(|&&o| counts[o].verdict(verdict) > 0) {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
                escape(&e.orgs.ids[o]),
                escape(e.orgs.names[o].as_deref().unwrap_or("")),
                counts[o].verdict(verdict),
                counts[o].cards_total
            );
        }
        h.push_str("</table>");
    }

    h.push_str("<h2>Findings</h2><table><tr><th>finding</th><th class=\"n\">cards</th></tr>");
    for f in Finding::ALL {
        let n: i64 = counts.iter().map(|c| c.findings[f as usize]).sum();
        let _ = write!(h, "<tr><td>{}</td><td class=\"n\">{n}</td></tr>", f.code());
    }
    h.push_str("</table>");

    h.push_str("<h2>Inputs</h2><table><tr><th>table</th><th>file</th><th class=\"n\">rows</th><th class=\"n\">quarantined</th></tr>");
    for f in &d.files {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td class=\"n\">{}</td><td class=\"n\">{}</td></tr>",
            f.table,
            escape(&f.rel),
            f.rows,
            f.quarantined
        );
    }
    h.push_str("</table>");
    let mut by_error: std::collections::BTreeMap<&str, u64> = Default::default();
    for q in &d.quarantine {
        *by_error.entry(q.error.code()).or_default() += 1;
    }
    let _ = write!(h, "<p>Quarantined rows: {}", d.quarantine.len());
    for (code, n) in &by_error {
        let _ = write!(h, "; {code} {n}");
    }
    h.push_str(" (details in quarantine.parquet).</p>");

    h.push_str("<h2>Policy</h2><table>");
    if let Some(p) = policy.to_json().as_object() {
        for (k, v) in p {
            let _ = write!(h, "<tr><td>{}</td><td>{}</td></tr>", escape(k), escape(&v.to_string()));
        }
    }
    h.push_str("</table></body></html>\n");
    h
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
