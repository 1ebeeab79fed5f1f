//! The pure core: `State + Event → Vec<Action>`. It owns every decision and does no I/O,
//! so the whole lifecycle of tasks and workers is testable in microseconds.

pub mod budget;
mod deps;
mod hosts;
mod landing;
mod pools;
pub mod record;
pub mod scope;
mod worker;

pub use budget::Budgets;
pub use deps::Waiting;
use record::{Closed, Record, Replay};
pub use scope::{Scope, ScopeDefault};
pub use worker::{PauseReason, Retirement, Worker, WorkerState};

use crate::plan::TaskId;
use crate::tmux::PaneId;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// What is added to the reset time an agent prints: it prints minutes, and its provider's
/// clock need not be ours.
const LIMIT_MARGIN: Duration = Duration::from_secs(5);
/// How long a rate limit is waited out when the agent says no time, or one that has
/// passed, before swarm looks again.
const LIMIT_RECHECK: Duration = Duration::from_secs(60);
/// The first wait after an API error the agent gave up on; it doubles with each one in a
/// row, up to `API_BACKOFF_MAX`.
const API_BACKOFF: Duration = Duration::from_secs(30);
const API_BACKOFF_MAX: Duration = Duration::from_secs(600);

/// Index of a worker slot (0-based); its pane changes when the agent is replaced.
pub type WorkerId = usize;

/// Bounds that keep failures from looping.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deliveries a task gets before it is failed.
    pub max_attempts: u32,
    /// Replacements of a worker's agent in a row (without a task completed in between)
    /// before the slot is retired.
    pub max_restarts: u32,
    /// How long one attempt may run before the agent is interrupted.
    pub task_timeout: Option<Duration>,
    /// Nudges a worker gets when it goes idle without its sentinel, before the task fails.
    pub max_nudges: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_attempts: 3,
            max_restarts: 5,
            task_timeout: None,
            max_nudges: 2,
        }
    }
}

/// Where a task stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskStatus {
    Pending,
    /// Exactly one worker holds it (its state names the task).
    Running,
    Done,
    Failed(String),
    /// A person said not to do it.
    Skipped,
    /// A task it waits for failed (or was skipped, or is blocked): it waits for a retry
    /// of that task. Why, in a phrase.
    Blocked(String),
    /// Its agent finished (isolated runs): its work is being committed, verified and
    /// landed, and no worker holds it. It still holds its write scope.
    Landing,
}

/// Something that happened in the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new agent pane is up for `worker` (not ready yet).
    Spawned { worker: WorkerId, pane: PaneId },
    /// The pane shows a ready, empty input box (after `AwaitFree`: and it is free again).
    Ready { worker: WorkerId, pane: PaneId },
    /// The agent never became ready (or the reset failed); it will be replaced.
    NotReady {
        worker: WorkerId,
        pane: PaneId,
        reason: String,
    },
    /// The prompt of `task` was pasted and submitted.
    Delivered {
        worker: WorkerId,
        pane: PaneId,
        task: TaskId,
    },
    /// The prompt could not be delivered.
    DeliveryFailed {
        worker: WorkerId,
        pane: PaneId,
        task: TaskId,
        failure: DeliveryFailure,
    },
    /// The task's sentinel file exists.
    Sentinel { task: TaskId },
    /// A pane's process exited.
    /// A pane's process exited, with its status, or the signal that ended it.
    PaneDead {
        pane: PaneId,
        status: Option<i32>,
        signal: Option<i32>,
    },
    /// The plan was edited: its open and checked tasks now, in plan order. A task the
    /// scheduler has done that comes unchecked is to be done again (the edges report it
    /// unchecked only once a person unchecked it and removed its sentinel).
    PlanChanged { tasks: Vec<PlanTask> },
    /// Time since the run started; deadlines are checked against it.
    Tick { now: Duration },
    /// A blocking dialog is on the worker's screen.
    NeedsHuman {
        worker: WorkerId,
        pane: PaneId,
        what: String,
    },
    /// A person is using the worker's pane: scrolling it, typing in its input box, or
    /// running something else in front of the agent. Nothing is pasted, nobody is alerted
    /// (they are right there), and `Ready` ends it.
    Occupied {
        worker: WorkerId,
        pane: PaneId,
        what: String,
    },
    /// The agent says it is rate-limited (until `until`, when it says, which is
    /// `resets_in` from now when it could be read as a time).
    RateLimited {
        worker: WorkerId,
        pane: PaneId,
        until: Option<String>,
        resets_in: Option<Duration>,
    },
    /// The agent gave up on its provider's errors and ended its turn, saying `what`.
    ApiError {
        worker: WorkerId,
        pane: PaneId,
        what: String,
    },
    /// The busy worker's agent is idle, but the sentinel is not there.
    IdleWithoutSentinel { worker: WorkerId, pane: PaneId },
    /// A person's command (`swarm pause`, `resume`, `retry`, `skip`).
    Command(Command),
    /// The work of `task` in `worker`'s worktree was committed (and verified): what next.
    Checked {
        worker: WorkerId,
        task: TaskId,
        outcome: Checked,
    },
    /// `task`'s work is on the landing branch (`commit`), or there was nothing to land.
    Landed {
        task: TaskId,
        commit: Option<String>,
    },
    /// `task`'s work could not land (a conflict, a failed verify on the landing tip): it
    /// goes back to an agent as a new attempt.
    LandFailed { task: TaskId, reason: String },
    /// `task` has cost `micros` micro-dollars so far, by its agents' records.
    Spent { task: TaskId, micros: u64 },
    /// A sentinel that names its attempt (a remote host's): only the task's current
    /// attempt counts.
    AttemptDone { task: TaskId, attempt: u32 },
    /// The link to a host went down: its workers are held, their tasks leased.
    HostLost { host: String },
    /// The link to a host is up again; `rebooted`: its tmux server is a new one, and the
    /// agents it ran are gone.
    HostBack { host: String, rebooted: bool },
}

/// What committing and verifying a finished task's worktree found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// A commit that passed verify (or there is none): on to the merge queue.
    ToLand,
    /// The task changed nothing: it is done, with nothing to land.
    Nothing,
    /// Verify failed, or the commit could not be made: the attempt failed, for `reason`.
    Failed(String),
}

/// Why a prompt did not get delivered: it decides whether the attempt counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// Nothing was typed: the pane is in copy mode, a person is typing in it, or a program
    /// other than the agent is in front. Not an attempt; the pane waits for its person.
    Refused(String),
    /// The prompt went in, or may have, but was not taken: it stayed in the input box, the
    /// agent died of it, or tmux failed half-way. The attempt counts.
    NotSubmitted(String),
    /// The pane died before the prompt reached the agent. Not an attempt.
    PaneGone,
    /// The agent cannot work where it is (say, a person removed its worktree): nothing
    /// was typed, and it is replaced. Not an attempt.
    Broken(String),
    /// Its host could not be reached: the prompt may or may not have gone in, which the
    /// host tells once it is back. The task stays leased to the worker.
    Unreachable(String),
}

impl std::fmt::Display for DeliveryFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DeliveryFailure::Refused(why) => {
                write!(f, "the pane refused the paste ({why}); nothing was typed")
            }
            DeliveryFailure::NotSubmitted(why) => f.write_str(why),
            DeliveryFailure::PaneGone => f.write_str("the pane died before the prompt reached it"),
            DeliveryFailure::Broken(why) => write!(f, "{why}; its agent is replaced"),
            DeliveryFailure::Unreachable(why) => write!(f, "its host could not be reached ({why})"),
        }
    }
}

/// What a person can ask of a running swarm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(tag = "command", rename_all = "kebab-case")]
pub enum Command {
    /// Stop handing out tasks (to one worker, or to all); running tasks go on.
    Pause {
        worker: Option<WorkerId>,
    },
    Resume {
        worker: Option<WorkerId>,
    },
    /// Try a failed or skipped task again, with fresh attempts.
    Retry {
        task: TaskId,
    },
    /// Do not do this task (a running one is interrupted).
    Skip {
        task: TaskId,
    },
}

