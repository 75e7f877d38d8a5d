//! Pure parsers for single configuration values: the connection URL, cron
//! schedules, durations and limits. Each returns a message suitable for a
//! located error; none does IO.

use std::str::FromStr;
use std::time::Duration;

use croner::parser::{CronParser, Seconds, Year};

use super::redact::{has_key, shown};
use super::types::Schedule;
use super::{cron, suggest};
use crate::model::RemovalLimit;

/// Parses a connection `url`: the bare REST hostname that ActiveCampaign's
/// Settings > Developer page shows (`acme.api-us1.com`), or a full URL.
/// Plain `http://` is allowed only for loopback hosts (the local simulator).
pub fn base_url(raw: &str) -> Result<reqwest::Url, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err("`url` is empty: use the API URL shown under Settings > Developer".into());
    }
    if raw.len() > 2048 {
        return Err(format!(
            "`url` is {} bytes long: use the API URL shown under Settings > Developer (e.g. https://acme.api-us1.com)",
            raw.len()
        ));
    }
    // The key sits next to the URL on that page and is easily pasted here.
    if has_key(raw) {
        return Err("`url` seems to hold an API key (not shown here): `url` is the API address from Settings > Developer, e.g. https://acme.api-us1.com; the key goes in an environment variable, a file or a systemd credential named by api_key_env, api_key_file or api_key_credential".into());
    }
    let full = if raw.contains("://") {
        raw.to_string()
    } else {
        format!("https://{raw}")
    };
    // Never echo the value back: a URL may carry credentials.
    let mut url =
        reqwest::Url::parse(&full).map_err(|e| format!("`url` is not a valid URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("`url` must not contain credentials: use api_key_env, api_key_file or api_key_credential".into());
    }
    let host = url.host_str().unwrap_or_default().to_string();
    check_scheme(url.scheme(), &host)?;
    if url.query().is_some() || url.fragment().is_some() {
        return Err("`url` must not have a query or fragment".into());
    }
    if !matches!(url.path(), "" | "/" | "/api/3" | "/api/3/") {
        return Err(format!(
            "`url` must be the account's API address without a path (e.g. https://{}), not `{}`",
            shown(&host),
            shown(url.path())
        ));
    }
    if !host.contains('.') && !is_loopback(&host) && !host.starts_with('[') {
        let host = shown(&host);
        return Err(format!(
            "`{host}` looks like an account name, not the API host: use the full API URL from Settings > Developer (e.g. {host}.api-us1.com)"
        ));
    }
    url.set_path("/");
    Ok(url)
}

fn check_scheme(scheme: &str, host: &str) -> Result<(), String> {
    let host = shown(host);
    match scheme {
        "https" => Ok(()),
        "http" if is_loopback(&host) => Ok(()),
        "http" => Err(format!(
            "plain http:// to `{host}` is refused: API keys and personal data would cross the network unencrypted; use https:// (http is allowed only for loopback hosts)"
        )),
        other => Err(format!(
            "`url` scheme `{}` is not supported: use https://",
            shown(other)
        )),
    }
}

/// Loopback hosts: `localhost`, 127.0.0.0/8 and `::1`.
pub fn is_loopback(host: &str) -> bool {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.eq_ignore_ascii_case("localhost") {
        return true;
    }
    host.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

/// Parses a schedule: 5-field cron, 6-field cron with seconds, or an alias
/// (`@hourly`, `@daily` = `@midnight`, `@weekly`, `@monthly`, `@yearly` =
/// `@annually`), evaluated in `tz`. `expr` is kept as written.
pub fn schedule(expr: &str, tz: chrono_tz::Tz) -> Result<Schedule, String> {
    let parser = CronParser::builder()
        .seconds(Seconds::Optional)
        .year(Year::Disallowed)
        .build();
    let bad = |why: String| format!("bad cron expression `{}`: {why}", shown(expr));
    let cron_text = cron::expand(expr).map_err(bad)?;
    let cron = parser
        .parse(cron_text)
        .map_err(|e| bad(cron::diagnose(cron_text, &e.to_string())))?;
    // A pattern such as `0 0 30 2 *` parses but never fires: refuse it now
    // rather than let the export sit silently forever.
    let now = chrono::Utc::now().with_timezone(&tz);
    if cron.find_next_occurrence(&now, false).is_err() {
        return Err(format!("cron expression `{}` never fires", shown(expr)));
    }
    Ok(Schedule {
        expr: expr.to_string(),
        cron,
        tz,
    })
}

/// Parses an IANA time zone name; a near miss is suggested.
pub fn timezone(name: &str) -> Result<chrono_tz::Tz, String> {
    let name = name.trim();
    chrono_tz::Tz::from_str(name).map_err(|_| {
        format!(
            "unknown time zone `{}`{} (use an IANA name such as Europe/Madrid)",
            shown(name),
            timezone_hint(name)
        )
    })
}

/// ` (did you mean `Europe/Madrid`?)` for `europe/madrid`, `Europe/Madird`
/// or a bare `Madrid`.
fn timezone_hint(name: &str) -> String {
    let names = || chrono_tz::TZ_VARIANTS.iter().map(|t| t.name());
    let by_city = names().find(|n| {
        n.rsplit_once('/')
            .is_some_and(|(_, city)| city.eq_ignore_ascii_case(name))
    });
    match by_city {
        Some(n) if !name.contains('/') => format!(" (did you mean `{n}`?)"),
        _ => suggest::hint(name, names()),
    }
}

/// Parses a duration such as `24h`, `90m`, `10m`; `"0"` is zero.
pub fn duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    if raw == "0" {
        return Ok(Duration::ZERO);
    }
    humantime::parse_duration(raw).map_err(|_| {
        format!(
            "bad duration `{}`: use a number and a unit, e.g. \"24h\", \"30m\", \"90s\", or \"0\"",
            shown(raw)
        )
    })
}

