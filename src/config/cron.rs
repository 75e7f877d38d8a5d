//! Schedules in words a person understands: the `@` aliases (croner knows
//! all of them but `@midnight`, which is `@daily` in every cron), and, when
//! an expression does not parse, which field is wrong and what it accepts,
//! instead of the parser's internals. Pure.

use super::redact::shown;
use super::suggest;

/// The aliases accepted, with what each means.
pub const ALIASES: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// The cron expression `expr` stands for: an alias expanded, anything else
/// as is. An unknown `@` word is refused with the list of aliases.
pub fn expand(expr: &str) -> Result<&str, String> {
    if !expr.starts_with('@') {
        return Ok(expr);
    }
    if let Some((_, cron)) = ALIASES.iter().find(|(a, _)| a.eq_ignore_ascii_case(expr)) {
        return Ok(cron);
    }
    let names = ALIASES.iter().map(|(a, _)| *a);
    Err(format!(
        "unknown schedule alias `{}`{}: use one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly, or a cron expression such as \"0 3 * * *\"",
        shown(expr),
        suggest::hint(expr, names)
    ))
}

/// One cron field: its name and the values it accepts.
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
    /// Extra letters croner accepts here (`L`, `W`, `#`, `?`).
    extra: &'static str,
}

const MONTHS: &[&str] = &[
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const DAYS: &[&str] = &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];

const SECOND: Field = Field {
    name: "second",
    min: 0,
    max: 59,
    names: &[],
    extra: "",
};
const FIELDS: [Field; 5] = [
    Field {
        name: "minute",
        min: 0,
        max: 59,
        names: &[],
        extra: "",
    },
    Field {
        name: "hour",
        min: 0,
        max: 23,
        names: &[],
        extra: "",
    },
    Field {
        name: "day-of-month",
        min: 1,
        max: 31,
        names: &[],
        extra: "LW?",
    },
    Field {
        name: "month",
        min: 1,
        max: 12,
        names: MONTHS,
        extra: "",
    },
    Field {
        name: "day-of-week",
        min: 0,
        max: 7,
        names: DAYS,
        extra: "L#?",
    },
];

const SHAPE: &str = "5 fields (minute hour day-of-month month day-of-week), or 6 with a seconds field first, e.g. \"*/30 * * * *\"";

/// Why `expr` (already [`expand`]ed) is not a cron expression, in words:
/// the field at fault and its range when one is found, else `fallback`
/// (the parser's own message).
pub fn diagnose(expr: &str, fallback: &str) -> String {
    let parts: Vec<&str> = expr.split_whitespace().collect();
    let fields: Vec<&Field> = match parts.len() {
        5 => FIELDS.iter().collect(),
        6 => std::iter::once(&SECOND).chain(FIELDS.iter()).collect(),
        n => return format!("a schedule has {SHAPE}; this one has {n}"),
    };
    for (part, field) in parts.iter().zip(fields) {
        if let Err(why) = check_field(part, field) {
            return why;
        }
    }
    fallback.to_string()
}

fn range_words(f: &Field) -> String {
    let mut s = format!("{}s go from {} to {}", f.name, f.min, f.max);
    if let (Some(first), Some(last)) = (f.names.first(), f.names.last()) {
        s.push_str(&format!(" (or {first}-{last})"));
    }
    if f.name == "day-of-week" {
        s.push_str(", 0 and 7 being Sunday");
    }
    s
}

fn check_field(part: &str, f: &Field) -> Result<(), String> {
    for item in part.split(',') {
        let (base, step) = match item.split_once('/') {
            Some((b, s)) => (b, Some(s)),
            None => (item, None),
        };
        if let Some(step) = step
            && !step
                .parse::<u32>()
                .is_ok_and(|n| n >= 1 && n <= f.max.max(1))
        {
            return Err(format!(
                "the {} field has step `/{}`: a step is a whole number from 1 to {}",
                f.name,
                shown(step),
                f.max
            ));
        }
        if base == "*" || base == "?" {
            continue;
        }
        for value in base.split('-') {
            check_value(value, f)?;
        }
    }
    Ok(())
}

fn check_value(value: &str, f: &Field) -> Result<(), String> {
    if let Ok(n) = value.parse::<u32>() {
        if n < f.min || n > f.max {
            return Err(format!(
                "the {} field is `{n}`, out of range: {}",
                f.name,
                range_words(f)
            ));
        }
        return Ok(());
    }
    let upper = value.to_ascii_uppercase();
    let known_name = f.names.contains(&upper.as_str());
    // `L`, `15W`, `5#2`, `5L`: croner's extensions; let the parser judge them.
    let extension = !f.extra.is_empty()
        && upper
            .chars()
            .all(|c| c.is_ascii_digit() || f.extra.contains(c))
        && upper.chars().any(|c| f.extra.contains(c));
    if known_name || extension {
        return Ok(());
    }
    Err(format!(
        "the {} field has `{}`, which is not a value: {}; use numbers, `*`, ranges (1-5), lists (1,15) or steps (*/10)",
        f.name,
        shown(value),
        range_words(f)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases() {
        assert_eq!(expand("@midnight"), Ok("0 0 * * *"));
        assert_eq!(expand("@Annually"), Ok("0 0 1 1 *"));
        assert_eq!(expand("*/5 * * * *"), Ok("*/5 * * * *"));
        let e = expand("@nightly").unwrap_err();
        assert!(e.contains("unknown schedule alias `@nightly`"), "{e}");
        assert!(e.contains("@midnight"), "{e}");
        assert!(
            expand("@dayly")
                .unwrap_err()
                .contains("did you mean `@daily`?")
        );
    }

    #[test]
    fn the_field_and_its_range_are_named() {
        let d = |e| diagnose(e, "parser");
        assert_eq!(
            d("61 * * * *"),
            "the minute field is `61`, out of range: minutes go from 0 to 59"
        );
        assert!(
            d("0 25 * * *").contains("the hour field is `25`, out of range: hours go from 0 to 23")
        );
        assert!(d("0 0 0 * *").contains("day-of-months go from 1 to 31"));
        assert!(d("0 0 * 13 *").contains("months go from 1 to 12 (or JAN-DEC)"));
        assert!(d("0 0 * * 8").contains("0 and 7 being Sunday"));
        assert!(d("61 0 0 * * *").contains("the second field is `61`"));
        assert!(d("0 0 * * MOX").contains("the day-of-week field has `MOX`"));
        assert!(d("*/0 * * * *").contains("step `/0`"));
        assert_eq!(
            d("* * *"),
            format!("a schedule has {SHAPE}; this one has 3")
        );
        assert_eq!(d("0 0 L * *"), "parser");
        assert_eq!(d("0 0 * * 5#2"), "parser");
    }
}