/// A task as the scheduler needs to know it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PlanTask {
    pub id: TaskId,
    pub checked: bool,
    /// The tasks it waits for: its `after=` ids and its child tasks.
    pub after: Vec<TaskId>,
    /// What it may change: it never runs beside a task whose scope overlaps.
    pub scope: Scope,
    /// The profile it asks for (`{agent=…}`): only a worker of that pool takes it. `None`:
    /// the run's default pool.
    pub agent: Option<String>,
    /// Only a worker on a host with all of these tags takes it (`{tags=…}`).
    pub tags: Vec<String>,
}

/// Workers that run one agent profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pool {
    /// The profile's name.
    pub profile: String,
    /// How many workers run it.
    pub workers: usize,
}

/// Something the edges must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Start an agent for `worker`, after `delay`; report `Spawned`, then `Ready`/`NotReady`.
    Spawn { worker: WorkerId, delay: Duration },
    /// Deliver the prompt of `task`; report `Delivered` or `DeliveryFailed`.
    Deliver {
        worker: WorkerId,
        pane: PaneId,
        task: TaskId,
        attempt: u32,
        /// Sent again: its host's loss cut the first delivery short. What went in of it
        /// is finished, not pasted twice.
        again: bool,
    },
    /// Give the agent a fresh context (reset command or restart); report `Ready`/`NotReady`.
    Reset { worker: WorkerId, pane: PaneId },
    /// Wait until the agent shows a ready screen again; report `Ready`/`NotReady`.
    AwaitReady { worker: WorkerId, pane: PaneId },
    /// Get a worker going again after a rate limit or an API error: close what the
    /// agent shows about it (without accepting anything), give it a fresh context, and
    /// wait for its ready screen; report `Ready`/`NotReady`, or the condition once more.
    Unpark { worker: WorkerId, pane: PaneId },
    /// Wait, with no deadline (only a person can end it), until the pane is free again (no
    /// copy mode, no one's text in the input box, the agent in front) and ready; report
    /// `Ready`, or `NotReady` if the pane cannot be read any more.
    AwaitFree { worker: WorkerId, pane: PaneId },
    /// Remove a dead or broken pane.
    Kill { pane: PaneId },
    /// Show what the worker is doing in its pane border.
    Label { pane: PaneId, label: String },
    /// Flip the task's checkbox in PLAN.md (and drop swarm's failure note, if any).
    CheckOff { task: TaskId },
    /// Write swarm's failure note under the task in PLAN.md.
    NoteFailure {
        task: TaskId,
        reason: String,
        attempt: u32,
    },
    /// Interrupt the agent's turn (the profile's interrupt key); report `Ready`/`NotReady`.
    Interrupt { worker: WorkerId, pane: PaneId },
    /// Remind an agent that went idle to finish and create its sentinel; report
    /// `Delivered` or `DeliveryFailed`, as for a prompt.
    Nudge {
        worker: WorkerId,
        pane: PaneId,
        task: TaskId,
    },
    /// Watch a busy agent's screen for going idle without its sentinel.
    Monitor { worker: WorkerId, pane: PaneId },
    /// Append to the run journal (fsynced) before anything else happens.
    Journal(Record),
    /// Tell the people watching (a tmux message and a bell, their own commands).
    Notify(Notice),
    /// Commit (and verify) `task`'s work in `worker`'s worktree; report `Checked`.
    Check {
        worker: WorkerId,
        task: TaskId,
        attempt: u32,
    },
    /// Put `task` in the merge queue; report `Landed` or `LandFailed`.
    Land { task: TaskId, attempt: u32 },
    /// Every task is done or failed.
    Finished,
}

/// Something people want to hear about without watching the panes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// An agent finished the task in this run.
    Done { task: TaskId, attempt: u32 },
    Failed {
        task: TaskId,
        reason: String,
        /// The attempt whose transcript tells the story; 0 if none ran.
        attempt: u32,
    },
    /// A worker waits for a person (a dialog, a rate limit, an agent that keeps dying).
    NeedsPerson { worker: WorkerId, what: String },
    /// No task is open any more.
    Finished { done: usize, failed: usize },
}

/// One task's bookkeeping. Which worker holds a running task is its worker's state.
#[derive(Debug, Clone)]
pub struct TaskEntry {
    pub id: TaskId,
    pub status: TaskStatus,
    pub attempts: u32,
    /// Still in PLAN.md; a task a person removed is kept only while it runs.
    in_plan: bool,
    /// The worker it last ran on: in an isolated run, its work is in that worktree.
    last_worker: Option<WorkerId>,
    /// Landing, its work checked: it waits in the merge queue.
    queued: bool,
    /// Attempts that are not charged to it: fenced when their host went silent.
    forgiven: u32,
    /// The host tags a worker must have to take it.
    tags: Vec<String>,
}

impl TaskEntry {
    /// The worker it last ran on, if any did in this run (or the run the journal tells of).
    pub fn last_worker(&self) -> Option<WorkerId> {
        self.last_worker
    }
}

/// How many tasks are in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub pending: usize,
    pub running: usize,
    pub done: usize,
    pub failed: usize,
    pub skipped: usize,
    pub blocked: usize,
    pub landing: usize,
}

impl Tally {
    /// Pending, running or landing: the run is not over while any task is open.
    pub fn open(&self) -> usize {
        self.pending + self.running + self.landing
    }

    fn of(&mut self, status: &TaskStatus) -> &mut usize {
        match status {
            TaskStatus::Pending => &mut self.pending,
            TaskStatus::Running => &mut self.running,
            TaskStatus::Done => &mut self.done,
            TaskStatus::Failed(_) => &mut self.failed,
            TaskStatus::Skipped => &mut self.skipped,
            TaskStatus::Blocked(_) => &mut self.blocked,
            TaskStatus::Landing => &mut self.landing,
        }
    }
}

/// All the scheduler knows.
#[derive(Debug, Clone)]
pub struct State {
    tasks: Vec<TaskEntry>,
    index: HashMap<TaskId, usize>,
    /// The indexes of the pending tasks: the first is the next to hand out. With `tally`,
    /// it spares every event a scan of a plan that may hold 10,000 tasks.
    pending: BTreeSet<usize>,
    tally: Tally,
    /// What waits for what, and the write scopes: which pending tasks may go out now.
    graph: deps::Graph,
    workers: Vec<Worker>,
    /// The pools' profile names; a worker's `pool` and a task's routing index it. A task
    /// that names a profile no pool runs adds a pool without workers.
    pools: Vec<String>,
    /// The pool of tasks that name no profile.
    default_pool: usize,
    limits: Limits,
    finished: bool,
    paused: bool,
    now: Duration,
    /// Per pool: a rate limit holds every worker of the pool (they share one agent and
    /// account) until then (run time): no prompt goes to the pool meanwhile. Other pools
    /// run other agents, on other accounts, and go on.
    fleet_limit: Vec<Option<(Option<String>, Duration)>>,
    /// Tasks run in worktrees of their own, and are done once their work has landed.
    lands: bool,
    /// What was spent, against the budgets.
    spending: budget::Spending,
    /// The other hosts workers run on (a worker's `host` indexes it).
    hosts: Vec<hosts::HostEntry>,
    /// How long a silent host keeps its tasks.
    lease_grace: Duration,
}

impl State {
    /// A state for `tasks` (checked ones count as done) and `workers` worker slots, all of
    /// one pool that takes every task.
    pub fn new(tasks: &[PlanTask], workers: usize, limits: Limits) -> State {
        let pool = Pool {
            profile: String::new(),
            workers,
        };
        State::with_pools(tasks, &[pool], "", limits)
    }

