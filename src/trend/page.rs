//! `trend.html`: the campaign on one page that prints: the national burn-down with the
//! deadline and the projection, the verdicts night by night, and the organisations
//! furthest behind, each with a small line of its remaining cards. Inline SVG only.

use std::fmt::Write as _;

use maud::{Markup, html};

use super::{ForecastRow, NightSweep};
use crate::output::html::{page, table};
use crate::rules::Verdict;
use crate::time::format_date;

/// The plot area of the big charts, in SVG units.
const W: f64 = 640.0;
const H: f64 = 220.0;
/// Room for the axis labels.
const LEFT: f64 = 70.0;
const BOTTOM: f64 = 30.0;

/// One colour per verdict, in the order of `Verdict::ALL`.
const VERDICT_COLOURS: [&str; Verdict::COUNT] =
    ["#3b6ea5", "#d08c2b", "#5a9e6f", "#8c5aa5", "#b42318", "#c9a227", "#9aa0a6"];

pub fn render(nights: &[NightSweep], forecasts: &[ForecastRow], window: i32, deadline: i32) -> String {
    let (first, last) = (nights[0].as_of, nights[nights.len() - 1].as_of);
    let country = forecasts.iter().find(|r| r.org_id.is_none()).expect("the country has a row");
    let off_track = forecasts.iter().filter(|r| r.org_id.is_some() && !r.forecast.on_track()).count();
    let orgs = forecasts.len() - 1;
    let body = html! {
        h1 { "SITHS upgrade campaign, " (format_date(first)) " – " (format_date(last)) }
        p.muted {
            (nights.len()) " nights; deadline " (format_date(deadline)) " (upgrades count before it); pace over the last "
            (window) " days."
        }
        p {
            strong { (country.remaining) } " cards remain nationally, " (country.upgraded_total) " are upgraded. "
            @if country.remaining == 0 {
                "No card remains to be upgraded. "
            } @else {
                @match (country.forecast.projected_done, country.forecast.rate_per_day) {
                    (Some(done), _) => { "At the current pace the last card is upgraded on " (format_date(done)) ". " }
                    (None, Some(_)) => { "At the current pace the remaining cards are never upgraded. " }
                    (None, None) => { "The pace is not known yet: no earlier night in the window. " }
                }
            }
            @if country.forecast.on_track() { "The country is on track." }
            @else { (country.forecast.shortfall) " cards will not be upgraded before the deadline." }
            " " (off_track) " of " (orgs) " organisations are off track."
        }
        h2 { "Remaining cards, night by night" }
        (burn_down(nights, country, deadline))
        h2 { "Cards per verdict, night by night" }
        (verdicts(nights))
        h2 { "The 20 organisations with the largest shortfall" }
        (behind(nights, forecasts))
    };
    page("en", &format!("SITHS campaign {}", format_date(last)), &body)
}

/// x of a day on a time axis from `from` to `to` (days).
fn x_of(day: i32, from: i32, to: i32) -> f64 {
    LEFT + f64::from(day - from) / f64::from((to - from).max(1)) * W
}

fn y_of(v: i64, max: i64) -> f64 {
    H - v as f64 / max.max(1) as f64 * H + 10.0
}

