//! When a usage limit ends, as an agent prints it (`9:20pm (UTC)`, `9:23 PM`,
//! `Dec 3, 9am (Europe/Paris)`), read into an absolute time.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use regex::Regex;
use std::sync::LazyLock;

/// How long ago a time of day without a date may be and still be today's: the agent
/// prints minutes, so a limit that "resets 9:20pm" read at 9:20:40 resets now, not
/// tomorrow.
const JUST_PASSED_MINUTES: i64 = 5;

static RESET: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)^\s*
        (?:(?<month>jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?\s+(?<day>\d{1,2}),?\s+(?:at\s+)?)?
        (?<hour>\d{1,2})(?::(?<minute>\d{2}))?\s*(?<half>[ap])\.?\s*m?\.?
        |^\s*(?<hour24>\d{1,2}):(?<minute24>\d{2})",
    )
    .expect("a valid regex")
});
static ZONE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\((?<zone>[A-Za-z_+\-/0-9]+)\)").expect("a valid regex"));

/// The moment `text` names, read at `now`. A zone in parentheses (`(UTC)`,
/// `(Europe/Paris)`) wins over `local`, the zone the agent prints in otherwise. A time of
/// day without a date is its next occurrence (or one that has just passed); a date without
/// a year is in the coming twelve months. `None` when the text is not a time.
pub fn reset_at(text: &str, now: Timestamp, local: &TimeZone) -> Option<Timestamp> {
    let caps = RESET.captures(text)?;
    let number = |name: &str| caps.name(name).map(|m| m.as_str().parse::<i8>().ok());
    let (hour, minute) = match (number("hour"), number("hour24")) {
        (Some(hour), _) => {
            let hour = hour?;
            if !(1..=12).contains(&hour) {
                return None;
            }
            let pm = caps["half"].eq_ignore_ascii_case("p");
            (
                hour % 12 + if pm { 12 } else { 0 },
                number("minute").unwrap_or(Some(0))?,
            )
        }
        (None, Some(hour)) => (hour?, number("minute24")??),
        (None, None) => return None,
    };
    let zone = ZONE
        .captures(text)
        .and_then(|c| TimeZone::get(&c["zone"]).ok())
        .unwrap_or_else(|| local.clone());
    let time = Time::new(hour, minute, 0, 0).ok()?;
    let today = now.to_zoned_datetime(zone.clone()).date();
    let at = |date: Date| date.to_datetime(time).to_zoned_datetime(zone.clone()).ok();
    let just_passed = now - JUST_PASSED_MINUTES.minutes();
    match caps.name("month") {
        Some(month) => {
            let month = month_number(month.as_str())?;
            let day = number("day")??;
            let this_year = at(Date::new(today.year(), month, day).ok()?)?;
            if this_year.timestamp() >= just_passed {
                Some(this_year.timestamp())
            } else {
                Some(at(Date::new(today.year() + 1, month, day).ok()?)?.timestamp())
            }
        }
        None => {
            let first = at(today)?;
            if first.timestamp() >= just_passed {
                Some(first.timestamp())
            } else {
                Some(at(today.tomorrow().ok()?)?.timestamp())
            }
        }
    }
}

fn month_number(name: &str) -> Option<i8> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    let name = name.get(..3)?.to_ascii_lowercase();
    MONTHS.iter().position(|m| *m == name).map(|i| i as i8 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str, now: &str, local: &str) -> Option<String> {
        let now: Timestamp = now.parse().unwrap();
        let local = TimeZone::get(local).unwrap();
        reset_at(text, now, &local).map(|t| t.to_string())
    }

    #[test]
    fn times_of_day_are_their_next_occurrence() {
        // Claude 2.1.331: `You've hit your 5-hour limit · resets 9:20pm (UTC)`.
        let utc = "2026-11-30T18:05:00Z";
        assert_eq!(
            at("9:20pm (UTC)", utc, "UTC").as_deref(),
            Some("2026-11-30T21:20:00Z")
        );
        // The zone in parentheses wins over the local one.
        assert_eq!(
            at("9:20pm (UTC)", utc, "Europe/Paris").as_deref(),
            Some("2026-11-30T21:20:00Z")
        );
        assert_eq!(
            at("5:10pm (Europe/Paris)", "2026-11-30T10:00:00Z", "UTC").as_deref(),
            Some("2026-11-30T16:10:00Z")
        );
        // Codex 0.169.0 prints local time: `try again at 9:23 PM`.
        assert_eq!(
            at("9:23 PM", utc, "UTC").as_deref(),
            Some("2026-11-30T21:23:00Z")
        );
        assert_eq!(
            at("9am (America/Chicago)", utc, "UTC").as_deref(),
            Some("2026-12-01T15:00:00Z")
        );
        assert_eq!(
            at("12:30am", utc, "UTC").as_deref(),
            Some("2026-12-01T00:30:00Z")
        );
        assert_eq!(
            at("12pm", utc, "UTC").as_deref(),
            Some("2026-12-01T12:00:00Z")
        );
        assert_eq!(
            at("21:20", utc, "UTC").as_deref(),
            Some("2026-11-30T21:20:00Z")
        );
    }

    #[test]
    fn a_time_that_has_just_passed_is_now_not_tomorrow() {
        let now = "2026-11-30T21:20:40Z";
        assert_eq!(
            at("9:20pm (UTC)", now, "UTC").as_deref(),
            Some("2026-11-30T21:20:00Z")
        );
        let later = "2026-11-30T21:40:00Z";
        assert_eq!(
            at("9:20pm (UTC)", later, "UTC").as_deref(),
            Some("2026-12-01T21:20:00Z")
        );
    }

    #[test]
    fn dates_without_a_year_are_in_the_coming_year() {
        let now = "2026-11-30T18:05:00Z";
        assert_eq!(
            at("Dec 3, 9am (UTC)", now, "UTC").as_deref(),
            Some("2026-12-03T09:00:00Z")
        );
        assert_eq!(
            at("Jan 2 at 9:15pm", now, "UTC").as_deref(),
            Some("2027-01-02T21:15:00Z")
        );
    }

    #[test]
    fn other_text_is_no_time() {
        for text in ["soon", "", "13pm", "25:00", "in a while", "0am"] {
            assert_eq!(at(text, "2026-11-30T18:05:00Z", "UTC"), None, "{text}");
        }
    }
}
