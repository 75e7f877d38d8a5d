//! Reading the times ActiveCampaign answers (docs/verification.md, "Facts
//! about the API"): they are in the account's zone, not UTC. A zoned time
//! (`2021-05-12T11:10:06-05:00`) is read exactly. A zoneless one
//! (`2021-05-12 11:10:06`, as `updated_timestamp` or a legacy `udate`) is
//! local wall-clock time: it is read with the offset of a zoned time of the
//! same object, or not at all. Never as UTC: that is off by the account's
//! offset, hours that move a change into or out of acsync's own window.

use chrono::{DateTime, FixedOffset, NaiveDateTime};

/// `value` in Unix seconds. `beside` are the other times of the same
/// answer object, zoned or not; the first zoned one lends its offset to a
/// zoneless `value`. `None` when the value is empty, a zero date
/// (`0000-00-00 00:00:00`), unreadable, or zoneless with no zoned time
/// beside it: unknown, which no check may take for "unchanged".
pub fn instant(value: &str, beside: &[Option<&str>]) -> Option<i64> {
    let value = value.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(value) {
        return Some(t.timestamp());
    }
    let local = ["%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(value, f).ok())?;
    let offset = beside.iter().flatten().find_map(|t| zone_of(t))?;
    local
        .and_local_timezone(offset)
        .single()
        .map(|t| t.timestamp())
}

/// The offset a zoned time carries.
fn zone_of(text: &str) -> Option<FixedOffset> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| *t.offset())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// activecampaign-api.md §3.2's row: `udate` 2021-05-12T11:10:06-05:00
    /// is 16:10:06 UTC, and its `updated_timestamp` the same local time.
    const UDATE_UTC: i64 = 1620835806;

    #[test]
    fn a_zoned_time_is_read_exactly() {
        assert_eq!(instant("2021-05-12T11:10:06-05:00", &[]), Some(UDATE_UTC));
        assert_eq!(instant(" 2021-05-12T16:10:06+00:00 ", &[]), Some(UDATE_UTC));
    }

    #[test]
    fn a_zoneless_time_takes_the_offset_of_its_object_never_utc_section_12() {
        let sdate = Some("2021-04-08T11:17:44-05:00");
        assert_eq!(
            instant("2021-05-12 11:10:06", &[None, sdate]),
            Some(UDATE_UTC)
        );
        assert_eq!(instant("2021-05-12T11:10:06", &[sdate]), Some(UDATE_UTC));
        // No zoned time beside it: unknown, not UTC.
        assert_eq!(instant("2021-05-12 11:10:06", &[]), None);
        assert_eq!(
            instant("2021-05-12 11:10:06", &[Some("2021-04-08 11:17:44")]),
            None
        );
    }

    #[test]
    fn empty_and_zero_dates_are_unknown() {
        let sdate = Some("2021-04-08T11:17:44-05:00");
        assert_eq!(instant("0000-00-00 00:00:00", &[sdate]), None);
        assert_eq!(instant("", &[sdate]), None);
        assert_eq!(instant("yesterday", &[sdate]), None);
    }
}