    /// A state for `tasks` and the workers of `pools`, numbered pool after pool; a task
    /// that names no profile goes to the pool of profile `default`.
    pub fn with_pools(tasks: &[PlanTask], pools: &[Pool], default: &str, limits: Limits) -> State {
        let workers = pools
            .iter()
            .enumerate()
            .flat_map(|(p, pool)| std::iter::repeat_n(p, pool.workers))
            .enumerate()
            .map(|(id, pool)| Worker::new(id, pool))
            .collect();
        let mut state = State {
            tasks: Vec::with_capacity(tasks.len()),
            index: HashMap::with_capacity(tasks.len()),
            pending: BTreeSet::new(),
            tally: Tally::default(),
            graph: deps::Graph::default(),
            workers,
            pools: pools.iter().map(|p| p.profile.clone()).collect(),
            default_pool: 0,
            limits,
            finished: false,
            paused: false,
            now: Duration::ZERO,
            fleet_limit: vec![None; pools.len()],
            lands: false,
            spending: budget::Spending::default(),
            hosts: Vec::new(),
            lease_grace: Duration::from_secs(120),
        };
        state.default_pool = state.pool_for(Some(default));
        for task in tasks {
            state.add_task(task);
        }
        state.relink(tasks);
        state
    }

    /// Carries over what the journal of an interrupted run knows: each task's attempts so
    /// far, and the tasks that failed or were skipped (a person may `swarm retry` them).
    pub fn restore(&mut self, replay: &Replay) {
        for (id, history) in &replay.tasks {
            let Some(i) = self.position(id) else {
                continue;
            };
            self.tasks[i].attempts = history.attempts;
            self.tasks[i].forgiven = history.forgiven;
            self.tasks[i].last_worker = history
                .landing
                .or(history.running.as_ref().map(|f| f.worker));
            if self.tasks[i].status == TaskStatus::Pending {
                if history.landing.is_some() && history.closed.is_none() {
                    self.set_status(i, TaskStatus::Landing);
                    self.tasks[i].queued = history.queued;
                }
                match &history.closed {
                    Some(Closed::Failed(reason)) => {
                        self.set_status(i, TaskStatus::Failed(reason.clone()))
                    }
                    Some(Closed::Skipped) => self.set_status(i, TaskStatus::Skipped),
                    _ => {}
                }
            }
        }
    }

    /// An orchestrator died while the prompt of pending task `id` was going out, and it
    /// never reached the agent: that attempt does not count.
    pub fn give_back(&mut self, id: &TaskId) -> Vec<Action> {
        let Some(i) = self.position(id) else {
            return Vec::new();
        };
        let task = &mut self.tasks[i];
        if task.status != TaskStatus::Pending || task.attempts == 0 {
            return Vec::new();
        }
        task.attempts -= 1;
        vec![Action::Journal(Record::Unsent {
            task: id.clone(),
            reason: "swarm stopped before the prompt reached the agent".into(),
        })]
    }

    /// Takes over a live pane left by an orchestrator that died, with the task it is
    /// known to be working on (delivery settled), if any.
    pub fn adopt(&mut self, worker: WorkerId, pane: PaneId, task: Option<TaskId>) -> Vec<Action> {
        let running = task.and_then(|id| {
            let i = self.position(&id)?;
            (self.tasks[i].status == TaskStatus::Pending).then_some((i, id))
        });
        let now = self.now;
        let w = &mut self.workers[worker];
        w.pane = Some(pane.clone());
        match running {
            Some((i, task)) => {
                w.state = WorkerState::Busy {
                    task,
                    since: now,
                    nudges: 0,
                };
                self.set_status(i, TaskStatus::Running);
                vec![Action::Monitor { worker, pane }]
            }
            None => {
                // It may have finished a task the old orchestrator never saw complete:
                // give it a fresh context before anything new.
                w.state = WorkerState::Resetting;
                vec![Action::Reset { worker, pane }]
            }
        }
    }

    /// The first actions: start as many agents of each pool as there is work for it,
    /// besides adopted ones.
    pub fn start(&mut self) -> Vec<Action> {
        let mut wanted = self.pending_by_pool();
        for w in &self.workers {
            if w.pane.is_some() && w.task().is_none() {
                wanted[w.pool] = wanted[w.pool].saturating_sub(1);
            }
        }
        let mut actions = Vec::new();
        for w in self.workers.iter_mut().filter(|w| w.pane.is_none()) {
            if wanted[w.pool] > 0 {
                wanted[w.pool] -= 1;
                actions.push(Action::Spawn {
                    worker: w.id,
                    delay: Duration::ZERO,
                });
            } else {
                w.state = WorkerState::Retired {
                    why: Retirement::Unneeded,
                };
            }
        }
        self.resume_landing(&mut actions);
        self.check_finished(&mut actions);
        actions
    }

    pub fn tasks(&self) -> &[TaskEntry] {
        &self.tasks
    }

    pub fn workers(&self) -> &[Worker] {
        &self.workers
    }

    /// The profile worker `worker` runs (empty for a state made with [`State::new`]).
    pub fn profile(&self, worker: WorkerId) -> &str {
        self.workers
            .get(worker)
            .map_or("", |w| self.pools[w.pool].as_str())
    }

    pub fn task(&self, id: &TaskId) -> Option<&TaskEntry> {
        self.index.get(id).map(|&i| &self.tasks[i])
    }

    /// The worker that holds a running task.
    pub fn holder(&self, id: &TaskId) -> Option<WorkerId> {
        self.workers.iter().position(|w| w.task() == Some(id))
    }

    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// `swarm pause --all` is in force.
    pub fn is_paused(&self) -> bool {
        self.paused
    }

    /// How many tasks have a status matching `pred`.
    pub fn count(&self, pred: impl Fn(&TaskStatus) -> bool) -> usize {
        self.tasks.iter().filter(|t| pred(&t.status)).count()
    }

    /// How many tasks are in each status, without counting them.
    pub fn tally(&self) -> Tally {
        self.tally
    }

