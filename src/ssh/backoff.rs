//! How long to leave a host alone after it failed to answer: doubling from half a second
//! to 30 s, so that a host that is down costs one timeout per wait, not one per call.

use std::time::{Duration, Instant};

const FIRST: Duration = Duration::from_millis(500);
const LONGEST: Duration = Duration::from_secs(30);

/// The reconnect state of one host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backoff {
    /// Failures in a row.
    failures: u32,
    /// No call before this.
    until: Option<Instant>,
}

impl Backoff {
    /// Records a failure at `now`; returns how long the host is now left alone.
    pub fn failed(&mut self, now: Instant) -> Duration {
        let wait = FIRST
            .saturating_mul(1 << self.failures.min(16))
            .min(LONGEST);
        self.failures = self.failures.saturating_add(1);
        self.until = Some(now + wait);
        wait
    }

    /// The host answered: the next failure starts from the shortest wait again.
    pub fn succeeded(&mut self) {
        *self = Backoff::default();
    }

    /// How long from `now` until the host may be tried again; `None` when it may now.
    pub fn wait(&self, now: Instant) -> Option<Duration> {
        self.until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_a_ceiling_and_reset_on_success() {
        let now = Instant::now();
        let mut backoff = Backoff::default();
        assert_eq!(backoff.wait(now), None);
        let waits: Vec<u64> = (0..9)
            .map(|_| backoff.failed(now).as_millis() as u64)
            .collect();
        assert_eq!(
            waits,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(backoff.failures, 9);
        assert_eq!(backoff.wait(now), Some(LONGEST));
        assert_eq!(
            backoff.wait(now + Duration::from_secs(10)),
            Some(Duration::from_secs(20))
        );
        assert_eq!(backoff.wait(now + LONGEST), None);
        backoff.succeeded();
        assert_eq!(backoff.wait(now), None);
        assert_eq!(backoff.failed(now), FIRST);
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let now = Instant::now();
        let mut backoff = Backoff {
            failures: u32::MAX,
            until: None,
        };
        assert_eq!(backoff.failed(now), LONGEST);
        assert_eq!(backoff.failures, u32::MAX);
    }
}
