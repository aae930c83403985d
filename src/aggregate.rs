//! Aggregate: per-organisation rollups of the card outcomes (SPEC `org_compliance`),
//! by a parallel fold over cards into dense per-organisation counters.

use rayon::prelude::*;

use crate::evaluate::Evaluation;
use crate::rules::Verdict;

/// Counters of one organisation: cards, then one per verdict, then one per finding, in
/// the orders of `Verdict::ALL` and `Finding::ALL`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrgCounts {
    pub cards_total: i64,
    pub verdicts: [i64; 7],
    pub findings: [i64; 12],
}

impl OrgCounts {
    pub fn verdict(&self, v: Verdict) -> i64 {
        self.verdicts[v as usize]
    }

    /// (upgraded + violation) / (cards_total − out_of_scope), null when that is 0.
    pub fn upgrade_progress(&self) -> Option<f64> {
        let in_scope = self.cards_total - self.verdict(Verdict::OutOfScope);
        (in_scope != 0)
            .then(|| (self.verdict(Verdict::Upgraded) + self.verdict(Verdict::Violation)) as f64 / in_scope as f64)
    }

    /// `non_compliant` if revoke + violation > 0, else `at_risk` if blocked + replace > 0,
    /// else `compliant`.
    pub fn compliance(&self) -> &'static str {
        if self.verdict(Verdict::Revoke) + self.verdict(Verdict::Violation) > 0 {
            "non_compliant"
        } else if self.verdict(Verdict::Blocked) + self.verdict(Verdict::Replace) > 0 {
            "at_risk"
        } else {
            "compliant"
        }
    }

    fn add(&mut self, other: &OrgCounts) {
        self.cards_total += other.cards_total;
        for (a, b) in self.verdicts.iter_mut().zip(&other.verdicts) {
            *a += b;
        }
        for (a, b) in self.findings.iter_mut().zip(&other.findings) {
            *a += b;
        }
    }
}

/// Counts per organisation, indexed like `Evaluation::orgs`.
pub fn rollup(e: &Evaluation) -> Vec<OrgCounts> {
    let n = e.orgs.ids.len();
    e.outcomes
        .par_iter()
        .zip(e.card_org.par_iter())
        .with_min_len(16_384)
        .fold(
            || vec![OrgCounts::default(); n],
            |mut acc, (o, &org)| {
                let c = &mut acc[org as usize];
                c.cards_total += 1;
                c.verdicts[o.verdict as usize] += 1;
                for f in o.findings.iter() {
                    c.findings[f as usize] += 1;
                }
                acc
            },
        )
        .reduce(
            || vec![OrgCounts::default(); n],
            |mut a, b| {
                for (x, y) in a.iter_mut().zip(&b) {
                    x.add(y);
                }
                a
            },
        )
}

/// National totals per verdict, in `Verdict::ALL` order.
pub fn verdict_totals(counts: &[OrgCounts]) -> [i64; 7] {
    let mut t = [0; 7];
    for c in counts {
        for (a, b) in t.iter_mut().zip(&c.verdicts) {
            *a += b;
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_and_compliance() {
        let mut c = OrgCounts { cards_total: 4, ..Default::default() };
        c.verdicts[Verdict::OutOfScope as usize] = 4;
        assert_eq!(c.upgrade_progress(), None);
        assert_eq!(c.compliance(), "compliant");
        c.verdicts = [0; 7];
        c.verdicts[Verdict::Upgraded as usize] = 1;
        c.verdicts[Verdict::Violation as usize] = 1;
        c.verdicts[Verdict::Blocked as usize] = 1;
        c.verdicts[Verdict::OutOfScope as usize] = 1;
        assert_eq!(c.upgrade_progress(), Some(2.0 / 3.0));
        assert_eq!(c.compliance(), "non_compliant");
        c.verdicts[Verdict::Violation as usize] = 0;
        assert_eq!(c.compliance(), "at_risk");
    }
}
