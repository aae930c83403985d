//! The stages of a run, as progress on stderr and as `manifest.json`'s `timings_ms`.

use crate::vocabulary::vocabulary;

vocabulary! {
    /// A stage of `run`, in the order they run. The code is the stage's key in
    /// `timings_ms`; the facts are what the progress line says.
    pub enum Stage: &'static str {
        ReadOrganisations = "read_organisations" => "reading organisations",
        ReadIdAdmins = "read_id_admins" => "reading id_admins",
        ReadCards = "read_cards" => "reading cards",
        ReadCertificates = "read_certificates" => "reading certificates",
        Keys = "keys" => "checking duplicate keys",
        Evaluate = "evaluate" => "evaluating cards",
        Aggregate = "aggregate" => "aggregating organisations",
        Write = "write" => "writing outputs",
        OrgReports = "org_reports" => "writing organisation reports",
        Diff = "diff" => "comparing with the previous sweep",
    }
}
