//! The `acsync status` table: one aligned line per export, relative times,
//! optional colour, and errors cut to one short line unless `wide`.

use chrono::{DateTime, Utc};

use super::model::{ExportState, LastRun, Outcome, StatusFile};
use crate::model::printable;

const HEADER: [&str; 10] = [
    "EXPORT",
    "STATE",
    "LAST RUN",
    "ADDED",
    "UPDATED",
    "REMOVED",
    "FAILED",
    "LAST SUCCESS",
    "NEXT RUN",
    "ERROR",
];
/// Columns holding counts, right-aligned.
const NUMERIC: std::ops::RangeInclusive<usize> = 3..=6;
/// Longer errors are cut: the status file has the whole message.
const ERROR_CHARS: usize = 60;

/// How the table is drawn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TableStyle {
    /// Colour the STATE and LAST RUN cells (a terminal).
    pub colour: bool,
    /// Show errors whole (on one line) instead of cut to a short cell.
    pub wide: bool,
}

/// The `acsync status` table: a header and one aligned line per export, in
/// the order given. Plain text (for pipes, files and tests).
pub fn render_table(statuses: &[StatusFile], now: DateTime<Utc>) -> String {
    render_table_with(statuses, now, TableStyle::default())
}

/// The table, coloured when `colour` (a terminal), errors cut.
pub fn render_table_styled(statuses: &[StatusFile], now: DateTime<Utc>, colour: bool) -> String {
    let style = TableStyle {
        colour,
        wide: false,
    };
    render_table_with(statuses, now, style)
}