/// Parses `max_removals` written as text: `"10%"` or `"50"`.
pub fn removal_limit_text(raw: &str) -> Result<RemovalLimit, String> {
    let raw = raw.trim();
    let bad = || {
        format!(
            "bad max_removals `{}`: use a count (50) or a percent of current members (\"10%\")",
            shown(raw)
        )
    };
    if let Some(p) = raw.strip_suffix('%') {
        let p: f64 = p.trim().parse().map_err(|_| bad())?;
        if !(0.0..=100.0).contains(&p) {
            return Err(format!(
                "max_removals `{}` must be between 0% and 100%",
                shown(raw)
            ));
        }
        return Ok(RemovalLimit::Percent(p));
    }
    raw.parse::<u64>()
        .map(RemovalLimit::Count)
        .map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = base_url("acme.api-us1.com").unwrap();
        assert_eq!(u.as_str(), "https://acme.api-us1.com/");
        assert_eq!(
            base_url("https://acme.api-us1.com/api/3").unwrap().as_str(),
            "https://acme.api-us1.com/"
        );
        assert!(base_url("http://127.0.0.1:8080").is_ok());
        assert!(base_url("http://localhost:1").is_ok());
        assert!(base_url("http://[::1]:9").is_ok());
        assert!(
            base_url("http://acme.api-us1.com")
                .unwrap_err()
                .contains("plain http://")
        );
        assert!(base_url("ftp://acme.api-us1.com").is_err());
        assert!(base_url("acme").unwrap_err().contains("account name"));
        assert!(base_url("https://acme.api-us1.com/other").is_err());
        let e = base_url("https://u:hunter2@acme.api-us1.com").unwrap_err();
        assert!(!e.contains("hunter2"));
        assert!(base_url("not a host").is_err());
    }

    #[test]
    fn schedules() {
        let tz = chrono_tz::UTC;
        assert!(schedule("*/30 * * * *", tz).is_ok());
        assert!(schedule("*/5 * * * * *", tz).is_ok());
        assert!(schedule("@hourly", tz).is_ok());
        assert!(schedule("@daily", tz).is_ok());
        assert!(schedule("@weekly", tz).is_ok());
        for alias in ["@yearly", "@annually", "@monthly", "@midnight", "@MIDNIGHT"] {
            assert!(schedule(alias, tz).is_ok(), "{alias}");
        }
        assert_eq!(schedule("@midnight", tz).unwrap().expr, "@midnight");
        let e = schedule("0 25 * * *", tz).unwrap_err();
        assert_eq!(
            e,
            "bad cron expression `0 25 * * *`: the hour field is `25`, out of range: hours go from 0 to 23"
        );
        assert!(schedule("61 * * * *", tz).is_err());
        assert!(schedule("every day", tz).is_err());
        assert!(
            schedule("0 0 30 2 *", tz)
                .unwrap_err()
                .contains("never fires")
        );
    }

    #[test]
    fn limits_and_durations() {
        assert_eq!(
            removal_limit_text("10%").unwrap(),
            RemovalLimit::Percent(10.0)
        );
        assert_eq!(removal_limit_text("50").unwrap(), RemovalLimit::Count(50));
        assert!(removal_limit_text("150%").is_err());
        assert!(removal_limit_text("ten").is_err());
        assert_eq!(duration("0").unwrap(), Duration::ZERO);
        assert_eq!(duration("24h").unwrap(), Duration::from_secs(86400));
        assert!(duration("soon").is_err());
        assert!(timezone("Europe/Madrid").is_ok());
        assert!(timezone("Mars/Olympus").is_err());
        for (typo, hint) in [
            ("europe/madrid", "Europe/Madrid"),
            ("Europe/Madird", "Europe/Madrid"),
            ("Madrid", "Europe/Madrid"),
        ] {
            let e = timezone(typo).unwrap_err();
            assert!(e.contains(&format!("did you mean `{hint}`?")), "{e}");
        }
    }
}
