//! The report as an Obsidian note: front matter, a summary paragraph,
//! Mermaid charts, and tables of what needs a person's eyes.

use std::fmt::Write as _;
use std::path::Path;

use chrono::{DateTime, Datelike, Utc};

use super::chart::{self, Bars, Series, MAX_CATEGORIES};
use super::facts::{percentile, Facts, Newest, LEVELS};
use super::AlertNote;
use crate::markdown::{cell, wiki_link};
use crate::time::format_timestamp;

/// The colours of INFO, WARNING, ERROR and CRITICAL in the stacked bars.
const LEVEL_COLOURS: [&str; 4] = ["#086ddd", "#e0ac00", "#ec7500", "#e93147"];

/// What the note is made of.
pub struct Parts<'a> {
    /// The counts.
    pub facts: &'a Facts,
    /// The alert notes raised in the period.
    pub alerts: &'a [AlertNote],
    /// When the report was made.
    pub generated_at: DateTime<Utc>,
    /// The vault, to link targets that are notes in it.
    pub vault: &'a Path,
}

fn when(t: &DateTime<Utc>) -> String {
    t.format("%-d %B %Y %H:%M UTC").to_string()
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Minutes as `2 h 05 min`, `12 min` or `40 s`.
fn minutes(m: f64) -> String {
    if m < 1.0 {
        format!("{} s", (m * 60.0).round() as i64)
    } else if m < 60.0 {
        format!("{} min", m.round() as i64)
    } else {
        let m = m.round() as i64;
        format!("{} h {:02} min", m / 60, m % 60)
    }
}

fn front_matter(p: &Parts<'_>) -> String {
    let f = p.facts;
    let a = &f.approvals;
    format!(
        "---\ntype: audit-report\nperiod_start: {}\nperiod_end: {}\ngenerated_at: {}\nentries: {}\nactors: {}\nfailures: {}\nerrors: {}\ncritical: {}\napprovals_requested: {}\napprovals_waiting: {}\nalerts: {}\ntags:\n  - audit-report\n---\n",
        format_timestamp(&f.since),
        format_timestamp(&f.until),
        format_timestamp(&p.generated_at),
        f.total,
        f.actors.len(),
        f.failure_total(),
        f.level_total(2),
        f.level_total(3),
        a.requested,
        a.waiting(),
        p.alerts.len(),
    )
}

fn summary(p: &Parts<'_>) -> String {
    let f = p.facts;
    if f.total == 0 {
        return format!(
            "No entries were recorded from {} to {}.\n",
            when(&f.since),
            when(&f.until)
        );
    }
    let mut text = format!(
        "From {} to {}, {} recorded {}. {} failed ({} ERROR, {} CRITICAL).",
        when(&f.since),
        when(&f.until),
        plural(f.actors.len() as u64, "actor", "actors"),
        plural(f.total, "entry", "entries"),
        plural(f.failure_total(), "entry", "entries"),
        f.level_total(2),
        f.level_total(3),
    );
    if let Some((day, counts)) = f
        .days
        .iter()
        .max_by_key(|(d, c)| (c.iter().sum::<u64>(), std::cmp::Reverse(**d)))
    {
        let _ = write!(
            text,
            " The busiest day was {} with {}.",
            day.format("%A %-d %B"),
            plural(counts.iter().sum(), "entry", "entries")
        );
    }
    if let Some((actor, n)) = f
        .failures_by_actor
        .iter()
        .max_by_key(|(a, n)| (**n, std::cmp::Reverse(a.as_str())))
    {
        let _ = write!(text, " Most failures: {} ({n}).", cell(actor));
    }
    let a = &f.approvals;
    if a.requested > 0 || a.waiting() > 0 {
        let _ = write!(
            text,
            " {} requested, {} still waiting for a decision.",
            plural(a.requested, "approval was", "approvals were"),
            a.waiting()
        );
    }
    if !p.alerts.is_empty() {
        let _ = write!(
            text,
            " {} raised.",
            plural(p.alerts.len() as u64, "alert was", "alerts were")
        );
    }
    text.push('\n');
    text
}

fn per_day(f: &Facts) -> String {
    let mut out = String::from("## Entries per day\n\n");
    // Cumulative totals drawn largest first: the visible bands are, from the
    // bottom, CRITICAL, ERROR, WARNING and INFO.
    let series = (0..4)
        .map(|from| {
            Series(
                LEVELS[from],
                f.days
                    .values()
                    .map(|c| c[from..].iter().sum::<u64>() as f64)
                    .collect(),
            )
        })
        .collect();
    let (first, last) = (f.since.date_naive(), f.until.date_naive());
    let across = format!(
        "Day (UTC), {} to {}",
        first.format("%-d %b %Y"),
        last.format("%-d %b %Y")
    );
    let bars = Bars {
        title: "Entries per day by level",
        across: &across,
        // The day of the month alone reads best; over more than a month
        // (where days would repeat) the month is shown too.
        categories: f
            .days
            .keys()
            .map(|d| {
                d.format(if f.days.len() > 31 { "%m-%d" } else { "%d" })
                    .to_string()
            })
            .collect(),
        axis: "entries",
        series,
        colours: &LEVEL_COLOURS,
        horizontal: false,
    };
    if let Some(block) = bars.block() {
        out.push_str(&block);
        out.push_str("\nBands, top to bottom: INFO (blue), WARNING (yellow), ERROR (orange), CRITICAL (red).\n\n");
    }
    out.push_str("| Day (UTC) | INFO | WARNING | ERROR | CRITICAL | Total |\n|---|---:|---:|---:|---:|---:|\n");
    for (day, c) in &f.days {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            day.format("%a %Y-%m-%d"),
            c[0],
            c[1],
            c[2],
            c[3],
            c.iter().sum::<u64>()
        );
    }
    out
}

