//! A synthetic national export with the shape of the real one: organisation sizes skewed
//! (21 regions with tens of thousands of cards, thousands of clinics with a handful),
//! flawed administrator registrations, a status mix, upgrades before and after the
//! deadline and before receipt, 2–9 certificates per card from three kinds of issuer.
//!
//! Deterministic for a seed whatever the thread count: every organisation draws from its
//! own random stream, seeded by (seed, organisation number), and chunks of organisations
//! are generated in parallel but written in order.

pub(crate) mod rng;

use std::path::Path;
use std::sync::Arc;

use arrow_array::builder::{BooleanBuilder, StringBuilder, TimestampMicrosecondBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;
use rayon::prelude::*;

use crate::error::Result;
use crate::output::files::{CsvSink, ParquetSink, Written};
use crate::time::{MICROS_PER_DAY, Zone, civil_from_days, days_from_civil};
pub use rng::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutFormat {
    Parquet,
    Csv,
}

#[derive(Clone, Debug)]
pub struct GenSpec {
    pub cards: u64,
    pub seed: u64,
    /// The export's date.
    pub as_of: i32,
    pub format: OutFormat,
    /// One night of a campaign (`generate --nights`), or `None` for a single export.
    pub campaign: Option<CampaignNight>,
}

/// One night of a campaign: the world is drawn as of the last night (`GenSpec::as_of`),
/// the same for every night, and shown as it was known on `night`: nothing that happens
/// after it (an order, a dispatch, a receipt, an upgrade, a registration or a training)
/// is in that night's export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CampaignNight {
    /// The campaign's first night.
    pub first: i32,
    pub night: i32,
}

/// How an organisation moves through a campaign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Pace {
    /// Every card upgraded before the first night.
    Done,
    /// Most cards upgraded in the first half of the campaign.
    Fast,
    /// Upgrades spread evenly up to the deadline.
    Steady,
    /// As steady, but nothing happens for a week or two.
    Stalled { from: i32, days: i32 },
    /// A third of the cards, most of them after the deadline.
    Behind,
}

impl Pace {
    fn draw(rng: &mut Rng, first: i32, last: i32) -> Pace {
        match rng.below(100) {
            0..=7 => Pace::Done,
            8..=19 => Pace::Fast,
            20..=31 => Pace::Stalled {
                from: first + rng.below((last - first + 1) as u64) as i32,
                days: 7 + rng.below(8) as i32,
            },
            32..=39 => Pace::Behind,
            _ => Pace::Steady,
        }
    }

    /// The day an old, received card is upgraded, if it is: never before its receipt
    /// (`not_before`), and only after the organisation has been cleared.
    fn upgrade_day(self, rng: &mut Rng, not_before: i32, first: i32, last: i32, deadline: i32) -> Option<i32> {
        let (share, from, to) = match self {
            Pace::Done => (100, first - 60, first - 1),
            Pace::Fast => (95, first - 20, first + (last - first) / 2),
            Pace::Steady | Pace::Stalled { .. } => (85, first - 40, deadline - 1),
            Pace::Behind => (30, first - 40, deadline + 60),
        };
        if rng.below(100) >= share {
            return None;
        }
        let mut day = from + rng.below((to - from + 1).max(1) as u64) as i32;
        if let Pace::Stalled { from, days } = self
            && (from..from + days).contains(&day)
        {
            day = from + days + rng.below(3) as i32;
        }
        Some(day.max(not_before))
    }
}

/// Separate random streams for what only a campaign draws, so that a single export's
/// streams (and bytes) stay as they were.
const CAMPAIGN_ORG: u64 = 0x0CA3_9A16_0000_0001;
const CAMPAIGN_CARD: u64 = 0x0CA3_9A16_0000_0002;
const CAMPAIGN_ADMIN: u64 = 0x0CA3_9A16_0000_0003;
/// The days over which an organisation cleared during a campaign trains its
/// administrators.
const CLEARING_DAYS: i32 = 5;

