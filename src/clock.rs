//! Time as the orchestrator sees it, behind a seam: the run loop, its waits on agents'
//! screens and delivery read the clock and sleep only through `Clock`, so that their tests
//! run on a manual clock in milliseconds (docs/architecture.md, "The loop behind its edges").

use std::time::{Duration, Instant};

/// Run time and sleeping. `now` counts from the clock's own start, so that the scheduler's
/// deadlines and the status file's start times share one origin.
pub trait Clock: Send + Sync {
    /// Time since the clock started.
    fn now(&self) -> Duration;
    /// Blocks the calling thread for `duration` of this clock's time.
    fn sleep(&self, duration: Duration);
    /// The time of day, with the zone agents print times in when they name none: what a
    /// reset time such as `9:20pm` is read against.
    fn wall(&self) -> (jiff::Timestamp, jiff::tz::TimeZone) {
        (jiff::Timestamp::now(), jiff::tz::TimeZone::system())
    }
}

/// The wall clock: real time since it was made.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    started: Instant,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock {
            started: Instant::now(),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Duration {
        self.started.elapsed()
    }

    fn sleep(&self, duration: Duration) {
        std::thread::sleep(duration);
    }
}

/// A clock that moves only when a test says so. Threads that sleep on it block until the
/// test has advanced it far enough; `sleepers` lets a test see that every thread is
/// blocked, which is how it knows the system has settled.
#[cfg(test)]
pub mod manual {
    use super::Clock;
    use std::sync::{Condvar, Mutex};
    use std::time::Duration;

    /// How long a sleeper waits for the test to move the clock before it gives up: a
    /// test that forgets to is a bug, and must fail rather than hang.
    const STUCK: Duration = Duration::from_secs(20);

    #[derive(Debug, Default)]
    pub struct ManualClock {
        inner: Mutex<Inner>,
        moved: Condvar,
    }

    #[derive(Debug, Default)]
    struct Inner {
        now: Duration,
        /// When each sleeper wakes.
        sleepers: Vec<Duration>,
        closed: bool,
    }

    /// What a sleeper unwinds with once the clock is closed.
    struct Closed;

    impl ManualClock {
        pub fn new() -> ManualClock {
            ManualClock::default()
        }

        /// Moves time forward and wakes the sleepers that are due.
        pub fn advance(&self, by: Duration) {
            self.inner.lock().expect("not poisoned").now += by;
            self.moved.notify_all();
        }

        /// Ends every sleeper's thread, now and later: the test is over, and threads that
        /// wait without a deadline (a pane a person holds) must not outlive it.
        pub fn close(&self) {
            self.inner.lock().expect("not poisoned").closed = true;
            self.moved.notify_all();
        }

        /// How many threads sleep and are not due yet: a thread that is due but has not
        /// run yet is not asleep, and the system is not settled until it sleeps again.
        pub fn sleepers(&self) -> usize {
            let inner = self.inner.lock().expect("not poisoned");
            inner
                .sleepers
                .iter()
                .filter(|&&until| until > inner.now)
                .count()
        }
    }

    /// The manual clock's time of day at its start, in UTC: 18:00 on 2026-11-30.
    pub const WALL_START: i64 = 1_796_061_600;

    impl Clock for ManualClock {
        fn now(&self) -> Duration {
            self.inner.lock().expect("not poisoned").now
        }

        fn wall(&self) -> (jiff::Timestamp, jiff::tz::TimeZone) {
            let start = jiff::Timestamp::from_second(WALL_START).expect("a valid time");
            let now = start + jiff::SignedDuration::try_from(self.now()).expect("a short run");
            (now, jiff::tz::TimeZone::UTC)
        }

        fn sleep(&self, duration: Duration) {
            let mut inner = self.inner.lock().expect("not poisoned");
            let until = inner.now + duration;
            inner.sleepers.push(until);
            self.moved.notify_all();
            while inner.now < until {
                if inner.closed {
                    drop(inner);
                    // Unwinds without the panic hook: quietly, not as a failure.
                    std::panic::resume_unwind(Box::new(Closed));
                }
                let (next, waited) = self.moved.wait_timeout(inner, STUCK).expect("not poisoned");
                inner = next;
                assert!(
                    !waited.timed_out() || inner.now >= until,
                    "a sleeper waited {STUCK:?} for a manual clock that never moved"
                );
            }
            let me = inner
                .sleepers
                .iter()
                .position(|&at| at == until)
                .expect("a sleeper is listed");
            inner.sleepers.swap_remove(me);
        }
    }
}
