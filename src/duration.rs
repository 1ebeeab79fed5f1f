//! Durations as people write them, the same for every flag and setting that takes a time:
//! `90` or `1.5` (seconds), `90s`, `10m`, `1h`, `1h30m`.

use std::time::Duration;

/// How to write a duration, for error messages.
pub const FORMS: &str = "write it as 90 (seconds), 90s, 10m or 1h";

/// Reads a duration: a bare number is seconds, anything else goes to humantime.
pub fn parse(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if let Ok(secs) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("`{text}` is not a number of seconds; {FORMS}"));
    }
    humantime::parse_duration(text).map_err(|err| format!("`{text}`: {err}; {FORMS}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_seconds_or_with_a_unit() {
        let secs = |text| parse(text).map(|d| d.as_secs_f64());
        assert_eq!(secs("90"), Ok(90.0));
        assert_eq!(secs("0.5"), Ok(0.5));
        assert_eq!(secs("90s"), Ok(90.0));
        assert_eq!(secs("10m"), Ok(600.0));
        assert_eq!(secs("1h 30m"), Ok(5400.0));
        assert!(secs("-1").is_err());
        assert!(secs("soon").unwrap_err().contains("10m"));
    }
}
