//! An organisation's standing, from its cards' verdicts (SPEC `org_compliance`:
//! `upgrade_progress` and `compliance`).

use super::Verdict;
use crate::vocabulary::vocabulary;

vocabulary! {
    /// SPEC `org_compliance.compliance`, with the Swedish the organisation reports use.
    pub enum Compliance: &'static str {
        Compliant = "compliant" => "uppfyller kraven",
        AtRisk = "at_risk" => "i riskzonen",
        NonCompliant = "non_compliant" => "uppfyller inte kraven",
    }
}

/// `non_compliant` if revoke + violation > 0, else `at_risk` if blocked + replace > 0,
/// else `compliant`. `verdicts` are the organisation's card counts per verdict, in the
/// order of `Verdict::ALL`.
pub fn compliance(verdicts: &[i64; Verdict::COUNT]) -> Compliance {
    let n = |v: Verdict| verdicts[v.index()];
    if n(Verdict::Revoke) + n(Verdict::Violation) > 0 {
        Compliance::NonCompliant
    } else if n(Verdict::Blocked) + n(Verdict::Replace) > 0 {
        Compliance::AtRisk
    } else {
        Compliance::Compliant
    }
}

/// Whether a card of this verdict has been upgraded, within the rules or not: what
/// `upgrade_progress`, the campaign's `upgraded_total` and the day's change count.
pub fn counts_as_upgraded(v: Verdict) -> bool {
    match v {
        Verdict::Upgraded | Verdict::Violation => true,
        Verdict::Ready | Verdict::Blocked | Verdict::Revoke | Verdict::Replace | Verdict::OutOfScope => false,
    }
}

/// Whether a card of this verdict is still to be upgraded (the campaign's `remaining`).
pub fn counts_as_remaining(v: Verdict) -> bool {
    match v {
        Verdict::Ready | Verdict::Blocked => true,
        Verdict::Upgraded | Verdict::Violation | Verdict::Revoke | Verdict::Replace | Verdict::OutOfScope => false,
    }
}

fn sum_where(verdicts: &[i64; Verdict::COUNT], keep: fn(Verdict) -> bool) -> i64 {
    Verdict::ALL.iter().filter(|v| keep(**v)).map(|v| verdicts[v.index()]).sum()
}

/// upgraded + violation.
pub fn upgraded_total(verdicts: &[i64; Verdict::COUNT]) -> i64 {
    sum_where(verdicts, counts_as_upgraded)
}

/// ready + blocked.
pub fn remaining(verdicts: &[i64; Verdict::COUNT]) -> i64 {
    sum_where(verdicts, counts_as_remaining)
}

/// (upgraded + violation) / (cards − out_of_scope), none when no card is in scope.
pub fn upgrade_progress(cards: i64, verdicts: &[i64; Verdict::COUNT]) -> Option<f64> {
    let in_scope = cards - verdicts[Verdict::OutOfScope.index()];
    (in_scope != 0).then(|| upgraded_total(verdicts) as f64 / in_scope as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counts(pairs: &[(Verdict, i64)]) -> [i64; Verdict::COUNT] {
        let mut v = [0; Verdict::COUNT];
        for &(verdict, n) in pairs {
            v[verdict.index()] = n;
        }
        v
    }

    #[test]
    fn compliance_takes_the_worst_verdict_present() {
        assert_eq!(compliance(&counts(&[])), Compliance::Compliant);
        assert_eq!(compliance(&counts(&[(Verdict::Ready, 5), (Verdict::Upgraded, 2)])), Compliance::Compliant);
        assert_eq!(compliance(&counts(&[(Verdict::OutOfScope, 5)])), Compliance::Compliant);
        for at_risk in [Verdict::Blocked, Verdict::Replace] {
            assert_eq!(compliance(&counts(&[(Verdict::Ready, 9), (at_risk, 1)])), Compliance::AtRisk, "{at_risk:?}");
        }
        for non in [Verdict::Revoke, Verdict::Violation] {
            let v = counts(&[(Verdict::Blocked, 9), (Verdict::Replace, 9), (non, 1)]);
            assert_eq!(compliance(&v), Compliance::NonCompliant, "{non:?}");
        }
    }

    #[test]
    fn upgraded_are_upgraded_and_violation_remaining_are_ready_and_blocked() {
        let all: Vec<(Verdict, i64)> =
            Verdict::ALL.iter().zip([1, 10, 100, 1_000, 10_000, 100_000, 1_000_000]).map(|(v, n)| (*v, n)).collect();
        let v = counts(&all);
        let n = |x: Verdict| all.iter().find(|(y, _)| *y == x).unwrap().1;
        assert_eq!(upgraded_total(&v), n(Verdict::Upgraded) + n(Verdict::Violation));
        assert_eq!(remaining(&v), n(Verdict::Ready) + n(Verdict::Blocked));
    }

    #[test]
    fn progress_counts_violations_as_upgraded_and_leaves_out_of_scope_out() {
        assert_eq!(upgrade_progress(0, &counts(&[])), None);
        assert_eq!(upgrade_progress(3, &counts(&[(Verdict::OutOfScope, 3)])), None);
        let v =
            counts(&[(Verdict::Upgraded, 1), (Verdict::Violation, 1), (Verdict::Ready, 1), (Verdict::OutOfScope, 2)]);
        assert_eq!(upgrade_progress(5, &v), Some(2.0 / 3.0));
        assert_eq!(upgrade_progress(2, &counts(&[(Verdict::Upgraded, 2)])), Some(1.0));
    }
}