/// The national burn-down: remaining cards per night, the deadline, and the straight
/// line of the current pace to the projected day (to the chart's edge if that is far).
fn burn_down(nights: &[NightSweep], country: &ForecastRow, deadline: i32) -> Markup {
    let (first, last) = (nights[0].as_of, nights[nights.len() - 1].as_of);
    let remaining: Vec<(i32, i64)> = nights.iter().map(|n| (n.as_of, n.country.remaining())).collect();
    let max = remaining.iter().map(|r| r.1).max().unwrap_or(0);
    // The axis reaches the deadline, and the projection when it is not too far beyond.
    let horizon = last + 2 * (last - first).max(14);
    let to = deadline.max(last + 1).max(country.forecast.projected_done.map_or(0, |d| d.min(horizon)));
    let mut points = String::new();
    for &(day, r) in &remaining {
        let _ = write!(points, "{:.1},{:.1} ", x_of(day, first, to), y_of(r, max));
    }
    let (tx, ty) = (x_of(last, first, to), y_of(country.remaining, max));
    let projection = country.forecast.projected_done.filter(|_| country.remaining > 0).map(|done| {
        // Cut at the edge: the line keeps its slope.
        let end = done.min(to);
        let left = country.remaining as f64 * (1.0 - f64::from(end - last) / f64::from((done - last).max(1)));
        (x_of(end, first, to), y_of(left.round() as i64, max))
    });
    let dx = x_of(deadline, first, to);
    html! {
        svg role="img" width=(LEFT + W + 20.0) height=(H + BOTTOM + 20.0)
            viewBox=(format!("0 0 {} {}", LEFT + W + 20.0, H + BOTTOM + 20.0)) {
            title { "Remaining cards per night, with the deadline and the projection at the current pace" }
            line x1=(LEFT) y1=(y_of(0, max)) x2=(LEFT + W) y2=(y_of(0, max)) stroke="#999" {}
            line x1=(LEFT) y1=(y_of(max, max)) x2=(LEFT) y2=(y_of(0, max)) stroke="#999" {}
            text x=(LEFT - 6.0) y=(y_of(max, max) + 4.0) text-anchor="end" { (max) }
            text x=(LEFT - 6.0) y=(y_of(0, max) + 4.0) text-anchor="end" { "0" }
            text x=(LEFT) y=(H + BOTTOM) { (format_date(first)) }
            text x=(tx) y=(H + BOTTOM) text-anchor="middle" { (format_date(last)) }
            line x1=(dx) y1=(y_of(max, max)) x2=(dx) y2=(y_of(0, max)) stroke="#b42318" stroke-dasharray="4 3" {}
            text x=(dx) y=(y_of(max, max) - 1.0) text-anchor="middle" fill="#b42318" { "deadline " (format_date(deadline)) }
            polyline points=(points.trim_end()) fill="none" stroke="#3b6ea5" stroke-width="2" {}
            @for &(day, r) in &remaining {
                circle cx=(format!("{:.1}", x_of(day, first, to))) cy=(format!("{:.1}", y_of(r, max))) r="2.5" fill="#3b6ea5" {}
            }
            @if let Some((px, py)) = projection {
                line x1=(format!("{tx:.1}")) y1=(format!("{ty:.1}")) x2=(format!("{px:.1}")) y2=(format!("{py:.1}"))
                    stroke="#3b6ea5" stroke-dasharray="6 4" {}
            }
            @if let Some(done) = country.forecast.projected_done.filter(|_| country.remaining > 0) {
                text x=(LEFT + W) y=(y_of(0, max) - 6.0) text-anchor="end" { "projected done " (format_date(done)) }
            }
        }
    }
}

/// Each night's cards as a bar split by verdict, with a legend.
fn verdicts(nights: &[NightSweep]) -> Markup {
    let sums: Vec<(i32, [i64; Verdict::COUNT])> = nights.iter().map(|n| (n.as_of, n.country.verdicts)).collect();
    let max = sums.iter().map(|(_, v)| v.iter().sum::<i64>()).max().unwrap_or(0);
    let slot = W / sums.len() as f64;
    let bar = (slot * 0.8).max(1.0);
    html! {
        svg role="img" width=(LEFT + W + 20.0) height=(H + BOTTOM + 40.0)
            viewBox=(format!("0 0 {} {}", LEFT + W + 20.0, H + BOTTOM + 40.0)) {
            title { "Cards per verdict, night by night" }
            text x=(LEFT - 6.0) y=(y_of(max, max) + 4.0) text-anchor="end" { (max) }
            text x=(LEFT - 6.0) y=(y_of(0, max) + 4.0) text-anchor="end" { "0" }
            @for (i, (day, v)) in sums.iter().enumerate() {
                g {
                    title { (format_date(*day)) }
                    @for (k, (top, height)) in stack(v, max).into_iter().enumerate() {
                        rect x=(format!("{:.1}", LEFT + i as f64 * slot)) y=(format!("{top:.1}"))
                            width=(format!("{bar:.1}")) height=(format!("{height:.1}")) fill=(VERDICT_COLOURS[k]) {}
                    }
                }
            }
            @for (k, v) in Verdict::ALL.iter().enumerate() {
                @let x = LEFT + k as f64 * (W / Verdict::COUNT as f64);
                rect x=(x) y=(H + BOTTOM) width="10" height="10" fill=(VERDICT_COLOURS[k]) {}
                text x=(x + 14.0) y=(H + BOTTOM + 9.0) { (v.code().to_lowercase()) }
            }
        }
    }
}

