//! Evaluate: organisations' clearance from their administrators, certificate counts per
//! card, then every card's findings, verdict and action, in parallel. Works on dense
//! integer indices (organisation and card numbers) so the hot loop never hashes a string.

use std::sync::atomic::AtomicI32;
use std::sync::atomic::Ordering::Relaxed;

use rayon::prelude::*;

use crate::hashing::KeyMap;
use crate::ingest::{self, Ingested, NULL_ID, Parts, Table};
use crate::rules::admin::{check_admin, clear_org};
use crate::rules::cert::{CertState, ca_revokes, is_active};
use crate::rules::{
    AdminFacts, AdminVerdict, CardFacts, CardOutcome, CardType, IssuerKind, OrgClearance, Policy, Status, SweepDates,
    Verdict, evaluate_card,
};
use crate::schema::cols::{self, cards, certificates as certs, id_admins as admins_cols};

/// Cards evaluated per rayon task: large enough to amortise scheduling, small enough to
/// balance two to many cores.
const CARD_CHUNK: usize = 16_384;

/// The organisations a sweep knows of: those in `organisations` first (in input
/// order), then unknown org_ids seen on valid cards or administrators.
#[derive(Debug, Clone)]
pub struct Orgs {
    pub ids: Vec<String>,
    pub names: Vec<Option<String>>,
    /// Listed in `organisations`.
    pub known: Vec<bool>,
    pub clearance: Vec<OrgClearance>,
    /// Non-quarantined `id_admins` rows per organisation.
    pub admins_listed: Vec<i32>,
}

/// Per-card certificate counts (SPEC "Per card").
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CertCounts {
    pub cert_count: i32,
    pub telia_certs: i32,
    pub third_party_certs: i32,
}

/// Classifies certificates as they are read ([`ingest::Derive`]): issuer kind and
/// activity as of D, after which their `not_after` and `revoked` are let go; only the
/// certificates the CA may have to revoke keep their text. Counts them into their cards
/// as they are read, so that no certificate row outlives its batch.
pub struct CertClassifier<'a> {
    policy: &'a Policy,
    /// Local midnight starting D.
    start_of_as_of: i64,
    /// Per card: its verdict is REVOKE ([`revoking`]).
    revoking: &'a [bool],
    /// Per card: its certificates' counts so far, added to by batches on every thread.
    counts: Vec<AtomicCounts>,
}

/// [`CertCounts`] that threads add to. Addition commutes, so the counts do not depend
/// on the order the batches are read in.
#[derive(Default)]
struct AtomicCounts {
    cert_count: AtomicI32,
    telia_certs: AtomicI32,
    third_party_certs: AtomicI32,
}

impl AtomicCounts {
    fn add(&self, k: CertCounts) {
        for (to, n) in [
            (&self.cert_count, k.cert_count),
            (&self.telia_certs, k.telia_certs),
            (&self.third_party_certs, k.third_party_certs),
        ] {
            if n != 0 {
                to.fetch_add(n, Relaxed);
            }
        }
    }
}

impl CertCounts {
    /// What one certificate in state `byte` adds to its card's counts (SPEC "Per card").
    fn of(byte: u8) -> CertCounts {
        let c = CertState::from_byte(byte);
        CertCounts {
            cert_count: 1,
            telia_certs: i32::from(c.kind == IssuerKind::Telia),
            third_party_certs: i32::from(c.kind == IssuerKind::ThirdParty && c.active),
        }
    }

    fn plus(self, o: CertCounts) -> CertCounts {
        CertCounts {
            cert_count: self.cert_count + o.cert_count,
            telia_certs: self.telia_certs + o.telia_certs,
            third_party_certs: self.third_party_certs + o.third_party_certs,
        }
    }

    fn minus(self) -> CertCounts {
        CertCounts {
            cert_count: -self.cert_count,
            telia_certs: -self.telia_certs,
            third_party_certs: -self.third_party_certs,
        }
    }
}

impl<'a> CertClassifier<'a> {
    /// `revoking` is [`revoking`]'s answer for the cards the certificates belong to (one
    /// per card).
    pub fn new(policy: &'a Policy, as_of: i32, revoking: &'a [bool]) -> CertClassifier<'a> {
        let counts = (0..revoking.len()).map(|_| AtomicCounts::default()).collect();
        CertClassifier { policy, start_of_as_of: policy.zone.start_of_day(as_of), revoking, counts }
    }

    /// Per card: the counts of the certificates read, less those taken back.
    pub fn into_counts(self) -> Vec<CertCounts> {
        self.counts
            .into_iter()
            .map(|a| CertCounts {
                cert_count: a.cert_count.into_inner(),
                telia_certs: a.telia_certs.into_inner(),
                third_party_certs: a.third_party_certs.into_inner(),
            })
            .collect()
    }
}

