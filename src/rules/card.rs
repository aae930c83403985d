//! Card findings, verdict and action (SPEC "Card findings", "Verdict"): one pure
//! function over a card's plain facts, called by the hot loop for every card.

use super::{Action, CardType, Finding, Findings, Policy, Severity, Status, Verdict};
use crate::time::add_months;

/// Everything the rules need to know about one card, as plain values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardFacts {
    pub card_type: CardType,
    pub status: Status,
    /// Instants in µs since the epoch.
    pub ordered_at: i64,
    pub sent_at: Option<i64>,
    pub received_at: Option<i64>,
    pub upgraded_at: Option<i64>,
    pub has_auth_code: Option<bool>,
    pub has_sign_code: Option<bool>,
    /// The org_id is in `organisations`.
    pub org_known: bool,
    /// The organisation's `cleared_at`, if it is cleared.
    pub org_cleared_at: Option<i64>,
    pub cert_count: i32,
    pub third_party_certs: i32,
}

/// The dates of one sweep, computed once from the as-of date and the policy.
#[derive(Clone, Debug)]
pub struct SweepDates {
    /// D, the as-of local date (days since the epoch).
    pub as_of: i32,
    /// The first instant after D: "local date of x after D" is `x >= after_as_of`.
    pub after_as_of: i64,
    /// The first instant of the deadline date: "local date of x ≥ deadline" is
    /// `x >= deadline_start`.
    pub deadline_start: i64,
    /// D ≥ deadline.
    pub deadline_passed: bool,
}

impl SweepDates {
    pub fn new(as_of: i32, policy: &Policy) -> SweepDates {
        SweepDates {
            as_of,
            after_as_of: policy.zone.start_of_day(as_of + 1),
            deadline_start: policy.zone.start_of_day(policy.deadline),
            deadline_passed: as_of >= policy.deadline,
        }
    }
}

/// What the sweep decides for one card.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CardOutcome {
    pub findings: Findings,
    pub verdict: Verdict,
    pub action: Action,
    /// add_months(local date of ordered_at, unissued_months) for ordered/sent cards.
    pub issuance_due: Option<i32>,
}

/// Evaluates every finding independently, then the verdict and the action.
pub fn evaluate_card(c: &CardFacts, dates: &SweepDates, policy: &Policy) -> CardOutcome {
    let mut f = Findings::default();
    let old_card = c.card_type == CardType::Siths;
    let upgraded = c.upgraded_at.is_some();
    let issuance_due =
        c.status.is_unissued().then(|| add_months(policy.zone.local_date(c.ordered_at), policy.unissued_months));

    // "Cards with status revoked get no findings except data ones."
    if c.status != Status::Revoked {
        // "Cards that lie un-issued for more than three months will be revoked by us."
        let unissued_too_long = issuance_due.is_some_and(|due| dates.as_of > due);
        f.set(Finding::UnissuedOver3Months, unissued_too_long);
        if old_card {
            if let Some(up) = c.upgraded_at {
                // "Cards that are upgraded although they were not correctly handed out
                // will be revoked without warning." Received without a date is no
                // evidence either way (INCONSISTENT_DATES flags it).
                let before_received =
                    c.status.is_unissued() || (c.status == Status::Received && c.received_at.is_some_and(|r| r > up));
                f.set(Finding::UpgradedBeforeReceived, before_received);
                f.set(Finding::UpgradedAfterDeadline, up >= dates.deadline_start);
                f.set(Finding::UpgradedBeforeOrgCleared, c.org_cleared_at.is_none_or(|at| at > up));
            } else if dates.deadline_passed {
                f.insert(Finding::DeadlinePassed);
            } else {
                f.set(Finding::AwaitingIssuance, c.status.is_unissued() && !unissued_too_long);
                f.set(Finding::OrgNotCleared, c.org_cleared_at.is_none());
                f.set(Finding::CodesMissing, c.has_auth_code != Some(true) || c.has_sign_code != Some(true));
                f.set(Finding::TooManyCerts, c.cert_count > policy.max_certs_on_card as i32);
            }
            // "Only the certificates from your card issuer are upgraded."
            f.set(Finding::ThirdPartyReorder, c.third_party_certs > 0);
        }
    }
    f.set(Finding::InconsistentDates, inconsistent_dates(c, dates));
    f.set(Finding::UnknownOrg, !c.org_known);

    let verdict = verdict(c, f, upgraded);
    CardOutcome { findings: f, verdict, action: action(verdict, f), issuance_due }
}

