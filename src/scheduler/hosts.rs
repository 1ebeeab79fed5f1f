//! Workers on other hosts: leases and fencing (docs/multihost.md). A host that goes
//! silent keeps its workers' tasks for `lease_grace`; then they go back in line as new
//! attempts, uncharged. The attempt number is the fencing token: a completion counts only
//! from a task's current attempt, so a late one from a fenced attempt is never checked off.

use super::record::Record;
use super::{Action, Notice, PauseReason, State, TaskStatus, Worker, WorkerId, WorkerState};
use crate::plan::TaskId;
use std::time::Duration;

/// One host's workers and whether its link is up.
#[derive(Debug, Clone)]
pub(super) struct HostEntry {
    pub(super) name: String,
    /// What tasks may ask of it (`{tags=…}`).
    pub(super) tags: Vec<String>,
    /// Run time its link went down, while it is down.
    pub(super) lost_since: Option<Duration>,
}

impl State {
    /// Adds `count` workers of profile `profile` that run on host `host` (which has
    /// `tags`), after the workers there are; returns their ids.
    pub fn add_remote_workers(
        &mut self,
        host: &str,
        tags: &[String],
        profile: &str,
        count: usize,
    ) -> Vec<WorkerId> {
        let h = match self.hosts.iter().position(|e| e.name == host) {
            Some(h) => h,
            None => {
                self.hosts.push(HostEntry {
                    name: host.to_owned(),
                    tags: tags.to_vec(),
                    lost_since: None,
                });
                self.hosts.len() - 1
            }
        };
        let pool = self.pool_for(Some(profile));
        let first = self.workers.len();
        for id in first..first + count {
            let mut worker = Worker::new(id, pool);
            worker.host = Some(h);
            self.workers.push(worker);
        }
        (first..first + count).collect()
    }

    /// How long a silent host keeps its tasks before they go elsewhere.
    pub fn set_lease_grace(&mut self, grace: Duration) {
        self.lease_grace = grace;
    }

    /// The host `worker` runs on; `None`: this machine.
    pub fn host_of(&self, worker: WorkerId) -> Option<&str> {
        let h = self.workers.get(worker)?.host?;
        Some(&self.hosts[h].name)
    }

    /// Each host, and since when (run time) its link is down, while it is.
    pub fn hosts(&self) -> impl Iterator<Item = (&str, Option<Duration>)> {
        self.hosts.iter().map(|h| (h.name.as_str(), h.lost_since))
    }

    /// The lease of a silent host's tasks runs out this long after the host went silent.
    pub fn lease_grace(&self) -> Duration {
        self.lease_grace
    }

    /// Run time, as of the last tick.
    pub fn now(&self) -> Duration {
        self.now
    }

    /// The tags of the host `worker` runs on; none on this machine.
    pub(super) fn worker_tags(&self, worker: WorkerId) -> Vec<String> {
        match self.workers[worker].host {
            Some(h) => self.hosts[h].tags.clone(),
            None => Vec::new(),
        }
    }

    /// Whether `worker` is on a host whose link is down: nothing it says is news until
    /// the host is back.
    pub(super) fn host_down(&self, worker: WorkerId) -> bool {
        self.workers
            .get(worker)
            .and_then(|w| w.host)
            .is_some_and(|h| self.hosts[h].lost_since.is_some())
    }

    /// The prompt whose delivery the host's loss cut short goes out again, to the same
    /// pane: a remote paste is idempotent (the same text, whose answer was lost, is not
    /// pasted twice), and the delivery then sees whether it is in the input box (Enter),
    /// taken (the agent is busy), or not there (pasted now).
    fn redeliver(
        &mut self,
        worker: WorkerId,
        pane: crate::tmux::PaneId,
        actions: &mut Vec<Action>,
    ) {
        let w = &mut self.workers[worker];
        let inner = match std::mem::replace(&mut w.state, WorkerState::Starting) {
            WorkerState::Paused { inner, .. } => *inner,
            state => state,
        };
        let WorkerState::Delivering {
            task,
            since,
            nudges,
        } = inner
        else {
            w.state = inner;
            return;
        };
        let attempt = self.position(&task).map_or(0, |i| self.tasks[i].attempts);
        let w = &mut self.workers[worker];
        if nudges > 0 {
            // A reminder: the agent has the task in hand; watch it again.
            w.state = WorkerState::Busy {
                task,
                since,
                nudges: nudges - 1,
            };
            actions.push(Action::Monitor { worker, pane });
            return;
        }
        w.state = WorkerState::Delivering {
            task: task.clone(),
            since,
            nudges,
        };
        actions.push(Action::Deliver {
            worker,
            pane,
            task,
            attempt,
            again: true,
        });
    }