/// Per card of `data` (read without its certificates): whether its verdict is REVOKE.
/// No REVOKE finding depends on a card's certificates (the test
/// `revoke_never_depends_on_certificates` in `rules/card.rs` holds the rules to it), so
/// the cards are evaluated here as if they had none, and the certificates that the
/// revocation lists name are known as each one is read: only those keep their text.
/// [`revoked_certificates`] checks the answer against the full evaluation.
pub fn revoking(data: &Ingested, policy: &Policy, as_of: i32) -> Vec<bool> {
    let dates = SweepDates::new(as_of, policy);
    let (mut orgs, card_org, admin_org) = index_orgs(data);
    clear_orgs(&data.id_admins, &admin_org, &mut orgs, &dates, policy);
    let none = vec![CertCounts::default(); data.cards.len()];
    let evaluate = card_evaluator(&data.cards, &card_org, &orgs, &none, &dates, policy);
    (0..data.cards.len())
        .into_par_iter()
        .with_min_len(CARD_CHUNK)
        .map(|i| evaluate(i).verdict == Verdict::Revoke)
        .collect()
}

impl ingest::Derive for CertClassifier<'_> {
    /// Every certificate of `part` as a [`CertState`] byte, in order. Issuers are
    /// interned per part, so each distinct issuer of a part is classified once.
    fn bytes(&self, part: &Table) -> Vec<u8> {
        let (issuer, dict) = part.interned(certs::ISSUER);
        let kinds: Vec<IssuerKind> = dict.iter().map(|name| self.policy.issuer_kind(name)).collect();
        let (not_after, revoked) = (part.times(certs::NOT_AFTER), part.bools(certs::REVOKED));
        (0..part.len())
            .map(|i| {
                let active = is_active(revoked[i], not_after.get(i), self.start_of_as_of);
                CertState { kind: kinds[issuer[i] as usize], active }.to_byte()
            })
            .collect()
    }

    fn lets_go(&self) -> &'static [usize] {
        const GONE: [usize; 2] = [certs::NOT_AFTER.index, certs::REVOKED.index];
        &GONE
    }

    /// Those [`ca_revokes`] would name if their card's verdict is REVOKE.
    fn keeps_text(&self, card: u32, byte: u8) -> bool {
        self.revoking[card as usize] && ca_revokes(Verdict::Revoke, CertState::from_byte(byte))
    }

    /// Rows of one card that follow each other (an export lists a card's certificates
    /// together, as the generator does) are summed first and added at once.
    fn count(&self, cards: &[u32], bytes: &[u8]) {
        let mut run: Option<(u32, CertCounts)> = None;
        for (&card, &byte) in cards.iter().zip(bytes) {
            if card == NULL_ID {
                continue;
            }
            run = match run {
                Some((c, sum)) if c == card => Some((c, sum.plus(CertCounts::of(byte)))),
                done => {
                    if let Some((c, sum)) = done {
                        self.counts[c as usize].add(sum);
                    }
                    Some((card, CertCounts::of(byte)))
                }
            };
        }
        if let Some((c, sum)) = run {
            self.counts[c as usize].add(sum);
        }
    }

    fn discount(&self, card: u32, byte: u8) {
        if card != NULL_ID {
            self.counts[card as usize].add(CertCounts::of(byte).minus());
        }
    }
}

/// The states [`CertClassifier`] gave a part's certificates as they were read.
pub fn cert_states(part: &Table) -> impl Iterator<Item = CertState> + '_ {
    assert_eq!(part.derived.len(), part.len(), "certificates are classified as they are read");
    part.derived.iter().map(|&b| CertState::from_byte(b))
}

/// Everything the sweep decided.
pub struct Evaluation {
    pub dates: SweepDates,
    pub orgs: Orgs,
    /// Per `id_admins` row: its organisation and verdict.
    pub admin_org: Vec<u32>,
    pub admins: Vec<AdminVerdict>,
    /// Per card: its organisation, counts and outcome.
    pub card_org: Vec<u32>,
    pub counts: Vec<CertCounts>,
    pub outcomes: Vec<CardOutcome>,
}

