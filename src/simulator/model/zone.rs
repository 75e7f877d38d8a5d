//! The account's time zone and how ActiveCampaign writes times in it
//! (activecampaign-api.md §12, "Times are in the account's zone"): a zoned
//! field (`cdate`, `sdate`, `udate`) carries the zone's offset at that
//! instant, a zoneless one (`created_timestamp`, `updated_timestamp`,
//! `*_utc_timestamp`) the same local wall-clock time without it.

use chrono::{DateTime, TimeZone};
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
}
