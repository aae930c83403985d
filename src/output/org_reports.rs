//! `run --org-reports`: one self-contained HTML page per organisation, in Swedish, that
//! the issuer can send to that customer: its clearance, its ID administrators' problems
//! (personnummer masked) and its cards that need action, grouped by action.
//!
//! The pages are built from the published tables themselves (`org_compliance`,
//! `admin_review`, `card_decisions` in the staging folder), so a page can never say
//! something the Parquet outputs do not. File names come from [`safe_stem`]: an org_id
//! is data, never a path. `org_reports/index.csv` maps each org_id to its file.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, RecordBatch};
use rayon::prelude::*;

use super::files::{self, Written, cell_text, csv_field};
use super::names::safe_stem;
use super::summary::escape;
use crate::error::{Error, Result};
use crate::rules::admin::AdminProblem;
use crate::rules::{Action, Compliance, Finding, Policy, Status, Swedish, Verdict};
use crate::schema::{self, OutputTable};
use crate::time::format_date;

/// The folder inside a sweep's output.
pub const DIR: &str = "org_reports";

fn read(dir: &Path, t: &OutputTable) -> Result<Vec<RecordBatch>> {
    files::read_output(&dir.join(t.parquet_file()))?.1.collect()
}

/// One row of a table: the batch and the row in it.
type Row<'a> = (&'a RecordBatch, usize);

fn text(row: Row<'_>, column: &str) -> String {
    let (b, r) = row;
    cell_text(b.column_by_name(column).expect("the output has its schema's columns").as_ref(), r)
}

/// A text column's value without copying it ("" for null).
fn str_at<'a>(row: Row<'a>, column: &str) -> &'a str {
    let (b, r) = row;
    let c = b.column_by_name(column).expect("the output has its schema's columns").as_string::<i32>();
    if c.is_null(r) { "" } else { c.value(r) }
}

fn list(row: Row<'_>, column: &str) -> Vec<String> {
    let t = text(row, column);
    if t.is_empty() { Vec::new() } else { t.split(';').map(str::to_string).collect() }
}

fn int(row: Row<'_>, column: &str) -> i64 {
    let (b, r) = row;
    let c = b.column_by_name(column).expect("the output has its schema's columns");
    match c.data_type() {
        arrow_schema::DataType::Int32 => i64::from(c.as_primitive::<Int32Type>().value(r)),
        _ => c.as_primitive::<Int64Type>().value(r),
    }
}

/// A timestamp column as the local date in the policy's zone ("" for null).
fn local_date(row: Row<'_>, column: &str, policy: &Policy) -> String {
    let (b, r) = row;
    let c = b.column_by_name(column).expect("the output has its schema's columns");
    if c.is_null(r) {
        return String::new();
    }
    format_date(policy.zone.local_date(c.as_primitive::<TimestampMicrosecondType>().value(r)))
}

/// Groups the rows of `batches` by their `org_id`.
fn by_org<'a>(batches: &'a [RecordBatch], keep: impl Fn(Row<'a>) -> bool) -> BTreeMap<String, Vec<Row<'a>>> {
    let mut groups: BTreeMap<String, Vec<Row<'a>>> = BTreeMap::new();
    for b in batches {
        let ids = b.column_by_name("org_id").expect("every table has org_id").as_string::<i32>();
        for r in 0..b.num_rows() {
            if keep((b, r)) {
                groups.entry(ids.value(r).to_string()).or_default().push((b, r));
            }
        }
    }
    groups
}

/// A code of a vocabulary in the Swedish its declaration gives; an unknown code (an
/// output of another version) as it is.
fn swedish<T>(code: &str, from_code: fn(&str) -> Option<T>, facts: fn(T) -> &'static str) -> &str {
    from_code(code).map_or(code, facts)
}

fn verdict_sv(code: &str) -> &str {
    swedish(code, Verdict::from_code, Verdict::facts)
}

fn action_sv(code: &str) -> &str {
    swedish(code, Action::from_code, Action::facts)
}

/// A small count in words, as the notice writes them ("två", "tre", "sex"); `neuter`
/// picks "ett" over "en" for one. Larger counts in digits.
fn count_sv(n: u32, neuter: bool) -> String {
    const WORDS: [&str; 11] = ["två", "tre", "fyra", "fem", "sex", "sju", "åtta", "nio", "tio", "elva", "tolv"];
    match n {
        1 if neuter => "ett".to_string(),
        1 => "en".to_string(),
        2..=12 => WORDS[n as usize - 2].to_string(),
        _ => n.to_string(),
    }
}

/// A finding in Swedish, with the policy's thresholds (a policy file may change them).
fn finding_sv<'a>(code: &'a str, policy: &Policy) -> Cow<'a, str> {
    match Finding::from_code(code).map(|f| f.facts().swedish) {
        Some(Swedish::Text(text)) => Cow::Borrowed(text),
        Some(Swedish::Counted { threshold, one, many, neuter }) => {
            let n = threshold.of(policy);
            Cow::Owned((if n == 1 { one } else { many }).replace("{n}", &count_sv(n, neuter)))
        }
        None => Cow::Borrowed(code),
    }
}