/// The certificates the CA must revoke (SPEC `revocation_certificates`), in the parts
/// they were read in, and each as (card, certificate) sorted: all the outputs need of
/// the certificates.
pub struct RevokedCertificates {
    pub certificates: Parts,
    pub by_card: Vec<(u32, u32)>,
}

/// Keeps of `certificates` (those that kept their text as they were read) only those the
/// CA must revoke ([`ca_revokes`]), part by part in parallel. `revoking` is what the
/// certificates were read with: a REVOKE card it did not name would have lost its
/// certificates' text, a bug in the rules this stops the run for rather than publish
/// lists short of them.
pub fn revoked_certificates(mut certificates: Parts, e: &Evaluation, revoking: &[bool]) -> RevokedCertificates {
    let missed = e.outcomes.iter().zip(revoking).position(|(o, &r)| (o.verdict == Verdict::Revoke) != r);
    assert!(missed.is_none(), "card {missed:?}: its REVOKE verdict depends on its certificates");
    certificates.retain(|part| {
        part.indices(certs::CARD)
            .iter()
            .zip(cert_states(part))
            // A certificate rejected by the key checks (card NULL_ID) belongs to no card.
            .map(|(&card, s)| e.outcomes.get(card as usize).is_some_and(|o| ca_revokes(o.verdict, s)))
            .collect()
    });
    let mut by_card: Vec<(u32, u32)> =
        certificates.indices(certs::CARD).enumerate().map(|(c, card)| (card, c as u32)).collect();
    by_card.par_sort_unstable();
    RevokedCertificates { certificates, by_card }
}

/// Decides everything for `data`, whose certificates were counted as they were read
/// (`counts`, per card: [`CertClassifier::into_counts`] of the classifier they were read
/// with, `CertClassifier::new(policy, as_of, ..)`).
pub fn evaluate(data: &Ingested, counts: Vec<CertCounts>, policy: &Policy, as_of: i32) -> Evaluation {
    assert_eq!(counts.len(), data.cards.len(), "counts per card");
    let dates = SweepDates::new(as_of, policy);
    let (mut orgs, card_org, admin_org) = index_orgs(data);
    let admins = clear_orgs(&data.id_admins, &admin_org, &mut orgs, &dates, policy);
    let outcomes = evaluate_cards(&data.cards, &card_org, &orgs, &counts, &dates, policy);
    Evaluation { dates, orgs, admin_org, admins, card_org, counts, outcomes }
}

/// Gives every organisation a dense number, and every card and administrator row the
/// number of its organisation. Cards carry org_id interned, so each distinct org_id is
/// looked up once, not once per card.
fn index_orgs(data: &Ingested) -> (Orgs, Vec<u32>, Vec<u32>) {
    let t = &data.organisations;
    let mut orgs = Orgs {
        ids: Vec::new(),
        names: Vec::new(),
        known: Vec::new(),
        clearance: Vec::new(),
        admins_listed: Vec::new(),
    };
    let mut index: KeyMap<String, u32> = KeyMap::default();
    for i in 0..t.len() {
        let id = t.str(cols::organisations::ORG_ID, i).expect("required").to_string();
        index.insert(id.clone(), orgs.ids.len() as u32);
        orgs.ids.push(id);
        orgs.names.push(t.str(cols::organisations::ORG_NAME, i).map(str::to_string));
        orgs.known.push(true);
    }
    let mut number = |id: &str| -> u32 {
        if let Some(&n) = index.get(id) {
            return n;
        }
        let n = orgs.ids.len() as u32;
        index.insert(id.to_string(), n);
        orgs.ids.push(id.to_string());
        orgs.names.push(None);
        orgs.known.push(false);
        n
    };
    let (ids, dict) = data.cards.interned(cards::ORG_ID);
    // A part's dictionary can hold the org_id of a row that was then quarantined (for a
    // later column, or as a duplicate): only org_ids of valid cards make an organisation.
    let mut used = vec![false; dict.len()];
    for &i in ids {
        if let Some(u) = used.get_mut(i as usize) {
            *u = true;
        }
    }
    let of_entry: Vec<u32> = dict.iter().zip(used).map(|(id, used)| if used { number(id) } else { NULL_ID }).collect();
    let card_org = ids.iter().map(|&i| of_entry[i as usize]).collect();
    let admins = &data.id_admins;
    let admin_org = (0..admins.len()).map(|i| number(admins.str(admins_cols::ORG_ID, i).expect("required"))).collect();
    let n = orgs.ids.len();
    orgs.clearance = vec![OrgClearance::default(); n];
    orgs.admins_listed = vec![0; n];
    (orgs, card_org, admin_org)
}