/// What was generated, for the summary.
#[derive(Clone, Debug, Default)]
pub struct GenCounts {
    pub organisations: u64,
    pub id_admins: u64,
    pub cards: u64,
    pub certificates: u64,
}

const AVG_CARDS_PER_ORG: u64 = 250;
const REGIONS: u64 = 21;
/// Cards per parallel task.
const CARD_CHUNK: u64 = 32_768;

/// Some of one organisation's cards; the first piece also carries the organisation's
/// row and its administrators.
struct Piece {
    org: u64,
    cards: std::ops::Range<u64>,
    header: bool,
}
const REGION_NAMES: [&str; 21] = [
    "Stockholm",
    "Uppsala",
    "Sörmland",
    "Östergötland",
    "Jönköpings län",
    "Kronoberg",
    "Kalmar län",
    "Gotland",
    "Blekinge",
    "Skåne",
    "Halland",
    "Västra Götaland",
    "Värmland",
    "Örebro län",
    "Västmanland",
    "Dalarna",
    "Gävleborg",
    "Västernorrland",
    "Jämtland Härjedalen",
    "Västerbotten",
    "Norrbotten",
];

fn org_schema() -> SchemaRef {
    crate::schema::input_arrow_schema(&crate::schema::ORGANISATIONS)
}

fn admin_schema() -> SchemaRef {
    crate::schema::input_arrow_schema(&crate::schema::ID_ADMINS)
}

fn card_schema() -> SchemaRef {
    crate::schema::input_arrow_schema(&crate::schema::CARDS)
}

fn cert_schema() -> SchemaRef {
    crate::schema::input_arrow_schema(&crate::schema::CERTIFICATES)
}