/// The table in `style`. With colour, widths are measured on the plain text
/// and only the cell, not its padding, is wrapped, so the columns stay
/// aligned.
pub fn render_table_with(statuses: &[StatusFile], now: DateTime<Utc>, style: TableStyle) -> String {
    let colour = style.colour;
    let rows: Vec<[String; 10]> = std::iter::once(HEADER.map(String::from))
        .chain(statuses.iter().map(|s| table_row(s, now, style.wide)))
        .collect();
    let mut widths = [0usize; 10];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for (r, row) in rows.iter().enumerate() {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            let pad = " ".repeat(w - cell.chars().count());
            if i > 0 {
                line.push_str("  ");
            }
            let shown = match ansi_colour(cell) {
                Some(code) if colour && r > 0 && (1..=2).contains(&i) => {
                    format!("\x1b[{code}m{cell}\x1b[0m")
                }
                _ => cell.clone(),
            };
            if NUMERIC.contains(&i) {
                line.push_str(&pad);
                line.push_str(&shown);
            } else {
                line.push_str(&shown);
                line.push_str(&pad);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Red for what needs a person, yellow for what needs a look, green for good.
fn ansi_colour(cell: &str) -> Option<&'static str> {
    match cell {
        "failed" | "invalid" => Some("31"),
        "blocked" | "partial" => Some("33"),
        "success" => Some("32"),
        "running" => Some("36"),
        "disabled" => Some("2"),
        _ => None,
    }
}

fn table_row(s: &StatusFile, now: DateTime<Utc>, wide: bool) -> [String; 10] {
    let run = s.last_run.as_ref();
    let count = |f: fn(&LastRun) -> u64| run.map_or_else(|| "-".to_owned(), |r| f(r).to_string());
    // A configuration error shows whatever the state: an idle export run
    // on the last good acsync.toml has one too (see docs/status-file.md).
    let run_error = run.and_then(|r| r.error.as_deref());
    let error = match (s.config_error.as_deref(), run_error) {
        (Some(config), Some(run)) if s.state != ExportState::Invalid => {
            Some(format!("{config}; last run: {run}"))
        }
        (Some(config), _) => Some(config.to_owned()),
        (None, run) => run.map(str::to_owned),
    };
    [
        printable(&s.export).into_owned(),
        s.state.as_str().to_owned(),
        run.and_then(|r| r.outcome)
            .map_or("-", Outcome::as_str)
            .to_owned(),
        count(|r| r.added),
        count(|r| r.updated),
        count(|r| r.removed),
        count(|r| r.failed),
        s.last_success_at
            .map_or_else(|| "never".to_owned(), |t| ago(t, now)),
        match s.state {
            ExportState::Idle | ExportState::Running => {
                s.next_run.map_or_else(|| "-".to_owned(), |t| until(t, now))
            }
            ExportState::Invalid | ExportState::Disabled => "-".to_owned(),
        },
        error.map_or_else(String::new, |e| {
            one_line(&e, (!wide).then_some(ERROR_CHARS))
        }),
    ]
}

/// "just now", "3 min ago", "5 h ago", "2 d ago".
pub(super) fn ago(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (now - t).num_seconds();
    match secs {
        ..60 => "just now".to_owned(),
        60..3600 => format!("{} min ago", secs / 60),
        3600..172_800 => format!("{} h ago", secs / 3600),
        _ => format!("{} d ago", secs / 86_400),
    }
}

/// "due", "in <1 min", "in 12 min", "in 3 h", "in 2 d".
pub(super) fn until(t: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let secs = (t - now).num_seconds();
    match secs {
        ..=0 => "due".to_owned(),
        1..60 => "in <1 min".to_owned(),
        60..3600 => format!("in {} min", secs / 60),
        3600..172_800 => format!("in {} h", secs / 3600),
        _ => format!("in {} d", secs / 86_400),
    }
}

/// `s` on one line (line breaks and tabs become spaces, other characters
/// that act on a terminal are escaped: [`printable`]), cut to `max`
/// characters with `…` when given.
fn one_line(s: &str, max: Option<usize>) -> String {
    let flat = printable(&s.replace(['\n', '\r', '\t'], " ")).into_owned();
    let Some(max) = max.filter(|&m| flat.chars().count() > m) else {
        return flat;
    };
    let mut cut: String = flat.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use chrono::Duration;

    use super::*;
    use crate::status::test_support::{finished, sample, t};

    #[test]
    fn table_is_aligned_with_relative_times() {
        let now = t(0);
        let mut vip = sample();
        vip.last_success_at = Some(now - Duration::minutes(3));
        vip.next_run = Some(now + Duration::minutes(27));
        let mut broken = StatusFile::new("emea/newsletter-weekly", "x.toml", now);
        broken.state = ExportState::Invalid;
        broken.config_error = Some(format!(
            "x.toml:3:1: {}",
            "unknown field `lst_id` ".repeat(5)
        ));
        let mut old = StatusFile::new("b", "b.toml", now);
        old.last_success_at = Some(now - Duration::days(3));
        old.next_run = Some(now + Duration::hours(5));
        let mut run = finished(Outcome::Success, -60);
        run.added = 12_345;
        old.record_run(run);
        old.last_success_at = Some(now - Duration::days(3));

        let table = render_table(&[vip, broken, old], now);
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines.len(), 4, "{table}");
        let col = |line: &str, word: &str| line.find(word).map(|b| line[..b].chars().count());
        // Left-aligned columns start where their header does.
        let state_col = col(lines[0], "STATE");
        assert_eq!(col(lines[1], "idle"), state_col);
        assert_eq!(col(lines[2], "invalid"), state_col);
        let success_col = col(lines[0], "LAST SUCCESS");
        assert_eq!(col(lines[1], "3 min ago"), success_col);
        assert_eq!(col(lines[2], "never"), success_col);
        assert_eq!(col(lines[3], "3 d ago"), success_col);
        assert_eq!(col(lines[1], "in 27 min"), col(lines[0], "NEXT RUN"));
        assert_eq!(col(lines[3], "in 5 h"), col(lines[0], "NEXT RUN"));
        // Counts are right-aligned under their header.
        let added_end = col(lines[0], "ADDED").map(|c| c + "ADDED".len());
        assert_eq!(col(lines[3], "12345").map(|c| c + 5), added_end);
        assert!(lines[1].contains("partial"));
        assert!(lines[2].contains("unknown field") && lines[2].ends_with('…'));
        assert!(lines.iter().all(|l| l == &l.trim_end()));
    }

    #[test]
    fn relative_times() {
        let now = t(0);
        assert_eq!(ago(now - Duration::seconds(5), now), "just now");
        assert_eq!(ago(now + Duration::seconds(5), now), "just now");
        assert_eq!(ago(now - Duration::minutes(59), now), "59 min ago");
        assert_eq!(ago(now - Duration::hours(47), now), "47 h ago");
        assert_eq!(ago(now - Duration::hours(49), now), "2 d ago");
        assert_eq!(until(now - Duration::seconds(1), now), "due");
        assert_eq!(until(now + Duration::seconds(30), now), "in <1 min");
        assert_eq!(until(now + Duration::days(7), now), "in 7 d");
    }

    #[test]
    fn wide_shows_errors_whole_on_one_line() {
        let mut s = sample();
        let long = format!("{} end\nof it", "refused ".repeat(20));
        s.last_run.as_mut().expect("run").error = Some(long.clone());
        let cut = render_table(std::slice::from_ref(&s), t(0));
        assert!(
            cut.lines().nth(1).is_some_and(|l| l.ends_with('…')),
            "{cut}"
        );
        let style = TableStyle {
            wide: true,
            ..TableStyle::default()
        };
        let wide = render_table_with(&[s], t(0), style);
        let lines: Vec<&str> = wide.lines().collect();
        assert_eq!(lines.len(), 2, "{wide}");
        assert!(lines[1].ends_with(&long.replace('\n', " ")), "{wide}");
    }
}
