//! What every HTML page of ours shares: the stylesheet (written once, here), the page
//! frame, and horizontal bars as inline SVG. Pages are built with maud's `html!`, which
//! escapes every value it is given unless it is wrapped in `PreEscaped`; nothing from
//! the input is ever wrapped so. A page is self-contained: no scripts, fonts, styles or
//! images from elsewhere, so that it opens from disk, prints, and can be mailed.
//!
//! Why maud rather than askama: the pages are assembled from Rust values in a few
//! loops, and maud's templates are Rust code the compiler checks (a misspelt field or
//! a missing value fails to build; there are no template files to keep in step); it
//! writes exactly the markup written, with no whitespace carried over from template
//! files, so a page's bytes stay as deterministic as the other outputs; and it is one
//! small proc-macro crate, next to nothing against the build's compile time.

use maud::{DOCTYPE, Markup, PreEscaped, Render, html};

/// The one stylesheet of the summary and the organisations' pages.
const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:62em;color:#222;padding:0 1em}\
h1{font-size:1.5em;margin-bottom:.2em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
h3{font-size:1em;margin:1.4em 0 .3em}table{border-collapse:collapse;margin:.4em 0}\
td,th{padding:.2em .6em;border-bottom:1px solid #eee;text-align:left;vertical-align:top}\
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}td.d{white-space:nowrap}\
.muted{color:#666}.ok{color:#1a7f37}.bad{color:#b42318}svg text{font:12px sans-serif}\
@media print{body{margin:0;max-width:none}h2,h3{break-after:avoid}tr,svg{break-inside:avoid}}";

/// A whole page: `lang` is the page's language ("en", "sv"), `title` plain text.
pub fn page(lang: &str, title: &str, body: &Markup) -> String {
    let mut page = html! {
        (DOCTYPE)
        html lang=(lang) {
            head { meta charset="utf-8"; title { (title) } style { (PreEscaped(STYLE)) } }
            body { (body) }
        }
    }
    .into_string();
    page.push('\n');
    page
}

/// A horizontal bar chart: one labelled bar per item, scaled to the largest value.
pub fn bars(items: &[(String, i64)], colour: &str) -> Markup {
    const LABEL_W: i64 = 130;
    const BAR_W: i64 = 420;
    const ROW_H: i64 = 22;
    let max = items.iter().map(|(_, v)| *v).max().unwrap_or(0).max(1);
    let width = LABEL_W + BAR_W + 90;
    let height = items.len() as i64 * ROW_H + 4;
    html! {
        svg role="img" width=(width) height=(height) viewBox=(format!("0 0 {width} {height}")) {
            @for (i, (label, v)) in items.iter().enumerate() {
                @let y = i as i64 * ROW_H;
                @let w = (*v as f64 / max as f64 * BAR_W as f64).round() as i64;
                text x=(LABEL_W - 6) y=(y + 15) text-anchor="end" { (label) }
                // Closed explicitly: in SVG a start tag without an end tag would hold
                // everything after it.
                rect x=(LABEL_W) y=(y + 3) width=(w) height=(ROW_H - 6) fill=(colour) {}
                text x=(LABEL_W + w + 6) y=(y + 15) { (v) }
            }
        }
    }
}

/// A table of rows of cells under a header row (none if `head` is empty); `numeric`
/// marks the right-aligned columns.
pub fn table<R: Render>(head: &[&str], numeric: &[bool], rows: impl IntoIterator<Item = Vec<R>>) -> Markup {
    let class = |i: usize| numeric.get(i).copied().unwrap_or(false).then_some("n");
    html! {
        table {
            @if !head.is_empty() {
                tr { @for (i, h) in head.iter().enumerate() { th class=[class(i)] { (h) } } }
            }
            @for row in rows {
                tr { @for (i, cell) in row.iter().enumerate() { td class=[class(i)] { (cell) } } }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whatever a value holds, it reaches the page as text, never as markup.
    #[test]
    fn values_are_escaped() {
        let hostile = "<script>alert(\"x\")</script>&amp;";
        let page = page("en", hostile, &html! { p { (hostile) } });
        assert!(!page.contains("<script>"));
        assert_eq!(page.matches("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;").count(), 2);
        let chart = bars(&[(hostile.to_string(), 3)], "red").into_string();
        assert!(!chart.contains("<script>") && chart.contains("&lt;script&gt;"));
        let t = table(&["h"], &[false], [vec![hostile]]).into_string();
        assert!(!t.contains("<script>") && t.contains("&lt;script&gt;"));
    }

    #[test]
    fn bars_scale_to_the_largest_value_and_close_every_element() {
        let chart = bars(&[("a".into(), 2), ("b".into(), 4), ("c".into(), 0)], "red").into_string();
        assert!(chart.contains("width=\"210\""), "half the largest: {chart}");
        assert!(chart.contains("width=\"420\""));
        assert!(chart.contains("width=\"0\""));
        assert_eq!(chart.matches("<rect").count(), chart.matches("</rect>").count());
    }

    #[test]
    fn numeric_columns_are_marked() {
        let t = table(&["name", "n"], &[false, true], [vec!["x".to_string(), "1".to_string()]]).into_string();
        assert_eq!(
            t,
            "<table><tr><th>name</th><th class=\"n\">n</th></tr><tr><td>x</td><td class=\"n\">1</td></tr></table>"
        );
    }
}
