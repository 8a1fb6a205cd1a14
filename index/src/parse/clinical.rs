//! Helpers the clinical-record readers ([`super::fhir`], [`super::ccda`])
//! share: strict parsers for the two date formats they carry (FHIR `date` /
//! `dateTime` / `instant`, HL7 v3 `TS`) into seconds since the Unix epoch,
//! UTC, and a small bounded base64 decoder for embedded attachments.
//!
//! Written by hand rather than pulled from a date or base64 crate: the
//! formats are small and fixed, and anything not exactly in them is `None`
//! (never a guess).

/// Seconds since the epoch (UTC) of a FHIR `date`, `dateTime` or `instant`:
/// `YYYY`, `YYYY-MM`, `YYYY-MM-DD`, or `YYYY-MM-DDThh:mm[:ss[.fff…]]` with
/// `Z` or `±hh:mm` (a time without a zone, which FHIR forbids, is read as
/// UTC). A partial date is its first instant: `"2019-05"` is 1 May 2019.
pub(crate) fn fhir_time(text: &str) -> Option<i64> {
    let s = text.trim().as_bytes();
    let year = digits(s.get(0..4)?)?;
    let (mut month, mut day) = (1, 1);
    let mut rest = &s[4..];
    if let Some(r) = rest.strip_prefix(b"-") {
        month = digits(r.get(0..2)?)?;
        rest = &r[2..];
        if let Some(r) = rest.strip_prefix(b"-") {
            day = digits(r.get(0..2)?)?;
            rest = &r[2..];
        }
    }
    let mut seconds = 0;
    if let Some(r) = rest.strip_prefix(b"T") {
        let hour = digits(r.get(0..2)?)?;
        if r.get(2) != Some(&b':') {
            return None;
        }
        let minute = digits(r.get(3..5)?)?;
        rest = &r[5..];
        let mut second = 0;
        if let Some(r) = rest.strip_prefix(b":") {
            second = digits(r.get(0..2)?)?;
            rest = &r[2..];
            if let Some(r) = rest.strip_prefix(b".") {
                let n = r.iter().take_while(|b| b.is_ascii_digit()).count();
                if n == 0 {
                    return None;
                }
                rest = &r[n..];
            }
        }
        seconds = time_of_day(hour, minute, second)?;
        let offset = match rest {
            [] | b"Z" => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                offset_seconds(*sign, digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)?
            }
            _ => return None,
        };
        seconds -= offset;
    } else if !rest.is_empty() {
        return None;
    }
    Some(epoch_day(year, month, day)? * 86_400 + seconds)
}

/// Seconds since the epoch (UTC) of an HL7 v3 `TS` value:
/// `YYYY[MM[DD[HH[MM[SS[.S…]]]]]][±ZZZZ]`, e.g. `20130710214400.000-0500`.
/// Without a zone the time is read as UTC.
pub(crate) fn hl7_time(text: &str) -> Option<i64> {
    let s = text.trim().as_bytes();
    let zone_at = s.iter().position(|&b| b == b'+' || b == b'-');
    let (stamp, zone) = match zone_at {
        Some(at) => (&s[..at], Some(&s[at..])),
        None => (s, None),
    };
    let (stamp, fraction) = match stamp.iter().position(|&b| b == b'.') {
        Some(at) => (&stamp[..at], Some(&stamp[at + 1..])),
        None => (stamp, None),
    };
    if fraction.is_some_and(|f| f.is_empty() || !f.iter().all(u8::is_ascii_digit)) {
        return None;
    }
    // Precision is year, month, day, hour, minute or second: never odd digits.
    if !matches!(stamp.len(), 4 | 6 | 8 | 10 | 12 | 14) || (fraction.is_some() && stamp.len() != 14)
    {
        return None;
    }
    let part = |at: usize, default: i64| match stamp.get(at..at + 2) {
        Some(d) => digits(d),
        None => Some(default),
    };
    let year = digits(stamp.get(0..4)?)?;
    let (month, day) = (part(4, 1)?, part(6, 1)?);
    let seconds = time_of_day(part(8, 0)?, part(10, 0)?, part(12, 0)?)?;
    let offset = match zone {
        None => 0,
        Some([sign, h1, h2, m1, m2]) => {
            offset_seconds(*sign, digits(&[*h1, *h2])?, digits(&[*m1, *m2])?)?
        }
        Some(_) => return None,
    };
    Some(epoch_day(year, month, day)? * 86_400 + seconds - offset)
}

/// A run of ASCII digits as a number; `None` for anything else.
fn digits(s: &[u8]) -> Option<i64> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(s.iter().fold(0i64, |n, &d| n * 10 + i64::from(d - b'0')))
}

fn time_of_day(hour: i64, minute: i64, second: i64) -> Option<i64> {
    // 24:00:00 is the end of a day; a leap second counts as :59.
    let valid = (hour < 24 && minute < 60 && second <= 60) || (hour, minute, second) == (24, 0, 0);
    valid.then_some(hour * 3600 + minute * 60 + second.min(59))
}