    /// Applies one event and says what to do about it.
    pub fn handle(&mut self, event: Event) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.is_from_lost_host(&event) {
            return actions;
        }
        match event {
            Event::Spawned { worker, pane } => self.spawned(worker, pane, &mut actions),
            Event::Ready { worker, pane } => {
                if self.is_current(worker, &pane) {
                    self.ready(worker, pane, &mut actions);
                }
            }
            Event::NotReady {
                worker,
                pane,
                reason,
            } => {
                if self.is_current(worker, &pane) {
                    self.replace_worker(worker, &reason, &mut actions);
                }
            }
            Event::Delivered { worker, pane, task } => {
                if self.is_current(worker, &pane) {
                    self.delivered(worker, pane, task, &mut actions);
                }
            }
            Event::DeliveryFailed {
                worker,
                pane,
                task,
                failure,
            } => {
                if self.is_current(worker, &pane) {
                    self.delivery_failed(worker, pane, task, failure, &mut actions);
                }
            }
            Event::Sentinel { task } => self.task_done(&task, &mut actions),
            Event::PaneDead {
                pane,
                status,
                signal,
            } => {
                if let Some(worker) = self.worker_of(&pane) {
                    let reason = match (status, signal) {
                        (_, Some(signal)) => format!("agent killed by signal {signal}"),
                        (Some(code), None) => format!("agent exited with status {code}"),
                        (None, None) => "agent exited".to_string(),
                    };
                    // SIGHUP, SIGINT, SIGKILL, SIGTERM: someone or something outside (a
                    // person, the OOM killer) ended the agent, not the task it held.
                    let killed = matches!(signal, Some(1 | 2 | 9 | 15));
                    self.pane_died(worker, reason, killed, &mut actions);
                }
            }
            Event::PlanChanged { tasks } => self.plan_changed(&tasks, &mut actions),
            Event::Tick { now } => {
                self.now = now;
                self.check_timeouts(&mut actions);
                self.check_parked(&mut actions);
                self.check_leases(&mut actions);
            }
            Event::NeedsHuman { worker, pane, what } => {
                if self.is_current(worker, &pane) {
                    self.pause(worker, PauseReason::NeedsHuman(what), &mut actions);
                }
            }
            Event::Occupied { worker, pane, what } => {
                if self.is_current(worker, &pane) {
                    self.pause(worker, PauseReason::Occupied(what), &mut actions);
                }
            }
            Event::RateLimited {
                worker,
                pane,
                until,
                resets_in,
            } => {
                if self.is_current(worker, &pane) {
                    self.rate_limited(worker, until, resets_in, &mut actions);
                }
            }
            Event::ApiError { worker, pane, what } => {
                if self.is_current(worker, &pane) {
                    let w = &mut self.workers[worker];
                    w.api_errors += 1;
                    let backoff = API_BACKOFF * 2u32.pow((w.api_errors - 1).min(5));
                    let resume_at = self.now + backoff.min(API_BACKOFF_MAX);
                    self.pause(
                        worker,
                        PauseReason::ApiError { what, resume_at },
                        &mut actions,
                    );
                }
            }
            Event::IdleWithoutSentinel { worker, pane } => {
                if self.is_current(worker, &pane) {
                    self.idle_without_sentinel(worker, pane, &mut actions);
                }
            }
            Event::Command(command) => self.command(command, &mut actions),
            Event::Checked {
                worker,
                task,
                outcome,
            } => self.checked(worker, &task, outcome, &mut actions),
            Event::Landed { task, commit } => self.landed(&task, commit, &mut actions),
            Event::LandFailed { task, reason } => self.land_failed(&task, &reason, &mut actions),
            Event::Spent { task, micros } => self.spent_on(task, micros, &mut actions),
            Event::AttemptDone { task, attempt } => self.attempt_done(&task, attempt, &mut actions),
            Event::HostLost { host } => self.host_lost(&host, &mut actions),
            Event::HostBack { host, rebooted } => self.host_back(&host, rebooted, &mut actions),
        }
        self.assign(&mut actions);
        self.check_finished(&mut actions);
        actions
    }

    /// What a worker's screen said before its host went silent is old news: the host
    /// says how the worker stands once it is back.
    fn is_from_lost_host(&self, event: &Event) -> bool {
        match event {
            Event::Ready { worker, .. }
            | Event::NotReady { worker, .. }
            | Event::NeedsHuman { worker, .. }
            | Event::Occupied { worker, .. }
            | Event::RateLimited { worker, .. }
            | Event::ApiError { worker, .. }
            | Event::IdleWithoutSentinel { worker, .. } => self.host_down(*worker),
            Event::PaneDead { pane, .. } => self.worker_of(pane).is_some_and(|w| self.host_down(w)),
            _ => false,
        }
    }

    fn pane_died(
        &mut self,
        worker: WorkerId,
        reason: String,
        killed: bool,
        actions: &mut Vec<Action>,
    ) {
        if killed {
            // Not the task's doing: it goes back in line uncharged, and the worker gets a
            // new agent (with backoff, and retired if it keeps happening).
            let state = std::mem::replace(&mut self.workers[worker].state, WorkerState::Starting);
            let held = match state {
                WorkerState::Paused { inner, .. } => *inner,
                state => state,
            };
            match held {
                WorkerState::Delivering { task, .. }
                | WorkerState::Dying { task, .. }
                | WorkerState::Busy { task, .. } => self.unsend(&task, &reason, actions),
                WorkerState::Starting
                | WorkerState::Idle
                | WorkerState::Finishing { .. }
                | WorkerState::Resetting
                | WorkerState::Interrupting
                | WorkerState::Paused { .. }
                | WorkerState::Retired { .. } => {}
            }
            self.replace_worker(worker, &reason, actions);
            return;
        }
        let w = &mut self.workers[worker];
        let held = match &w.state {
            WorkerState::Paused { inner, .. } => &**inner,
            state => state,
        };
        match held {
            // The delivery reports soon, and knows whether the prompt reached the agent.
            WorkerState::Delivering { task, nudges, .. } => {
                w.state = WorkerState::Dying {
                    task: task.clone(),
                    nudges: *nudges,
                    reason,
                };
            }
            // Known already.
            WorkerState::Dying { .. } => {}
            WorkerState::Starting
            | WorkerState::Idle
            | WorkerState::Finishing { .. }
            | WorkerState::Busy { .. }
            | WorkerState::Resetting
            | WorkerState::Interrupting
            | WorkerState::Paused { .. }
            | WorkerState::Retired { .. } => self.replace_worker(worker, &reason, actions),
        }
    }

    fn spawned(&mut self, worker: WorkerId, pane: PaneId, actions: &mut Vec<Action>) {
        match self.workers[worker].state {
            // Nothing is to run there any more: the new agent is not wanted.
            WorkerState::Retired { .. } => {
                actions.push(Action::Kill { pane });
                return;
            }
            // The agent that was asked for (a start, a replacement, a reset by restart).
            WorkerState::Starting | WorkerState::Resetting => {}
            // A new agent for a worker whose agent was at work: that agent and what it
            // held are lost, as if it had died.
            WorkerState::Idle
            | WorkerState::Delivering { .. }
            | WorkerState::Finishing { .. }
            | WorkerState::Busy { .. }
            | WorkerState::Interrupting
            | WorkerState::Dying { .. }
            | WorkerState::Paused { .. } => self.release(worker, "its agent was replaced", actions),
        }
        let w = &mut self.workers[worker];
        // The agent it replaces goes (a reset by restart has already removed it).
        if let Some(old) = w.pane.take()
            && old != pane
        {
            actions.push(Action::Kill { pane: old });
        }
        w.pane = Some(pane.clone());
        w.state = WorkerState::Starting;
        actions.push(Action::Journal(Record::Spawned {
            worker,
            pane: pane.clone(),
        }));
        actions.push(Action::Label {
            pane,
            label: "starting".into(),
        });
    }

    fn ready(&mut self, worker: WorkerId, pane: PaneId, actions: &mut Vec<Action>) {
        let w = &mut self.workers[worker];
        match &w.state {
            WorkerState::Starting | WorkerState::Idle | WorkerState::Resetting => {
                w.state = WorkerState::Idle;
                actions.push(Action::Label {
                    pane,
                    label: "idle".into(),
                });
            }
            // The turn it cut holds the old task: the next one starts on a fresh context.
            WorkerState::Interrupting => self.reset_worker(worker, actions),
            // Its delivery or its busy-monitor reports on it: a ready screen now (the
            // prompt not shown yet, a pause in the agent's work) must never bring a
            // second prompt into the same pane.
            WorkerState::Delivering { .. }
            | WorkerState::Finishing { .. }
            | WorkerState::Busy { .. } => {}
            // Its pane is dead: the delivery's report decides what comes next.
            WorkerState::Dying { .. } => {}
            // Parked with the fleet while another's limit holds: its own screen never
            // showed the limit, so it says nothing about the limit being over.
            WorkerState::Paused {
                inner,
                why: PauseReason::RateLimited { .. },
                ..
            } if **inner == WorkerState::Idle => {}
            WorkerState::Paused { .. } => self.resume(worker, pane, actions),
            WorkerState::Retired { .. } => {}
        }
    }

    /// A paused worker's pane is free and ready again: it goes on with what it held.
    fn resume(&mut self, worker: WorkerId, pane: PaneId, actions: &mut Vec<Action>) {
        let now = self.now;
        let w = &mut self.workers[worker];
        let (inner, at, why) = match std::mem::replace(&mut w.state, WorkerState::Idle) {
            WorkerState::Paused { inner, at, why } => (inner, at, why),
            other => {
                w.state = other;
                return;
            }
        };
        // The agent went on by itself: the limit is over for its whole pool.
        if matches!(why, PauseReason::RateLimited { .. }) {
            let pool = self.workers[worker].pool;
            self.lift_fleet_limit(pool, actions);
        }
        let w = &mut self.workers[worker];
        w.state = match *inner {
            // The task's clock stood still while the worker was held up.
            WorkerState::Busy {
                task,
                since,
                nudges,
            } => {
                actions.push(Action::Label {
                    pane: pane.clone(),
                    label: task.to_string(),
                });
                actions.push(Action::Monitor { worker, pane });
                WorkerState::Busy {
                    task,
                    since: since + now.saturating_sub(at),
                    nudges,
                }
            }
            // Its delivery still reports.
            state @ (WorkerState::Delivering { .. }
            | WorkerState::Finishing { .. }
            | WorkerState::Dying { .. }) => state,
            WorkerState::Starting
            | WorkerState::Idle
            | WorkerState::Resetting
            | WorkerState::Interrupting
            | WorkerState::Paused { .. }
            | WorkerState::Retired { .. } => {
                actions.push(Action::Label {
                    pane,
                    label: "idle".into(),
                });
                WorkerState::Idle
            }
        };
    }

    /// Holds the worker up for a person (or a rate limit), keeping what it holds.
    fn pause(&mut self, worker: WorkerId, why: PauseReason, actions: &mut Vec<Action>) {
        let now = self.now;
        let w = &mut self.workers[worker];
        let state = std::mem::replace(&mut w.state, WorkerState::Idle);
        let (inner, at) = match state {
            // A dead pane shows nothing a person could answer; a retired worker waits for
            // nothing.
            state @ (WorkerState::Dying { .. } | WorkerState::Retired { .. }) => {
                w.state = state;
                return;
            }
            WorkerState::Paused {
                inner,
                why: was,
                at,
            } => {
                if was == why {
                    w.state = WorkerState::Paused { inner, why, at };
                    return;
                }
                (inner, at)
            }
            // It goes on as it was once its pane is free, holding what it held.
            state @ (WorkerState::Starting
            | WorkerState::Idle
            | WorkerState::Delivering { .. }
            | WorkerState::Finishing { .. }
            | WorkerState::Busy { .. }
            | WorkerState::Resetting
            | WorkerState::Interrupting) => (Box::new(state), now),
        };
        let what = why.describe();
        let label = match why {
            PauseReason::RateLimited { .. } => what.clone(),
            PauseReason::ApiError { .. } => "API error".into(),
            PauseReason::NeedsHuman(_) | PauseReason::Occupied(_) => "needs you".into(),
            PauseReason::HostLost { .. } => "host lost".into(),
        };
        let notify = !matches!(why, PauseReason::Occupied(_));
        w.state = WorkerState::Paused { inner, why, at };
        if let Some(pane) = w.pane.clone() {
            actions.push(Action::Label { pane, label });
        }
        // A person who scrolls or types in a pane knows it; the others should hear.
        if notify {
            actions.push(Action::Notify(Notice::NeedsPerson { worker, what }));
        }
    }

    /// A rate limit: the worker is parked, and so is every other one of its pool as it
    /// comes free (they share the agent and its account), until the reset time plus a
    /// margin.
    fn rate_limited(
        &mut self,
        worker: WorkerId,
        until: Option<String>,
        resets_in: Option<Duration>,
        actions: &mut Vec<Action>,
    ) {
        let resume_at = self.now
            + match resets_in {
                Some(wait) if !wait.is_zero() => wait + LIMIT_MARGIN,
                _ => LIMIT_RECHECK,
            };
        let pool = self.workers[worker].pool;
        let resume_at = match &self.fleet_limit[pool] {
            Some((_, fleet)) => resume_at.max(*fleet),
            None => resume_at,
        };
        self.fleet_limit[pool] = Some((until.clone(), resume_at));
        self.pause(
            worker,
            PauseReason::RateLimited { until, resume_at },
            actions,
        );
    }

    /// Parks the idle workers of the pools a rate limit holds: no prompt goes into a
    /// limit.
    fn park_fleet(&mut self, actions: &mut Vec<Action>) {
        if self.fleet_limit.iter().all(Option::is_none) {
            return;
        }
        for w in &mut self.workers {
            if w.state != WorkerState::Idle {
                continue;
            }
            let Some((until, resume_at)) = &self.fleet_limit[w.pool] else {
                continue;
            };
            let why = PauseReason::RateLimited {
                until: until.clone(),
                resume_at: *resume_at,
            };
            if let Some(pane) = w.pane.clone() {
                actions.push(Action::Label {
                    pane,
                    label: why.describe(),
                });
            }
            w.state = WorkerState::Paused {
                inner: Box::new(WorkerState::Idle),
                why,
                at: self.now,
            };
        }
    }

    /// The limit of `pool` is over: the idle workers it parked are free at once.
    fn lift_fleet_limit(&mut self, pool: usize, actions: &mut Vec<Action>) {
        self.fleet_limit[pool] = None;
        for w in self.workers.iter_mut().filter(|w| w.pool == pool) {
            if let WorkerState::Paused {
                inner,
                why: PauseReason::RateLimited { .. },
                ..
            } = &w.state
                && **inner == WorkerState::Idle
            {
                w.state = WorkerState::Idle;
                if let Some(pane) = w.pane.clone() {
                    actions.push(Action::Label {
                        pane,
                        label: "idle".into(),
                    });
                }
            }
        }
    }

    /// Gets going again the workers whose rate limit or API error is due to be over: the
    /// time the agent lost is not the task's, so a task one held goes back in line with
    /// its attempt given back, and the worker gets a fresh context.
    fn check_parked(&mut self, actions: &mut Vec<Action>) {
        for limit in &mut self.fleet_limit {
            if limit.as_ref().is_some_and(|(_, at)| self.now >= *at) {
                *limit = None;
            }
        }
        let now = self.now;
        let due: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|w| match &w.state {
                WorkerState::Paused { why, inner, .. } => {
                    why.resume_at().is_some_and(|at| now >= at)
                        // A delivery under way reports first.
                        && !matches!(
                            **inner,
                            WorkerState::Delivering { .. }
                                | WorkerState::Finishing { .. }
                                | WorkerState::Dying { .. }
                        )
                }
                _ => false,
            })
            .map(|w| w.id)
            .collect();
        for worker in due {
            let w = &mut self.workers[worker];
            let WorkerState::Paused { inner, why, .. } =
                std::mem::replace(&mut w.state, WorkerState::Resetting)
            else {
                continue;
            };
            let Some(pane) = w.pane.clone() else {
                continue;
            };
            let reason = match &why {
                PauseReason::RateLimited { .. } => "rate limited".to_string(),
                other => other.describe(),
            };
            if let WorkerState::Busy { task, .. } = *inner {
                self.unsend(&task, &reason, actions);
            }
            actions.push(Action::Label {
                pane: pane.clone(),
                label: "resetting".into(),
            });
            actions.push(Action::Unpark { worker, pane });
        }
    }

    fn delivered(
        &mut self,
        worker: WorkerId,
        pane: PaneId,
        task: TaskId,
        actions: &mut Vec<Action>,
    ) {
        // The prompt went in, and then the agent died: the attempt counts.
        if let WorkerState::Dying {
            task: t, reason, ..
        } = &self.workers[worker].state
            && *t == task
        {
            let reason = reason.clone();
            actions.push(Action::Journal(Record::Delivered { task, worker }));
            self.replace_worker(worker, &reason, actions);
            return;
        }
        let w = &mut self.workers[worker];
        let (state, paused) = match &mut w.state {
            WorkerState::Paused { inner, .. } => (&mut **inner, true),
            state => (state, false),
        };
        match state {
            WorkerState::Delivering {
                task: t,
                since,
                nudges,
            } if *t == task => {
                *state = WorkerState::Busy {
                    task: task.clone(),
                    since: *since,
                    nudges: *nudges,
                };
                actions.push(Action::Journal(Record::Delivered { task, worker }));
                // A paused worker is watched again once it resumes.
                if !paused {
                    actions.push(Action::Monitor { worker, pane });
                }
            }
            WorkerState::Finishing { task: t } if *t == task => {
                *state = WorkerState::Resetting;
                actions.push(Action::Journal(Record::Delivered { task, worker }));
                actions.push(Action::Label {
                    pane: pane.clone(),
                    label: "resetting".into(),
                });
                actions.push(Action::Reset { worker, pane });
            }
            // Old news: another task's delivery, or the worker has moved on. (A dying
            // worker's report was taken above; a paused one never wraps another pause.)
            WorkerState::Delivering { .. }
            | WorkerState::Finishing { .. }
            | WorkerState::Starting
            | WorkerState::Idle
            | WorkerState::Dying { .. }
            | WorkerState::Busy { .. }
            | WorkerState::Resetting
            | WorkerState::Interrupting
            | WorkerState::Paused { .. }
            | WorkerState::Retired { .. } => {}
        }
    }

    fn delivery_failed(
        &mut self,
        worker: WorkerId,
        pane: PaneId,
        task: TaskId,
        failure: DeliveryFailure,
        actions: &mut Vec<Action>,
    ) {
        // A pause is lifted: what follows says what the pane waits for now.
        let held = match &self.workers[worker].state {
            WorkerState::Paused { inner, .. } => (**inner).clone(),
            state => state.clone(),
        };
        let reason = format!("delivery failed: {failure}");
        match (held, failure) {
            (
                WorkerState::Delivering { task: t, .. }
                | WorkerState::Dying { task: t, .. }
                | WorkerState::Finishing { task: t },
                _,
            ) if t != task => {}
            // Its host went silent: the host says what came of the prompt once it is back.
            (_, DeliveryFailure::Unreachable(_)) => {
                self.delivery_unreachable(worker, &task, actions)
            }
            // The agent died before the prompt reached it: not an attempt.
            (
                WorkerState::Dying {
                    nudges: 0, reason, ..
                },
                DeliveryFailure::PaneGone | DeliveryFailure::Refused(_),
            ) => {
                self.unsend(&task, &reason, actions);
                self.workers[worker].state = WorkerState::Starting;
                self.replace_worker(worker, &reason, actions);
            }
            // The prompt, or the task's own before a reminder, reached it: the attempt counts.
            (WorkerState::Dying { reason, .. }, _) => self.replace_worker(worker, &reason, actions),
            (
                WorkerState::Delivering { .. } | WorkerState::Finishing { .. },
                DeliveryFailure::PaneGone | DeliveryFailure::Broken(_),
            ) => self.replace_worker(worker, &reason, actions),
            // The prompt never reached the agent: not an attempt. Another worker may take
            // the task, and this one waits for its pane to be free.
            (WorkerState::Delivering { nudges: 0, .. }, DeliveryFailure::Refused(why)) => {
                self.unsend(&task, &reason, actions);
                self.wait_for_person(worker, pane, WorkerState::Idle, why, actions);
            }
            // A reminder was refused: the agent has the task in hand, and keeps it.
            (
                WorkerState::Delivering {
                    task,
                    since,
                    nudges,
                },
                DeliveryFailure::Refused(why),
            ) => {
                let busy = WorkerState::Busy {
                    task,
                    since,
                    nudges: nudges - 1,
                };
                self.wait_for_person(worker, pane, busy, why, actions);
            }
            (WorkerState::Delivering { .. }, DeliveryFailure::NotSubmitted(_)) => {
                self.workers[worker].state = WorkerState::Starting;
                self.requeue(&task, &reason, actions);
                actions.push(Action::AwaitReady { worker, pane });
            }
            (WorkerState::Finishing { .. }, DeliveryFailure::Refused(why)) => {
                self.wait_for_person(worker, pane, WorkerState::Idle, why, actions);
            }
            (WorkerState::Finishing { .. }, DeliveryFailure::NotSubmitted(_)) => {
                self.reset_worker(worker, actions)
            }
            // Old news: the worker has moved on since that delivery began.
            (
                WorkerState::Starting
                | WorkerState::Idle
                | WorkerState::Busy { .. }
                | WorkerState::Resetting
                | WorkerState::Interrupting
                | WorkerState::Paused { .. }
                | WorkerState::Retired { .. },
                _,
            ) => {}
        }
    }

    /// Pauses the worker until its pane is free: a person is in it, or a program that is
    /// not the agent.
    fn wait_for_person(
        &mut self,
        worker: WorkerId,
        pane: PaneId,
        then: WorkerState,
        why: String,
        actions: &mut Vec<Action>,
    ) {
        self.workers[worker].state = then;
        self.pause(worker, PauseReason::Occupied(why), actions);
        actions.push(Action::AwaitFree { worker, pane });
    }

    fn add_task(&mut self, task: &PlanTask) {
        self.tasks.push(TaskEntry {
            id: task.id.clone(),
            status: if task.checked {
                TaskStatus::Done
            } else {
                TaskStatus::Pending
            },
            attempts: 0,
            in_plan: true,
            last_worker: None,
            queued: false,
            forgiven: 0,
            tags: task.tags.clone(),
        });
        self.track(self.tasks.len() - 1);
    }

    /// Enters task entry `i` in the index, the pending queue and the tally.
    fn track(&mut self, i: usize) {
        let task = &self.tasks[i];
        self.index.insert(task.id.clone(), i);
        *self.tally.of(&task.status) += 1;
        if task.status == TaskStatus::Pending {
            self.pending.insert(i);
        }
    }

    /// Every status change goes through here, to keep `pending`, `tally` and what waits
    /// on the task true.
    fn set_status(&mut self, i: usize, status: TaskStatus) {
        let was = self.set_status_only(i, status);
        self.propagate(i, was);
    }

    /// Changes task entry `i`'s status and keeps `pending` and `tally` true; returns the
    /// status it had. [`State::propagate`] carries the change to what waits on it.
    fn set_status_only(&mut self, i: usize, status: TaskStatus) -> TaskStatus {
        let entry = &mut self.tasks[i];
        *self.tally.of(&entry.status) -= 1;
        *self.tally.of(&status) += 1;
        if entry.status == TaskStatus::Pending {
            self.pending.remove(&i);
        }
        if status == TaskStatus::Pending {
            self.pending.insert(i);
        }
        std::mem::replace(&mut entry.status, status)
    }

    /// Rebuilds what is derived from the task list, after tasks were removed from it.
    fn reindex(&mut self) {
        self.index.clear();
        self.pending.clear();
        self.tally = Tally::default();
        for i in 0..self.tasks.len() {
            self.track(i);
        }
    }

    fn is_current(&self, worker: WorkerId, pane: &PaneId) -> bool {
        self.workers.get(worker).is_some_and(|w| {
            w.pane.as_ref() == Some(pane) && !matches!(w.state, WorkerState::Retired { .. })
        })
    }

    fn worker_of(&self, pane: &PaneId) -> Option<WorkerId> {
        self.workers.iter().position(|w| {
            w.pane.as_ref() == Some(pane) && !matches!(w.state, WorkerState::Retired { .. })
        })
    }

    fn position(&self, id: &TaskId) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Lets go of the task the worker holds, if any, and leaves the worker `Starting` for
    /// its caller to move on. A task whose prompt never reached the agent goes back in line
    /// with its attempt given back; otherwise the attempt counts.
    fn release(&mut self, worker: WorkerId, reason: &str, actions: &mut Vec<Action>) {
        let state = std::mem::replace(&mut self.workers[worker].state, WorkerState::Starting);
        let held = match state {
            WorkerState::Paused { inner, .. } => *inner,
            state => state,
        };
        match held {
            WorkerState::Delivering {
                task, nudges: 0, ..
            } => self.unsend(&task, reason, actions),
            WorkerState::Delivering { task, .. }
            | WorkerState::Dying { task, .. }
            | WorkerState::Busy { task, .. } => self.requeue(&task, reason, actions),
            WorkerState::Starting
            | WorkerState::Idle
            | WorkerState::Finishing { .. }
            | WorkerState::Resetting
            | WorkerState::Interrupting
            | WorkerState::Paused { .. }
            | WorkerState::Retired { .. } => {}
        }
    }

    /// Puts a running task whose prompt never reached its agent back in line, in its plan
    /// place (ahead of every task handed out after it), with the attempt not counted.
    fn unsend(&mut self, id: &TaskId, reason: &str, actions: &mut Vec<Action>) {
        let Some(i) = self.position(id) else {
            return;
        };
        if self.tasks[i].status != TaskStatus::Running {
            return;
        }
        self.tasks[i].attempts = self.tasks[i].attempts.saturating_sub(1);
        self.set_status(i, TaskStatus::Pending);
        actions.push(Action::Journal(Record::Unsent {
            task: id.clone(),
            reason: reason.to_string(),
        }));
    }

    /// Puts a task that did not finish back in line, or fails it when out of attempts.
    fn requeue(&mut self, id: &TaskId, reason: &str, actions: &mut Vec<Action>) {
        let max = self.limits.max_attempts;
        let Some(i) = self.position(id) else {
            return;
        };
        let task = &self.tasks[i];
        if !matches!(task.status, TaskStatus::Running | TaskStatus::Landing) {
            return;
        }
        let charged = task.attempts.saturating_sub(task.forgiven);
        if charged >= max {
            let reason = match charged {
                1 => format!("{reason} (after 1 attempt)"),
                n => format!("{reason} (after {n} attempts)"),
            };
            self.fail(id, &reason, actions);
        } else {
            self.set_status(i, TaskStatus::Pending);
            actions.push(Action::Journal(Record::Requeued {
                task: id.clone(),
                reason: reason.to_string(),
            }));
        }
    }

    fn fail(&mut self, id: &TaskId, reason: &str, actions: &mut Vec<Action>) {
        let Some(i) = self.position(id) else {
            return;
        };
        let attempt = self.tasks[i].attempts;
        self.set_status(i, TaskStatus::Failed(reason.to_string()));
        actions.push(Action::Journal(Record::Failed {
            task: id.clone(),
            reason: reason.to_string(),
        }));
        actions.push(Action::NoteFailure {
            task: id.clone(),
            reason: reason.to_string(),
            attempt,
        });
        actions.push(Action::Notify(Notice::Failed {
            task: id.clone(),
            reason: reason.to_string(),
            attempt,
        }));
    }

    fn task_done(&mut self, id: &TaskId, actions: &mut Vec<Action>) {
        let Some(i) = self.position(id) else {
            return;
        };
        let task = &self.tasks[i];
        if task.status == TaskStatus::Done {
            return;
        }
        let attempt = task.attempts;
        let holder = self.holder(id);
        if self.lands {
            if matches!(task.status, TaskStatus::Landing) || !self.start_landing(i, holder, actions)
            {
                return;
            }
        } else {
            self.set_status(i, TaskStatus::Done);
            actions.push(Action::Journal(Record::Done { task: id.clone() }));
            actions.push(Action::CheckOff { task: id.clone() });
        }
        let Some(worker) = holder else { return };
        if !self.lands {
            actions.push(Action::Notify(Notice::Done {
                task: id.clone(),
                attempt,
            }));
        }
        // Its agent works: whatever failures it had before are behind it.
        let w = &mut self.workers[worker];
        w.restarts = 0;
        w.api_errors = 0;
        let (state, paused) = match &mut w.state {
            WorkerState::Paused { inner, .. } => (&mut **inner, true),
            state => (state, false),
        };
        match state {
            WorkerState::Delivering { task, .. } => {
                *state = WorkerState::Finishing { task: task.clone() };
            }
            WorkerState::Busy { .. } if paused => {
                // Reset now; the reset waits out the dialog or the limit on screen.
                *state = WorkerState::Resetting;
                if let Some(pane) = w.pane.clone() {
                    actions.push(Action::Reset { worker, pane });
                }
            }
            WorkerState::Busy { .. } => self.reset_worker(worker, actions),
            // Done, and then its agent died: it needs a new one all the same.
            WorkerState::Dying { reason, .. } => {
                let reason = reason.clone();
                self.replace_worker(worker, &reason, actions);
            }
            // `holder` found it holding the task: it delivers or works on it.
            WorkerState::Starting
            | WorkerState::Idle
            | WorkerState::Finishing { .. }
            | WorkerState::Resetting
            | WorkerState::Interrupting
            | WorkerState::Paused { .. }
            | WorkerState::Retired { .. } => {}
        }
    }

    fn reset_worker(&mut self, worker: WorkerId, actions: &mut Vec<Action>) {
        let w = &mut self.workers[worker];
        w.state = WorkerState::Resetting;
        if let Some(pane) = w.pane.clone() {
            actions.push(Action::Label {
                pane: pane.clone(),
                label: "resetting".into(),
            });
            actions.push(Action::Reset { worker, pane });
        }
    }

    /// The worker's agent is gone or broken: its task goes back in line, and a new agent
    /// starts, with backoff. An agent that keeps failing retires the worker, never a task.
    fn replace_worker(&mut self, worker: WorkerId, reason: &str, actions: &mut Vec<Action>) {
        self.release(worker, reason, actions);
        let w = &mut self.workers[worker];
        if let Some(pane) = w.pane.take() {
            actions.push(Action::Journal(Record::WorkerDied {
                worker,
                pane: pane.clone(),
                reason: reason.to_string(),
            }));
            actions.push(Action::Kill { pane });
        }
        if w.restarts >= self.limits.max_restarts {
            let why = match w.restarts + 1 {
                1 => format!("its agent failed ({reason}); no more work goes to it"),
                n => format!(
                    "its agent failed {n} times in a row (last: {reason}); no more work goes to it"
                ),
            };
            w.state = WorkerState::Retired {
                why: Retirement::KeptFailing(why.clone()),
            };
            actions.push(Action::Notify(Notice::NeedsPerson { worker, what: why }));
            return;
        }
        w.restarts += 1;
        w.state = WorkerState::Starting;
        // 250 ms, 500 ms, 1 s, ... capped at 10 s: never a tight respawn loop.
        let delay =
            Duration::from_millis(250u64 << (w.restarts - 1).min(6)).min(Duration::from_secs(10));
        actions.push(Action::Spawn { worker, delay });
    }

    /// Interrupts attempts that ran past the task timeout; the task is retried or failed.
    /// A paused worker's clock stands still.
    fn check_timeouts(&mut self, actions: &mut Vec<Action>) {
        let Some(limit) = self.limits.task_timeout else {
            return;
        };
        let late: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|w| match w.state {
                WorkerState::Busy { since, .. } => self.now.saturating_sub(since) > limit,
                _ => false,
            })
            .map(|w| w.id)
            .collect();
        for worker in late {
            let reason = format!("timed out after {}s", limit.as_secs());
            self.interrupt(worker, &reason, actions);
        }
    }

    /// Stops the worker's turn; its task (if still running) is retried or failed.
    fn interrupt(&mut self, worker: WorkerId, reason: &str, actions: &mut Vec<Action>) {
        self.release(worker, reason, actions);
        let w = &mut self.workers[worker];
        w.state = WorkerState::Interrupting;
        if let Some(pane) = w.pane.clone() {
            actions.push(Action::Interrupt { worker, pane });
        }
    }

    /// The agent stopped without its sentinel (a person pressed Ctrl+C, or it gave up):
    /// remind it a few times, then fail the task.
    fn idle_without_sentinel(&mut self, worker: WorkerId, pane: PaneId, actions: &mut Vec<Action>) {
        let max = self.limits.max_nudges;
        let w = &mut self.workers[worker];
        let (task, since, nudges) = match &w.state {
            WorkerState::Busy {
                task,
                since,
                nudges,
            } => (task.clone(), *since, *nudges),
            // Old news: it moved on, or waits for a person (who may have stopped it).
            WorkerState::Starting
            | WorkerState::Idle
            | WorkerState::Delivering { .. }
            | WorkerState::Dying { .. }
            | WorkerState::Finishing { .. }
            | WorkerState::Resetting
            | WorkerState::Interrupting
            | WorkerState::Paused { .. }
            | WorkerState::Retired { .. } => return,
        };
        if nudges < max {
            w.state = WorkerState::Delivering {
                task: task.clone(),
                since,
                nudges: nudges + 1,
            };
            actions.push(Action::Nudge { worker, pane, task });
            return;
        }
        let reason =
            format!("the agent stopped without creating its sentinel, even after {max} reminders");
        self.fail(&task, &reason, actions);
        self.reset_worker(worker, actions);
    }

    fn command(&mut self, command: Command, actions: &mut Vec<Action>) {
        match command {
            Command::Pause { worker: None } => self.paused = true,
            Command::Resume { worker: None } => {
                self.paused = false;
                for w in &mut self.workers {
                    w.held = false;
                }
            }
            Command::Pause { worker: Some(w) } | Command::Resume { worker: Some(w) } => {
                let pause = matches!(command, Command::Pause { .. });
                if let Some(w) = self.workers.get_mut(w) {
                    w.held = pause;
                }
            }
            Command::Retry { task } => {
                if let Some(i) = self.position(&task)
                    && matches!(
                        self.tasks[i].status,
                        TaskStatus::Failed(_) | TaskStatus::Skipped
                    )
                {
                    self.again(i, actions);
                }
            }
            Command::Skip { task } => {
                let Some(i) = self.position(&task) else {
                    return;
                };
                let worker = match self.tasks[i].status {
                    TaskStatus::Pending | TaskStatus::Blocked(_) => None,
                    TaskStatus::Running => self.holder(&task),
                    _ => return,
                };
                self.set_status(i, TaskStatus::Skipped);
                actions.push(Action::Journal(Record::Skipped { task }));
                if let Some(worker) = worker {
                    self.interrupt(worker, "skipped", actions);
                }
            }
        }
    }

    /// Task entry `i` is to be done again, with fresh attempts.
    fn again(&mut self, i: usize, actions: &mut Vec<Action>) {
        self.set_status(i, TaskStatus::Pending);
        self.tasks[i].attempts = 0;
        self.tasks[i].forgiven = 0;
        actions.push(Action::Journal(Record::Retried {
            task: self.tasks[i].id.clone(),
        }));
        self.wake_workers(actions);
    }

    fn plan_changed(&mut self, tasks: &[PlanTask], actions: &mut Vec<Action>) {
        for entry in &mut self.tasks {
            entry.in_plan = false;
        }
        for task in tasks {
            match self.position(&task.id) {
                None => self.add_task(task),
                Some(i) => {
                    self.tasks[i].in_plan = true;
                    self.tasks[i].tags.clone_from(&task.tags);
                    match (&self.tasks[i].status, task.checked) {
                        // A person checked it off by hand: skip it. A running task keeps
                        // running; its sentinel will still be honoured.
                        (TaskStatus::Pending | TaskStatus::Blocked(_), true) => {
                            self.set_status(i, TaskStatus::Done)
                        }
                        // A person unchecked a done task (and removed its sentinel): redo.
                        (TaskStatus::Done, false) => self.again(i, actions),
                        _ => {}
                    }
                }
            }
        }
        // Removed tasks that have not started are dropped; running ones finish first.
        let before = self.tasks.len();
        self.tasks
            .retain(|t| t.in_plan || matches!(t.status, TaskStatus::Running | TaskStatus::Landing));
        if self.tasks.len() != before {
            self.reindex();
        }
        // A person may have changed what waits for what, or what a task touches.
        self.relink(tasks);
        self.wake_workers(actions);
    }

    /// New work may need workers that were retired for lack of it (of the pool the work
    /// is routed to).
    fn wake_workers(&mut self, actions: &mut Vec<Action>) {
        let mut wanted = self.pending_by_pool();
        for w in &self.workers {
            if matches!(w.state, WorkerState::Idle | WorkerState::Starting) {
                wanted[w.pool] = wanted[w.pool].saturating_sub(1);
            }
        }
        for w in &mut self.workers {
            if wanted[w.pool] == 0 {
                continue;
            }
            if w.state
                == (WorkerState::Retired {
                    why: Retirement::Unneeded,
                })
                && w.pane.is_none()
            {
                w.state = WorkerState::Starting;
                actions.push(Action::Spawn {
                    worker: w.id,
                    delay: Duration::ZERO,
                });
                wanted[w.pool] -= 1;
            }
        }
    }

    /// Hands pending tasks, in plan order, to idle workers of the pools they are routed to.
    fn assign(&mut self, actions: &mut Vec<Action>) {
        if self.paused || self.spending.reached {
            return;
        }
        self.park_fleet(actions);
        for worker in 0..self.workers.len() {
            let w = &self.workers[worker];
            if w.state != WorkerState::Idle || w.held || w.checking.is_some() {
                continue;
            }
            let Some(pane) = w.pane.clone() else {
                continue;
            };
            let (pool, tags) = (w.pool, self.worker_tags(worker));
            let Some(next) = self.next_ready(pool, |t: &TaskEntry| {
                t.tags.iter().all(|tag| tags.contains(tag))
            }) else {
                continue;
            };
            self.set_status(next, TaskStatus::Running);
            let task = &mut self.tasks[next];
            task.attempts += 1;
            task.last_worker = Some(worker);
            let (id, attempt) = (task.id.clone(), task.attempts);
            self.workers[worker].state = WorkerState::Delivering {
                task: id.clone(),
                since: self.now,
                nudges: 0,
            };
            actions.push(Action::Journal(Record::Assigned {
                task: id.clone(),
                worker,
                pane: pane.clone(),
                attempt,
            }));
            actions.push(Action::Label {
                pane: pane.clone(),
                label: id.to_string(),
            });
            actions.push(Action::Deliver {
                worker,
                pane,
                task: id,
                attempt,
                again: false,
            });
        }
    }

    fn check_finished(&mut self, actions: &mut Vec<Action>) {
        if self.finished {
            return;
        }
        let no_workers = self
            .workers
            .iter()
            .all(|w| matches!(w.state, WorkerState::Retired { .. }));
        if no_workers {
            let stranded: Vec<TaskId> = self
                .pending
                .iter()
                .map(|&i| self.tasks[i].id.clone())
                .collect();
            for id in stranded {
                self.fail(
                    &id,
                    "no workers left: every worker was retired, its agent failing again and again",
                    actions,
                );
            }
        } else {
            self.strand_dead_pools(actions);
        }
        // Past the run's budget, the run ends once nothing runs: what waits stays open.
        let stopped = self.spending.reached && self.tally.running + self.tally.landing == 0;
        if self.tally.open() == 0 || stopped {
            self.finished = true;
            actions.push(Action::Finished);
            actions.push(Action::Notify(Notice::Finished {
                done: self.tally.done,
                failed: self.tally.failed,
            }));
        }
    }
}

#[cfg(test)]
mod graph_tests;
#[cfg(test)]
mod host_tests;
#[cfg(test)]
mod landing_tests;
#[cfg(test)]
mod pool_tests;
#[cfg(test)]
mod tests;
