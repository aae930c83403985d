//! ID administrators and organisation clearance (SPEC "Organisation: cleared to
//! upgrade"): "There must be two ID administrators who have completed our training",
//! whose details were sent in before the course.

use std::collections::HashMap;

use super::card::SweepDates;
use crate::personnummer::Personnummer;
use crate::vocabulary::vocabulary;

vocabulary! {
    /// Problems of one `id_admins` row, in `admin_review.problems` order, with their
    /// Swedish text for the organisation reports.
    pub enum AdminProblem: &'static str {
        MissingName = "MISSING_NAME" => "namn saknas",
        MissingPersonnummer = "MISSING_PERSONNUMMER" => "personnummer saknas",
        InvalidPersonnummer = "INVALID_PERSONNUMMER" => "ogiltigt personnummer",
        MissingEmail = "MISSING_EMAIL" => "e-postadress saknas",
        InvalidEmail = "INVALID_EMAIL" => "ogiltig e-postadress",
        MissingCareProvider = "MISSING_CARE_PROVIDER" => "vårdgivare saknas",
        MissingCareUnit = "MISSING_CARE_UNIT" => "vårdenhet saknas",
        NotRegistered = "NOT_REGISTERED" => "uppgifterna är inte inskickade",
        NotTrained = "NOT_TRAINED" => "utbildningen är inte genomförd",
        TrainedBeforeRegistered = "TRAINED_BEFORE_REGISTERED" => "utbildad innan uppgifterna skickades in",
        TrainedAfterAsOf = "TRAINED_AFTER_AS_OF" => "utbildningsdatum efter rapportdagen",
        DuplicatePerson = "DUPLICATE_PERSON" => "samma person finns redan som ID-administratör",
        UnknownOrg = "UNKNOWN_ORG" => "okänd organisation",
    }
}

// The mask has a bit for every problem.
const _: () = assert!(AdminProblem::COUNT <= u16::BITS as usize);

/// A set of admin problems as a bit mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AdminProblems(pub u16);

impl AdminProblems {
    pub fn insert(&mut self, p: AdminProblem) {
        self.0 |= 1 << p as u8;
    }

    pub fn contains(self, p: AdminProblem) -> bool {
        self.0 & (1 << p as u8) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = AdminProblem> {
        AdminProblem::ALL.into_iter().filter(move |p| self.contains(*p))
    }

    /// Problems that stop the row from qualifying: all but UNKNOWN_ORG ("such an
    /// organisation's administrators can clear it").
    fn disqualifying(self) -> bool {
        self.0 & !(1 << AdminProblem::UnknownOrg as u8) != 0
    }
}

/// One `id_admins` row as plain values (text already null when empty).
#[derive(Clone, Copy, Debug, Default)]
pub struct AdminFacts<'a> {
    pub name: Option<&'a str>,
    pub personnummer: Option<&'a str>,
    pub email: Option<&'a str>,
    pub care_provider: Option<&'a str>,
    pub care_unit: Option<&'a str>,
    pub registered_at: Option<i64>,
    pub trained_at: Option<i64>,
    pub org_known: bool,
}

/// The outcome for one row, before and after duplicates within its organisation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminVerdict {
    pub problems: AdminProblems,
    pub qualified: bool,
    /// `YYYYMMDD-****` when the value has an accepted shape.
    pub masked: Option<String>,
    /// The 12-digit identity of a valid personnummer.
    person: Option<u64>,
}

fn blank(v: Option<&str>) -> bool {
    v.is_none_or(|s| s.trim().is_empty())
}

/// "One `@`, non-empty local part, a dot in the domain, no white space."
pub fn plausible_email(email: &str) -> bool {
    let e = email.trim();
    let Some((local, domain)) = e.split_once('@') else { return false };
    !local.is_empty() && !domain.contains('@') && domain.contains('.') && !e.chars().any(char::is_whitespace)
}