/// Checks every administrator row, then clears each organisation from its rows in
/// input order.
fn clear_orgs(t: &Table, admin_org: &[u32], orgs: &mut Orgs, dates: &SweepDates, policy: &Policy) -> Vec<AdminVerdict> {
    let (reg, trained) = (t.times(admins_cols::REGISTERED_AT), t.times(admins_cols::TRAINED_AT));
    let mut verdicts: Vec<AdminVerdict> = (0..t.len())
        .into_par_iter()
        .map(|i| {
            let facts = AdminFacts {
                name: t.str(admins_cols::NAME, i),
                personnummer: t.str(admins_cols::PERSONNUMMER, i),
                email: t.str(admins_cols::EMAIL, i),
                care_provider: t.str(admins_cols::CARE_PROVIDER, i),
                care_unit: t.str(admins_cols::CARE_UNIT, i),
                registered_at: reg.get(i),
                trained_at: trained.get(i),
                org_known: orgs.known[admin_org[i] as usize],
            };
            check_admin(&facts, dates)
        })
        .collect();
    let mut rows_of: Vec<Vec<usize>> = vec![Vec::new(); orgs.ids.len()];
    for (i, &o) in admin_org.iter().enumerate() {
        rows_of[o as usize].push(i);
    }
    for (o, rows) in rows_of.iter().enumerate() {
        if rows.is_empty() {
            continue;
        }
        let mut group: Vec<(AdminVerdict, Option<i64>)> =
            rows.iter().map(|&i| (verdicts[i].clone(), trained.get(i))).collect();
        orgs.clearance[o] = clear_org(&mut group, policy.min_trained_admins);
        orgs.admins_listed[o] = rows.len() as i32;
        for (&i, (v, _)) in rows.iter().zip(group) {
            verdicts[i] = v;
        }
    }
    verdicts
}

/// The hot loop: every card through the rules, in parallel chunks.
pub fn evaluate_cards(
    t: &Table,
    card_org: &[u32],
    orgs: &Orgs,
    counts: &[CertCounts],
    dates: &SweepDates,
    policy: &Policy,
) -> Vec<CardOutcome> {
    let evaluate = card_evaluator(t, card_org, orgs, counts, dates, policy);
    (0..t.len()).into_par_iter().with_min_len(CARD_CHUNK).map(evaluate).collect()
}

/// The per-card step of [`evaluate_cards`]: gathers card `i`'s facts from the columns
/// and runs the rules. Public so that the instruction-count guard (`guard/benches/hotloop.rs`)
/// can run exactly this code on one thread.
pub fn card_evaluator<'a>(
    t: &'a Table,
    card_org: &'a [u32],
    orgs: &'a Orgs,
    counts: &'a [CertCounts],
    dates: &'a SweepDates,
    policy: &'a Policy,
) -> impl Fn(usize) -> CardOutcome + Sync + Send + 'a {
    let (card_type, status) = (t.labels(cards::CARD_TYPE), t.labels(cards::STATUS));
    let (ordered, sent, received, upgraded) =
        (t.times(cards::ORDERED_AT), t.times(cards::SENT_AT), t.times(cards::RECEIVED_AT), t.times(cards::UPGRADED_AT));
    let (auth, sign) = (t.bools(cards::HAS_AUTH_CODE), t.bools(cards::HAS_SIGN_CODE));
    move |i| {
        let org = card_org[i] as usize;
        let facts = CardFacts {
            card_type: CardType::from_index(card_type[i]).expect("card_type is required and checked on reading"),
            status: Status::from_index(status[i]).expect("status is required and checked on reading"),
            ordered_at: ordered.get(i).expect("required"),
            sent_at: sent.get(i),
            received_at: received.get(i),
            upgraded_at: upgraded.get(i),
            has_auth_code: auth[i],
            has_sign_code: sign[i],
            org_known: orgs.known[org],
            org_cleared_at: orgs.clearance[org].cleared_at,
            cert_count: counts[i].cert_count,
            third_party_certs: counts[i].third_party_certs,
        };
        evaluate_card(&facts, dates, policy)
    }
}

#[cfg(test)]
mod tests {
    use arrow_array::StringArray;