fn inconsistent_dates(c: &CardFacts, dates: &SweepDates) -> bool {
    let later = [c.sent_at, c.received_at, c.upgraded_at];
    (c.status == Status::Received && c.received_at.is_none())
        || later.iter().flatten().any(|&t| t < c.ordered_at)
        || c.ordered_at >= dates.after_as_of
        || later.iter().flatten().any(|&t| t >= dates.after_as_of)
        || (c.card_type == CardType::SithsEid && c.upgraded_at.is_some())
}

/// "Verdict (first that applies)".
fn verdict(c: &CardFacts, f: Findings, upgraded: bool) -> Verdict {
    if c.status == Status::Revoked {
        Verdict::OutOfScope
    } else if f.any_of(Severity::Revoke) {
        Verdict::Revoke
    } else if c.card_type == CardType::SithsEid {
        Verdict::OutOfScope
    } else if upgraded {
        if f.any_of(Severity::Violation) { Verdict::Violation } else { Verdict::Upgraded }
    } else if f.contains(Finding::DeadlinePassed) {
        Verdict::Replace
    } else if f.any_of(Severity::Blocker) {
        Verdict::Blocked
    } else {
        Verdict::Ready
    }
}

fn action(verdict: Verdict, f: Findings) -> Action {
    match verdict {
        Verdict::Revoke => Action::Revoke,
        Verdict::Violation => Action::Review,
        Verdict::Upgraded if f.contains(Finding::ThirdPartyReorder) => Finding::ThirdPartyReorder.action(),
        Verdict::Upgraded | Verdict::OutOfScope => Action::None,
        Verdict::Replace => Finding::DeadlinePassed.action(),
        // The first blocker decides (SPEC: hand out, then train, then codes).
        Verdict::Blocked => f.first_of(Severity::Blocker).expect("a BLOCKED card has a blocker").action(),
        Verdict::Ready if f.contains(Finding::TooManyCerts) => Finding::TooManyCerts.action(),
        Verdict::Ready => Action::Upgrade,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::{TextTime, parse_date, parse_text_time};

    fn policy() -> Policy {
        Policy::default()
    }

    /// A Stockholm wall-clock time or an instant with offset, as in the CSV input.
    fn at(text: &str) -> i64 {
        match parse_text_time(text).unwrap() {
            TextTime::Instant(i) => i,
            TextTime::Local(l) => policy().zone.local_to_instant(l),
        }
    }

    fn dates(as_of: &str) -> SweepDates {
        SweepDates::new(parse_date(as_of).unwrap(), &policy())
    }

    /// A received, not upgraded old card of a cleared, known organisation with both
    /// codes and three certificates: READY as of 2021-11-15.
    fn ready_card() -> CardFacts {
        CardFacts {
            card_type: CardType::Siths,
            status: Status::Received,
            ordered_at: at("2021-01-10"),
            sent_at: Some(at("2021-01-12")),
            received_at: Some(at("2021-01-20")),
            upgraded_at: None,
            has_auth_code: Some(true),
            has_sign_code: Some(true),
            org_known: true,
            org_cleared_at: Some(at("2021-03-01T10:00")),
            cert_count: 3,
            third_party_certs: 0,
        }
    }

    fn eval(c: &CardFacts, as_of: &str) -> CardOutcome {
        evaluate_card(c, &dates(as_of), &policy())
    }

    fn codes(o: &CardOutcome) -> Vec<&'static str> {
        o.findings.iter().map(Finding::code).collect()
    }

    #[test]
    fn ready_card_is_ready() {
        let o = eval(&ready_card(), "2021-11-15");
        assert_eq!((o.verdict, o.action), (Verdict::Ready, Action::Upgrade));
        assert!(codes(&o).is_empty());
        assert_eq!(o.issuance_due, None);
    }

    /// A REVOKE verdict is decided by the card, its organisation and the dates alone,
    /// never by its certificates: what lets a sweep decide revocations before it reads
    /// a single certificate. Every combination of status, type, dates, upgrade,
    /// clearance and codes, each with certificate counts either side of the limit.
    #[test]
    fn revoke_never_depends_on_certificates() {
        let (mut combinations, mut revoking) = (0, 0);
        for status in Status::ALL {
            for card_type in CardType::ALL {
                for ordered in ["2021-01-10", "2021-08-15T12:00", "2021-11-01"] {
                    for upgraded in [None, Some("2021-01-15"), Some("2021-02-01"), Some("2021-12-10")] {
                        for cleared in [None, Some("2021-01-16"), Some("2021-03-01")] {
                            for codes in [Some(true), None] {
                                for as_of in ["2021-11-15", "2021-12-09", "2021-12-20"] {
                                    let mut c = ready_card();
                                    (c.status, c.card_type, c.ordered_at) = (status, card_type, at(ordered));
                                    (c.upgraded_at, c.org_cleared_at) = (upgraded.map(at), cleared.map(at));
                                    c.has_sign_code = codes;
                                    let revokes = |certs: i32, third_party: i32| {
                                        let mut c = c;
                                        (c.cert_count, c.third_party_certs) = (certs, third_party);
                                        eval(&c, as_of).verdict == Verdict::Revoke
                                    };
                                    let without = revokes(0, 0);
                                    revoking += usize::from(without);
                                    for (certs, third_party) in [(6, 0), (7, 0), (7, 7), (1, 1), (30, 2)] {
                                        assert_eq!(revokes(certs, third_party), without, "{c:?} as of {as_of}");
                                    }
                                    combinations += 1;
                                }
                            }
                        }
                    }
                }
            }
        }
        assert_eq!(combinations, 4 * 2 * 3 * 4 * 3 * 2 * 3);
        assert!(revoking > 100 && revoking < combinations / 2, "both verdicts are tried: {revoking} revoke");
    }

    #[test]
    fn unissued_exactly_three_months_vs_one_day_more() {
        let mut c = ready_card();
        c.status = Status::Sent;
        c.sent_at = None;
        c.received_at = None;
        c.ordered_at = at("2021-08-15T12:00");
        let o = eval(&c, "2021-11-15");
        assert_eq!(o.issuance_due, parse_date("2021-11-15"));
        assert_eq!(codes(&o), ["AWAITING_ISSUANCE"]);
        assert_eq!((o.verdict, o.action), (Verdict::Blocked, Action::HandOutCard));
        let o = eval(&c, "2021-11-16");
        assert_eq!(codes(&o), ["UNISSUED_OVER_3_MONTHS"]);
        assert_eq!((o.verdict, o.action), (Verdict::Revoke, Action::Revoke));
    }

    #[test]
    fn unissued_uses_month_end_clamp_and_local_date() {
        let mut c = ready_card();
        c.status = Status::Ordered;
        c.sent_at = None;
        c.received_at = None;
        c.ordered_at = at("2021-08-31");
        assert_eq!(eval(&c, "2021-11-30").verdict, Verdict::Blocked);
        assert_eq!(eval(&c, "2021-12-01").verdict, Verdict::Revoke);
        // 23:30Z on 30 Nov is 1 Dec in Stockholm: due 2022-03-01, not 2022-02-28.
        c.ordered_at = at("2021-11-30T23:30Z");
        assert_eq!(eval(&c, "2022-03-01").issuance_due, parse_date("2022-03-01"));
        c.ordered_at = at("2021-12-01T00:00:00+01:00");
        assert_eq!(eval(&c, "2022-03-01").issuance_due, parse_date("2022-03-01"));
        c.ordered_at = at("2021-11-30T22:59:59Z");
        assert_eq!(eval(&c, "2022-03-01").issuance_due, parse_date("2022-02-28"));
        // Leap day.
        c.ordered_at = at("2019-11-29");
        assert_eq!(eval(&c, "2020-02-29").issuance_due, parse_date("2020-02-29"));
        // New cards too: "any card_type".
        c.card_type = CardType::SithsEid;
        assert_eq!(codes(&eval(&c, "2020-03-01")), ["UNISSUED_OVER_3_MONTHS"]);
        assert_eq!(eval(&c, "2020-03-01").verdict, Verdict::Revoke);
    }

    #[test]
    fn upgraded_before_received() {
        let mut c = ready_card();
        c.upgraded_at = Some(at("2021-01-19T23:59"));
        let o = eval(&c, "2021-11-15");
        assert!(o.findings.contains(Finding::UpgradedBeforeReceived));
        assert_eq!((o.verdict, o.action), (Verdict::Revoke, Action::Revoke));
        // At the same instant it was received: not before.
        c.upgraded_at = c.received_at;
        assert_eq!(eval(&c, "2021-11-15").verdict, Verdict::Violation); // before org cleared
        c.upgraded_at = Some(at("2021-03-01T10:00"));
        assert_eq!(eval(&c, "2021-11-15").verdict, Verdict::Upgraded);
        // Sent but upgraded: revoked without warning.
        c.status = Status::Sent;
        c.received_at = None;
        assert_eq!(codes(&eval(&c, "2021-04-09")), ["UPGRADED_BEFORE_RECEIVED"]);
        assert_eq!(codes(&eval(&c, "2021-11-15")), ["UNISSUED_OVER_3_MONTHS", "UPGRADED_BEFORE_RECEIVED"]);
        // Received without a date: no evidence, but inconsistent.
        c.status = Status::Received;
        let o = eval(&c, "2021-11-15");
        assert_eq!(codes(&o), ["INCONSISTENT_DATES"]);
        assert_eq!(o.verdict, Verdict::Upgraded);
    }

    #[test]
    fn deadline_at_midnight_stockholm() {
        let mut c = ready_card();
        // 23:30Z on 8 Dec is 00:30 on 9 Dec in Stockholm: on the deadline, too late.
        c.upgraded_at = Some(at("2021-12-08T23:30Z"));
        let o = eval(&c, "2021-12-20");
        assert_eq!(codes(&o), ["UPGRADED_AFTER_DEADLINE"]);
        assert_eq!((o.verdict, o.action), (Verdict::Violation, Action::Review));
        c.upgraded_at = Some(at("2021-12-08T22:59:59.999999Z"));
        assert_eq!(eval(&c, "2021-12-20").verdict, Verdict::Upgraded);
        c.upgraded_at = Some(at("2021-12-08T23:59:59"));
        assert_eq!(eval(&c, "2021-12-20").verdict, Verdict::Upgraded);
    }

    #[test]
    fn as_of_on_deadline_day_means_replace() {
        let c = ready_card();
        assert_eq!(eval(&c, "2021-12-08").verdict, Verdict::Ready);
        let o = eval(&c, "2021-12-09");
        assert_eq!(codes(&o), ["DEADLINE_PASSED"]);
        assert_eq!((o.verdict, o.action), (Verdict::Replace, Action::OrderNewCard));
        // Blockers no longer apply after the deadline.
        let mut c = ready_card();
        c.has_sign_code = None;
        c.org_cleared_at = None;
        c.cert_count = 9;
        assert_eq!(codes(&eval(&c, "2021-12-09")), ["DEADLINE_PASSED"]);
    }

    #[test]
    fn revoke_beats_replace_and_findings_are_independent() {
        let mut c = ready_card();
        c.status = Status::Ordered;
        c.sent_at = None;
        c.received_at = None;
        c.ordered_at = at("2021-06-01");
        let o = eval(&c, "2021-12-10");
        assert_eq!(codes(&o), ["UNISSUED_OVER_3_MONTHS", "DEADLINE_PASSED"]);
        assert_eq!(o.verdict, Verdict::Revoke);
    }

    #[test]
    fn blockers_in_action_order() {
        let mut c = ready_card();
        c.has_auth_code = Some(false);
        let o = eval(&c, "2021-11-15");
        assert_eq!((o.verdict, o.action), (Verdict::Blocked, Action::OrderNewCodes));
        c.has_auth_code = None; // unknown is not true
        assert_eq!(eval(&c, "2021-11-15").action, Action::OrderNewCodes);
        c.org_cleared_at = None;
        let o = eval(&c, "2021-11-15");
        assert_eq!(codes(&o), ["ORG_NOT_CLEARED", "CODES_MISSING"]);
        assert_eq!(o.action, Action::TrainIdAdmins);
        c.status = Status::Sent;
        c.sent_at = None;
        c.received_at = None;
        c.ordered_at = at("2021-10-01");
        let o = eval(&c, "2021-11-15");
        assert_eq!(codes(&o), ["AWAITING_ISSUANCE", "ORG_NOT_CLEARED", "CODES_MISSING"]);
        assert_eq!(o.action, Action::HandOutCard);
    }

    #[test]
    fn six_versus_seven_certificates() {
        let mut c = ready_card();
        c.cert_count = 6;
        assert_eq!(eval(&c, "2021-11-15").action, Action::Upgrade);
        c.cert_count = 7;
        let o = eval(&c, "2021-11-15");
        assert_eq!(codes(&o), ["TOO_MANY_CERTS"]);
        assert_eq!((o.verdict, o.action), (Verdict::Ready, Action::RemoveCertsThenUpgrade));
        // A warning does not block: with a blocker the blocker decides.
        c.has_sign_code = Some(false);
        assert_eq!(eval(&c, "2021-11-15").action, Action::OrderNewCodes);
        // Upgraded cards are past the risk.
        c.upgraded_at = Some(at("2021-06-01"));
        assert!(!eval(&c, "2021-11-15").findings.contains(Finding::TooManyCerts));
    }

    #[test]
    fn third_party_reorder() {
        let mut c = ready_card();
        c.third_party_certs = 1;
        let o = eval(&c, "2021-11-15");
        assert_eq!((o.verdict, o.action), (Verdict::Ready, Action::Upgrade));
        assert_eq!(codes(&o), ["THIRD_PARTY_REORDER"]);
        c.upgraded_at = Some(at("2021-06-01"));
        let o = eval(&c, "2021-11-15");
        assert_eq!((o.verdict, o.action), (Verdict::Upgraded, Action::ReorderThirdPartyCerts));
        c.card_type = CardType::SithsEid;
        c.upgraded_at = None;
        assert!(codes(&eval(&c, "2021-11-15")).is_empty());
    }

    #[test]
    fn upgraded_before_org_cleared() {
        let mut c = ready_card();
        c.upgraded_at = Some(at("2021-03-01T09:59:59"));
        assert_eq!(codes(&eval(&c, "2021-11-15")), ["UPGRADED_BEFORE_ORG_CLEARED"]);
        c.upgraded_at = Some(at("2021-03-01T10:00"));
        assert_eq!(eval(&c, "2021-11-15").verdict, Verdict::Upgraded);
        c.org_cleared_at = None;
        assert_eq!(eval(&c, "2021-11-15").verdict, Verdict::Violation);
    }

    #[test]
    fn revoked_cards_get_only_data_findings() {
        let mut c = ready_card();
        c.status = Status::Revoked;
        c.org_cleared_at = None;
        c.org_known = false;
        c.third_party_certs = 3;
        c.upgraded_at = Some(at("2021-01-01"));
        let o = eval(&c, "2021-12-20");
        assert_eq!(codes(&o), ["INCONSISTENT_DATES", "UNKNOWN_ORG"]);
        assert_eq!((o.verdict, o.action), (Verdict::OutOfScope, Action::None));
    }

    #[test]
    fn inconsistent_dates_cases() {
        let base = ready_card();
        let check = |c: CardFacts, expected: bool| {
            assert_eq!(eval(&c, "2021-11-15").findings.contains(Finding::InconsistentDates), expected, "{c:?}");
        };
        check(base, false);
        check(CardFacts { received_at: None, ..base }, true);
        check(CardFacts { sent_at: Some(at("2021-01-09")), ..base }, true);
        check(CardFacts { received_at: Some(at("2021-01-09T23:59")), ..base }, true);
        check(CardFacts { upgraded_at: Some(at("2021-01-09")), ..base }, true);
        // Local date after D: the last instant of D is fine, the first of D+1 is not.
        check(CardFacts { received_at: Some(at("2021-11-15T23:59:59.999999")), ..base }, false);
        check(CardFacts { received_at: Some(at("2021-11-15T23:00:00Z")), ..base }, true);
        check(CardFacts { upgraded_at: Some(at("2021-11-16")), ..base }, true);
        check(
            CardFacts {
                ordered_at: at("2021-11-16"),
                sent_at: None,
                received_at: None,
                status: Status::Ordered,
                ..base
            },
            true,
        );
        let eid = CardFacts { card_type: CardType::SithsEid, ..base };
        check(eid, false);
        check(CardFacts { upgraded_at: Some(at("2021-06-01")), ..eid }, true);
        // A future upgrade still counts as an upgrade.
        let o = eval(&CardFacts { upgraded_at: Some(at("2021-11-20")), ..base }, "2021-11-15");
        assert_eq!(o.verdict, Verdict::Upgraded);
    }

    #[test]
    fn new_cards_are_out_of_scope_unless_revoked() {
        let c = CardFacts { card_type: CardType::SithsEid, org_cleared_at: None, has_auth_code: None, ..ready_card() };
        let o = eval(&c, "2021-11-15");
        assert_eq!((o.verdict, o.action), (Verdict::OutOfScope, Action::None));
        assert!(codes(&o).is_empty());
    }

    #[test]
    fn unknown_org_is_data_only() {
        let c = CardFacts { org_known: false, ..ready_card() };
        let o = eval(&c, "2021-11-15");
        assert_eq!(codes(&o), ["UNKNOWN_ORG"]);
        assert_eq!(o.verdict, Verdict::Ready);
    }
}
