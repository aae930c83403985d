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
use maud::{Markup, html};
use rayon::prelude::*;

use super::files::{self, Written, cell_text, csv_field};
use super::html;
use super::names::safe_stem;
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
    let title = match org.map(|o| text(o, "org_name")).filter(|n| !n.is_empty()) {
        Some(name) => format!("{name} ({org_id})"),
        None => org_id.to_string(),
    };
    let body = html! {
        h1 { "Uppgradering till SITHS e-id: " (title) }
        p.muted {
            "Underlag från Svensk e-identitet per " (format_date(as_of))
            ". Sista dag för uppgradering: före " (format_date(policy.deadline)) "."
        }
        h2 { "Organisationens status" }
        @match org {
            None => p.bad { "Organisationen finns inte i vårt kundregister. Kontakta Svensk e-identitet." },
            Some(o) => (status(o, policy)),
        }
        h2 { "ID-administratörer" }
        (administrators(admins, policy))
        h2 { "Kort som kräver åtgärd" }
        (cards_by_action(cards, policy))
        p.muted {
            "Frågor om underlaget besvaras av Svensk e-identitet. Kort som uppgraderas utan att vara \
    korrekt utlämnade spärras utan förvarning."
        }
    };
    html::page("sv", &format!("SITHS-uppgradering: {title}"), &body)
}

/// The organisation's clearance, counts and cards per verdict.
fn status(o: Row<'_>, policy: &Policy) -> Markup {
    let cleared = text(o, "cleared") == "true";
    let verdicts = Verdict::ALL.iter().map(|v| (v, int(o, &v.code().to_lowercase()))).filter(|(_, n)| *n > 0);
    html! {
        p class=(if cleared { "ok" } else { "bad" }) {
            strong {
                @if cleared {
                    "Organisationen uppfyller kraven för uppgradering sedan " (local_date(o, "cleared_at", policy)) "."
                } @else {
                    "Organisationen uppfyller ännu inte kraven för uppgradering: det behövs "
                    (policy.min_trained_admins) " ID-administratörer som genomgått utbildningen."
                }
            }
        }
        table {
            tr { th { "ID-administratörer anmälda" } td.n { (int(o, "admins_listed")) } }
            tr {
                th { "ID-administratörer som uppfyller kraven" }
                td.n { (int(o, "admins_qualified")) " (minst " (policy.min_trained_admins) " krävs)" }
            }
            tr { th { "Kort totalt" } td.n { (int(o, "cards_total")) } }
            tr { th { "Andel uppgraderade kort" } td.n { (progress(o)) } }
            tr { th { "Bedömning" } td { (compliance_sv(&text(o, "compliance"))) } }
        }
        h3 { "Kort per bedömning" }
        table {
            tr { th { "Bedömning" } th.n { "Kort" } }
            @for (v, n) in verdicts { tr { td { (verdict_sv(v.code())) } td.n { (n) } } }
        }
    }
}

/// The organisation's ID administrators and their problems.
fn administrators(admins: &[Row<'_>], policy: &Policy) -> Markup {
    if admins.is_empty() {
        return html! { p { "Inga ID-administratörer är anmälda." } };
    }
    html! {
        table {
            tr {
                th { "Namn" } th { "Personnummer" } th { "E-post" } th { "Anmäld" } th { "Utbildad" }
                th { "Uppfyller kraven" } th { "Problem" }
            }
            @for &a in admins {
                @let problems: Vec<String> = list(a, "problems").iter().map(|p| problem_sv(p).to_string()).collect();
                @let qualified = text(a, "qualified") == "true";
                tr {
                    td { (text(a, "name")) }
                    td.d { (text(a, "personnummer_masked")) }
                    td { (text(a, "email")) }
                    td.d { (local_date(a, "registered_at", policy)) }
                    td.d { (local_date(a, "trained_at", policy)) }
                    td class=(if qualified { "ok" } else { "bad" }) { (if qualified { "ja" } else { "nej" }) }
                    td { @if problems.is_empty() { "inga" } @else { (problems.join("; ")) } }
                }
            }
        }
    }
}

/// The cards that need something done, grouped by action, most urgent first.
fn cards_by_action(cards: &[Row<'_>], policy: &Policy) -> Markup {
    // Grouped in one pass, shown in the order of URGENCY.
    let mut groups: Vec<Vec<Row<'_>>> = vec![Vec::new(); URGENCY.len()];
    for &c in cards {
        let action = str_at(c, "action");
        let rank = URGENCY.iter().position(|a| a.code() == action).expect("every action but none is listed");
        groups[rank].push(c);
    }
    html! {
        @if cards.is_empty() { p.ok { "Inga kort kräver åtgärd." } }
        @for (action, group) in URGENCY.iter().zip(groups).filter(|(_, g)| !g.is_empty()) {
            h3 { (action_sv(action.code())) " " span.muted { "(" (group.len()) " kort)" } }
            table {
                tr {
                    th { "Kort" } th { "Vårdenhet" } th { "Korttyp" } th { "Status" } th { "Bedömning" }
                    th { "Orsak" } th { "Utlämnas senast" }
                }
                @for c in group {
                    @let findings: Vec<String> = list(c, "findings").iter().map(|f| finding_sv(f, policy).into_owned()).collect();
                    tr {
                        td { (str_at(c, "card_id")) }
                        td { (str_at(c, "care_unit")) }
                        td { (str_at(c, "card_type")) }
                        td { (status_sv(str_at(c, "status"))) }
                        td { (verdict_sv(str_at(c, "verdict"))) }
                        td { (findings.join("; ")) }
                        td.d { (text(c, "issuance_due")) }
                    }
                }
            }
        }
    }
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
