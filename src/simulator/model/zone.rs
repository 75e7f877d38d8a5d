//! The account's time zone and how ActiveCampaign writes times in it
//! (activecampaign-api.md §12, "Times are in the account's zone"): a zoned
//! field (`cdate`, `sdate`, `udate`) carries the zone's offset at that
//! instant, a zoneless one (`created_timestamp`, `updated_timestamp`,
//! `*_utc_timestamp`) the same local wall-clock time without it. A time a
//! client sends (the `filters[updated_after]` family) is read the same way:
//! a zoneless one is the account's local time.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, TimeZone};
use chrono_tz::Tz;

/// How the account writes times: its zone and, as a fault switch, the
/// form of a membership row's `udate`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AccountTimes {
    /// The documented examples' account is US Central with daylight saving
    /// (−06:00 in winter, −05:00 in summer), so that is the default.
    pub zone: Tz,
    /// A membership row's `udate` written without its zone, in the legacy
    /// (v1) form `YYYY-MM-DD hh:mm:ss` of local time, while `sdate` keeps
    /// its offset. Off by default: the v3 examples give `udate` a zone.
    pub zoneless_row_udate: bool,
}

impl Default for AccountTimes {
    fn default() -> Self {
        AccountTimes {
            zone: chrono_tz::America::Chicago,
            zoneless_row_udate: false,
        }
    }
}

impl AccountTimes {
    fn local(self, ts: i64) -> Option<DateTime<Tz>> {
        DateTime::from_timestamp(ts, 0).map(|t| self.zone.from_utc_datetime(&t.naive_utc()))
    }

    /// `YYYY-MM-DDThh:mm:ss±hh:mm` in the account's zone (§8 item 9).
    pub fn zoned(self, ts: i64) -> String {
        self.local(ts)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%S%:z").to_string())
            .unwrap_or_default()
    }

    /// `YYYY-MM-DD hh:mm:ss`: the account's local wall-clock time, no zone
    /// (the form of `created_timestamp`, even in fields named `_utc_`).
    pub fn wall_clock(self, ts: i64) -> String {
        self.local(ts)
            .map(|d| d.format("%Y-%m-%d %H:%M:%S").to_string())
            .unwrap_or_default()
    }

    /// A time a client sent, as Unix seconds: RFC 3339 with an offset is
    /// exact; `YYYY-MM-DD hh:mm:ss` (or with a `T`) is wall-clock time in
    /// the account's zone, and `YYYY-MM-DD` the start of that day there.
    /// `None` for any other form.
    pub fn parse_sent(self, sent: &str) -> Option<i64> {
        if let Ok(exact) = DateTime::parse_from_rfc3339(sent) {
            return Some(exact.timestamp());
        }
        let wall = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]
            .iter()
            .find_map(|form| NaiveDateTime::parse_from_str(sent, form).ok())
            .or_else(|| {
                let day = NaiveDate::parse_from_str(sent, "%Y-%m-%d").ok()?;
                day.and_hms_opt(0, 0, 0)
            })?;
        self.instant_of_wall_clock(wall)
    }

    /// A local wall-clock time as Unix seconds. Of a time shown twice (the
    /// autumn hour) the earlier; a time the spring change skips is read
    /// with the offset before the change (02:30 CST, shown as 03:30 CDT).
    fn instant_of_wall_clock(self, wall: NaiveDateTime) -> Option<i64> {
        let shown = |wall| self.zone.from_local_datetime(&wall).earliest();
        shown(wall)
            .or_else(|| shown(wall + TimeDelta::hours(1)))
            .map(|t| t.timestamp())
    }

    /// A membership row's `udate`, zoned unless the fault switch is on.
    pub fn row_udate(self, ts: i64) -> String {
        if self.zoneless_row_udate {
            self.wall_clock(ts)
        } else {
            self.zoned(ts)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_central_with_daylight_saving_section_12() {
        let z = AccountTimes::default();
        // 2021-05-12 16:10:06 UTC: summer, −05:00 (the §3.2 example row).
        assert_eq!(z.zoned(1620835806), "2021-05-12T11:10:06-05:00");
        assert_eq!(z.wall_clock(1620835806), "2021-05-12 11:10:06");
        // 2021-01-12 17:10:06 UTC: winter, −06:00.
        assert_eq!(z.zoned(1610471406), "2021-01-12T11:10:06-06:00");
    }

    #[test]
    fn sent_times_without_a_zone_are_local_section_12() {
        let z = AccountTimes::default();
        let summer = Some(1620835806);
        assert_eq!(z.parse_sent("2021-05-12T11:10:06-05:00"), summer);
        assert_eq!(z.parse_sent("2021-05-12T16:10:06Z"), summer);
        assert_eq!(z.parse_sent("2021-05-12 11:10:06"), summer);
        assert_eq!(z.parse_sent("2021-05-12T11:10:06"), summer);
        // Local midnight of 2021-05-12 is 05:00 UTC.
        assert_eq!(z.parse_sent("2021-05-12"), Some(1620795600));
        // 2021-03-14 02:30 does not exist in Chicago: read as 03:30 CDT.
        assert_eq!(z.parse_sent("2021-03-14 02:30:00"), Some(1615710600));
        for bad in [
            "",
            "yesterday",
            "1620835806",
            "2021-05-12T11:10",
            "12/05/2021",
        ] {
            assert_eq!(z.parse_sent(bad), None, "{bad}");
        }
    }
}