fn counts(map: &std::collections::BTreeMap<String, u64>) -> Vec<(String, u64)> {
    map.iter().map(|(k, v)| (k.clone(), *v)).collect()
}

fn actions(f: &Facts) -> String {
    let mut out = String::from("## Actions by type\n\n");
    let slices = chart::top(&counts(&f.actions), 8, "other types");
    match chart::pie("Actions by type", &slices) {
        Some(block) => out.push_str(&block),
        None => out.push_str("No actions in this period.\n"),
    }
    out
}

fn failures_per_actor(f: &Facts) -> String {
    let mut out = String::from("## Failures per actor\n\n");
    let bars = chart::top(
        &counts(&f.failures_by_actor),
        MAX_CATEGORIES,
        "other actors",
    );
    let chart = Bars {
        title: "Failures per actor",
        across: "Actor",
        categories: bars.iter().map(|(a, _)| a.clone()).collect(),
        axis: "failures",
        series: vec![Series(
            "failures",
            bars.iter().map(|(_, n)| *n as f64).collect(),
        )],
        colours: &[LEVEL_COLOURS[3]],
        horizontal: true,
    };
    match chart.block() {
        Some(block) => out.push_str(&block),
        None => out.push_str("No failures in this period.\n"),
    }
    out
}

fn approvals(f: &Facts) -> String {
    let a = &f.approvals;
    let mut out = String::from("## Approvals\n\n");
    if a.requested + a.approved + a.rejected + a.expired == 0 {
        out.push_str("No approvals were requested or decided in this period.\n");
        return out;
    }
    let bars = Bars {
        title: "Approvals",
        across: "Step",
        categories: ["requested", "approved", "rejected", "expired", "waiting"]
            .map(str::to_owned)
            .to_vec(),
        axis: "count",
        series: vec![Series(
            "approvals",
            [a.requested, a.approved, a.rejected, a.expired, a.waiting()]
                .map(|n| n as f64)
                .to_vec(),
        )],
        colours: &["#08b94e"],
        horizontal: false,
    };
    out.push_str(&bars.block().unwrap_or_default());
    out.push('\n');
    match a.median_wait() {
        Some(m) => {
            let _ = writeln!(
                out,
                "Median time from request to decision: **{}** (over {}).",
                minutes(m),
                plural(a.waits.len() as u64, "decision", "decisions")
            );
        }
        None => out.push_str(
            "No decision in this period had its request in it, so there is no time to decision.\n",
        ),
    }
    out
}

fn durations(f: &Facts) -> String {
    let mut out = String::from("## Duration per skill\n\n");
    let mut rows: Vec<(&String, Vec<f64>)> = f
        .durations
        .iter()
        .map(|(actor, v)| {
            let mut v = v.clone();
            v.sort_by(f64::total_cmp);
            (actor, v)
        })
        .collect();
    if rows.is_empty() {
        out.push_str("No entry in this period has `parameters.duration_ms`.\n");
        return out;
    }
    rows.sort_by(|a, b| b.1.len().cmp(&a.1.len()).then_with(|| a.0.cmp(b.0)));
    rows.truncate(MAX_CATEGORIES);
    let pick = |v: &[f64], q| percentile(v, q).unwrap_or(0.0);
    let bars = Bars {
        title: "Duration per skill (ms), p95 behind p50",
        across: "Skill",
        categories: rows.iter().map(|(a, _)| (*a).clone()).collect(),
        axis: "ms",
        series: vec![
            Series("p95", rows.iter().map(|(_, v)| pick(v, 0.95)).collect()),
            Series("p50", rows.iter().map(|(_, v)| pick(v, 0.5)).collect()),
        ],
        colours: &["#a8c8f0", "#086ddd"],
        horizontal: true,
    };
    out.push_str(&bars.block().unwrap_or_default());
    out.push_str(
        "\n| Skill | Runs | p50 (ms) | p95 (ms) | Max (ms) |\n|---|---:|---:|---:|---:|\n",
    );
    for (actor, v) in &rows {
        let _ = writeln!(
            out,
            "| {} | {} | {:.0} | {:.0} | {:.0} |",
            cell(actor),
            v.len(),
            pick(v, 0.5),
            pick(v, 0.95),
            v.last().copied().unwrap_or(0.0)
        );
    }
    out
}

