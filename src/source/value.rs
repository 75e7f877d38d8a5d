//! Database values as field text: what a SQL column becomes when it feeds an
//! ActiveCampaign field. One format per type, documented in the README
//! ("SQL sources"), so a value sent from PostgreSQL, SQLite or CSV compares
//! equal when it means the same thing:
//!
//! | type                         | text                                         |
//! |------------------------------|----------------------------------------------|
//! | text, varchar, char, name, citext, enum, json | as stored (then trimmed)    |
//! | integers, oid                | decimal                                      |
//! | numeric                      | exact, with its scale (`12.50`)              |
//! | real / float                 | shortest round-trip decimal (`1.5`, `120`)   |
//! | boolean                      | `true` / `false`                             |
//! | date                         | `YYYY-MM-DD`                                 |
//! | timestamptz                  | RFC 3339 in UTC: `2024-01-31T09:30:00Z`      |
//! | timestamp (no zone)          | `2024-01-31T09:30:00` (no zone is invented)  |
//! | time                         | `09:30:00`                                   |
//! | uuid                         | lowercase, hyphenated                        |
//!
//! Fractions of a second appear only when non-zero (3, 6 or 9 digits).
//! PostgreSQL values are decoded here from the binary wire format (the one
//! sqlx asks for), by hand rather than through sqlx's optional `chrono` /
//! `rust_decimal` features: numeric stays exact at any precision and the
//! `infinity` values have a text instead of a decode error.

use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, SecondsFormat};

/// The PostgreSQL types a mapped column may have, by how they are decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PgKind {
    /// UTF-8 bytes as they are: text, varchar, bpchar, name, "char", citext,
    /// enum, json.
    Text,
    Bool,
    Int2,
    Int4,
    Int8,
    /// `oid`: an unsigned 32-bit integer.
    Oid,
    Float4,
    Float8,
    Numeric,
    Date,
    Time,
    Timestamp,
    Timestamptz,
    Uuid,
    /// A version byte, then the JSON text.
    Jsonb,
}

impl PgKind {
    /// The kind of a built-in type by its (stable) OID, as in `pg_type.dat`.
    pub(crate) fn from_oid(oid: u32) -> Option<PgKind> {
        Some(match oid {
            25 | 1042 | 1043 | 19 | 18 | 114 | 705 => PgKind::Text,
            16 => PgKind::Bool,
            21 => PgKind::Int2,
            23 => PgKind::Int4,
            20 => PgKind::Int8,
            26 => PgKind::Oid,
            700 => PgKind::Float4,
            701 => PgKind::Float8,
            1700 => PgKind::Numeric,
            1082 => PgKind::Date,
            1083 => PgKind::Time,
            1114 => PgKind::Timestamp,
            1184 => PgKind::Timestamptz,
            2950 => PgKind::Uuid,
            3802 => PgKind::Jsonb,
            _ => return None,
        })
    }
}

/// The text of a non-NULL value sent in the binary format.
pub(crate) fn pg_binary(kind: PgKind, b: &[u8]) -> Result<String, String> {
    let text = match kind {
        PgKind::Text => utf8(b)?.to_owned(),
        PgKind::Bool => (fixed::<1>(b)?[0] != 0).to_string(),
        PgKind::Int2 => i16::from_be_bytes(*fixed(b)?).to_string(),
        PgKind::Int4 => i32::from_be_bytes(*fixed(b)?).to_string(),
        PgKind::Int8 => i64::from_be_bytes(*fixed(b)?).to_string(),
        PgKind::Oid => u32::from_be_bytes(*fixed(b)?).to_string(),
        PgKind::Float4 => float_text(f64::from(f32::from_be_bytes(*fixed(b)?))),
        PgKind::Float8 => float_text(f64::from_be_bytes(*fixed(b)?)),
        PgKind::Numeric => numeric_text(b)?,
        PgKind::Date => date_text(i32::from_be_bytes(*fixed(b)?)),
        PgKind::Time => time_text(i64::from_be_bytes(*fixed(b)?))?,
        PgKind::Timestamp => timestamp_text(i64::from_be_bytes(*fixed(b)?), false)?,
        PgKind::Timestamptz => timestamp_text(i64::from_be_bytes(*fixed(b)?), true)?,
        PgKind::Uuid => uuid_text(fixed::<16>(b)?),
        PgKind::Jsonb => match b.split_first() {
            Some((1, json)) => utf8(json)?.to_owned(),
            _ => return Err("unknown jsonb format version".into()),
        },
    };
    Ok(text)
}