    use super::*;
    use crate::ingest::{ColumnData, NULL_TIME, Sources, TextColumn};
    use crate::time::parse_date;

    /// Certificates classified as they are read: kind from the issuer, active unless
    /// revoked or expired before local midnight starting D (Stockholm: 23:00 UTC the
    /// day before in winter); `not_after` and `revoked` are let go afterwards.
    #[test]
    fn certificates_are_classified_as_read_and_their_dates_let_go() {
        let policy = Policy::default();
        let as_of = parse_date("2021-11-15").unwrap();
        let midnight = policy.zone.start_of_day(as_of);
        assert_eq!(midnight, 1_636_930_800_000_000, "2021-11-14T23:00:00Z");
        let rows = [
            ("SITHS e-id CA", midnight, None),
            ("SITHS e-id CA", midnight - 1, None),
            ("SITHS e-id CA", NULL_TIME, Some(false)),
            ("SITHS e-id CA", midnight + 1, Some(true)),
            ("TeliaSonera CA", midnight - 1, None),
            ("Region CA", NULL_TIME, None),
        ];
        let dict = vec!["SITHS e-id CA".to_string(), "TeliaSonera CA".into(), "Region CA".into()];
        let mut part = Table {
            def: crate::schema::CERTIFICATES,
            columns: vec![
                ColumnData::Text(TextColumn::Small(StringArray::from_iter_values((0..6).map(|i| format!("S{i}"))))),
                ColumnData::Index(vec![0; 6]),
                ColumnData::Interned {
                    ids: rows.iter().map(|r| dict.iter().position(|d| d == r.0).unwrap() as u32).collect(),
                    dict,
                },
                ColumnData::Time(rows.iter().map(|r| r.1).collect()),
                ColumnData::Bool(rows.iter().map(|r| r.2).collect()),
            ],
            source: Sources::run(0, 1, 6),
            derived: Vec::new(),
        };
        part.derive(&CertClassifier::new(&policy, as_of, &[]));
        let (c, t, o) = (IssuerKind::CardIssuer, IssuerKind::Telia, IssuerKind::ThirdParty);
        let want = [(c, true), (c, false), (c, true), (c, false), (t, false), (o, true)];
        let got: Vec<(IssuerKind, bool)> = cert_states(&part).map(|s| (s.kind, s.active)).collect();
        assert_eq!(got, want);
        assert!(matches!(part.columns[3], ColumnData::Gone) && matches!(part.columns[4], ColumnData::Gone));
        assert_eq!(part.str(certs::CERT_SERIAL, 5), Some("S5"), "the key columns stay");
        // Rejected rows leave with their bytes.
        let kept = part.filter(&[false, true, true, false, false, true]);
        let got: Vec<bool> = cert_states(&kept).map(|s| s.active).collect();
        assert_eq!(got, [false, true, true]);
    }

    /// Certificates are counted into their cards as batches are read, from any thread in
    /// any order; a row of no valid card counts for nothing, and a duplicate's count is
    /// taken back. Telia certificates count whether active or not; third-party ones only
    /// when active (SPEC "Per card").
    #[test]
    fn certificates_are_counted_into_their_cards_as_read() {
        let policy = Policy::default();
        let as_of = parse_date("2021-11-15").unwrap();
        let byte = |kind, active| CertState { kind, active }.to_byte();
        let (c, t, o) = (IssuerKind::CardIssuer, IssuerKind::Telia, IssuerKind::ThirdParty);
        let revoking = [false; 3];
        let classifier = CertClassifier::new(&policy, as_of, &revoking);
        // Card 0's rows in a run and apart, card 2's across two batches, orphans between.
        let batches: [(&[u32], &[u8]); 2] = [
            (
                &[0, 0, NULL_ID, 2, 0, 0],
                &[byte(c, true), byte(t, false), byte(t, true), byte(o, true), byte(o, false), byte(t, true)],
            ),
            (&[2, NULL_ID, 2], &[byte(o, true), byte(o, true), byte(t, false)]),
        ];
        use crate::ingest::Derive;
        batches.par_iter().for_each(|(cards, bytes)| classifier.count(cards, bytes));
        classifier.discount(2, byte(o, true));
        classifier.discount(NULL_ID, byte(o, true));
        let counts =
            |cert_count, telia_certs, third_party_certs| CertCounts { cert_count, telia_certs, third_party_certs };
        assert_eq!(classifier.into_counts(), [counts(4, 2, 0), counts(0, 0, 0), counts(2, 1, 1)]);
    }
}