fn entry_table(heading: &str, rows: &Newest, vault: &Path, more: &[String]) -> String {
    let mut out = format!("## {heading}\n\n");
    if rows.total == 0 {
        out.push_str("None in this period.\n");
        return out;
    }
    out.push_str(
        "| Time (UTC) | Level | Action | Actor | Target | Error |\n|---|---|---|---|---|---|\n",
    );
    for r in rows.rows.iter().rev() {
        let target = wiki_link(&r.target, vault).unwrap_or_else(|| cell(&r.target));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {target} | {} |",
            r.time.format("%Y-%m-%d %H:%M:%S"),
            cell(&r.level),
            cell(&r.action),
            cell(&r.actor),
            cell(&r.error),
        );
    }
    let hidden = rows.total - rows.rows.len() as u64;
    if hidden > 0 {
        let _ = writeln!(
            out,
            "\nThe newest {} of {} are shown; {} list them all.",
            rows.rows.len(),
            rows.total,
            more.iter()
                .map(|m| format!("`{m}`"))
                .collect::<Vec<_>>()
                .join(" and ")
        );
    }
    out
}

fn alerts(p: &Parts<'_>) -> String {
    let mut out = String::from("## Alerts raised\n\n");
    if p.alerts.is_empty() {
        out.push_str("None in this period.\n");
        return out;
    }
    for a in p.alerts {
        let _ = writeln!(
            out,
            "- {} {}: [[{}]]",
            a.at.format("%Y-%m-%d %H:%M UTC"),
            a.level,
            a.note.trim_end_matches(".md")
        );
    }
    out
}

/// The whole note.
pub fn render(p: &Parts<'_>) -> String {
    let f = p.facts;
    let range = format!(
        "--since {} --until {}",
        format_timestamp(&f.since),
        format_timestamp(&f.until)
    );
    let title = format!(
        "# Audit report: {} to {}\n",
        // The start's year too when the period crosses into another.
        f.since.format(match f.since.year() == f.until.year() {
            true => "%-d %b",
            false => "%-d %b %Y",
        }),
        f.until.format("%-d %b %Y")
    );
    if f.total == 0 {
        return [front_matter(p), title, summary(p), alerts(p)].join("\n");
    }
    [
        front_matter(p),
        title,
        summary(p),
        per_day(f),
        actions(f),
        failures_per_actor(f),
        approvals(f),
        durations(f),
        entry_table(
            "Failures",
            &f.failures,
            p.vault,
            &[
                format!("vault-audit query {range} --level ERROR --level CRITICAL"),
                format!("vault-audit query {range} --result failure"),
            ],
        ),
        entry_table(
            "CRITICAL entries",
            &f.criticals,
            p.vault,
            &[format!("vault-audit query {range} --level CRITICAL")],
        ),
        alerts(p),
    ]
    .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note_over(since: &str, until: &str) -> String {
        let at = |t| crate::time::parse_timestamp(t).expect("time");
        let mut facts = Facts::new(at(since), at(until));
        let e = format!(r#"{{"timestamp":"{until}","log_level":"INFO","actor":"a"}}"#);
        facts.add(&serde_json::from_str(&e).expect("entry"));
        render(&Parts {
            facts: &facts,
            alerts: &[],
            generated_at: at(until),
            vault: Path::new("/nonexistent"),
        })
    }

    #[test]
    fn long_periods_name_both_years_and_months_on_the_axis() {
        let note = note_over("2025-12-01T00:00:00Z", "2026-01-31T00:00:00Z");
        assert!(
            note.contains("# Audit report: 1 Dec 2025 to 31 Jan 2026\n"),
            "{note}"
        );
        assert!(note.contains(r#"["12-01", "12-02""#), "{note}");
        let short = note_over("2026-11-09T00:00:00Z", "2026-11-22T00:00:00Z");
        assert!(
            short.contains("# Audit report: 9 Nov to 22 Nov 2026\n"),
            "{short}"
        );
        assert!(short.contains(r#"["09", "10""#), "{short}");
    }

    #[test]
    fn minutes_read_as_a_person_says_them() {
        assert_eq!(minutes(0.5), "30 s");
        assert_eq!(minutes(12.4), "12 min");
        assert_eq!(minutes(125.0), "2 h 05 min");
    }
}
