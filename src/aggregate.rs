//! Aggregate: per-organisation rollups of the card outcomes (SPEC `org_compliance`),
//! by a parallel fold over cards into dense per-organisation counters.

use rayon::prelude::*;

use crate::evaluate::Evaluation;
use crate::rules::{Compliance, Finding, Verdict, org};

/// Counters of one organisation: cards, then one per verdict, then one per finding, in
/// the orders of `Verdict::ALL` and `Finding::ALL`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OrgCounts {
    pub cards_total: i64,
    pub verdicts: [i64; Verdict::COUNT],
    pub findings: [i64; Finding::COUNT],
}

impl OrgCounts {
    pub fn verdict(&self, v: Verdict) -> i64 {
        self.verdicts[v as usize]
    }

    pub fn upgrade_progress(&self) -> Option<f64> {
        org::upgrade_progress(self.cards_total, &self.verdicts)
    }

    pub fn compliance(&self) -> Compliance {
        org::compliance(&self.verdicts)
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
pub fn verdict_totals(counts: &[OrgCounts]) -> [i64; Verdict::COUNT] {
    let mut t = [0; Verdict::COUNT];
    for c in counts {
        for (a, b) in t.iter_mut().zip(&c.verdicts) {
            *a += b;
        }
    }
    t
}
