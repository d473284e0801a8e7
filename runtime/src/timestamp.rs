//! RFC 3339 timestamps in UTC, as Go prints a `time.Time`, without a date crate: the
//! API's `updatedTime`, the logs' `ts` and the instance seed's `created_at` all need one.

use std::time::{SystemTime, UNIX_EPOCH};

/// `2023-11-14T22:13:20.123Z`: milliseconds, as Go's JSON and go-kit's logs write.
pub fn rfc3339_millis(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}.{:03}Z", civil(d.as_secs()), d.subsec_millis())
}

/// `2023-11-14T22:13:20Z`: whole seconds.
pub fn rfc3339_seconds(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("{}Z", civil(d.as_secs()))
}

/// `YYYY-MM-DDTHH:MM:SS` for seconds since the epoch.
fn civil(secs: u64) -> String {
    let secs = secs as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn times_render_as_rfc3339() {
        let t = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        assert_eq!(rfc3339_millis(t), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339_seconds(t), "2023-11-14T22:13:20Z");
        assert_eq!(rfc3339_millis(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        // A leap day, and the last second of a year.
        let leap = UNIX_EPOCH + Duration::from_secs(1_709_164_800);
        assert_eq!(rfc3339_seconds(leap), "2024-02-29T00:00:00Z");
        let eoy = UNIX_EPOCH + Duration::from_secs(1_704_067_199);
        assert_eq!(rfc3339_seconds(eoy), "2023-12-31T23:59:59Z");
    }
}
