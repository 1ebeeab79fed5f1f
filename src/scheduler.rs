//! The pure core: `State + Event → Vec<Action>`. It owns every decision and does no I/O,
//! so the whole lifecycle of tasks and workers is testable in microseconds.

use crate::journal::{Closed, Record, Replay};
use crate::plan::TaskId;
use crate::tmux::PaneId;
use serde::Serialize;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

/// Index of a worker slot (0-based); its pane changes when the agent is replaced.
pub type WorkerId = usize;

/// Bounds that keep failures from looping.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Deliveries a task gets before it is failed.
    pub max_attempts: u32,
    /// Replacements of a worker's agent before the slot is retired.
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case", tag = "state", content = "reason")]
pub enum TaskStatus {
    Pending,
    Running,
    Done,
    Failed(String),
    /// A person said not to do it.
    Skipped,
}

/// Where a worker stands; see the lifecycle in DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkerState {
    /// Its agent is starting, or recovering, and has not shown a ready screen yet.
    Starting,
    Idle,
    /// A prompt is being pasted and submitted.
    Delivering,
    Busy,
    /// Its task is done; it is getting a fresh context.
    Resetting,
    /// Its turn ran too long (or its task was skipped): it is being interrupted.
    Interrupting,
    /// A blocking dialog is on screen: nothing is pasted until a person clears it.
    NeedsHuman,
    /// The agent says it is rate-limited: no work goes to it until the limit clears.
    RateLimited,
    /// Too many restarts: no more work goes to it.
    Retired,
}

/// Something that happened in the world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A new agent pane is up for `worker` (not ready yet).
    Spawned { worker: WorkerId, pane: PaneId },
    /// The pane shows a ready, empty input box.
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
    /// The prompt could not be delivered (refused paste, never submitted, pane gone).
    DeliveryFailed {
        worker: WorkerId,
        pane: PaneId,
        task: TaskId,
        reason: String,
    },
    /// The task's sentinel file exists.
    Sentinel { task: TaskId },
    /// A pane's process exited.
    PaneDead { pane: PaneId, status: Option<i32> },
    /// The plan was edited: its open and checked tasks now, in plan order.
    PlanChanged { tasks: Vec<PlanTask> },
    /// Time since the run started; deadlines are checked against it.
    Tick { now: Duration },
    /// A blocking dialog is on the worker's screen.
    NeedsHuman {
        worker: WorkerId,
        pane: PaneId,
        what: String,
    },
    /// The agent says it is rate-limited (until `until`, when it says).
    RateLimited {
        worker: WorkerId,
        pane: PaneId,
        until: Option<String>,
    },
    /// The busy worker's agent is idle, but the sentinel is not there.
    IdleWithoutSentinel { worker: WorkerId, pane: PaneId },
    /// A person's command (`swarm pause`, `resume`, `retry`, `skip`).
    Command(Command),
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanTask {
    pub id: TaskId,
    pub checked: bool,
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
    },
    /// Give the agent a fresh context (reset command or restart); report `Ready`/`NotReady`.
    Reset { worker: WorkerId, pane: PaneId },
    /// Wait until the agent shows a ready screen again; report `Ready`/`NotReady`.
    AwaitReady { worker: WorkerId, pane: PaneId },
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
    /// Remind an agent that went idle to finish and create its sentinel.
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
    /// A worker waits for a person (a dialog, a rate limit).
    NeedsPerson { worker: WorkerId, what: String },
    /// No task is open any more.
    Finished { done: usize, failed: usize },
}

/// One task's bookkeeping.
#[derive(Debug, Clone, Serialize)]
pub struct TaskEntry {
    pub id: TaskId,
    #[serde(flatten)]
    pub status: TaskStatus,
    pub attempts: u32,
    pub worker: Option<WorkerId>,
    /// Still in PLAN.md; a task a person removed is kept only while it runs.
    #[serde(skip)]
    in_plan: bool,
}

/// One worker slot's bookkeeping.
#[derive(Debug, Clone, Serialize)]
pub struct Worker {
    pub id: WorkerId,
    pub state: WorkerState,
    pub pane: Option<PaneId>,
    pub task: Option<TaskId>,
    pub restarts: u32,
    pub paused: bool,
    /// What a person must do, while the worker needs one.
    pub needs: Option<String>,
    /// The sentinel came while the prompt was still being submitted.
    #[serde(skip)]
    done_early: bool,
    /// When the current attempt was handed out (run time).
    #[serde(skip)]
    since: Duration,
    #[serde(skip)]
    nudges: u32,
}

impl Worker {
    /// When its current attempt was handed out, in run time (since the run started).
    pub fn since(&self) -> Duration {
        self.since
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
}

impl Tally {
    /// Pending or running: the run is not over while any task is open.
    pub fn open(&self) -> usize {
        self.pending + self.running
    }