fn offset_seconds(sign: u8, hours: i64, minutes: i64) -> Option<i64> {
    if hours > 14 || minutes >= 60 {
        return None;
    }
    let magnitude = hours * 3600 + minutes * 60;
    Some(if sign == b'-' { -magnitude } else { magnitude })
}

/// Days since 1970-01-01 of a valid calendar date (Howard Hinnant's
/// days-from-civil); `None` for 2019-02-30 and the like.
fn epoch_day(year: i64, month: i64, day: i64) -> Option<i64> {
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `2019-05-03T01:11:12Z` for seconds since the epoch (Howard Hinnant's
/// civil-from-days), the inverse of [`fhir_time`] on UTC times. Also the
/// audit trail's clock format (the core adds milliseconds).
pub fn utc_iso(seconds: i64) -> String {
    let days = seconds.div_euclid(86_400);
    let secs = seconds.rem_euclid(86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Decodes standard or URL-safe base64 (padding optional, ASCII whitespace
/// skipped), stopping once `max` bytes are out. Returns the bytes and whether
/// the input held more than `max`. `None` if it is not base64.
pub(crate) fn base64_decode(text: &str, max: usize) -> Option<(Vec<u8>, bool)> {
    fn value(c: u8) -> Option<u32> {
        Some(
            match c {
                b'A'..=b'Z' => c - b'A',
                b'a'..=b'z' => c - b'a' + 26,
                b'0'..=b'9' => c - b'0' + 52,
                b'+' | b'-' => 62,
                b'/' | b'_' => 63,
                _ => return None,
            }
            .into(),
        )
    }
    let mut out = Vec::with_capacity((text.len() / 4 * 3).min(max));
    let (mut acc, mut bits) = (0u32, 0u32);
    let mut padding = false;
    for c in text.bytes() {
        if c.is_ascii_whitespace() {
            continue;
        }
        if c == b'=' {
            padding = true;
            continue;
        }
        if padding {
            return None;
        }
        acc = (acc << 6) | value(c)?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            if out.len() == max {
                return Some((out, true));
            }
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some((out, false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fhir_dates_of_every_precision() {
        assert_eq!(fhir_time("1970-01-01"), Some(0));
        assert_eq!(fhir_time("2019"), fhir_time("2019-01-01"));
        assert_eq!(fhir_time("2019-05"), fhir_time("2019-05-01"));
        assert_eq!(fhir_time("2019-05-03"), Some(1_556_841_600));
        assert_eq!(fhir_time("2019-05-03T00:00:00Z"), Some(1_556_841_600));
        assert_eq!(
            fhir_time("2016-09-12T11:24:05-04:00"),
            Some(1_473_693_845),
            "offsets move to UTC"
        );
        assert_eq!(
            fhir_time("2016-09-12T15:24:05.123+00:00"),
            Some(1_473_693_845)
        );
        assert_eq!(fhir_time("2024-02-29"), Some(1_709_164_800));
        assert_eq!(fhir_time("1960-01-01"), Some(-315_619_200));
        for bad in [
            "",
            "19",
            "2019-5-3",
            "2019-13-01",
            "2023-02-29",
            "2019-05-03T",
            "2019-05-03T25:00",
            "2019-05-03T10:00:00+5",
            "2019-05-03T10:00:00.+01:00",
            "2019/05/03",
            "yesterday",
            "2019-05-03 10:00",
        ] {
            assert_eq!(fhir_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn utc_times_print_back() {
        for t in [
            "1970-01-01T00:00:00Z",
            "2019-05-03T01:11:12Z",
            "2024-02-29T23:59:59Z",
            "1946-03-29T00:00:00Z",
        ] {
            assert_eq!(fhir_time(t).map(utc_iso).as_deref(), Some(t));
        }
    }

    #[test]
    fn hl7_timestamps_of_every_precision() {
        assert_eq!(hl7_time("20190503"), fhir_time("2019-05-03"));
        assert_eq!(hl7_time("2019"), fhir_time("2019-01-01"));
        assert_eq!(hl7_time("201306191025"), fhir_time("2013-06-19T10:25:00Z"));
        assert_eq!(
            hl7_time("20130710214400.000-0500"),
            fhir_time("2013-07-10T21:44:00-05:00")
        );
        assert_eq!(hl7_time("20120912000000-0000"), fhir_time("2012-09-12"));
        for bad in [
            "",
            "201",
            "2019050",
            "20190231",
            "20190503-05",
            "2019.5",
            "x2019",
        ] {
            assert_eq!(hl7_time(bad), None, "{bad}");
        }
    }

    #[test]
    fn base64_decodes_with_a_cap() {
        assert_eq!(
            base64_decode("aGVsbG8gd29ybGQ=", 100),
            Some((b"hello world".to_vec(), false))
        );
        assert_eq!(
            base64_decode("aGVs\nbG8", 100),
            Some((b"hello".to_vec(), false))
        );
        assert_eq!(base64_decode("aGVsbG8=", 3), Some((b"hel".to_vec(), true)));
        assert_eq!(base64_decode("a*b", 10), None);
        assert_eq!(base64_decode("aG=Vs", 10), None);
    }
}
