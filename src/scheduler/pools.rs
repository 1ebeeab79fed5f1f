//! Routing: each worker belongs to a pool that runs one profile, and a task goes only to
//! a worker of the pool it asks for (`{agent=…}`, or the run's default). A pool that has
//! no worker left for a task that is ready fails it rather than leave the run hanging.

use super::{Action, Retirement, State, WorkerState};
use std::time::Duration;

impl State {
    /// The pool of profile `name` (`None`: the default pool). A name no pool runs gets a
    /// pool without workers: its tasks fail as they come up, as the edges let none of
    /// them through.
    pub(super) fn pool_for(&mut self, name: Option<&str>) -> usize {
        let Some(name) = name else {
            return self.default_pool;
        };
        if let Some(p) = self.pools.iter().position(|p| p == name) {
            return p;
        }
        self.pools.push(name.to_owned());
        let pools = self.pools.len();
        self.fleet_limit.resize(pools, None);
        self.graph.ready.resize(pools, Default::default());
        pools - 1
    }

    /// How many pending tasks each pool has; with one pool, without a scan.
    pub(super) fn pending_by_pool(&self) -> Vec<usize> {
        let mut counts = vec![0; self.pools.len()];
        if let [only] = counts.as_mut_slice() {
            *only = self.tally.pending;
        } else {
            for &i in &self.pending {
                counts[self.pool_of_task(i)] += 1;
            }
        }
        counts
    }

    /// A pool whose workers are all retired while it has a task ready: a worker retired
    /// for want of work starts again; with none, the pool's ready tasks fail, as every
    /// task does when no worker at all is left.
    pub(super) fn strand_dead_pools(&mut self, actions: &mut Vec<Action>) {
        // One pool is all the workers: `check_finished` has seen whether any is left.
        if self.pools.len() == 1 {
            return;
        }
        for pool in 0..self.pools.len() {
            if self.graph.ready[pool].is_empty() {
                continue;
            }
            let mut members = self.workers.iter().filter(|w| w.pool == pool);
            if members
                .clone()
                .any(|w| !matches!(w.state, WorkerState::Retired { .. }))
            {
                continue;
            }
            let staffed = members.clone().next().is_some();
            let unneeded = members.find(|w| {
                w.pane.is_none()
                    && w.state
                        == WorkerState::Retired {
                            why: Retirement::Unneeded,
                        }
            });
            if let Some(worker) = unneeded.map(|w| w.id) {
                self.workers[worker].state = WorkerState::Starting;
                actions.push(Action::Spawn {
                    worker,
                    delay: Duration::ZERO,
                });
                continue;
            }
            let profile = &self.pools[pool];
            let reason = if staffed {
                format!(
                    "no workers left for the `{profile}` profile: each was retired, its agent failing again and again"
                )
            } else {
                format!("no worker of this run runs the `{profile}` profile")
            };
            while let Some(&i) = self.graph.ready[pool].first() {
                let id = self.tasks[i].id.clone();
                self.fail(&id, &reason, actions);
            }
        }
    }
}