/// Checks one row on its own (everything but DUPLICATE_PERSON).
pub fn check_admin(a: &AdminFacts<'_>, dates: &SweepDates) -> AdminVerdict {
    let mut p = AdminProblems::default();
    let pnr = a.personnummer.filter(|s| !s.trim().is_empty()).map(|s| Personnummer::parse(s, dates.as_of));
    let mut person = None;
    if blank(a.name) {
        p.insert(AdminProblem::MissingName);
    }
    match pnr {
        None => p.insert(AdminProblem::MissingPersonnummer),
        Some(Some(n)) if n.is_valid(dates.as_of) => person = Some(n.key()),
        Some(_) => p.insert(AdminProblem::InvalidPersonnummer),
    }
    match a.email.filter(|s| !s.trim().is_empty()) {
        None => p.insert(AdminProblem::MissingEmail),
        Some(e) if !plausible_email(e) => p.insert(AdminProblem::InvalidEmail),
        Some(_) => {}
    }
    if blank(a.care_provider) {
        p.insert(AdminProblem::MissingCareProvider);
    }
    if blank(a.care_unit) {
        p.insert(AdminProblem::MissingCareUnit);
    }
    if a.registered_at.is_none() {
        p.insert(AdminProblem::NotRegistered);
    }
    match a.trained_at {
        None => p.insert(AdminProblem::NotTrained),
        Some(t) => {
            // "The person responsible must e-mail the details before they take the course."
            if a.registered_at.is_some_and(|r| t < r) {
                p.insert(AdminProblem::TrainedBeforeRegistered);
            }
            if t >= dates.after_as_of {
                p.insert(AdminProblem::TrainedAfterAsOf);
            }
        }
    }
    if !a.org_known {
        p.insert(AdminProblem::UnknownOrg);
    }
    AdminVerdict { qualified: !p.disqualifying(), problems: p, masked: pnr.flatten().map(|n| n.masked()), person }
}

/// An organisation's clearance from its administrators' rows in input order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OrgClearance {
    /// Distinct persons with at least one qualifying row.
    pub admins_qualified: i32,
    /// The `min_trained_admins`-th earliest qualification time, if there are enough.
    pub cleared_at: Option<i64>,
}

