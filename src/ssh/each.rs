//! Doing one thing on every host at once: ssh calls wait on the network, not on this
//! machine's cores, so each host gets a thread of its own and the slowest host alone sets
//! the time (a thread pool sized to the cores would queue them).

/// `work` applied to each of `items` on a thread of its own, the answers in their order.
/// A panic in one is raised here, as if the work had run on this thread.
pub fn each_host<T: Sync, R: Send>(items: &[T], work: impl Fn(&T) -> R + Sync) -> Vec<R> {
    std::thread::scope(|scope| {
        let jobs: Vec<_> = items
            .iter()
            .map(|item| {
                let work = &work;
                scope.spawn(move || work(item))
            })
            .collect();
        jobs.into_iter()
            .map(|job| job.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Barrier;

    #[test]
    fn every_host_works_at_the_same_time_and_answers_keep_their_order() {
        // Each waits for all the others: done one after another, this would never end.
        let together = Barrier::new(4);
        let answers = each_host(&[1, 2, 3, 4], |n| {
            together.wait();
            n * 10
        });
        assert_eq!(answers, [10, 20, 30, 40]);
    }
}