    /// The link to `host` went down: its workers are held, and keep their tasks for the
    /// lease's grace.
    pub(super) fn host_lost(&mut self, host: &str, actions: &mut Vec<Action>) {
        let Some(h) = self.hosts.iter().position(|e| e.name == host) else {
            return;
        };
        if self.hosts[h].lost_since.is_some() {
            return;
        }
        let now = self.now;
        self.hosts[h].lost_since = Some(now);
        actions.push(Action::Journal(Record::HostLost { host: host.into() }));
        let lease_until = now + self.lease_grace;
        let mut first = None;
        for w in self.workers.iter_mut().filter(|w| w.host == Some(h)) {
            let inner = match std::mem::replace(&mut w.state, WorkerState::Starting) {
                state @ WorkerState::Retired { .. } => {
                    w.state = state;
                    continue;
                }
                // What it was held up by shows again, if it still holds, once the host is
                // back; its task's clock stopped when that began.
                WorkerState::Paused { inner, .. } => inner,
                state => Box::new(state),
            };
            first.get_or_insert(w.id);
            w.state = WorkerState::Paused {
                inner,
                why: PauseReason::HostLost {
                    host: host.into(),
                    lease_until,
                },
                at: now,
            };
        }
        if let Some(worker) = first {
            let grace = self.lease_grace.as_secs();
            actions.push(Action::Notify(Notice::NeedsPerson {
                worker,
                what: format!(
                    "host {host} cannot be reached; its tasks go to other workers if it is not back within {grace}s"
                ),
            }));
        }
    }

    /// The lease of each silent host that has been silent for the grace runs out: the
    /// tasks its workers held go back in line as new attempts, not charged to the task.
    pub(super) fn check_leases(&mut self, actions: &mut Vec<Action>) {
        let now = self.now;
        let expired: Vec<usize> = (0..self.hosts.len())
            .filter(|&h| {
                self.hosts[h]
                    .lost_since
                    .is_some_and(|since| now >= since + self.lease_grace)
            })
            .collect();
        for h in expired {
            let secs = now
                .saturating_sub(self.hosts[h].lost_since.unwrap_or(now))
                .as_secs();
            let reason = format!(
                "its host {} could not be reached for {secs}s",
                self.hosts[h].name
            );
            self.fence_host(h, &reason, actions);
        }
    }

    /// Takes back every task the workers of host `h` hold (their attempts are fenced
    /// from now on), leaving the workers without one.
    fn fence_host(&mut self, h: usize, reason: &str, actions: &mut Vec<Action>) {
        let held: Vec<(WorkerId, TaskId)> = self
            .workers
            .iter()
            .filter(|w| w.host == Some(h))
            .filter_map(|w| match &w.state {
                WorkerState::Paused { inner, .. } => inner.task().map(|t| (w.id, t.clone())),
                state => state.task().map(|t| (w.id, t.clone())),
            })
            .collect();
        for (worker, task) in held {
            if let WorkerState::Paused { inner, .. } = &mut self.workers[worker].state {
                **inner = WorkerState::Starting;
            } else {
                self.workers[worker].state = WorkerState::Starting;
            }
            self.expire(&task, reason, actions);
        }
        // Workers that were let go for want of work may be what the tasks need now.
        self.wake_workers(actions);
    }

    /// `task`'s current attempt is fenced: it goes back in line, and the attempt is not
    /// charged (its host, not the task, failed).
    fn expire(&mut self, task: &TaskId, reason: &str, actions: &mut Vec<Action>) {
        let Some(i) = self.position(task) else {
            return;
        };
        if self.tasks[i].status != TaskStatus::Running {
            return;
        }
        let attempt = self.tasks[i].attempts;
        self.tasks[i].forgiven += 1;
        actions.push(Action::Journal(Record::LeaseExpired {
            task: task.clone(),
            attempt,
        }));
        self.requeue(task, reason, actions);
    }

