//! Where the executor's waits on agents run: each on a thread of its own, so that one slow
//! agent never holds up the loop. A seam, so that the loop tests can count the jobs alive
//! and know when every one of them is asleep on the manual clock.

/// Runs a job in the background.
pub trait Jobs: Send + Sync {
    fn spawn(&self, job: Box<dyn FnOnce() + Send>);
}

/// A thread per job.
pub struct Threads;

impl Jobs for Threads {
    fn spawn(&self, job: Box<dyn FnOnce() + Send>) {
        std::thread::spawn(job);
    }
}