/// The top and height of each verdict's piece of a night's bar, bottom up.
fn stack(counts: &[i64; Verdict::COUNT], max: i64) -> Vec<(f64, f64)> {
    let mut below = 0;
    counts
        .iter()
        .map(|&n| {
            let top = y_of(below + n, max);
            let piece = (top, y_of(below, max) - top);
            below += n;
            piece
        })
        .collect()
}

/// A small line of one organisation's remaining cards on the nights it appears on.
fn sparkline(nights: &[NightSweep], org_id: &str) -> Markup {
    let (first, last) = (nights[0].as_of, nights[nights.len() - 1].as_of);
    let series: Vec<(i32, i64)> =
        nights.iter().filter_map(|n| n.orgs.get(org_id).map(|o| (n.as_of, o.remaining()))).collect();
    // Scaled between its own least and most, so that a small organisation's progress
    // shows as clearly as a region's.
    let min = series.iter().map(|s| s.1).min().unwrap_or(0);
    let max = series.iter().map(|s| s.1).max().unwrap_or(0);
    let mut points = String::new();
    for (day, r) in &series {
        let x = 2.0 + f64::from(day - first) / f64::from((last - first).max(1)) * 116.0;
        let y = if max == min { 12.0 } else { 22.0 - (r - min) as f64 / (max - min) as f64 * 20.0 };
        let _ = write!(points, "{x:.1},{y:.1} ");
    }
    html! {
        svg role="img" width="120" height="24" viewBox="0 0 120 24" {
            title { "remaining cards per night, between " (min) " and " (max) }
            polyline points=(points.trim_end()) fill="none" stroke="#b42318" stroke-width="1.5" {}
        }
    }
}

/// The organisations furthest behind (the forecast rows are sorted by shortfall).
fn behind(nights: &[NightSweep], forecasts: &[ForecastRow]) -> Markup {
    let last = &nights[nights.len() - 1];
    let rows: Vec<&ForecastRow> =
        forecasts.iter().filter(|r| r.org_id.is_some() && r.forecast.shortfall > 0).take(20).collect();
    if rows.is_empty() {
        return html! { p.ok { "Every organisation is on track." } };
    }
    let rows: Vec<Vec<Markup>> = rows
        .iter()
        .map(|r| {
            let id = r.org_id.as_deref().expect("organisations only");
            let name = last.orgs.get(id).and_then(|o| o.org_name.clone()).unwrap_or_default();
            let rate = r.forecast.rate_per_day.map_or("unknown".to_string(), |v| format!("{v:.2}"));
            let done = match (r.forecast.projected_done, r.forecast.rate_per_day) {
                (Some(day), _) => format_date(day),
                (None, Some(_)) => "not at this pace".to_string(),
                (None, None) => "unknown".to_string(),
            };
            vec![
                html! { (id) },
                html! { (name) },
                html! { (r.remaining) },
                html! { (rate) },
                html! { (done) },
                html! { (r.forecast.shortfall) },
                sparkline(nights, id),
            ]
        })
        .collect();
    table(
        &["org_id", "name", "remaining", "per day", "projected done", "shortfall", "remaining per night"],
        &[false, false, true, true, false, true, false],
        rows,
    )
}