/// Card counts per organisation: 21 regions share about 30% of the cards, the rest is
/// spread over clinics and companies with a heavy-tailed (log-normal) size.
pub fn org_sizes(cards: u64, seed: u64) -> Vec<u64> {
    let n_orgs = (cards / AVG_CARDS_PER_ORG).max(1);
    let regions = region_count(n_orgs);
    let mut rng = Rng::new(seed, u64::MAX);
    let weights: Vec<f64> = (0..n_orgs)
        .map(|i| {
            if i < regions {
                0.30 / regions as f64 * (0.5 + rng.unit())
            } else {
                let w = (rng.normal() * 1.6).exp();
                0.70 * w / (n_orgs - regions).max(1) as f64 / 3.6
            }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut sizes: Vec<u64> = weights.iter().map(|w| (w / total * cards as f64).floor() as u64).collect();
    let mut rest = cards - sizes.iter().sum::<u64>();
    let mut i = 0;
    while rest > 0 {
        let n = sizes.len();
        sizes[i % n] += 1;
        rest -= 1;
        i += 1;
    }
    sizes
}

/// Up to 21 regions, one per 50 organisations, so that small exports are mostly clinics.
fn region_count(n_orgs: u64) -> u64 {
    REGIONS.min((n_orgs / 50).max(1))
}

/// Writes the four tables into `dir`.
pub fn generate(dir: &Path, spec: &GenSpec) -> Result<(Vec<Written>, GenCounts)> {
    let sizes = org_sizes(spec.cards, spec.seed);
    let regions = region_count(sizes.len() as u64);
    let mut first_card = Vec::with_capacity(sizes.len());
    let mut acc = 0;
    for s in &sizes {
        first_card.push(acc);
        acc += s;
    }
    let zone = Zone::new("Europe/Stockholm").expect("bundled zone");
    let ext = match spec.format {
        OutFormat::Parquet => "parquet",
        OutFormat::Csv => "csv",
    };
    let mut sinks = [org_schema(), admin_schema(), card_schema(), cert_schema()]
        .into_iter()
        .zip(["organisations", "id_admins", "cards", "certificates"])
        .map(|(s, name)| Sink::create(dir, &format!("{name}.{ext}"), &s, spec.format))
        .collect::<Result<Vec<_>>>()?;
    // Work in pieces of at most CARD_CHUNK cards: a region's hundred thousand cards are
    // split over many pieces, so no one thread carries the big organisations.
    let mut pieces: Vec<Piece> = Vec::new();
    for (o, (&n, &first)) in sizes.iter().zip(&first_card).enumerate() {
        let mut start = first;
        loop {
            let end = (start + CARD_CHUNK).min(first + n);
            pieces.push(Piece { org: o as u64, cards: start..end, header: start == first });
            if end == first + n {
                break;
            }
            start = end;
        }
    }
    // Consecutive pieces make a task of about CARD_CHUNK cards (small organisations share).
    let mut tasks: Vec<Vec<Piece>> = vec![Vec::new()];
    let mut in_task = 0;
    for p in pieces {
        let n = p.cards.end - p.cards.start;
        if in_task + n > CARD_CHUNK && !tasks.last().expect("one task").is_empty() {
            tasks.push(Vec::new());
            in_task = 0;
        }
        in_task += n;
        tasks.last_mut().expect("one task").push(p);
    }
    let mut counts = GenCounts::default();
    let window = rayon::current_num_threads().max(1) * 4;
    for group in tasks.chunks(window) {
        let parts: Vec<[RecordBatch; 4]> = group
            .par_iter()
            .map(|task| {
                let mut g = OrgGen::new(spec, &zone);
                for p in task {
                    let o = p.org as usize;
                    g.org(p, p.org < regions, sizes[o]);
                }
                g.finish()
            })
            .collect();
        for batches in &parts {
            counts.organisations += batches[0].num_rows() as u64;
            counts.id_admins += batches[1].num_rows() as u64;
            counts.cards += batches[2].num_rows() as u64;
            counts.certificates += batches[3].num_rows() as u64;
        }
        // Encoding is the bottleneck: certificates on one thread, the rest on another.
        let (first, certs) = sinks.split_at_mut(3);
        let (a, b) = rayon::join(
            || -> Result<()> {
                for batches in &parts {
                    for (sink, b) in first.iter_mut().zip(batches.iter()) {
                        sink.write(b)?;
                    }
                }
                Ok(())
            },
            || -> Result<()> {
                for batches in &parts {
                    certs[0].write(&batches[3])?;
                }
                Ok(())
            },
        );
        a?;
        b?;
    }
    let written = sinks.into_iter().map(Sink::finish).collect::<Result<Vec<_>>>()?;
    Ok((written, counts))
}

/// `generate --nights`: one export per night in `root/YYYY-MM-DD/`, the last on
/// `spec.as_of`, all of one world. Returns each night with what it holds.
pub fn generate_nights(root: &Path, spec: &GenSpec, nights: u32) -> Result<Vec<(i32, GenCounts)>> {
    let first = spec.as_of - (nights.max(1) as i32 - 1);
    (first..=spec.as_of)
        .map(|night| {
            let dir = root.join(crate::time::format_date(night));
            std::fs::create_dir(&dir).map_err(|e| crate::error::Error::io(&dir, e))?;
            let spec = GenSpec { campaign: Some(CampaignNight { first, night }), ..spec.clone() };
            Ok((night, generate(&dir, &spec)?.1))
        })
        .collect()
}

// Four sinks live for a whole run; their size does not matter.
#[allow(clippy::large_enum_variant)]
enum Sink {
    Parquet(ParquetSink),
    Csv(CsvSink),
}

impl Sink {
    fn create(dir: &Path, name: &str, schema: &SchemaRef, f: OutFormat) -> Result<Sink> {
        Ok(match f {
            OutFormat::Parquet => Sink::Parquet(ParquetSink::create(dir, name, schema, &[], &[])?),
            OutFormat::Csv => Sink::Csv(CsvSink::create(dir, name, schema)?),
        })
    }

    fn write(&mut self, b: &RecordBatch) -> Result<()> {
        match self {
            Sink::Parquet(s) => s.write(b),
            Sink::Csv(s) => s.write(b),
        }
    }

    fn finish(self) -> Result<Written> {
        match self {
            Sink::Parquet(s) => s.finish(),
            Sink::Csv(s) => s.finish(),
        }
    }
}

/// A bijection on u64 (splitmix's finaliser): distinct inputs give distinct ids.
fn scramble(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// An index drawn with the given integer weights.
fn pick(rng: &mut Rng, weights: &[u64]) -> u64 {
    let mut x = rng.below(weights.iter().sum());
    for (i, &w) in weights.iter().enumerate() {
        if x < w {
            return i as u64;
        }
        x -= w;
    }
    unreachable!("x is below the sum of the weights")
}

fn luhn_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, &d)| {
            let v = u32::from(d) * if i % 2 == 0 { 2 } else { 1 };
            v / 10 + v % 10
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// A personnummer in one of the forms exports use, sometimes with a typo in its check
/// digit; one in twelve is a person of `people` again, in another form.
fn personnummer(rng: &mut Rng, people: &mut Vec<(i32, u32, String)>) -> String {
    // One registration in twelve is a person registered before, in another form.
    let again = !people.is_empty() && rng.chance(0.08);
    let (birth, serial, form) = if again {
        let p = &people[rng.below(people.len() as u64) as usize];
        (p.0, p.1, ["short", "long"][rng.below(2) as usize].to_string())
    } else {
        let birth = days_from_civil(1950, 1, 1) + rng.below(18_000) as i32;
        let serial = 1 + rng.below(998) as u32;
        (birth, serial, ["dash", "long", "plain"][rng.below(3) as usize].to_string())
    };
    people.push((birth, serial, form.clone()));
    let (y, m, d) = civil_from_days(birth);
    let coordination = rng.chance(0.03);
    let day = if coordination { d + 60 } else { d };
    let nine = format!("{:02}{m:02}{day:02}{serial:03}", y % 100);
    let digits: Vec<u8> = nine.bytes().map(|b| b - b'0').collect();
    let mut check = luhn_digit(&digits);
    if rng.chance(0.04) {
        check = (check + 1 + rng.below(9) as u8) % 10; // a typo
    }
    match form.as_str() {
        "dash" => format!("{}-{}{check}", &nine[..6], &nine[6..]),
        "plain" => format!("{nine}{check}"),
        "short" => format!("{}{}-{}{check}", y / 100, &nine[..6], &nine[6..]),
        _ => format!("{}{nine}{check}", y / 100),
    }
}

/// A name and an e-mail address (one in 25 without `@`).
fn contact(rng: &mut Rng, org_id: &str) -> (String, String) {
    let first =
        ["Anna", "Erik", "Maria", "Lars", "Karin", "Johan", "Eva", "Per", "Sara", "Ali"][rng.below(10) as usize];
    let last = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Yilmaz"]
        [rng.below(8) as usize];
    let email = if rng.chance(0.04) {
        format!("{}.{}", first.to_lowercase(), last.to_lowercase()) // no @
    } else {
        format!("{}.{}@{}.se", first.to_lowercase(), last.to_lowercase(), org_id.to_lowercase().replace('-', ""))
    };
    (format!("{first} {last}"), email)
}

/// A card's status and dates: as drawn for the export (the last night), then, in a
/// campaign, as known on one night.
struct CardLife {
    old: bool,
    status: &'static str,
    ordered_day: i32,
    sent_day: i32,
    received_day: i32,
    ordered: i64,
    sent: Option<i64>,
    received: Option<i64>,
    /// The day drawn in the export's model, and whether it breaks a rule on purpose.
    upgrade: Option<(i32, bool)>,
    upgraded: Option<i64>,
}

/// An ID administrator's registration and training, as days and as instants.
struct AdminDates {
    reg_day: i32,
    registered: Option<i64>,
    trained_day: Option<i32>,
    trained: Option<i64>,
}

/// Builders for the rows of a chunk of organisations.
struct OrgGen<'a> {
    spec: &'a GenSpec,
    zone: &'a Zone,
    deadline: i32,
    orgs: [StringBuilder; 2],
    admins: [StringBuilder; 6],
    admin_times: [TimestampMicrosecondBuilder; 2],
    cards: [StringBuilder; 5],
    card_times: [TimestampMicrosecondBuilder; 4],
    card_codes: [BooleanBuilder; 2],
    certs: [StringBuilder; 3],
    cert_not_after: TimestampMicrosecondBuilder,
    cert_revoked: BooleanBuilder,
    /// The current organisation's pace and the day it is cleared during the campaign
    /// (campaigns only).
    pace: Pace,
    clears_on: Option<i32>,
}

fn tsb() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone("UTC")
}

impl<'a> OrgGen<'a> {
    fn new(spec: &'a GenSpec, zone: &'a Zone) -> Self {
        OrgGen {
            spec,
            zone,
            deadline: days_from_civil(2021, 12, 9),
            orgs: Default::default(),
            admins: Default::default(),
            admin_times: [tsb(), tsb()],
            cards: Default::default(),
            card_times: [tsb(), tsb(), tsb(), tsb()],
            card_codes: Default::default(),
            certs: Default::default(),
            cert_not_after: tsb(),
            cert_revoked: BooleanBuilder::new(),
            pace: Pace::Steady,
            clears_on: None,
        }
    }

    /// A local wall-clock time on `day`, during office hours, as an instant.
    fn at(&self, day: i32, rng: &mut Rng) -> i64 {
        let secs = 7 * 3600 + rng.below(11 * 3600) as i64;
        self.zone.local_to_instant(i64::from(day) * MICROS_PER_DAY + secs * 1_000_000)
    }

    fn org_id(o: u64, rng: &mut Rng) -> String {
        // Organisation numbers have a third digit ≥ 2 and a Luhn check digit.
        let body = format!("{:09}", 212_000_000 + o);
        let d: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        let check = luhn_digit(&d);
        let suffix: String =
            (0..4).map(|_| b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"[rng.below(34) as usize] as char).collect();
        format!("SE{body}{check}-{suffix}")
    }

    fn org(&mut self, piece: &Piece, region: bool, n_cards: u64) {
        let o = piece.org;
        let mut rng = Rng::new(self.spec.seed, o);
        let org_id = Self::org_id(o, &mut rng);
        let name = if region {
            format!("Region {}", REGION_NAMES[o as usize])
        } else {
            let kinds = ["Vårdcentralen", "Tandvården", "Hälsan", "Läkarhuset", "Omsorg", "Rehab"];
            format!("{} {} AB", kinds[rng.below(6) as usize], o)
        };
        // One organisation in 200 is missing from the register (its cards: UNKNOWN_ORG).
        let listed = !rng.chance(0.005);
        let units: Vec<String> = (0..1 + (n_cards / 400).min(40)).map(|u| format!("{name} enhet {u}")).collect();
        if let Some(c) = self.spec.campaign {
            let mut crng = Rng::new(self.spec.seed ^ CAMPAIGN_ORG, o);
            self.pace = Pace::draw(&mut crng, c.first, self.spec.as_of);
            // One organisation in five trains its administrators during the campaign.
            let span = (self.spec.as_of - c.first + 1) as u64;
            self.clears_on = (self.pace != Pace::Done && crng.chance(0.2)).then(|| c.first + crng.below(span) as i32);
        }
        if piece.header {
            if listed {
                self.orgs[0].append_value(&org_id);
                self.orgs[1].append_value(&name);
            }
            self.admins(&mut rng, o, &org_id, &name, &units, region, n_cards);
        }
        for c in piece.cards.clone() {
            // Each card draws from its own stream: any split into pieces gives the same bytes.
            let mut rng = Rng::new(self.spec.seed ^ 0xC4D5_EED0_0000_0000, c);
            self.card(&mut rng, &org_id, &units, c);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn admins(
        &mut self,
        rng: &mut Rng,
        o: u64,
        org_id: &str,
        name: &str,
        units: &[String],
        region: bool,
        n_cards: u64,
    ) {
        // 0–6 registrations: regions have several, small clinics often too few.
        let n = if region {
            3 + rng.below(4)
        } else if n_cards > 100 {
            2 + rng.below(3)
        } else {
            [0, 1, 2, 2, 2, 3, 3, 4][rng.below(8) as usize]
        };
        let as_of = self.spec.as_of;
        let mut crng = Rng::new(self.spec.seed ^ CAMPAIGN_ADMIN, o);
        let mut people: Vec<(i32, u32, String)> = Vec::new();
        for _ in 0..n {
            let pnr = personnummer(rng, &mut people);
            let (full_name, email) = contact(rng, org_id);
            let reg_day = as_of - 20 - rng.below(400) as i32;
            let registered = self.at(reg_day, rng);
            let trained_day = match rng.below(100) {
                0..=7 => None,                                      // not trained
                8..=10 => Some(reg_day - 1 - rng.below(10) as i32), // before registration
                11..=12 => Some(as_of + 1 + rng.below(20) as i32),  // after the export
                _ => Some(reg_day + rng.below(19) as i32),
            };
            let trained = trained_day.map(|d| self.at(d, rng));
            let values = [
                (!rng.chance(0.02)).then_some(full_name),
                (!rng.chance(0.02)).then_some(pnr),
                (!rng.chance(0.02)).then_some(email),
                (!rng.chance(0.02)).then(|| name.to_string()),
                (!rng.chance(0.02)).then(|| units[rng.below(units.len() as u64) as usize].clone()),
            ];
            let registered = (!rng.chance(0.02)).then_some(registered);
            let mut dates = AdminDates { reg_day, registered, trained_day, trained };
            if let Some(c) = self.spec.campaign {
                match self.admin_on_night(c, &mut crng, dates) {
                    Some(d) => dates = d,
                    None => continue,
                }
            }
            let b = &mut self.admins;
            b[0].append_value(org_id);
            for (b, v) in b[1..].iter_mut().zip(values) {
                b.append_option(v);
            }
            self.admin_times[0].append_option(dates.registered);
            self.admin_times[1].append_option(dates.trained);
        }
    }

    /// An administrator's dates as known on campaign night `c`, or `None` before the
    /// registration. Organisations cleared during the campaign train their administrators
    /// in the days after `clears_on`, registered before.
    fn admin_on_night(&self, c: CampaignNight, crng: &mut Rng, mut d: AdminDates) -> Option<AdminDates> {
        if let (Some(on), Some(_)) = (self.clears_on, d.trained_day) {
            let day = on + crng.below(CLEARING_DAYS as u64) as i32;
            if d.reg_day > day {
                d.reg_day = day - 1 - crng.below(30) as i32;
                d.registered = d.registered.map(|_| self.at(d.reg_day, crng));
            }
            d.trained = Some(self.at(day, crng));
            d.trained_day = Some(day);
        }
        if d.reg_day > c.night {
            return None;
        }
        if d.trained_day.is_some_and(|t| t > c.night) {
            d.trained = None;
        }
        Some(d)
    }

    fn card(&mut self, rng: &mut Rng, org_id: &str, units: &[String], index: u64) {
        let card_id = format!("{:016X}", scramble(index ^ self.spec.seed.rotate_left(32)));
        let mut life = self.card_life(rng);
        if let Some(c) = self.spec.campaign {
            let crng = &mut Rng::new(self.spec.seed ^ CAMPAIGN_CARD, index);
            if !self.card_on_night(&mut life, c, crng) {
                return;
            }
        }
        let CardLife { old, status, ordered, sent, received, upgraded, .. } = life;
        let code = |rng: &mut Rng| match rng.below(100) {
            0..=4 => Some(false),
            5..=11 => None,
            _ => Some(true),
        };
        let b = &mut self.cards;
        b[0].append_value(&card_id);
        b[1].append_value(org_id);
        b[2].append_option((!rng.chance(0.03)).then(|| units[rng.below(units.len() as u64) as usize].clone()));
        b[3].append_value(if old { "SITHS" } else { "SITHS_EID" });
        // Some exports write statuses in Swedish.
        let swedish = match status {
            "ordered" => "beställt",
            "sent" => "skickat",
            "received" => "mottaget",
            _ => "spärrat",
        };
        b[4].append_value(if rng.chance(0.1) { swedish } else { status });
        for (t, v) in self.card_times.iter_mut().zip([Some(ordered), sent, received, upgraded]) {
            t.append_option(v);
        }
        let auth = code(rng);
        self.card_codes[0].append_option(auth);
        let sign = code(rng);
        self.card_codes[1].append_option(sign);
        self.certs(rng, &card_id, index);
    }

    /// A card's type, final status and dates, as of the export (the last night).
    fn card_life(&self, rng: &mut Rng) -> CardLife {
        let as_of = self.spec.as_of;
        let old = rng.chance(0.85);
        let status = match rng.below(100) {
            0..=3 => "ordered",
            4..=8 => "sent",
            9..=16 => "revoked",
            _ => "received",
        };
        let unissued = matches!(status, "ordered" | "sent");
        // Half of the unissued cards are older than three months.
        let ordered_day = if unissued {
            if rng.chance(0.5) { as_of - 2 - rng.below(88) as i32 } else { as_of - 95 - rng.below(300) as i32 }
        } else {
            as_of - 30 - rng.below(1500) as i32
        };
        let ordered = self.at(ordered_day, rng);
        let sent_day = ordered_day + 1 + rng.below(7) as i32;
        let sent = (status != "ordered").then(|| self.at(sent_day, rng));
        let received_day = sent_day + 1 + rng.below(14) as i32;
        let received = matches!(status, "received" | "revoked").then(|| self.at(received_day, rng));
        let received = if status == "received" && rng.chance(0.005) { None } else { received };
        // Upgrades: most after receipt and before the deadline, some after it, some
        // before receipt, a few on sent cards. The day, and whether it breaks the rules
        // on purpose (after the deadline, before receipt).
        let upgrade: Option<(i32, bool)> = if old && status == "received" && rng.chance(0.45) {
            // The campaign: upgrades from 75 days before the export up to the deadline.
            let first = received_day.max(as_of - 75);
            let last = as_of.min(self.deadline - 1).max(first);
            Some(if rng.chance(0.02) {
                (self.deadline + rng.below(20) as i32, true)
            } else if rng.chance(0.02) {
                (received_day - 1, true)
            } else {
                (first + rng.below((last - first + 1) as u64) as i32, false)
            })
        } else if unissued && old && rng.chance(0.02) {
            Some((ordered_day + 1, true))
        } else if !old && rng.chance(0.002) {
            Some((received_day.min(as_of), false))
        } else {
            None
        };
        let upgraded = upgrade.map(|(day, _)| self.at(day, rng));
        CardLife { old, status, ordered_day, sent_day, received_day, ordered, sent, received, upgrade, upgraded }
    }

    /// The card as known on campaign night `c`: its status then, and only the dates up to
    /// it; its upgrade drawn at its organisation's pace. False if it was not yet ordered.
    fn card_on_night(&self, life: &mut CardLife, c: CampaignNight, crng: &mut Rng) -> bool {
        if life.ordered_day > c.night {
            return false;
        }
        let mut day = life.upgrade.map(|u| u.0);
        if life.old && life.status == "received" && !life.upgrade.is_some_and(|u| u.1) {
            // Not before every administrator of an organisation cleared during the
            // campaign is trained: it upgrades its backlog once it may.
            let cleared = self.clears_on.map_or(i32::MIN, |d| d + CLEARING_DAYS);
            let not_before = (life.received_day + 1).max(cleared);
            day = self.pace.upgrade_day(crng, not_before, c.first, self.spec.as_of, self.deadline);
            life.upgraded = day.map(|d| self.at(d, crng));
        }
        if day.is_some_and(|d| d > c.night) {
            life.upgraded = None;
        }
        let received_day = life.received_day;
        let revoked_day = received_day + 1 + crng.below((self.spec.as_of - received_day).max(1) as u64) as i32;
        life.status = match life.status {
            "revoked" if revoked_day <= c.night => "revoked",
            "received" | "revoked" if received_day <= c.night => "received",
            "ordered" => "ordered",
            _ if life.sent_day <= c.night => "sent",
            _ => "ordered",
        };
        life.sent = life.sent.filter(|_| life.sent_day <= c.night);
        life.received = life.received.filter(|_| received_day <= c.night);
        true
    }

    fn certs(&mut self, rng: &mut Rng, card_id: &str, index: u64) {
        // 2–9 certificates, 4.5 on average.
        let n = 2 + pick(rng, &[15, 20, 20, 17, 11, 8, 5, 4]);
        let as_of = self.spec.as_of;
        for j in 0..n {
            let issuer = match (j, rng.below(10)) {
                (0, _) | (_, 0..=3) => {
                    ["CN=SITHS e-id Person ID 3 CA,O=Inera AB,C=SE", "Svensk e-identitet AB SITHS CA v1"]
                        [rng.below(2) as usize]
                        .to_string()
                }
                (_, 4..=6) => "CN=TeliaSonera e-legitimation CA v4,O=TeliaSonera".to_string(),
                _ => format!("CN=Region {} EK CA", REGION_NAMES[rng.below(21) as usize]),
            };
            let serial = format!("{:016x}{:04x}", scramble(index * 16 + j), j);
            let not_after = self.at(as_of - 200 + rng.below(1100) as i32, rng);
            let c = &mut self.certs;
            c[0].append_value(&serial);
            // One certificate in 20,000 points at a card that does not exist.
            if rng.chance(0.000_05) {
                c[1].append_value(format!("{card_id}X"));
            } else {
                c[1].append_value(card_id);
            }
            c[2].append_value(&issuer);
            self.cert_not_after.append_option((!rng.chance(0.05)).then_some(not_after));
            self.cert_revoked.append_option(match rng.below(100) {
                0..=2 => Some(true),
                3..=20 => None,
                _ => Some(false),
            });
        }
    }

    fn finish(mut self) -> [RecordBatch; 4] {
        let strs =
            |bs: &mut [StringBuilder]| bs.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect::<Vec<_>>();
        let orgs = RecordBatch::try_new(org_schema(), strs(&mut self.orgs)).expect("schema");
        let mut a = strs(&mut self.admins);
        a.extend(self.admin_times.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        let admins = RecordBatch::try_new(admin_schema(), a).expect("schema");
        let mut c = strs(&mut self.cards);
        c.extend(self.card_times.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        c.extend(self.card_codes.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef));
        let cards = RecordBatch::try_new(card_schema(), c).expect("schema");
        let mut k = strs(&mut self.certs);
        k.push(Arc::new(self.cert_not_after.finish()));
        k.push(Arc::new(self.cert_revoked.finish()));
        let certs = RecordBatch::try_new(cert_schema(), k).expect("schema");
        [orgs, admins, cards, certs]
    }
}
