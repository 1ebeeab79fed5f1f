//! One worker slot: the pane of its agent, and a state that says what it does and names
//! the task it holds. The state is the only record of which worker holds which task, and
//! it carries its own data, so that a worker cannot be busy without a task, or idle with
//! one.

use super::WorkerId;
use crate::plan::TaskId;
use crate::tmux::PaneId;
use std::time::Duration;

/// Where a worker stands; see the worker lifecycle in docs/architecture.md.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkerState {
    /// Its agent is starting, or recovering, and has not shown a ready screen yet.
    Starting,
    /// Its agent shows a ready, empty input box: the next task may go to it.
    Idle,
    /// The prompt of `task` (or, with `nudges` above 0, a reminder) is being pasted and
    /// submitted. The attempt began at `since` (run time).
    Delivering {
        task: TaskId,
        since: Duration,
        nudges: u32,
    },
    /// Its agent's pane died while the prompt of `task` (or a reminder) was being
    /// delivered. Whether the prompt reached the agent, and so whether the attempt counts,
    /// is for the delivery to say; then the agent is replaced.
    Dying {
        task: TaskId,
        nudges: u32,
        reason: String,
    },
    /// The sentinel of `task` came while its prompt was still being submitted: the task is
    /// done, and the worker gets a fresh context once the delivery ends.
    Finishing { task: TaskId },
    /// Its agent works on `task`, since `since` (run time), reminded `nudges` times.
    Busy {
        task: TaskId,
        since: Duration,
        nudges: u32,
    },
    /// Its task is done; it is getting a fresh context.
    Resetting,
    /// Its turn ran too long (or its task was skipped): it is being interrupted.
    Interrupting,
    /// A person or the agent's provider holds it up: nothing is pasted into it until its
    /// pane shows it is free again, and then it goes on as `inner` (never itself paused).
    /// A task it holds stays its own, and the task's clock stops from `at` (run time).
    Paused {
        inner: Box<WorkerState>,
        why: PauseReason,
        at: Duration,
    },
    /// No more work goes to it.
    Retired { why: Retirement },
}

/// Why a worker is paused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PauseReason {
    /// A blocking dialog is on screen: only a person can answer it.
    NeedsHuman(String),
    /// The agent says it is rate-limited (until `until`, when it says); swarm looks again
    /// at `resume_at` (run time), unless the screen clears first.
    RateLimited {
        until: Option<String>,
        resume_at: Duration,
    },
    /// The agent gave up on its provider's errors, saying `what`; swarm tries again at
    /// `resume_at` (run time), with backoff.
    ApiError { what: String, resume_at: Duration },
    /// The pane refused a paste: a person scrolls or types in it, or another program is
    /// in front. Swarm waits until the pane is free; the person's text stays theirs.
    Occupied(String),
    /// Its host cannot be reached. A task it holds stays its own until `lease_until` (run
    /// time), then goes elsewhere; the host's return ends the pause.
    HostLost { host: String, lease_until: Duration },
}

/// Why a worker was retired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retirement {
    /// There was no work for it; more work wakes it.
    Unneeded,
    /// Its agent kept dying, or never became ready: a person should look.
    KeptFailing(String),
}

impl WorkerState {
    /// The task it holds (a task is `Running` exactly while one worker holds it).
    pub fn task(&self) -> Option<&TaskId> {
        match self {
            WorkerState::Delivering { task, .. }
            | WorkerState::Dying { task, .. }
            | WorkerState::Busy { task, .. } => Some(task),
            WorkerState::Paused { inner, .. } => inner.task(),
            WorkerState::Starting
            | WorkerState::Idle
            | WorkerState::Finishing { .. }
            | WorkerState::Resetting
            | WorkerState::Interrupting
            | WorkerState::Retired { .. } => None,
        }
    }

    /// The state's name, as `swarm status` and the status snapshot show it.
    pub fn name(&self) -> &'static str {
        match self {
            // A new agent is on its way.
            WorkerState::Starting | WorkerState::Dying { .. } => "starting",
            WorkerState::Idle => "idle",
            // Finishing is still delivering, as far as anyone watching can tell.
            WorkerState::Delivering { .. } | WorkerState::Finishing { .. } => "delivering",
            WorkerState::Busy { .. } => "busy",
            WorkerState::Resetting => "resetting",
            WorkerState::Interrupting => "interrupting",
            WorkerState::Paused { why, .. } => match why {
                PauseReason::NeedsHuman(_) => "needs-human",
                PauseReason::RateLimited { .. } => "rate-limited",
                PauseReason::ApiError { .. } => "api-error",
                PauseReason::Occupied(_) => "waiting",
                PauseReason::HostLost { .. } => "host-lost",
            },
            WorkerState::Retired { .. } => "retired",
        }
    }
}