/// Marks later rows of an already qualified person as DUPLICATE_PERSON (and not
/// qualified) and computes the organisation's clearance. `rows` are one organisation's
/// rows in input order, each with its own check and trained_at.
pub fn clear_org(rows: &mut [(AdminVerdict, Option<i64>)], min_trained_admins: u32) -> OrgClearance {
    // Person → earliest qualifying trained_at.
    let mut qualified_at: HashMap<u64, i64> = HashMap::new();
    for (v, trained_at) in rows.iter_mut() {
        let Some(person) = v.person else { continue };
        if qualified_at.contains_key(&person) {
            v.problems.insert(AdminProblem::DuplicatePerson);
        }
        if v.qualified {
            let t = trained_at.expect("a qualified row has trained_at");
            qualified_at.entry(person).and_modify(|e| *e = (*e).min(t)).or_insert(t);
            v.qualified = !v.problems.contains(AdminProblem::DuplicatePerson);
        }
    }
    let mut times: Vec<i64> = qualified_at.into_values().collect();
    times.sort_unstable();
    OrgClearance {
        admins_qualified: times.len() as i32,
        cleared_at: times.get(min_trained_admins as usize - 1).copied(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rules::Policy;
    use crate::time::{TextTime, parse_date, parse_text_time};

    fn at(text: &str) -> i64 {
        match parse_text_time(text).unwrap() {
            TextTime::Instant(i) => i,
            TextTime::Local(l) => Policy::default().zone.local_to_instant(l),
        }
    }

    fn dates() -> SweepDates {
        SweepDates::new(parse_date("2021-11-15").unwrap(), &Policy::default())
    }

    fn good(pnr: &'static str, trained: &'static str) -> AdminFacts<'static> {
        AdminFacts {
            name: Some("Anna Admin"),
            personnummer: Some(pnr),
            email: Some("anna@region.se"),
            care_provider: Some("Region Test"),
            care_unit: Some("Vårdcentralen"),
            registered_at: Some(at("2021-02-01")),
            trained_at: Some(at(trained)),
            org_known: true,
        }
    }

    fn codes(v: &AdminVerdict) -> Vec<&'static str> {
        v.problems.iter().map(AdminProblem::code).collect()
    }

    #[test]
    fn a_complete_row_qualifies() {
        let v = check_admin(&good("198507099805", "2021-03-01"), &dates());
        assert!(v.qualified, "{:?}", codes(&v));
        assert_eq!(v.masked.as_deref(), Some("19850709-****"));
    }

    #[test]
    fn each_problem() {
        let d = dates();
        let case = |f: AdminFacts<'static>| codes(&check_admin(&f, &d));
        let g = good("198507099805", "2021-03-01");
        assert_eq!(case(AdminFacts { name: Some(" \u{3000}"), ..g }), ["MISSING_NAME"]);
        assert_eq!(case(AdminFacts { personnummer: None, ..g }), ["MISSING_PERSONNUMMER"]);
        assert_eq!(case(AdminFacts { personnummer: Some("  "), ..g }), ["MISSING_PERSONNUMMER"]);
        assert_eq!(case(AdminFacts { personnummer: Some("198507099806"), ..g }), ["INVALID_PERSONNUMMER"]);
        assert_eq!(case(AdminFacts { personnummer: Some("not a number"), ..g }), ["INVALID_PERSONNUMMER"]);
        assert_eq!(case(AdminFacts { email: None, ..g }), ["MISSING_EMAIL"]);
        for bad in ["anna.region.se", "@region.se", "anna@region", "anna@@region.se", "an na@region.se", "a@b@c.se"] {
            assert_eq!(case(AdminFacts { email: Some(bad), ..g }), ["INVALID_EMAIL"], "{bad}");
        }
        assert_eq!(case(AdminFacts { email: Some(" anna@region.se "), ..g }), Vec::<&str>::new());
        assert_eq!(case(AdminFacts { care_provider: None, ..g }), ["MISSING_CARE_PROVIDER"]);
        assert_eq!(case(AdminFacts { care_unit: Some(""), ..g }), ["MISSING_CARE_UNIT"]);
        assert_eq!(case(AdminFacts { registered_at: None, ..g }), ["NOT_REGISTERED"]);
        assert_eq!(case(AdminFacts { trained_at: None, ..g }), ["NOT_TRAINED"]);
        assert_eq!(case(AdminFacts { trained_at: Some(at("2021-01-31T23:59")), ..g }), ["TRAINED_BEFORE_REGISTERED"]);
        // A date-only registration is 00:00 local: training that day counts.
        assert_eq!(case(AdminFacts { trained_at: Some(at("2021-02-01T00:00")), ..g }), Vec::<&str>::new());
        assert_eq!(case(AdminFacts { trained_at: Some(at("2021-11-15T23:59")), ..g }), Vec::<&str>::new());
        assert_eq!(case(AdminFacts { trained_at: Some(at("2021-11-15T23:00Z")), ..g }), ["TRAINED_AFTER_AS_OF"]);
        let v = check_admin(&AdminFacts { org_known: false, ..g }, &d);
        assert_eq!(codes(&v), ["UNKNOWN_ORG"]);
        assert!(v.qualified);
    }

    #[test]
    fn masking_shows_shape_even_when_invalid() {
        let d = dates();
        let m =
            |p: &'static str| check_admin(&AdminFacts { personnummer: Some(p), ..good(p, "2021-03-01") }, &d).masked;
        assert_eq!(m("851309-9805").as_deref(), Some("19851309-****"));
        assert_eq!(m("120101+1234").as_deref(), Some("19120101-****"));
        assert_eq!(m("850769-9802").as_deref(), Some("19850769-****"));
        assert_eq!(m("8507-099805"), None);
    }

    #[test]
    fn clearance_counts_distinct_persons_across_forms() {
        let d = dates();
        // The same person written three ways, then a second person.
        let facts = [
            good("198507099805", "2021-05-01"),
            good("850709-9805", "2021-04-01"),
            good("8507099805", "2021-06-01"),
            good("19121212+1212", "2021-09-01"),
        ];
        let fresh = || facts.iter().map(|f| (check_admin(f, &d), f.trained_at)).collect::<Vec<_>>();
        let mut rows = fresh();
        let c = clear_org(&mut rows, 2);
        let q: Vec<_> = rows.iter().map(|(v, _)| v.qualified).collect();
        assert_eq!(q, [true, false, false, true]);
        assert_eq!(codes(&rows[1].0), ["DUPLICATE_PERSON"]);
        assert_eq!(c.admins_qualified, 2);
        assert_eq!(c.cleared_at, Some(at("2021-09-01")));
        // The person's time is their earliest qualifying trained_at, even on a later row.
        let c1 = clear_org(&mut fresh(), 1);
        assert_eq!(c1.cleared_at, Some(at("2021-04-01")));
    }

    #[test]
    fn a_failed_earlier_row_does_not_make_a_duplicate() {
        let d = dates();
        let mut rows: Vec<_> = [
            AdminFacts { email: Some("bad"), ..good("198507099805", "2021-05-01") },
            good("850709-9805", "2021-06-01"),
            good("19121212+1212", "2021-03-01"),
        ]
        .iter()
        .map(|f| (check_admin(f, &d), f.trained_at))
        .collect();
        let c = clear_org(&mut rows, 2);
        assert!(!rows[0].0.qualified);
        assert!(rows[1].0.qualified, "{:?}", codes(&rows[1].0));
        assert_eq!(c.cleared_at, Some(at("2021-06-01")));
        // One person is not enough for two.
        let mut one = rows[..2].to_vec();
        assert_eq!(clear_org(&mut one, 2).cleared_at, None);
    }
}