    /// The link to `host` is up again. A host that rebooted (a new tmux server) lost
    /// every agent it ran: their tasks go back in line and new agents start. Otherwise a
    /// worker whose lease held goes on where it was, and one whose lease ran out gets a
    /// new agent, its old one (a fenced attempt's) killed.
    pub(super) fn host_back(&mut self, host: &str, rebooted: bool, actions: &mut Vec<Action>) {
        let Some(h) = self.hosts.iter().position(|e| e.name == host) else {
            return;
        };
        self.hosts[h].lost_since = None;
        actions.push(Action::Journal(Record::HostBack {
            host: host.into(),
            rebooted,
        }));
        if rebooted {
            self.fence_host(h, &format!("its host {host} restarted"), actions);
        }
        let members: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|w| w.host == Some(h))
            .map(|w| w.id)
            .collect();
        for worker in members {
            let w = &mut self.workers[worker];
            let inner = match &w.state {
                WorkerState::Paused {
                    inner,
                    why: PauseReason::HostLost { .. },
                    ..
                } => (**inner).clone(),
                // A rebooted host's agents are gone whatever they were doing.
                WorkerState::Retired { .. } => continue,
                state if rebooted => state.clone(),
                _ => continue,
            };
            let lost_agent = rebooted || matches!(inner, WorkerState::Starting);
            let redeliver = std::mem::take(&mut w.redeliver);
            match (lost_agent, w.pane.clone()) {
                (false, Some(pane)) if redeliver => self.redeliver(worker, pane, actions),
                (false, Some(pane)) => self.resume(worker, pane, actions),
                _ => self.respawn(worker, host, rebooted, actions),
            }
        }
    }

    /// A new agent for `worker`, its old pane (gone with a reboot, or a fenced attempt's)
    /// killed; not counted against the worker, whose host, not agent, failed.
    fn respawn(&mut self, worker: WorkerId, host: &str, rebooted: bool, actions: &mut Vec<Action>) {
        let w = &mut self.workers[worker];
        w.state = WorkerState::Starting;
        if let Some(pane) = w.pane.take() {
            let reason = if rebooted {
                format!("its host {host} restarted")
            } else {
                "its attempt was fenced while its host could not be reached".to_string()
            };
            actions.push(Action::Journal(Record::WorkerDied {
                worker,
                pane: pane.clone(),
                reason,
            }));
            actions.push(Action::Kill { pane });
        }
        actions.push(Action::Spawn {
            worker,
            delay: Duration::ZERO,
        });
    }

    /// A sentinel that names its attempt (a remote host's): it counts only if that is the
    /// task's current attempt; a fenced attempt's is journaled as stale, and nothing else.
    pub(super) fn attempt_done(&mut self, task: &TaskId, attempt: u32, actions: &mut Vec<Action>) {
        let Some(i) = self.position(task) else {
            return;
        };
        let entry = &self.tasks[i];
        let current = entry.attempts == attempt
            && matches!(entry.status, TaskStatus::Running | TaskStatus::Landing);
        if current {
            self.task_done(task, actions);
        } else if entry.status != TaskStatus::Done || entry.attempts != attempt {
            actions.push(Action::Journal(Record::Stale {
                task: task.clone(),
                attempt,
            }));
        }
    }

    /// A prompt could not reach `worker` because its host could not: the host is lost,
    /// and whether the prompt went in is for the host to tell once it is back, so the
    /// task stays the worker's, under the lease, and its delivery goes again then.
    pub(super) fn delivery_unreachable(
        &mut self,
        worker: WorkerId,
        task: &TaskId,
        actions: &mut Vec<Action>,
    ) {
        let Some(host) = self.host_of(worker).map(str::to_owned) else {
            return;
        };
        self.host_lost(&host, actions);
        // Delivered again once the host is back (`redeliver`): the delivery then finds
        // out what came of this one.
        let w = &mut self.workers[worker];
        let delivering = match &w.state {
            WorkerState::Paused { inner, .. } => &**inner,
            state => state,
        };
        if matches!(delivering, WorkerState::Delivering { task: t, .. } if t == task) {
            w.redeliver = true;
        }
    }
}