fn problem_sv(code: &str) -> &str {
    swedish(code, AdminProblem::from_code, AdminProblem::facts)
}

/// Card statuses as SITHS Admin shows them in Swedish ("mottaget", "skickat").
fn status_sv(code: &str) -> &str {
    swedish(code, Status::from_code, Status::facts)
}

fn compliance_sv(code: &str) -> &str {
    swedish(code, Compliance::from_code, Compliance::facts)
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:62em;color:#222;padding:0 1em}\
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
h3{font-size:1em;margin:1.4em 0 .3em}table{border-collapse:collapse;margin:.4em 0}\
td,th{padding:.2em .6em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.d{white-space:nowrap}.muted{color:#666}.ok{color:#1a7f37}.bad{color:#b42318}\
@media print{body{margin:0;max-width:none}h2,h3{break-after:avoid}tr{break-inside:avoid}}";

/// The actions a customer's page lists, most urgent first (`none` is not listed).
const URGENCY: [Action; 9] = [
    Action::Revoke,
    Action::Review,
    Action::OrderNewCard,
    Action::HandOutCard,
    Action::TrainIdAdmins,
    Action::OrderNewCodes,
    Action::RemoveCertsThenUpgrade,
    Action::Upgrade,
    Action::ReorderThirdPartyCerts,
];

/// The page of one organisation.
fn page(
    org_id: &str,
    org: Option<Row<'_>>,
    admins: &[Row<'_>],
    cards: &[Row<'_>],
    as_of: i32,
    policy: &Policy,
) -> String {
    let name = org.map(|o| text(o, "org_name")).filter(|n| !n.is_empty());
    let title = match &name {
        Some(n) => format!("{} ({})", escape(n), escape(org_id)),
        None => escape(org_id),
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html><html lang=\"sv\"><head><meta charset=\"utf-8\"><title>SITHS-uppgradering: {title}</title>\
<style>{STYLE}</style></head><body><h1>Uppgradering till SITHS e-id: {title}</h1>\
<p class=\"muted\">Underlag från Svensk e-identitet per {as_of}. Sista dag för uppgradering: före {deadline}.</p>",
        as_of = format_date(as_of),
        deadline = format_date(policy.deadline),
    );

    h.push_str("<h2>Organisationens status</h2>");
    match org {
        None => h.push_str(
            "<p class=\"bad\">Organisationen finns inte i vårt kundregister. Kontakta Svensk e-identitet.</p>",
        ),
        Some(o) => {
            let cleared = text(o, "cleared") == "true";
            let cleared_at = local_date(o, "cleared_at", policy);
            let _ = write!(
                h,
                "<p class=\"{}\"><strong>{}</strong></p><table>\
<tr><th>ID-administratörer anmälda</th><td class=\"n\">{}</td></tr>\
<tr><th>ID-administratörer som uppfyller kraven</th><td class=\"n\">{} (minst {} krävs)</td></tr>\
<tr><th>Kort totalt</th><td class=\"n\">{}</td></tr>\
<tr><th>Andel uppgraderade kort</th><td class=\"n\">{}</td></tr>\
<tr><th>Bedömning</th><td>{}</td></tr></table>",
                if cleared { "ok" } else { "bad" },
                if cleared {
                    format!("Organisationen uppfyller kraven för uppgradering sedan {cleared_at}.")
                } else {
                    format!(
                        "Organisationen uppfyller ännu inte kraven för uppgradering: det behövs {} ID-administratörer \
som genomgått utbildningen.",
                        policy.min_trained_admins
                    )
                },
                int(o, "admins_listed"),
                int(o, "admins_qualified"),
                policy.min_trained_admins,
                int(o, "cards_total"),
                progress(o),
                escape(compliance_sv(&text(o, "compliance"))),
            );
            h.push_str("<h3>Kort per bedömning</h3><table><tr><th>Bedömning</th><th class=\"n\">Kort</th></tr>");
            for v in Verdict::ALL {
                let n = int(o, &v.code().to_lowercase());
                if n > 0 {
                    let _ = write!(h, "<tr><td>{}</td><td class=\"n\">{n}</td></tr>", verdict_sv(v.code()));
                }
            }
            h.push_str("</table>");
        }
    }

    h.push_str("<h2>ID-administratörer</h2>");
    if admins.is_empty() {
        h.push_str("<p>Inga ID-administratörer är anmälda.</p>");
    } else {
        h.push_str(
            "<table><tr><th>Namn</th><th>Personnummer</th><th>E-post</th><th>Anmäld</th><th>Utbildad</th>\
<th>Uppfyller kraven</th><th>Problem</th></tr>",
        );
        for &a in admins {
            let problems: Vec<String> = list(a, "problems").iter().map(|p| escape(problem_sv(p))).collect();
            let qualified = text(a, "qualified") == "true";
            let _ = write!(
                h,
                "<tr><td>{}</td><td class=\"d\">{}</td><td>{}</td><td class=\"d\">{}</td><td class=\"d\">{}</td>\
<td class=\"{}\">{}</td><td>{}</td></tr>",
                escape(&text(a, "name")),
                escape(&text(a, "personnummer_masked")),
                escape(&text(a, "email")),
                local_date(a, "registered_at", policy),
                local_date(a, "trained_at", policy),
                if qualified { "ok" } else { "bad" },
                if qualified { "ja" } else { "nej" },
                if problems.is_empty() { "inga".to_string() } else { problems.join("; ") },
            );
        }
        h.push_str("</table>");
    }

    h.push_str("<h2>Kort som kräver åtgärd</h2>");
    if cards.is_empty() {
        h.push_str("<p class=\"ok\">Inga kort kräver åtgärd.</p>");
    }
    // Grouped in one pass, shown most urgent first.
    let mut groups: Vec<Vec<Row<'_>>> = vec![Vec::new(); URGENCY.len()];
    for &c in cards {
        let action = str_at(c, "action");
        let rank = URGENCY.iter().position(|a| a.code() == action).expect("every action but none is listed");
        groups[rank].push(c);
    }
    for (action, group) in URGENCY.iter().zip(groups) {
        if group.is_empty() {
            continue;
        }
        let _ = write!(
            h,
            "<h3>{} <span class=\"muted\">({} kort)</span></h3><table><tr><th>Kort</th><th>Vårdenhet</th><th>Korttyp</th>\
<th>Status</th><th>Bedömning</th><th>Orsak</th><th>Utlämnas senast</th></tr>",
            action_sv(action.code()),
            group.len()
        );
        for c in group {
            let findings: Vec<String> = list(c, "findings").iter().map(|f| escape(&finding_sv(f, policy))).collect();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"d\">{}</td></tr>",
                escape(str_at(c, "card_id")),
                escape(str_at(c, "care_unit")),
                escape(str_at(c, "card_type")),
                escape(status_sv(str_at(c, "status"))),
                verdict_sv(str_at(c, "verdict")),
                findings.join("; "),
                text(c, "issuance_due"),
            );
        }
        h.push_str("</table>");
    }
    h.push_str(
        "<p class=\"muted\">Frågor om underlaget besvaras av Svensk e-identitet. Kort som uppgraderas utan att vara \
korrekt utlämnade spärras utan förvarning.</p></body></html>\n",
    );
    h
}

fn progress(o: Row<'_>) -> String {
    let (b, r) = o;
    let c = b.column_by_name("upgrade_progress").expect("org_compliance has upgrade_progress");
    if c.is_null(r) {
        return "–".to_string();
    }
    format!("{:.1} %", c.as_primitive::<Float64Type>().value(r) * 100.0).replace('.', ",")
}

/// Writes `org_reports/<org>.html` for every organisation named in the staged tables,
/// and `org_reports/index.csv`. Returns what was written, for the manifest.
pub fn write(dir: &Path, as_of: i32, policy: &Policy) -> Result<Vec<Written>> {
    let orgs = read(dir, &schema::ORG_COMPLIANCE)?;
    let admins = read(dir, &schema::ADMIN_REVIEW)?;
    let cards = read(dir, &schema::CARD_DECISIONS)?;
    let org_rows = by_org(&orgs, |_| true);
    let admin_rows = by_org(&admins, |_| true);
    let card_rows = by_org(&cards, |c| str_at(c, "action") != Action::None.code());
    // Every organisation any table names: one from admin_review alone still gets a page.
    let mut ids: Vec<&String> = org_rows.keys().chain(admin_rows.keys()).chain(card_rows.keys()).collect();
    ids.sort();
    ids.dedup();

    let out = dir.join(DIR);
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o750);
    b.create(&out).map_err(|e| Error::io(&out, e))?;

    let written: Vec<Result<(String, String, Written)>> = ids
        .par_iter()
        .map(|id| {
            let org = org_rows.get(*id).and_then(|rows| rows.first().copied());
            let html = page(
                id,
                org,
                admin_rows.get(*id).map_or(&[][..], Vec::as_slice),
                card_rows.get(*id).map_or(&[][..], Vec::as_slice),
                as_of,
                policy,
            );
            let file = format!("{}.html", safe_stem(id));
            let mut w = files::write_text(&out, &file, &html, 1)?;
            w.name = format!("{DIR}/{file}");
            Ok(((*id).clone(), org.map(|o| text(o, "org_name")).unwrap_or_default(), w))
        })
        .collect();
    let mut index = String::from("org_id,org_name,file\n");
    let mut all = Vec::with_capacity(written.len() + 1);
    for w in written {
        let (id, name, w) = w?;
        let _ = writeln!(
            index,
            "{},{},{}",
            csv_field(&id, true),
            csv_field(&name, true),
            w.name.trim_start_matches(&format!("{DIR}/"))
        );
        all.push(w);
    }
    let mut w = files::write_text(&out, "index.csv", &index, all.len() as u64)?;
    w.name = format!("{DIR}/index.csv");
    all.push(w);
    Ok(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thresholds in the Swedish texts are the policy's, not the notice's defaults.
    #[test]
    fn findings_in_swedish_follow_the_policy() {
        let text = |f: Finding, p: &Policy| finding_sv(f.code(), p).into_owned();
        let default = Policy::default();
        assert_eq!(text(Finding::UnissuedOver3Months, &default), "beställt men inte utlämnat inom tre månader");
        assert_eq!(text(Finding::TooManyCerts, &default), "fler än sex certifikat på kortet");
        assert_eq!(text(Finding::OrgNotCleared, &default), "organisationen saknar två utbildade ID-administratörer");
        let mut other = Policy::default();
        (other.unissued_months, other.max_certs_on_card, other.min_trained_admins) = (1, 1, 1);
        assert_eq!(text(Finding::UnissuedOver3Months, &other), "beställt men inte utlämnat inom en månad");
        assert_eq!(text(Finding::TooManyCerts, &other), "fler än ett certifikat på kortet");
        assert_eq!(text(Finding::OrgNotCleared, &other), "organisationen saknar en utbildad ID-administratör");
        let mut big = Policy::default();
        (big.unissued_months, big.max_certs_on_card) = (4, 20);
        assert_eq!(text(Finding::UnissuedOver3Months, &big), "beställt men inte utlämnat inom fyra månader");
        assert_eq!(text(Finding::TooManyCerts, &big), "fler än 20 certifikat på kortet");
        assert_eq!(finding_sv("SOMETHING_NEW", &default), "SOMETHING_NEW");
    }
}