fn utf8(b: &[u8]) -> Result<&str, String> {
    std::str::from_utf8(b).map_err(|_| "value is not valid UTF-8".to_owned())
}

fn fixed<const N: usize>(b: &[u8]) -> Result<&[u8; N], String> {
    b.try_into()
        .map_err(|_| format!("expected {N} bytes, the server sent {}", b.len()))
}

/// Shortest decimal that reads back as the same float, never in exponent
/// form (`120`, `0.1`); PostgreSQL's names for the special values.
pub(crate) fn float_text(v: f64) -> String {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        (if v > 0.0 { "Infinity" } else { "-Infinity" }).into()
    } else {
        format!("{v}")
    }
}

/// PostgreSQL's epoch for dates and timestamps.
fn pg_epoch() -> NaiveDateTime {
    NaiveDate::from_ymd_opt(2000, 1, 1)
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .unwrap_or_default()
}

/// Days since 2000-01-01; `i32::MAX` / `MIN` are `infinity` / `-infinity`.
fn date_text(days: i32) -> String {
    match days {
        i32::MAX => "infinity".into(),
        i32::MIN => "-infinity".into(),
        d => {
            let epoch = pg_epoch().date();
            let date = if d >= 0 {
                epoch.checked_add_days(Days::new(d.unsigned_abs().into()))
            } else {
                epoch.checked_sub_days(Days::new(d.unsigned_abs().into()))
            };
            date.map_or_else(|| format!("{d} days from 2000-01-01"), |d| d.to_string())
        }
    }
}

/// Microseconds since midnight.
fn time_text(micros: i64) -> Result<String, String> {
    let secs = u32::try_from(micros.div_euclid(1_000_000)).map_err(|_| "time out of range")?;
    let nanos = u32::try_from(micros.rem_euclid(1_000_000) * 1000).unwrap_or(0);
    NaiveTime::from_num_seconds_from_midnight_opt(secs, nanos)
        .map(|t| t.format("%H:%M:%S%.f").to_string())
        .ok_or_else(|| "time out of range".into())
}

/// Microseconds since 2000-01-01 00:00 (UTC for timestamptz); `i64::MAX` /
/// `MIN` are `infinity` / `-infinity`.
fn timestamp_text(micros: i64, utc: bool) -> Result<String, String> {
    match micros {
        i64::MAX => return Ok("infinity".into()),
        i64::MIN => return Ok("-infinity".into()),
        _ => {}
    }
    let at = pg_epoch()
        .checked_add_signed(chrono::TimeDelta::microseconds(micros))
        .ok_or("timestamp out of range")?;
    Ok(if utc {
        DateTime::<chrono::Utc>::from_naive_utc_and_offset(at, chrono::Utc)
            .to_rfc3339_opts(SecondsFormat::AutoSi, true)
    } else {
        at.format("%Y-%m-%dT%H:%M:%S%.f").to_string()
    })
}

