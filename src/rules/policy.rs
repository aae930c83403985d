//! The policy: the notice's numbers, overridable by `--policy FILE` (SPEC "Policy").

use serde::{Deserialize, Serialize};

use crate::time::{Zone, format_date, parse_date};

/// The policy as written in TOML; defaults come from the issuer's notice.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PolicyFile {
    /// Upgrades must happen before this local date ("before 9 December 2021").
    pub deadline: String,
    /// Ordered cards must be received within this many calendar months.
    pub unissued_months: u32,
    /// "There must be two ID administrators who have completed our training."
    pub min_trained_admins: u32,
    /// "Problems seem to appear with more than six certificates, Telia's included."
    pub max_certs_on_card: u32,
    pub time_zone: String,
    pub issuers: IssuerPatterns,
}

/// Case-insensitive substrings of a certificate's issuer; anything else is third party.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct IssuerPatterns {
    pub card_issuer: Vec<String>,
    pub telia: Vec<String>,
}

impl Default for PolicyFile {
    fn default() -> Self {
        PolicyFile {
            deadline: "2021-12-09".into(),
            unissued_months: 3,
            min_trained_admins: 2,
            max_certs_on_card: 6,
            time_zone: "Europe/Stockholm".into(),
            issuers: IssuerPatterns::default(),
        }
    }
}

impl Default for IssuerPatterns {
    fn default() -> Self {
        IssuerPatterns { card_issuer: vec!["Svensk e-identitet".into(), "SITHS".into()], telia: vec!["Telia".into()] }
    }
}

/// The policy checked and ready for the rules: dates as day numbers, the zone loaded,
/// the issuer patterns lowercased once.
#[derive(Clone, Debug)]
pub struct Policy {
    pub file: PolicyFile,
    pub deadline: i32,
    pub unissued_months: u32,
    pub min_trained_admins: u32,
    pub max_certs_on_card: u32,
    pub zone: Zone,
    card_issuer: Vec<String>,
    telia: Vec<String>,
}

/// What kind of issuer a certificate has (SPEC: card_issuer patterns first, then telia).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IssuerKind {
    CardIssuer,
    Telia,
    ThirdParty,
}

impl Policy {
    pub fn from_file(file: PolicyFile) -> Result<Policy, String> {
        let deadline = parse_date(file.deadline.trim())
            .ok_or_else(|| format!("deadline {:?} is not a date (YYYY-MM-DD)", file.deadline))?;
        if file.min_trained_admins < 1 {
            return Err("min_trained_admins must be at least 1".into());
        }
        let zone = Zone::new(&file.time_zone)?;
        let lower = |v: &[String]| v.iter().map(|s| s.to_lowercase()).collect::<Vec<_>>();
        Ok(Policy {
            deadline,
            unissued_months: file.unissued_months,
            min_trained_admins: file.min_trained_admins,
            max_certs_on_card: file.max_certs_on_card,
            zone,
            card_issuer: lower(&file.issuers.card_issuer),
            telia: lower(&file.issuers.telia),
            file,
        })
    }

    pub fn from_toml(text: &str) -> Result<Policy, String> {
        let file: PolicyFile = toml::from_str(text).map_err(|e| e.message().to_string())?;
        Policy::from_file(file)
    }

    /// The effective policy as recorded in the manifest.
    pub fn to_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(&self.file).expect("policy serialises");
        v["deadline"] = format_date(self.deadline).into();
        v
    }

    /// Classifies an issuer name or DN: card-issuer patterns first, then Telia's.
    pub fn issuer_kind(&self, issuer: &str) -> IssuerKind {
        let lower = issuer.to_lowercase();
        if self.card_issuer.iter().any(|p| lower.contains(p.as_str())) {
            IssuerKind::CardIssuer
        } else if self.telia.iter().any(|p| lower.contains(p.as_str())) {
            IssuerKind::Telia
        } else {
            IssuerKind::ThirdParty
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::from_file(PolicyFile::default()).expect("the default policy is valid")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_notice() {
        let p = Policy::default();
        assert_eq!(format_date(p.deadline), "2021-12-09");
        assert_eq!((p.unissued_months, p.min_trained_admins, p.max_certs_on_card), (3, 2, 6));
        assert_eq!(p.zone.name(), "Europe/Stockholm");
    }

    #[test]
    fn issuer_classification_order_and_case() {
        let p = Policy::default();
        assert_eq!(p.issuer_kind("CN=SITHS e-id Person ID 3 CA,O=Inera AB"), IssuerKind::CardIssuer);
        assert_eq!(p.issuer_kind("svensk E-IDENTITET"), IssuerKind::CardIssuer);
        assert_eq!(p.issuer_kind("TeliaSonera e-legitimation"), IssuerKind::Telia);
        // Card-issuer patterns win when both match.
        assert_eq!(p.issuer_kind("Telia SITHS CA"), IssuerKind::CardIssuer);
        assert_eq!(p.issuer_kind("Region Skåne EK CA"), IssuerKind::ThirdParty);
    }

    #[test]
    fn overrides_replace_each_list_separately() {
        let p = Policy::from_toml("deadline = \"2022-01-31\"\n[issuers]\ntelia = [\"Telia\", \"Sonera\"]\n").unwrap();
        assert_eq!(format_date(p.deadline), "2022-01-31");
        assert_eq!(p.issuer_kind("SITHS"), IssuerKind::CardIssuer);
        assert_eq!(p.issuer_kind("Sonera"), IssuerKind::Telia);
        let p = Policy::from_toml("[issuers]\ncard_issuer = [\"Inera\"]\n").unwrap();
        assert_eq!(p.issuer_kind("SITHS CA"), IssuerKind::ThirdParty);
        assert_eq!(p.issuer_kind("telia"), IssuerKind::Telia);
    }

    #[test]
    fn bad_policies_are_errors() {
        assert!(Policy::from_toml("deadlin = \"2021-12-09\"").unwrap_err().contains("deadlin"));
        assert!(Policy::from_toml("min_trained_admins = 0").is_err());
        assert!(Policy::from_toml("deadline = \"9 Dec\"").is_err());
        assert!(Policy::from_toml("time_zone = \"Mars/Olympus\"").is_err());
        assert!(Policy::from_toml("[issuers]\nregion = [\"x\"]").is_err());
        let p = Policy::from_toml("time_zone = \"UTC\"").unwrap();
        assert_eq!(p.zone.name(), "UTC");
    }
}