    fn of(&mut self, status: &TaskStatus) -> &mut usize {
        match status {
            TaskStatus::Pending => &mut self.pending,
            TaskStatus::Running => &mut self.running,
            TaskStatus::Done => &mut self.done,
            TaskStatus::Failed(_) => &mut self.failed,
            TaskStatus::Skipped => &mut self.skipped,
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
    workers: Vec<Worker>,
    limits: Limits,
    finished: bool,
    paused: bool,
    now: Duration,
}

impl State {
    /// A state for `tasks` (checked ones count as done) and `workers` worker slots.
    pub fn new(tasks: &[PlanTask], workers: usize, limits: Limits) -> State {
        let mut state = State {
            tasks: Vec::with_capacity(tasks.len()),
            index: HashMap::with_capacity(tasks.len()),
            pending: BTreeSet::new(),
            tally: Tally::default(),
            workers: (0..workers)
                .map(|id| Worker {
                    id,
                    state: WorkerState::Starting,
                    pane: None,
                    task: None,
                    restarts: 0,
                    paused: false,
                    needs: None,
                    done_early: false,
                    since: Duration::ZERO,
                    nudges: 0,
                })
                .collect(),
            limits,
            finished: false,
            paused: false,
            now: Duration::ZERO,
        };
        for task in tasks {
            state.add_task(task);
        }
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
            if self.tasks[i].status == TaskStatus::Pending {
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

    /// Takes over a live pane left by an orchestrator that died, with the task it is
    /// known to be working on (delivery settled), if any.
    pub fn adopt(&mut self, worker: WorkerId, pane: PaneId, task: Option<TaskId>) -> Vec<Action> {
        let mut actions = Vec::new();
        let running = task.and_then(|id| {
            let i = self.position(&id)?;
            (self.tasks[i].status == TaskStatus::Pending).then_some((i, id))
        });
        let w = &mut self.workers[worker];
        w.pane = Some(pane.clone());
        match running {
            Some((i, id)) => {
                w.state = WorkerState::Busy;
                w.task = Some(id);
                w.since = self.now;
                self.set_status(i, TaskStatus::Running);
                self.tasks[i].worker = Some(worker);
                actions.push(Action::Monitor { worker, pane });
            }
            None => {
                // It may have finished a task the old orchestrator never saw complete:
                // give it a fresh context before anything new.
                w.state = WorkerState::Resetting;
                actions.push(Action::Reset { worker, pane });
            }
        }
        actions
    }

    /// The first actions: start as many agents as there is work for, besides adopted ones.
    pub fn start(&mut self) -> Vec<Action> {
        let adopted_free = self
            .workers
            .iter()
            .filter(|w| w.pane.is_some() && w.task.is_none())
            .count();
        let mut wanted = self.tally.pending.saturating_sub(adopted_free);
        let mut actions = Vec::new();
        for w in self.workers.iter_mut().filter(|w| w.pane.is_none()) {
            if wanted > 0 {
                wanted -= 1;
                actions.push(Action::Spawn {
                    worker: w.id,
                    delay: Duration::ZERO,
                });
            } else {
                w.state = WorkerState::Retired;
            }
        }
        self.check_finished(&mut actions);
        actions
    }

    pub fn tasks(&self) -> &[TaskEntry] {
        &self.tasks
    }

    pub fn workers(&self) -> &[Worker] {
        &self.workers
    }

    pub fn task(&self, id: &TaskId) -> Option<&TaskEntry> {
        self.index.get(id).map(|&i| &self.tasks[i])
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
        match event {
            Event::Spawned { worker, pane } => {
                let w = &mut self.workers[worker];
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
            Event::Ready { worker, pane } => {
                if self.is_current(worker, &pane) {
                    let w = &mut self.workers[worker];
                    w.needs = None;
                    w.state = WorkerState::Idle;
                    actions.push(Action::Label {
                        pane,
                        label: "idle".into(),
                    });
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
                if self.is_current(worker, &pane)
                    && self.workers[worker].task.as_ref() == Some(&task)
                {
                    actions.push(Action::Journal(Record::Delivered {
                        task: task.clone(),
                        worker,
                    }));
                    let w = &mut self.workers[worker];
                    if w.done_early {
                        w.done_early = false;
                        self.reset_worker(worker, &mut actions);
                    } else {
                        w.state = WorkerState::Busy;
                        actions.push(Action::Monitor { worker, pane });
                    }
                }
            }
            Event::DeliveryFailed {
                worker,
                pane,
                task,
                reason,
            } => {
                if self.is_current(worker, &pane)
                    && self.workers[worker].task.as_ref() == Some(&task)
                {
                    let w = &mut self.workers[worker];
                    w.task = None;
                    w.state = WorkerState::Starting;
                    if std::mem::take(&mut w.done_early) {
                        self.reset_worker(worker, &mut actions);
                    } else {
                        self.requeue(&task, &format!("delivery failed: {reason}"), &mut actions);
                        actions.push(Action::AwaitReady { worker, pane });
                    }
                }
            }
            Event::Sentinel { task } => self.task_done(&task, &mut actions),
            Event::PaneDead { pane, status } => {
                if let Some(worker) = self.worker_of(&pane) {
                    let reason = match status {
                        Some(code) => format!("agent exited with status {code}"),
                        None => "agent exited".to_string(),
                    };
                    self.replace_worker(worker, &reason, &mut actions);
                }
            }
            Event::PlanChanged { tasks } => self.plan_changed(&tasks, &mut actions),
            Event::Tick { now } => {
                self.now = now;
                self.check_timeouts(&mut actions);
            }
            Event::NeedsHuman { worker, pane, what } => {
                if self.is_current(worker, &pane) {
                    let w = &mut self.workers[worker];
                    w.state = WorkerState::NeedsHuman;
                    w.needs = Some(what.clone());
                    actions.push(Action::Label {
                        pane,
                        label: "needs you".into(),
                    });
                    actions.push(Action::Notify(Notice::NeedsPerson { worker, what }));
                }
            }
            Event::RateLimited {
                worker,
                pane,
                until,
            } => {
                if self.is_current(worker, &pane) {
                    let w = &mut self.workers[worker];
                    w.state = WorkerState::RateLimited;
                    let what = match until {
                        Some(until) => format!("rate-limited until {until}"),
                        None => "rate-limited".to_string(),
                    };
                    w.needs = Some(what.clone());
                    actions.push(Action::Label {
                        pane,
                        label: what.clone(),
                    });
                    actions.push(Action::Notify(Notice::NeedsPerson { worker, what }));
                }
            }
            Event::IdleWithoutSentinel { worker, pane } => {
                self.idle_without_sentinel(worker, pane, &mut actions)
            }
            Event::Command(command) => self.command(command, &mut actions),
        }
        self.assign(&mut actions);
        self.check_finished(&mut actions);
        actions
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
            worker: None,
            in_plan: true,
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

    /// Every status change goes through here, to keep `pending` and `tally` true.
    fn set_status(&mut self, i: usize, status: TaskStatus) {
        let entry = &mut self.tasks[i];
        *self.tally.of(&entry.status) -= 1;
        *self.tally.of(&status) += 1;
        if entry.status == TaskStatus::Pending {
            self.pending.remove(&i);
        }
        if status == TaskStatus::Pending {
            self.pending.insert(i);
        }
        entry.status = status;
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
        self.workers
            .get(worker)
            .is_some_and(|w| w.pane.as_ref() == Some(pane) && w.state != WorkerState::Retired)
    }

    fn worker_of(&self, pane: &PaneId) -> Option<WorkerId> {
        self.workers
            .iter()
            .position(|w| w.pane.as_ref() == Some(pane) && w.state != WorkerState::Retired)
    }

    fn position(&self, id: &TaskId) -> Option<usize> {
        self.index.get(id).copied()
    }

    /// Puts a task that did not finish back in line, or fails it when out of attempts.
    fn requeue(&mut self, id: &TaskId, reason: &str, actions: &mut Vec<Action>) {
        let max = self.limits.max_attempts;
        let Some(i) = self.position(id) else {
            return;
        };
        let task = &mut self.tasks[i];
        if task.status != TaskStatus::Running {
            return;
        }
        task.worker = None;
        if task.attempts >= max {
            let reason = match task.attempts {
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
        let task = &mut self.tasks[i];
        let attempt = task.attempts;
        task.worker = None;
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
        let task = &mut self.tasks[i];
        if task.status == TaskStatus::Done {
            return;
        }
        let worker = task.worker.take();
        let attempt = task.attempts;
        self.set_status(i, TaskStatus::Done);
        actions.push(Action::Journal(Record::Done { task: id.clone() }));
        actions.push(Action::CheckOff { task: id.clone() });
        let Some(worker) = worker else { return };
        actions.push(Action::Notify(Notice::Done {
            task: id.clone(),
            attempt,
        }));
        let w = &mut self.workers[worker];
        if w.task.as_ref() != Some(id) {
            return;
        }
        match w.state {
            WorkerState::Delivering => w.done_early = true,
            WorkerState::Busy => self.reset_worker(worker, actions),
            _ => {}
        }
    }

    fn reset_worker(&mut self, worker: WorkerId, actions: &mut Vec<Action>) {
        let w = &mut self.workers[worker];
        w.task = None;
        w.state = WorkerState::Resetting;
        if let Some(pane) = w.pane.clone() {
            actions.push(Action::Label {
                pane: pane.clone(),
                label: "resetting".into(),
            });
            actions.push(Action::Reset { worker, pane });
        }
    }

    /// The worker's agent is gone or broken: requeue its task and start a new agent,
    /// with backoff, a bounded number of times.
    fn replace_worker(&mut self, worker: WorkerId, reason: &str, actions: &mut Vec<Action>) {
        let task = self.workers[worker].task.take();
        if let Some(task) = task {
            self.requeue(&task, reason, actions);
        }
        let w = &mut self.workers[worker];
        w.done_early = false;
        w.needs = None;
        if let Some(pane) = w.pane.take() {
            actions.push(Action::Journal(Record::WorkerDied {
                worker,
                pane: pane.clone(),
                reason: reason.to_string(),
            }));
            actions.push(Action::Kill { pane });
        }
        if w.restarts >= self.limits.max_restarts {
            w.state = WorkerState::Retired;
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
    fn check_timeouts(&mut self, actions: &mut Vec<Action>) {
        let Some(limit) = self.limits.task_timeout else {
            return;
        };
        let late: Vec<WorkerId> = self
            .workers
            .iter()
            .filter(|w| w.state == WorkerState::Busy && self.now.saturating_sub(w.since) > limit)
            .map(|w| w.id)
            .collect();
        for worker in late {
            let reason = format!("timed out after {}s", limit.as_secs());
            self.interrupt(worker, &reason, actions);
        }
    }

    /// Stops the worker's turn; its task (if still running) is retried or failed.
    fn interrupt(&mut self, worker: WorkerId, reason: &str, actions: &mut Vec<Action>) {
        let w = &mut self.workers[worker];
        let task = w.task.take();
        w.done_early = false;
        w.state = WorkerState::Interrupting;
        let pane = w.pane.clone();
        if let Some(task) = task {
            self.requeue(&task, reason, actions);
        }
        if let Some(pane) = pane {
            actions.push(Action::Interrupt { worker, pane });
        }
    }

    /// The agent stopped without its sentinel (a person pressed Ctrl+C, or it gave up):
    /// remind it a few times, then fail the task.
    fn idle_without_sentinel(&mut self, worker: WorkerId, pane: PaneId, actions: &mut Vec<Action>) {
        if !self.is_current(worker, &pane) || self.workers[worker].state != WorkerState::Busy {
            return;
        }
        let max = self.limits.max_nudges;
        let w = &mut self.workers[worker];
        let Some(task) = w.task.clone() else { return };
        if w.nudges < max {
            w.nudges += 1;
            w.state = WorkerState::Delivering;
            actions.push(Action::Nudge { worker, pane, task });
            return;
        }
        w.task = None;
        let reason =
            format!("the agent stopped without creating its sentinel, even after {max} reminders");
        if let Some(i) = self.position(&task) {
            self.tasks[i].worker = None;
        }
        self.fail(&task, &reason, actions);
        self.reset_worker(worker, actions);
    }

    fn command(&mut self, command: Command, actions: &mut Vec<Action>) {
        match command {
            Command::Pause { worker: None } => self.paused = true,
            Command::Resume { worker: None } => {
                self.paused = false;
                for w in &mut self.workers {
                    w.paused = false;
                }
            }
            Command::Pause { worker: Some(w) } | Command::Resume { worker: Some(w) } => {
                let pause = matches!(command, Command::Pause { .. });
                if let Some(w) = self.workers.get_mut(w) {
                    w.paused = pause;
                }
            }
            Command::Retry { task } => {
                if let Some(i) = self.position(&task)
                    && matches!(
                        self.tasks[i].status,
                        TaskStatus::Failed(_) | TaskStatus::Skipped
                    )
                {
                    self.set_status(i, TaskStatus::Pending);
                    self.tasks[i].attempts = 0;
                    actions.push(Action::Journal(Record::Retried { task }));
                    self.wake_workers(actions);
                }
            }
            Command::Skip { task } => {
                let Some(i) = self.position(&task) else {
                    return;
                };
                let worker = match self.tasks[i].status {
                    TaskStatus::Pending => None,
                    TaskStatus::Running => self.tasks[i].worker,
                    _ => return,
                };
                self.set_status(i, TaskStatus::Skipped);
                self.tasks[i].worker = None;
                actions.push(Action::Journal(Record::Skipped { task: task.clone() }));
                if let Some(worker) = worker
                    && self.workers[worker].task.as_ref() == Some(&task)
                {
                    self.interrupt(worker, "skipped", actions);
                }
            }
        }
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
                    // A person checked it off by hand: skip it. A running task keeps
                    // running; its sentinel will still be honoured.
                    if task.checked && self.tasks[i].status == TaskStatus::Pending {
                        self.set_status(i, TaskStatus::Done);
                    }
                }
            }
        }
        // Removed tasks that have not started are dropped; running ones finish first.
        let before = self.tasks.len();
        self.tasks
            .retain(|t| t.in_plan || t.status == TaskStatus::Running);
        if self.tasks.len() != before {
            self.reindex();
        }
        self.wake_workers(actions);
    }

    /// New work may need workers that were retired for lack of it.
    fn wake_workers(&mut self, actions: &mut Vec<Action>) {
        let pending = self.tally.pending;
        let free = self
            .workers
            .iter()
            .filter(|w| {
                matches!(w.state, WorkerState::Idle | WorkerState::Starting) && w.task.is_none()
            })
            .count();
        let mut wanted = pending.saturating_sub(free);
        for w in &mut self.workers {
            if wanted == 0 {
                break;
            }
            if w.state == WorkerState::Retired && w.pane.is_none() && w.restarts == 0 {
                w.state = WorkerState::Starting;
                actions.push(Action::Spawn {
                    worker: w.id,
                    delay: Duration::ZERO,
                });
                wanted -= 1;
            }
        }
    }

    /// Hands pending tasks, in plan order, to idle workers.
    fn assign(&mut self, actions: &mut Vec<Action>) {
        if self.paused {
            return;
        }
        for worker in 0..self.workers.len() {
            if self.workers[worker].state != WorkerState::Idle || self.workers[worker].paused {
                continue;
            }
            let Some(&next) = self.pending.first() else {
                return;
            };
            self.set_status(next, TaskStatus::Running);
            let task = &mut self.tasks[next];
            task.attempts += 1;
            task.worker = Some(worker);
            let (id, attempt) = (task.id.clone(), task.attempts);
            let w = &mut self.workers[worker];
            w.state = WorkerState::Delivering;
            w.task = Some(id.clone());
            w.since = self.now;
            w.nudges = 0;
            let pane = w.pane.clone().expect("an idle worker has a pane");
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
            });
        }
    }

    fn check_finished(&mut self, actions: &mut Vec<Action>) {
        if self.finished {
            return;
        }
        let no_workers = self.workers.iter().all(|w| w.state == WorkerState::Retired);
        if no_workers {
            let stranded: Vec<TaskId> = self
                .pending
                .iter()
                .map(|&i| self.tasks[i].id.clone())
                .collect();
            for id in stranded {
                self.fail(
                    &id,
                    "no workers left: every agent kept failing to start",
                    actions,
                );
            }
        }
        if self.tally.open() == 0 {
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
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn id(s: &str) -> TaskId {
        TaskId(s.to_string())
    }

    fn pane(n: usize) -> PaneId {
        PaneId(format!("%{n}"))
    }

    fn plan(ids: &[&str]) -> Vec<PlanTask> {
        ids.iter()
            .map(|s| PlanTask {
                id: id(s),
                checked: false,
            })
            .collect()
    }

    /// Spawns and readies every worker the state asked for, returning the later actions.
    fn boot(state: &mut State) -> Vec<Action> {
        let mut out = Vec::new();
        for action in state.start() {
            if let Action::Spawn { worker, .. } = action {
                state.handle(Event::Spawned {
                    worker,
                    pane: pane(worker),
                });
                out.extend(state.handle(Event::Ready {
                    worker,
                    pane: pane(worker),
                }));
            }
        }
        out
    }

    /// The actions that change the world, without bookkeeping (journal, labels).
    fn effects(actions: Vec<Action>) -> Vec<Action> {
        actions
            .into_iter()
            .filter(|a| !matches!(a, Action::Journal(_) | Action::Label { .. }))
            .collect()
    }

    fn delivers(actions: &[Action]) -> Vec<(WorkerId, String, u32)> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::Deliver {
                    worker,
                    task,
                    attempt,
                    ..
                } => Some((*worker, task.0.clone(), *attempt)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn spawns_no_more_workers_than_tasks() {
        let mut state = State::new(&plan(&["a", "b"]), 4, Limits::default());
        let spawns = state
            .start()
            .into_iter()
            .filter(|a| matches!(a, Action::Spawn { .. }))
            .count();
        assert_eq!(spawns, 2);
    }

    #[test]
    fn checked_tasks_are_never_dispatched() {
        let tasks = vec![
            PlanTask {
                id: id("a"),
                checked: true,
            },
            PlanTask {
                id: id("b"),
                checked: false,
            },
        ];
        let mut state = State::new(&tasks, 2, Limits::default());
        let actions = boot(&mut state);
        assert_eq!(delivers(&actions), vec![(0, "b".to_string(), 1)]);
    }

    #[test]
    fn nothing_to_do_finishes_at_once() {
        let tasks = vec![PlanTask {
            id: id("a"),
            checked: true,
        }];
        let mut state = State::new(&tasks, 2, Limits::default());
        assert_eq!(
            effects(state.start()),
            vec![
                Action::Finished,
                Action::Notify(Notice::Finished { done: 1, failed: 0 })
            ]
        );
    }

    #[test]
    fn tasks_go_out_in_plan_order_and_complete() {
        let mut state = State::new(&plan(&["a", "b", "c"]), 2, Limits::default());
        let actions = boot(&mut state);
        assert_eq!(
            delivers(&actions),
            vec![(0, "a".into(), 1), (1, "b".into(), 1)]
        );
        for w in 0..2 {
            let task = state.workers()[w].task.clone().unwrap();
            state.handle(Event::Delivered {
                worker: w,
                pane: pane(w),
                task,
            });
        }
        let actions = state.handle(Event::Sentinel { task: id("b") });
        assert!(actions.contains(&Action::CheckOff { task: id("b") }));
        assert!(actions.contains(&Action::Reset {
            worker: 1,
            pane: pane(1)
        }));
        assert!(
            delivers(&actions).is_empty(),
            "no dispatch before the reset"
        );
        let actions = state.handle(Event::Ready {
            worker: 1,
            pane: pane(1),
        });
        assert_eq!(delivers(&actions), vec![(1, "c".into(), 1)]);
    }

    #[test]
    fn people_hear_of_agents_work_failures_and_dialogs_but_not_of_old_sentinels() {
        let limits = Limits {
            max_attempts: 1,
            ..Limits::default()
        };
        let mut state = State::new(&plan(&["a", "b", "c"]), 1, limits);
        let notices = |actions: Vec<Action>| -> Vec<Notice> {
            actions
                .into_iter()
                .filter_map(|a| match a {
                    Action::Notify(n) => Some(n),
                    _ => None,
                })
                .collect()
        };
        // A sentinel that was there before anyone worked on the task is no news.
        assert_eq!(notices(state.handle(Event::Sentinel { task: id("c") })), []);
        boot(&mut state);
        let what = "a blocking dialog".to_string();
        let actions = state.handle(Event::NeedsHuman {
            worker: 0,
            pane: pane(0),
            what: what.clone(),
        });
        assert_eq!(
            notices(actions),
            [Notice::NeedsPerson {
                worker: 0,
                what: what.clone()
            }]
        );
        let actions = state.handle(Event::PaneDead {
            pane: pane(0),
            status: Some(1),
        });
        let [Notice::Failed { task, attempt, .. }] = &notices(actions)[..] else {
            panic!("one failure notice");
        };
        assert_eq!((task, *attempt), (&id("a"), 1));
    }

    #[test]
    fn sentinel_before_delivered_resets_after_delivery() {
        let mut state = State::new(&plan(&["a", "b"]), 1, Limits::default());
        boot(&mut state);
        let actions = effects(state.handle(Event::Sentinel { task: id("a") }));
        assert_eq!(
            actions,
            vec![
                Action::CheckOff { task: id("a") },
                Action::Notify(Notice::Done {
                    task: id("a"),
                    attempt: 1
                })
            ]
        );
        let actions = state.handle(Event::Delivered {
            worker: 0,
            pane: pane(0),
            task: id("a"),
        });
        assert!(actions.contains(&Action::Reset {
            worker: 0,
            pane: pane(0)
        }));
    }

    #[test]
    fn a_repeated_sentinel_checks_off_once() {
        let mut state = State::new(&plan(&["a"]), 1, Limits::default());
        boot(&mut state);
        let first = state.handle(Event::Sentinel { task: id("a") });
        let second = state.handle(Event::Sentinel { task: id("a") });
        assert!(first.contains(&Action::CheckOff { task: id("a") }));
        assert!(second.is_empty());
    }

    #[test]
    fn a_dead_agent_requeues_its_task_and_is_replaced_with_backoff() {
        let mut state = State::new(&plan(&["a"]), 1, Limits::default());
        boot(&mut state);
        let actions = effects(state.handle(Event::PaneDead {
            pane: pane(0),
            status: Some(3),
        }));
        assert_eq!(
            actions,
            vec![
                Action::Kill { pane: pane(0) },
                Action::Spawn {
                    worker: 0,
                    delay: Duration::from_millis(250)
                }
            ]
        );
        assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Pending);
        state.handle(Event::Spawned {
            worker: 0,
            pane: pane(7),
        });
        let actions = state.handle(Event::Ready {
            worker: 0,
            pane: pane(7),
        });
        assert_eq!(delivers(&actions), vec![(0, "a".into(), 2)]);
    }

    #[test]
    fn events_about_an_old_pane_are_ignored() {
        let mut state = State::new(&plan(&["a"]), 1, Limits::default());
        boot(&mut state);
        state.handle(Event::PaneDead {
            pane: pane(0),
            status: None,
        });
        let actions = state.handle(Event::DeliveryFailed {
            worker: 0,
            pane: pane(0),
            task: id("a"),
            reason: "pane is dead".into(),
        });
        assert!(actions.is_empty());
        assert!(
            state
                .handle(Event::PaneDead {
                    pane: pane(0),
                    status: None
                })
                .is_empty()
        );
    }

    #[test]
    fn a_task_fails_after_max_attempts() {
        let limits = Limits {
            max_attempts: 2,
            max_restarts: 10,
            ..Limits::default()
        };
        let mut state = State::new(&plan(&["a"]), 1, limits);
        boot(&mut state);
        let mut current = pane(0);
        for n in 1..=2 {
            let actions = state.handle(Event::PaneDead {
                pane: current.clone(),
                status: Some(1),
            });
            if n == 2 {
                assert!(actions.contains(&Action::Finished));
            }
            current = pane(100 + n);
            state.handle(Event::Spawned {
                worker: 0,
                pane: current.clone(),
            });
            state.handle(Event::Ready {
                worker: 0,
                pane: current.clone(),
            });
        }
        assert!(matches!(
            state.task(&id("a")).unwrap().status,
            TaskStatus::Failed(ref r) if r.contains("after 2 attempts")
        ));
    }

    #[test]
    fn restarts_are_bounded_and_the_run_still_ends() {
        let limits = Limits {
            max_attempts: 100,
            max_restarts: 2,
            ..Limits::default()
        };
        let mut state = State::new(&plan(&["a"]), 1, limits);
        state.start();
        let mut last = Vec::new();
        for n in 0..3 {
            state.handle(Event::Spawned {
                worker: 0,
                pane: pane(n),
            });
            last = state.handle(Event::NotReady {
                worker: 0,
                pane: pane(n),
                reason: "no prompt".into(),
            });
        }
        assert_eq!(state.workers()[0].state, WorkerState::Retired);
        assert!(last.contains(&Action::Finished));
        assert!(matches!(
            state.task(&id("a")).unwrap().status,
            TaskStatus::Failed(_)
        ));
    }

    #[test]
    fn refused_delivery_requeues_and_waits_for_the_pane() {
        let mut state = State::new(&plan(&["a", "b"]), 1, Limits::default());
        boot(&mut state);
        let actions = effects(state.handle(Event::DeliveryFailed {
            worker: 0,
            pane: pane(0),
            task: id("a"),
            reason: "pane is in copy mode".into(),
        }));
        assert_eq!(
            actions,
            vec![Action::AwaitReady {
                worker: 0,
                pane: pane(0)
            }]
        );
        let actions = state.handle(Event::Ready {
            worker: 0,
            pane: pane(0),
        });
        assert_eq!(delivers(&actions), vec![(0, "a".into(), 2)]);
    }

    #[test]
    fn plan_edits_add_tasks_and_drop_removed_pending_ones() {
        let mut state = State::new(&plan(&["a", "b", "c"]), 1, Limits::default());
        boot(&mut state);
        let mut tasks = plan(&["a", "c", "d"]);
        tasks[1].checked = true;
        state.handle(Event::PlanChanged { tasks });
        let ids: Vec<_> = state.tasks().iter().map(|t| t.id.0.as_str()).collect();
        assert_eq!(ids, ["a", "c", "d"]);
        assert_eq!(state.task(&id("c")).unwrap().status, TaskStatus::Done);
        assert_eq!(state.task(&id("d")).unwrap().status, TaskStatus::Pending);
    }

    #[test]
    fn a_running_task_removed_from_the_plan_finishes() {
        let mut state = State::new(&plan(&["a"]), 1, Limits::default());
        boot(&mut state);
        state.handle(Event::PlanChanged { tasks: vec![] });
        assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Running);
        let actions = state.handle(Event::Sentinel { task: id("a") });
        assert!(actions.contains(&Action::Finished));
    }

    #[test]
    fn plan_growth_wakes_workers_that_had_no_work() {
        let mut state = State::new(&plan(&["a"]), 3, Limits::default());
        boot(&mut state);
        let actions = state.handle(Event::PlanChanged {
            tasks: plan(&["a", "b", "c"]),
        });
        let spawns = actions
            .iter()
            .filter(|a| matches!(a, Action::Spawn { .. }))
            .count();
        assert_eq!(spawns, 2);
    }

    /// Boots one worker and delivers `a` to it, so it is busy.
    fn busy_with_a(limits: Limits, ids: &[&str]) -> State {
        let mut state = State::new(&plan(ids), 1, limits);
        boot(&mut state);
        state.handle(Event::Delivered {
            worker: 0,
            pane: pane(0),
            task: id("a"),
        });
        state
    }

    #[test]
    fn a_turn_past_the_timeout_is_interrupted_and_retried() {
        let limits = Limits {
            task_timeout: Some(Duration::from_secs(10)),
            ..Limits::default()
        };
        let mut state = busy_with_a(limits, &["a"]);
        assert!(
            effects(state.handle(Event::Tick {
                now: Duration::from_secs(5)
            }))
            .is_empty()
        );
        let actions = effects(state.handle(Event::Tick {
            now: Duration::from_secs(11),
        }));
        assert_eq!(
            actions,
            vec![Action::Interrupt {
                worker: 0,
                pane: pane(0)
            }]
        );
        assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Pending);
        let actions = state.handle(Event::Ready {
            worker: 0,
            pane: pane(0),
        });
        assert_eq!(delivers(&actions), vec![(0, "a".into(), 2)]);
    }

    #[test]
    fn an_idle_agent_without_its_sentinel_is_nudged_then_its_task_fails() {
        let limits = Limits {
            max_nudges: 1,
            ..Limits::default()
        };
        let mut state = busy_with_a(limits, &["a"]);
        let idle = Event::IdleWithoutSentinel {
            worker: 0,
            pane: pane(0),
        };
        let actions = effects(state.handle(idle.clone()));
        assert_eq!(
            actions,
            vec![Action::Nudge {
                worker: 0,
                pane: pane(0),
                task: id("a")
            }]
        );
        state.handle(Event::Delivered {
            worker: 0,
            pane: pane(0),
            task: id("a"),
        });
        let actions = effects(state.handle(idle));
        assert!(matches!(actions[0], Action::NoteFailure { ref task, .. } if task == &id("a")));
        assert!(actions.contains(&Action::Reset {
            worker: 0,
            pane: pane(0)
        }));
        assert!(actions.contains(&Action::Finished));
    }

    #[test]
    fn pause_holds_back_new_work_until_resume() {
        let mut state = busy_with_a(Limits::default(), &["a", "b"]);
        state.handle(Event::Command(Command::Pause { worker: None }));
        state.handle(Event::Sentinel { task: id("a") });
        let actions = state.handle(Event::Ready {
            worker: 0,
            pane: pane(0),
        });
        assert!(delivers(&actions).is_empty(), "dispatched while paused");
        let actions = state.handle(Event::Command(Command::Resume { worker: None }));
        assert_eq!(delivers(&actions), vec![(0, "b".into(), 1)]);
    }

    #[test]
    fn skip_interrupts_a_running_task_and_retry_brings_it_back() {
        let mut state = busy_with_a(Limits::default(), &["a"]);
        let actions = effects(state.handle(Event::Command(Command::Skip { task: id("a") })));
        assert!(actions.contains(&Action::Interrupt {
            worker: 0,
            pane: pane(0)
        }));
        assert!(actions.contains(&Action::Finished));
        assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Skipped);
        let mut state = busy_with_a(
            Limits {
                max_attempts: 1,
                ..Limits::default()
            },
            &["a", "b"],
        );
        state.handle(Event::PaneDead {
            pane: pane(0),
            status: Some(1),
        });
        assert!(matches!(
            state.task(&id("a")).unwrap().status,
            TaskStatus::Failed(_)
        ));
        let actions = state.handle(Event::Command(Command::Retry { task: id("a") }));
        assert!(actions.contains(&Action::Journal(Record::Retried { task: id("a") })));
        assert_eq!(state.task(&id("a")).unwrap().status, TaskStatus::Pending);
        assert_eq!(state.task(&id("a")).unwrap().attempts, 0);
    }

    #[test]
    fn a_restored_run_keeps_attempts_and_failures_and_adopts_live_panes() {
        let mut replay = Replay::default();
        replay.apply(Record::Assigned {
            task: id("a"),
            worker: 0,
            pane: pane(5),
            attempt: 2,
        });
        replay.apply(Record::Failed {
            task: id("b"),
            reason: "hung".into(),
        });
        let mut state = State::new(&plan(&["a", "b", "c"]), 2, Limits::default());
        state.restore(&replay);
        assert_eq!(state.task(&id("a")).unwrap().attempts, 2);
        assert_eq!(
            state.task(&id("b")).unwrap().status,
            TaskStatus::Failed("hung".into())
        );
        // Worker 0 still works on `a`; worker 1's pane is idle and gets a fresh context.
        let busy = state.adopt(0, pane(5), Some(id("a")));
        assert_eq!(
            busy,
            vec![Action::Monitor {
                worker: 0,
                pane: pane(5)
            }]
        );
        let idle = state.adopt(1, pane(6), None);
        assert_eq!(
            idle,
            vec![Action::Reset {
                worker: 1,
                pane: pane(6)
            }]
        );
        let start = effects(state.start());
        assert!(
            start.is_empty(),
            "no new agents besides the adopted ones: {start:?}"
        );
        let actions = state.handle(Event::Ready {
            worker: 1,
            pane: pane(6),
        });
        assert_eq!(delivers(&actions), vec![(1, "c".into(), 1)]);
    }

    #[test]
    fn every_decision_is_journaled_before_it_is_acted_on() {
        let mut state = State::new(&plan(&["a"]), 1, Limits::default());
        state.start();
        let spawned = state.handle(Event::Spawned {
            worker: 0,
            pane: pane(0),
        });
        assert_eq!(
            spawned[0],
            Action::Journal(Record::Spawned {
                worker: 0,
                pane: pane(0)
            })
        );
        let ready = state.handle(Event::Ready {
            worker: 0,
            pane: pane(0),
        });
        let journal = ready
            .iter()
            .position(|a| matches!(a, Action::Journal(Record::Assigned { .. })));
        let deliver = ready
            .iter()
            .position(|a| matches!(a, Action::Deliver { .. }));
        assert!(journal < deliver, "{ready:?}");
        let done = state.handle(Event::Sentinel { task: id("a") });
        assert_eq!(done[0], Action::Journal(Record::Done { task: id("a") }));
        assert_eq!(done[1], Action::CheckOff { task: id("a") });
    }

    /// Lets worker `w` finish its task and become ready again, `n` times: the tasks (and
    /// attempts) it is handed.
    fn handed_out(state: &mut State, w: WorkerId, n: usize) -> Vec<(String, u32)> {
        let current = state.workers()[w].pane.clone().unwrap();
        let mut out = Vec::new();
        for _ in 0..n {
            let task = state.workers()[w].task.clone().unwrap();
            state.handle(Event::Delivered {
                worker: w,
                pane: current.clone(),
                task: task.clone(),
            });
            state.handle(Event::Sentinel { task });
            let actions = state.handle(Event::Ready {
                worker: w,
                pane: current.clone(),
            });
            out.extend(delivers(&actions).into_iter().map(|(_, t, a)| (t, a)));
        }
        out
    }

    #[test]
    fn a_requeued_task_goes_out_before_later_ones() {
        let mut state = State::new(&plan(&["a", "b", "c", "d"]), 2, Limits::default());
        boot(&mut state);
        assert_eq!(handed_out(&mut state, 1, 1), [("c".into(), 1)]);
        // Worker 0's agent dies: `a` is pending again, ahead of `d`.
        state.handle(Event::PaneDead {
            pane: pane(0),
            status: None,
        });
        assert_eq!(
            handed_out(&mut state, 1, 2),
            [("a".into(), 2), ("d".into(), 1)]
        );
    }

    #[test]
    fn a_retried_task_goes_out_before_later_ones() {
        let mut state = busy_with_a(Limits::default(), &["a", "b", "c"]);
        state.handle(Event::Command(Command::Skip { task: id("a") }));
        let actions = state.handle(Event::Ready {
            worker: 0,
            pane: pane(0),
        });
        assert_eq!(delivers(&actions), vec![(0, "b".into(), 1)]);
        state.handle(Event::Command(Command::Retry { task: id("a") }));
        assert_eq!(
            handed_out(&mut state, 0, 2),
            [("a".into(), 1), ("c".into(), 1)]
        );
    }

    #[test]
    fn after_a_plan_edit_tasks_go_out_in_the_order_they_first_appeared() {
        let mut state = busy_with_a(Limits::default(), &["a", "b", "c", "d", "e"]);
        // A person removes `a` (running: it stays) and `b`, adds `new` at the top and
        // checks `c` off by hand. Tasks already known keep their place, and new ones queue
        // behind them.
        let mut tasks = plan(&["new", "c", "d", "e"]);
        tasks[1].checked = true;
        state.handle(Event::PlanChanged { tasks });
        let ids: Vec<_> = state.tasks().iter().map(|t| t.id.0.as_str()).collect();
        assert_eq!(ids, ["a", "c", "d", "e", "new"]);
        assert_eq!(
            handed_out(&mut state, 0, 3),
            [("d".into(), 1), ("e".into(), 1), ("new".into(), 1)]
        );
        assert_counts_are_true(&state);
    }

    /// What `State` keeps up to date as statuses change agrees with counting from scratch.
    fn assert_counts_are_true(state: &State) {
        let mut tally = Tally::default();
        for task in &state.tasks {
            *tally.of(&task.status) += 1;
        }
        assert_eq!(state.tally, tally);
        let pending: BTreeSet<usize> = (0..state.tasks.len())
            .filter(|&i| state.tasks[i].status == TaskStatus::Pending)
            .collect();
        assert_eq!(state.pending, pending);
        assert_eq!(state.index.len(), state.tasks.len());
        for (i, task) in state.tasks.iter().enumerate() {
            assert_eq!(state.index[&task.id], i);
        }
    }

    /// One step of a random run. Workers and tasks are picked by number and resolved
    /// against the state when the step is taken, so that most steps could really happen.
    #[derive(Debug, Clone)]
    enum Step {
        Spawned(usize),
        Ready(usize),
        NotReady(usize),
        Delivered(usize),
        DeliveryFailed(usize),
        PaneDead(usize),
        Idle(usize),
        Sentinel(usize),
        Tick(u64),
        Pause(Option<usize>),
        Resume(Option<usize>),
        Retry(usize),
        Skip(usize),
        Plan(Vec<(usize, bool)>),
    }

    /// Tasks `t0` to `t7`: plans and steps pick from them.
    const NAMES: usize = 8;

    fn name(n: usize) -> TaskId {
        TaskId(format!("t{}", n % NAMES))
    }

    fn plan_tasks(picks: &[(usize, bool)]) -> Vec<PlanTask> {
        let mut tasks: Vec<PlanTask> = Vec::new();
        for &(n, checked) in picks {
            if tasks.iter().all(|t| t.id != name(n)) {
                tasks.push(PlanTask {
                    id: name(n),
                    checked,
                });
            }
        }
        tasks
    }

    fn step() -> impl Strategy<Value = Step> {
        let w = 0..4usize;
        prop_oneof![
            1 => w.clone().prop_map(Step::Spawned),
            3 => w.clone().prop_map(Step::Ready),
            1 => w.clone().prop_map(Step::NotReady),
            3 => w.clone().prop_map(Step::Delivered),
            1 => w.clone().prop_map(Step::DeliveryFailed),
            1 => w.clone().prop_map(Step::PaneDead),
            1 => w.clone().prop_map(Step::Idle),
            3 => (0..NAMES).prop_map(Step::Sentinel),
            1 => (1..20u64).prop_map(Step::Tick),
            1 => prop::option::of(w.clone()).prop_map(Step::Pause),
            1 => prop::option::of(w).prop_map(Step::Resume),
            1 => (0..NAMES).prop_map(Step::Retry),
            1 => (0..NAMES).prop_map(Step::Skip),
            1 => prop::collection::vec((0..NAMES, any::<bool>()), 0..NAMES).prop_map(Step::Plan),
        ]
    }

    proptest! {
        /// However events come, the pending queue, the tally and the index stay what a
        /// full recount says, so the next task handed out is the first pending one.
        #[test]
        fn kept_counts_agree_with_a_recount(
            first in prop::collection::vec((0..NAMES, any::<bool>()), 0..NAMES),
            closed in prop::collection::vec((0..NAMES, any::<bool>()), 0..3),
            adopted in prop::option::of(0..NAMES),
            workers in 1..4usize,
            max_attempts in 1..3u32,
            max_restarts in 0..3u32,
            max_nudges in 0..2u32,
            steps in prop::collection::vec(step(), 0..60),
        ) {
            let limits = Limits {
                max_attempts,
                max_restarts,
                task_timeout: Some(Duration::from_secs(10)),
                max_nudges,
            };
            let mut state = State::new(&plan_tasks(&first), workers, limits);
            // What an interrupted run left: failed and skipped tasks, and a live pane.
            let mut replay = Replay::default();
            for (n, failed) in closed {
                replay.apply(if failed {
                    Record::Failed { task: name(n), reason: "hung".into() }
                } else {
                    Record::Skipped { task: name(n) }
                });
            }
            state.restore(&replay);
            state.adopt(0, pane(500), adopted.map(name));
            state.start();
            assert_counts_are_true(&state);
            let (mut panes, mut now) = (0, 0);
            for step in steps {
                let w = |n: usize| n % workers;
                let current = |state: &State, n: usize| {
                    let worker = &state.workers()[w(n)];
                    (w(n), worker.pane.clone().unwrap_or(pane(999)), worker.task.clone())
                };
                let event = match step {
                    Step::Spawned(n) => {
                        panes += 1;
                        Event::Spawned { worker: w(n), pane: pane(panes) }
                    }
                    Step::Ready(n) => {
                        let (worker, pane, _) = current(&state, n);
                        Event::Ready { worker, pane }
                    }
                    Step::NotReady(n) => {
                        let (worker, pane, _) = current(&state, n);
                        Event::NotReady { worker, pane, reason: "no".into() }
                    }
                    Step::Delivered(n) | Step::DeliveryFailed(n) => {
                        let (worker, pane, task) = current(&state, n);
                        let task = task.unwrap_or(name(n));
                        if matches!(step, Step::Delivered(_)) {
                            Event::Delivered { worker, pane, task }
                        } else {
                            Event::DeliveryFailed { worker, pane, task, reason: "no".into() }
                        }
                    }
                    Step::PaneDead(n) => Event::PaneDead { pane: current(&state, n).1, status: None },
                    Step::Idle(n) => {
                        let (worker, pane, _) = current(&state, n);
                        Event::IdleWithoutSentinel { worker, pane }
                    }
                    Step::Sentinel(n) => Event::Sentinel { task: name(n) },
                    Step::Tick(secs) => {
                        now += secs;
                        Event::Tick { now: Duration::from_secs(now) }
                    }
                    Step::Pause(n) => Event::Command(Command::Pause { worker: n.map(w) }),
                    Step::Resume(n) => Event::Command(Command::Resume { worker: n.map(w) }),
                    Step::Retry(n) => Event::Command(Command::Retry { task: name(n) }),
                    Step::Skip(n) => Event::Command(Command::Skip { task: name(n) }),
                    Step::Plan(picks) => Event::PlanChanged { tasks: plan_tasks(&picks) },
                };
                state.handle(event);
                assert_counts_are_true(&state);
            }
        }
    }
}
