//! Fixtures shared by the status room's unit tests.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::config::{ApiKeySource, Connection, Export, Mapping, Schedule, Source};

use super::model::{Failure, LastRun, Outcome, StatusFile, Trigger};

pub(super) fn t(min: i64) -> DateTime<Utc> {
    let base = Utc.with_ymd_and_hms(2026, 11, 23, 10, 0, 0).single();
    base.expect("valid date") + Duration::minutes(min)
}

pub(super) fn finished(outcome: Outcome, start_min: i64) -> LastRun {
    let mut run = LastRun::started(Trigger::Schedule, t(start_min));
    run.finish(outcome, t(start_min) + Duration::milliseconds(812));
    run
}

pub(super) fn sample() -> StatusFile {
    let mut s = StatusFile::new("vip", "vip.toml", t(0));
    s.config_sha256 = Some("ab".repeat(32));
    s.schedule = Some("*/30 * * * *".into());
    s.next_run = Some(t(30));
    let mut run = finished(Outcome::Partial, 0);
    run.added = 12;
    run.failed = 1;
    run.read = Some("full".into());
    run.read_reason = Some("first_run".into());
    run.failures
        .push(Failure::new(Some(3), "jane@example.com", "refused"));
    s.record_run(run);
    s
}

/// A valid export `emea/vip`, disabled, scheduled `@daily` in UTC.
pub(super) fn disabled_export() -> Export {
    let conn = Connection {
        name: "prod".into(),
        base_url: "https://acme.api-us1.com".parse().expect("url"),
        api_key: ApiKeySource::Env("AC_KEY".into()),
        requests_per_second: 5,
        allowed_exports: vec![],
    };
    Export {
        id: "emea/vip".into(),
        file: "/etc/acsync/exports/emea/vip.toml".into(),
        sha256: "cd".repeat(32),
        connection: std::sync::Arc::new(conn),
        list_id: 12,
        schedule: Schedule {
            expr: "@daily".into(),
            cron: "@daily".parse().expect("cron"),
            tz: chrono_tz::UTC,
        },
        enabled: false,
        prune: crate::model::Prune::Owned,
        max_removals: crate::model::RemovalLimit::Count(5),
        max_profiles: 10,
        allow_empty: false,
        exclude_automations: false,
        tags: vec![],
        history_retention: crate::config::DEFAULT_HISTORY_RETENTION,
        full_read_every: std::time::Duration::ZERO,
        drift_check_every: std::time::Duration::ZERO,
        source: Source::Csv {
            path: "x.csv".into(),
            timeout: crate::config::DEFAULT_SOURCE_TIMEOUT,
        },
        mapping: Mapping::default(),
    }
}