fn uuid_text(b: &[u8; 16]) -> String {
    let hex = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// NUMERIC's binary form: digit count, weight (of the first base-10000
/// digit), sign, display scale, then the base-10000 digits. Printed exactly,
/// with `dscale` decimals, as PostgreSQL prints it.
fn numeric_text(b: &[u8]) -> Result<String, String> {
    let word = |i: usize| -> Result<u16, String> {
        let pair = b.get(i * 2..i * 2 + 2).ok_or("truncated numeric")?;
        Ok(u16::from_be_bytes([pair[0], pair[1]]))
    };
    let (ndigits, weight) = (usize::from(word(0)?), i64::from(word(1)? as i16));
    let (sign, dscale) = (word(2)?, usize::from(word(3)?));
    match sign {
        0xC000 => return Ok("NaN".into()),
        0xD000 => return Ok("Infinity".into()),
        0xF000 => return Ok("-Infinity".into()),
        _ => {}
    }
    let digits = (0..ndigits)
        .map(|i| word(4 + i))
        .collect::<Result<Vec<_>, _>>()?;
    let out = decimal_digits(&digits, weight, dscale);
    let zero = digits.iter().all(|&d| d == 0);
    Ok(if sign == 0x4000 && !zero {
        format!("-{out}")
    } else {
        out
    })
}

/// Base-10000 `digits`, the first at power `weight`, as a decimal with
/// `dscale` decimals (zero-padded or cut, as PostgreSQL does).
fn decimal_digits(digits: &[u16], weight: i64, dscale: usize) -> String {
    // The base-10000 digit at power `k` (10000^k).
    let at = |k: i64| {
        let i = usize::try_from(weight - k).ok();
        i.and_then(|i| digits.get(i)).copied().unwrap_or(0)
    };
    let mut out = String::new();
    if weight < 0 {
        out.push('0');
    }
    for k in (0..=weight).rev() {
        if out.is_empty() {
            out.push_str(&at(k).to_string());
        } else {
            out.push_str(&format!("{:04}", at(k)));
        }
    }
    if dscale > 0 {
        let mut frac = String::new();
        let mut k = -1;
        while frac.len() < dscale {
            frac.push_str(&format!("{:04}", at(k)));
            k -= 1;
        }
        frac.truncate(dscale);
        out = format!("{out}.{frac}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numeric(ndigits: u16, weight: i16, sign: u16, dscale: u16, digits: &[u16]) -> Vec<u8> {
        let mut b = Vec::new();
        for w in [ndigits, weight as u16, sign, dscale].iter().chain(digits) {
            b.extend_from_slice(&w.to_be_bytes());
        }
        b
    }

    #[test]
    fn numeric_is_exact_with_its_scale() {
        assert_eq!(
            numeric_text(&numeric(2, 0, 0, 2, &[12, 5000])).unwrap(),
            "12.50"
        );
        assert_eq!(
            numeric_text(&numeric(1, -2, 0, 8, &[1234])).unwrap(),
            "0.00001234"
        );
        assert_eq!(
            numeric_text(&numeric(3, 2, 0x4000, 0, &[1, 0, 42])).unwrap(),
            "-100000042"
        );
        assert_eq!(numeric_text(&numeric(0, 0, 0, 3, &[])).unwrap(), "0.000");
        assert_eq!(numeric_text(&numeric(0, 0, 0xC000, 0, &[])).unwrap(), "NaN");
        assert!(numeric_text(&[0, 1, 0, 0, 0, 0, 0, 0]).is_err());
    }

    #[test]
    fn dates_and_times() {
        assert_eq!(date_text(0), "2000-01-01");
        assert_eq!(date_text(-1), "1999-12-31");
        assert_eq!(date_text(i32::MAX), "infinity");
        assert_eq!(
            time_text(9 * 3_600_000_000 + 30 * 60_000_000).unwrap(),
            "09:30:00"
        );
        assert_eq!(time_text(1_500).unwrap(), "00:00:00.001500");
        assert_eq!(timestamp_text(0, true).unwrap(), "2000-01-01T00:00:00Z");
        assert_eq!(
            timestamp_text(-1, false).unwrap(),
            "1999-12-31T23:59:59.999999"
        );
        assert_eq!(timestamp_text(i64::MIN, true).unwrap(), "-infinity");
    }

    #[test]
    fn scalars() {
        assert_eq!(float_text(120.0), "120");
        assert_eq!(float_text(0.1), "0.1");
        assert_eq!(float_text(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(pg_binary(PgKind::Bool, &[1]).unwrap(), "true");
        assert_eq!(pg_binary(PgKind::Int2, &[0xff, 0xfe]).unwrap(), "-2");
        assert!(pg_binary(PgKind::Int4, &[0, 1]).is_err());
        assert_eq!(
            pg_binary(PgKind::Jsonb, b"\x01{\"a\":1}").unwrap(),
            "{\"a\":1}"
        );
        let uuid = pg_binary(PgKind::Uuid, &[0xab; 16]).unwrap();
        assert_eq!(uuid, "abababab-abab-abab-abab-abababababab");
    }
}