impl PauseReason {
    /// When swarm stops waiting for the screen to clear and gets the worker going again
    /// itself; `None` for what only a person ends.
    pub fn resume_at(&self) -> Option<Duration> {
        match self {
            PauseReason::RateLimited { resume_at, .. }
            | PauseReason::ApiError { resume_at, .. } => Some(*resume_at),
            PauseReason::NeedsHuman(_)
            | PauseReason::Occupied(_)
            | PauseReason::HostLost { .. } => None,
        }
    }

    /// What a person should know, in a few words.
    pub fn describe(&self) -> String {
        match self {
            PauseReason::NeedsHuman(what) => what.clone(),
            PauseReason::RateLimited {
                until: Some(until), ..
            } => format!("rate-limited until {until}"),
            PauseReason::RateLimited { until: None, .. } => "rate-limited".into(),
            PauseReason::ApiError { what, .. } => format!("API error: {what}"),
            PauseReason::Occupied(why) => {
                format!("the pane is in use ({why}); swarm waits until it is free")
            }
            PauseReason::HostLost { host, .. } => format!("host {host} cannot be reached"),
        }
    }
}

/// One worker slot's bookkeeping.
#[derive(Debug, Clone)]
pub struct Worker {
    pub id: WorkerId,
    /// The pool it belongs to (an index into the state's pools): it runs that pool's
    /// profile, and takes only the tasks routed there.
    pub(super) pool: usize,
    pub(super) state: WorkerState,
    pub(super) pane: Option<PaneId>,
    /// Its agent's failures in a row; a task it completes clears them.
    pub(super) restarts: u32,
    /// A person's `swarm pause` for this worker: it gets no new work.
    pub(super) held: bool,
    /// API errors its agent gave up on since it last completed a task: the backoff grows
    /// with them.
    pub(super) api_errors: u32,
    /// The task whose work is being committed and verified in the worker's worktree: no
    /// new task is prepared there until that is over (isolated runs only).
    pub(super) checking: Option<TaskId>,
    /// The host it runs on (an index into the state's hosts); `None`: this machine.
    pub(super) host: Option<usize>,
    /// Its delivery failed as its host went silent: it goes again once the host is back.
    pub(super) redeliver: bool,
}

impl Worker {
    pub(super) fn new(id: WorkerId, pool: usize) -> Worker {
        Worker {
            id,
            pool,
            state: WorkerState::Starting,
            pane: None,
            restarts: 0,
            held: false,
            api_errors: 0,
            checking: None,
            host: None,
            redeliver: false,
        }
    }

    /// The pool it belongs to: [`super::State::profile`] names its profile.
    pub fn pool(&self) -> usize {
        self.pool
    }

    pub fn state(&self) -> &WorkerState {
        &self.state
    }

    /// Its agent's pane, while it has one.
    pub fn pane(&self) -> Option<&PaneId> {
        self.pane.as_ref()
    }

    /// The task it holds.
    pub fn task(&self) -> Option<&TaskId> {
        self.state.task()
    }

    /// The task whose work is being checked in its worktree, if any.
    pub fn checking(&self) -> Option<&TaskId> {
        self.checking.as_ref()
    }

    /// Its agent's failures in a row.
    pub fn restarts(&self) -> u32 {
        self.restarts
    }

    /// A person paused it (`swarm pause`).
    pub fn is_held(&self) -> bool {
        self.held
    }

    /// When its current attempt was handed out (run time), while it holds a task.
    pub fn since(&self) -> Option<Duration> {
        match &self.state {
            WorkerState::Delivering { since, .. } | WorkerState::Busy { since, .. } => Some(*since),
            WorkerState::Paused { inner, .. } => match &**inner {
                WorkerState::Delivering { since, .. } | WorkerState::Busy { since, .. } => {
                    Some(*since)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// What a person must do for it, while it is paused.
    pub fn needs(&self) -> Option<String> {
        match &self.state {
            WorkerState::Paused { why, .. } => Some(why.describe()),
            _ => None,
        }
    }

    /// Why it was retired for failing, if it was.
    pub fn retired_because(&self) -> Option<&str> {
        match &self.state {
            WorkerState::Retired {
                why: Retirement::KeptFailing(why),
            } => Some(why),
            _ => None,
        }
    }
}
