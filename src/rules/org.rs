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

/// (upgraded + violation) / (cards − out_of_scope), none when no card is in scope.
pub fn upgrade_progress(cards: i64, verdicts: &[i64; Verdict::COUNT]) -> Option<f64> {
    let n = |v: Verdict| verdicts[v.index()];
    let in_scope = cards - n(Verdict::OutOfScope);
    (in_scope != 0).then(|| (n(Verdict::Upgraded) + n(Verdict::Violation)) as f64 / in_scope as f64)
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
    fn progress_counts_violations_as_upgraded_and_leaves_out_of_scope_out() {
        assert_eq!(upgrade_progress(0, &counts(&[])), None);
        assert_eq!(upgrade_progress(3, &counts(&[(Verdict::OutOfScope, 3)])), None);
        let v =
            counts(&[(Verdict::Upgraded, 1), (Verdict::Violation, 1), (Verdict::Ready, 1), (Verdict::OutOfScope, 2)]);
        assert_eq!(upgrade_progress(5, &v), Some(2.0 / 3.0));
        assert_eq!(upgrade_progress(2, &counts(&[(Verdict::Upgraded, 2)])), Some(1.0));
    }
}
