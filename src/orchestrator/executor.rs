//! Carrying out the scheduler's actions. Quick tmux calls happen inline; anything that
//! waits on an agent (readiness, delivery, reset) runs on a thread of its own and reports
//! back as an event, so one slow agent never holds up the others.

use super::Msg;
use super::notify::Notifier;
use crate::agent::{Profile, Reset, ScreenState, hooks, launch};
use crate::config::Settings;
use crate::journal::{Journal, Replay};
use crate::plan::{PlanFile, Refresh, Task, TaskId};
use crate::prompt::PromptTemplate;
use crate::scheduler::{Action, Event, WorkerId};
use crate::sentinel::Sentinels;
use crate::tmux::{Mux, PaneId, SpawnSpec, Tmux};
use crate::workspace::Workspace;
use anyhow::Context;
use crossbeam_channel::Sender;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How often a waiting thread looks at a pane's screen when tmux cannot say it changed.
const POLL: Duration = Duration::from_millis(50);
/// How long a waiting thread lets a pane that started writing go on before reading it.
const BURST: Duration = Duration::from_millis(10);
/// How long a waiting thread trusts a quiet pane before reading its screen anyway.
const RECHECK: Duration = Duration::from_secs(1);
/// How long an agent may take to finish its turn after writing its sentinel.
const TURN_END_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a busy agent must be quiet before its screen is read for going idle without
/// its sentinel (and how often the monitor looks when tmux cannot say it was quiet).
const MONITOR_POLL: Duration = Duration::from_millis(500);
/// How long a busy agent must look idle before it counts as stopped: the sentinel can
/// come a little after the screen settles.
const IDLE_GRACE: Duration = Duration::from_secs(5);
/// How long the end of a run waits for PLAN.md to be fit for its last check-offs.
const PLAN_SETTLE: Duration = Duration::from_secs(10);
/// The key that stops an agent's turn, unless its profile says otherwise (Claude Code,
/// Codex and the simulator agree on it).
const INTERRUPT_KEY: &str = "Escape";

pub struct Executor {
    tmux: Arc<Tmux>,
    profile: Arc<Profile>,
    template: PromptTemplate,
    ws: Workspace,
    panes_per_window: usize,
    /// Worker windows (`@id`) by index; a window disappears with its last pane.
    windows: Vec<Option<String>>,
    tasks: HashMap<TaskId, Task>,
    sentinels: HashMap<TaskId, PathBuf>,
    tx: Sender<Msg>,
    journal: Journal,
    /// What the journal holds, kept to compact it.
    replay: Replay,
    /// Cancels each worker's busy-monitor when the worker moves on.
    monitors: HashMap<WorkerId, Arc<AtomicBool>>,
    notifier: Notifier,
    /// PLAN.md as swarm last read or wrote it.
    plan: PlanFile,
    /// Tasks to check off at the next `flush_checkoffs`.
    checkoffs: Vec<TaskId>,
}

impl Executor {
    pub fn new(
        tmux: Arc<Tmux>,
        settings: &Settings,
        ws: Workspace,
        tasks: &[Task],
        sentinels: HashMap<TaskId, PathBuf>,
        tx: Sender<Msg>,
        (journal, replay): (Journal, Replay),
    ) -> anyhow::Result<Executor> {
        Ok(Executor {
            plan: PlanFile::open(&ws.plan)?,
            checkoffs: Vec::new(),
            notifier: Notifier::new(tmux.clone(), settings.notify.clone(), ws.clone()),
            tmux,
            profile: Arc::new(settings.profile.clone()),
            template: settings.template.clone(),
            ws,
            panes_per_window: settings.panes_per_window.max(1),
            windows: Vec::new(),
            tasks: tasks.iter().map(|t| (t.id.clone(), t.clone())).collect(),
            sentinels,
            tx,
            journal,
            replay,
            monitors: HashMap::new(),
        })
    }

    /// The tasks the executor knows, for labels and the status snapshot.
    pub fn tasks(&self) -> &HashMap<TaskId, Task> {
        &self.tasks
    }

    /// Checks off, in one write of PLAN.md, every task that finished since the last call:
    /// done after the actions that hand out work, so that a check-off never delays a
    /// dispatch, and batched, so that a burst of completions costs one write.
    pub fn flush_checkoffs(&mut self) -> anyhow::Result<()> {
        // Check-offs the plan could not take yet (it was mid-save) are tried again.
        if self.checkoffs.is_empty() && !self.plan.pending() {
            return Ok(());
        }
        let ids = std::mem::take(&mut self.checkoffs);
        self.plan
            .check_off(&ids)
            .with_context(|| format!("checking off {} in the plan", list(&ids)))?;
        Ok(())
    }

    /// The plan's tasks if a person changed PLAN.md since the last call; `None` when it
    /// holds only swarm's own writes, or does not parse right now (mid-edit). With them,
    /// what `refresh` found: tasks whose text was edited, a problem to report.
    pub fn plan_edited(&mut self) -> (Option<Vec<Task>>, Refresh) {
        let refresh = self.plan.refresh();
        // An edited task keeps its id; its agent gets the new text.
        for id in &refresh.edited {
            if let (Some(task), Some(known)) = (self.plan.task(id), self.tasks.get_mut(id)) {
                *known = task.clone();
            }
        }
        let tasks = refresh.changed.then(|| self.plan.tasks().to_vec());
        (tasks, refresh)
    }

    /// Writes the check-offs and notes still waiting for PLAN.md to parse (a person was
    /// saving it), giving the person a while; those it cannot write are said, and their
    /// sentinels make the next run check them off.
    pub fn settle_plan(&mut self, progress: &super::Progress) {
        let unwritten = match self.plan.settle(PLAN_SETTLE) {
            Ok(ids) => ids,
            Err(e) => return progress.warn(&format!("{e:#}")),
        };
        if !unwritten.is_empty() {
            progress.warn(&format!(
                "{}: done but not checked off (the plan does not parse, or no longer holds them): {}",
                self.ws.plan.display(),
                list(&unwritten)
            ));
        }
    }

    /// Learns tasks a person added to the plan during the run.
    pub fn learn(&mut self, task: Task, sentinel: PathBuf) {
        self.sentinels.insert(task.id.clone(), sentinel);
        self.tasks.insert(task.id.clone(), task);
    }

    /// Carries out one action; returns events that are already known (a sentinel that
    /// exists, a pane that was just spawned).
    pub fn execute(&mut self, action: Action, watch: &mut Sentinels) -> anyhow::Result<Vec<Event>> {
        if let Some(worker) = moves_on(&action) {
            self.stop_monitor(worker);
        }
        match action {
            Action::Spawn { worker, delay } if delay.is_zero() => return self.spawn(worker),
            Action::Spawn { worker, delay } => {
                let tx = self.tx.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let _ = tx.send(Msg::SpawnNow(worker));
                });
            }
            Action::Deliver {
                worker,
                pane,
                task,
                attempt,
            } => return self.deliver(worker, pane, task, attempt, watch),
            Action::Reset { worker, pane } => return self.reset(worker, pane),
            Action::AwaitReady { worker, pane } => {
                self.then_ready(worker, pane, |_, _, _, _| Ok(()))
            }
            Action::Interrupt { worker, pane } => {
                self.then_ready(worker, pane, |tmux, pane, _, _| {
                    tmux.send_key(pane, INTERRUPT_KEY)
                        .map_err(|e| e.to_string())
                });
            }
            Action::Nudge { worker, pane, task } => {
                let sentinel = self.sentinels[&task].display().to_string();
                let text = format!(
                    "Continue with the task. When you have finished, create the empty file `{sentinel}` to signal that you are done."
                );
                self.deliver_text(worker, pane, task, text);
            }
            Action::Monitor { worker, pane } => self.start_monitor(worker, pane),
            Action::NoteFailure {
                task,
                reason,
                attempt,
            } => {
                let note = match attempt {
                    0 => format!("failed: {reason}"),
                    n => format!(
                        "failed: {reason}; transcript {}",
                        relative(&self.ws.root, &self.ws.transcript(&task, n))
                    ),
                };
                self.plan
                    .set_note(&task, &note)
                    .with_context(|| format!("noting the failure of task `{task}` in the plan"))?;
            }
            Action::Journal(record) => {
                self.journal
                    .append(&record)
                    .with_context(|| format!("appending to {}", self.journal.path().display()))?;
                self.replay.apply(record);
                self.journal.compact_if_long(&self.replay)?;
            }
            Action::Kill { pane } => {
                // Already gone is fine: the point is that it is gone.
                let _ = self.tmux.kill_pane(&pane);
            }
            Action::Label { pane, label } => {
                // A task's text says more to a person than its id.
                let text = match self.tasks.get(&TaskId(label.clone())) {
                    Some(task) => task.text.clone(),
                    None => label,
                };
                let _ = self.tmux.set_label(&pane, &text);
            }
            Action::CheckOff { task } => {
                watch.forget(&task);
                self.checkoffs.push(task);
            }
            Action::Notify(notice) => self.notifier.notice(&notice, &self.tasks, &self.sentinels),
            Action::Finished => {
                self.journal.append(&crate::journal::Record::Finished)?;
            }
        }
        Ok(Vec::new())
    }

    /// Remembers the window of a pane taken over from an earlier orchestrator.
    pub fn adopt_window(&mut self, worker: WorkerId, window: String) {
        let index = worker / self.panes_per_window;
        if self.windows.len() <= index {
            self.windows.resize(index + 1, None);
        }
        self.windows[index] = Some(window);
    }

    /// Starts worker `worker`'s agent in its window (made when missing).
    pub fn spawn(&mut self, worker: WorkerId) -> anyhow::Result<Vec<Event>> {
        let index = worker / self.panes_per_window;
        if self.windows.len() <= index {
            self.windows.resize(index + 1, None);
        }
        let mut spec = SpawnSpec {
            window: self.windows[index].clone(),
            window_name: format!("workers-{}", index + 1),
            label: format!("w{worker}"),
            argv: launch::argv(&self.profile, &self.ws)?,
            cwd: self.ws.root.clone(),
            env: launch::env(&self.profile, &self.ws, worker),
        };
        let spawned = match self.tmux.spawn(&spec) {
            Ok(spawned) => spawned,
            // The window went away with its last pane: make a new one.
            Err(_) if spec.window.is_some() => {
                spec.window = None;
                self.tmux.spawn(&spec).context("starting an agent pane")?
            }
            Err(e) => return Err(e).context("starting an agent pane"),
        };
        self.windows[index] = Some(spawned.window.clone());
        let pane = spawned.pane;
        // So that `swarm send` and `swarm wait` read this pane with the profile it runs.
        let _ = self.tmux.set_profile(&pane, &self.profile.name);
        self.then_ready(worker, pane.clone(), |_, _, _, _| Ok(()));
        Ok(vec![Event::Spawned { worker, pane }])
    }

    fn deliver(
        &mut self,
        worker: WorkerId,
        pane: PaneId,
        id: TaskId,
        attempt: u32,
        watch: &mut Sentinels,
    ) -> anyhow::Result<Vec<Event>> {
        let task = self.tasks.get(&id).context("delivering an unknown task")?;
        let sentinel = self.sentinels[&id].clone();
        // Expect the sentinel before the prompt goes out: a fast agent may beat us to it.
        if let Some(done) = watch.expect(&sentinel, id.clone()) {
            return Ok(vec![Event::Sentinel { task: done }]);
        }
        let prompt = self
            .template
            .render(task, &sentinel, attempt, &self.ws.plan_name())
            .with_context(|| format!("rendering the prompt of task `{id}`"))?;
        let log = self.ws.transcript(&id, attempt);
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        // A transcript is for people; a failure to start one must not stop the work.
        let _ = self.tmux.transcript(&pane, Some(&log));
        self.deliver_text(worker, pane, id, prompt);
        Ok(Vec::new())
    }

    /// Delivers `text` on a thread of its own and reports how it went.
    fn deliver_text(&self, worker: WorkerId, pane: PaneId, task: TaskId, text: String) {
        let (tmux, profile) = (self.tmux.clone(), self.profile.clone());
        self.background(
            move || match crate::deliver::deliver(&*tmux, &pane, &text, &profile) {
                Ok(_) => Event::Delivered { worker, pane, task },
                Err(e) => Event::DeliveryFailed {
                    worker,
                    pane,
                    task,
                    reason: e.to_string(),
                },
            },
        );
    }

    /// Watches a busy agent until it looks idle for a while without its sentinel. The
    /// screen is read only after the pane has gone quiet, and not again until it writes
    /// more: an agent at work animates, and one that is quiet shows what it showed.
    fn start_monitor(&mut self, worker: WorkerId, pane: PaneId) {
        let stop = Arc::new(AtomicBool::new(false));
        self.monitors.insert(worker, stop.clone());
        let (tmux, profile, tx) = (self.tmux.clone(), self.profile.clone(), self.tx.clone());
        let hooks = launch::hooks_dir(&self.profile, &self.ws);
        let name = worker.to_string();
        let hook = move || hooks.as_ref().and_then(|dir| hooks::read_state(dir, &name));
        std::thread::spawn(move || {
            let before = hook();
            let mut idle_since: Option<Instant> = None;
            // The output count when the screen was last read, and whether it looked idle.
            let mut looked: Option<(u64, bool)> = None;
            while !stop.load(Ordering::Relaxed) {
                // Compared across a sleep, not awaited: an agent at work animates many
                // times a second, and waking on each frame would cost more than looking.
                let earlier = tmux.output_count(&pane);
                std::thread::sleep(MONITOR_POLL);
                let count = tmux.output_count(&pane);
                if count != earlier {
                    idle_since = None;
                    continue;
                }
                // The agent's own word (a hook that fired since the prompt went in) beats
                // the screen, which is only the fallback.
                let idle = match hook() {
                    Some(state) if Some(&state) != before.as_ref() => state.event == "Stop",
                    _ => match (count, looked) {
                        (Some(count), Some((at, idle))) if at == count => idle,
                        _ => {
                            // A pane that is gone is the pane watcher's news, not ours.
                            let Ok(screen) = tmux.capture(&pane) else {
                                return;
                            };
                            let idle = profile.classify(&screen) == ScreenState::Ready;
                            looked = count.map(|count| (count, idle));
                            idle
                        }
                    },
                };
                if !idle {
                    idle_since = None;
                    continue;
                }
                let since = *idle_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= IDLE_GRACE && !stop.load(Ordering::Relaxed) {
                    let _ = tx.send(Msg::Event(Event::IdleWithoutSentinel { worker, pane }));
                    return;
                }
            }
        });
    }

    fn stop_monitor(&mut self, worker: WorkerId) {
        if let Some(stop) = self.monitors.remove(&worker) {
            stop.store(true, Ordering::Relaxed);
        }
    }

    fn reset(&mut self, worker: WorkerId, pane: PaneId) -> anyhow::Result<Vec<Event>> {
        match self.profile.reset.clone() {
            Reset::Restart => {
                let _ = self.tmux.kill_pane(&pane);
                self.spawn(worker)
            }
            Reset::Command(command) => {
                self.then_ready(worker, pane, move |tmux, pane, profile, tx| {
                    // The turn ends first; text left in the box is ours (see below).
                    let idle = [ScreenState::Ready, ScreenState::InputPending];
                    let state = wait_for(tmux, pane, profile, TURN_END_TIMEOUT, tx, worker, &idle)?;
                    if state == ScreenState::InputPending {
                        clear_leftover_input(tmux, pane, profile)
                            .ok_or_else(|| "text in the input box would not clear".to_string())?;
                    }
                    type_command(tmux, pane, profile, &command)
                });
                Ok(Vec::new())
            }
        }
    }

    /// On a thread: `prepare`, then wait for the ready screen; reports `Ready`/`NotReady`.
    fn then_ready(
        &self,
        worker: WorkerId,
        pane: PaneId,
        prepare: impl FnOnce(&Tmux, &PaneId, &Profile, &Sender<Msg>) -> Result<(), String>
        + Send
        + 'static,
    ) {
        let (tmux, profile, tx) = (self.tmux.clone(), self.profile.clone(), self.tx.clone());
        self.background(move || {
            let result = prepare(&tmux, &pane, &profile, &tx).and_then(|()| {
                wait_ready(
                    &*tmux,
                    &pane,
                    &profile,
                    profile.startup_timeout,
                    &tx,
                    worker,
                )
            });
            ready_event(worker, &pane, result)
        });
    }

    fn background(&self, job: impl FnOnce() -> Event + Send + 'static) {
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(Msg::Event(job()));
        });
    }
}

fn ready_event(worker: WorkerId, pane: &PaneId, result: Result<(), String>) -> Event {
    match result {
        Ok(()) => Event::Ready {
            worker,
            pane: pane.clone(),
        },
        Err(reason) => Event::NotReady {
            worker,
            pane: pane.clone(),
            reason,
        },
    }
}

/// `a`, `a and b`, or `a and 4 more`, for messages about several tasks.
fn list(ids: &[TaskId]) -> String {
    match ids {
        [one] => format!("task `{one}`"),
        [a, b] => format!("tasks `{a}` and `{b}`"),
        [first, rest @ ..] => format!("task `{first}` and {} more", rest.len()),
        [] => "no task".into(),
    }
}

/// `path` relative to the workspace, for messages people read.
fn relative(root: &std::path::Path, path: &std::path::Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The worker a scheduler action moves on to something new, which ends its busy-monitor.
fn moves_on(action: &Action) -> Option<WorkerId> {
    match action {
        Action::Spawn { worker, .. }
        | Action::Deliver { worker, .. }
        | Action::Reset { worker, .. }
        | Action::AwaitReady { worker, .. }
        | Action::Interrupt { worker, .. }
        | Action::Nudge { worker, .. } => Some(*worker),
        _ => None,
    }
}

/// Waits until the pane shows the profile's ready screen.
fn wait_ready(
    mux: &dyn Mux,
    pane: &PaneId,
    profile: &Profile,
    timeout: Duration,
    tx: &Sender<Msg>,
    worker: WorkerId,
) -> Result<(), String> {
    wait_for(
        mux,
        pane,
        profile,
        timeout,
        tx,
        worker,
        &[ScreenState::Ready],
    )
    .map(|_| ())
}

/// Waits until the pane's screen is in one of the `wanted` states, and says which. A
/// blocking dialog is reported once as needing a person, and stops the clock: only a
/// person may answer it.
fn wait_for(
    mux: &dyn Mux,
    pane: &PaneId,
    profile: &Profile,
    timeout: Duration,
    tx: &Sender<Msg>,
    worker: WorkerId,
    wanted: &[ScreenState],
) -> Result<ScreenState, String> {
    let mut deadline = Instant::now() + timeout;
    let mut told = None;
    loop {
        let seen = mux.output_count(pane);
        let (screen, state) = match mux.capture(pane) {
            Ok(screen) => {
                let state = profile.classify(&screen);
                (screen, Ok(state))
            }
            Err(e) => (String::new(), Err(e)),
        };
        match state {
            Ok(state) if wanted.contains(&state) => return Ok(state),
            Ok(state @ (ScreenState::Dialog | ScreenState::RateLimited)) => {
                if told != Some(state) {
                    told = Some(state);
                    let pane = pane.clone();
                    let event = match state {
                        ScreenState::Dialog => Event::NeedsHuman {
                            worker,
                            pane,
                            what: "a blocking dialog on screen: answer it in the pane".into(),
                        },
                        _ => Event::RateLimited {
                            worker,
                            pane,
                            until: profile.rate_limit_reset(&screen),
                        },
                    };
                    let _ = tx.send(Msg::Event(event));
                }
                deadline = Instant::now() + timeout;
            }
            Ok(_) => {}
            Err(e) => return Err(format!("cannot read the pane: {e}")),
        }
        if Instant::now() >= deadline {
            return Err(format!("no ready screen after {}s", timeout.as_secs()));
        }
        next_look(mux, pane, seen);
    }
}

/// Waits until the screen may have changed since the output count `seen` was taken:
/// the pane wrote something (then a moment more, so that a burst of writes is read as
/// one screen) or `RECHECK` passed. Without an event source it polls.
fn next_look(mux: &dyn Mux, pane: &PaneId, seen: Option<u64>) {
    match seen.and_then(|seen| mux.await_output(pane, seen, RECHECK)) {
        Some(_) => std::thread::sleep(BURST),
        None => std::thread::sleep(POLL),
    }
}

/// A reset command swarm typed but never submitted (its orchestrator was killed between
/// the two) leaves the box non-empty: clear it, once, and wait for the ready screen.
fn clear_leftover_input(mux: &dyn Mux, pane: &PaneId, profile: &Profile) -> Option<()> {
    let screen = mux.capture(pane).ok()?;
    if profile.classify(&screen) != ScreenState::InputPending {
        return None;
    }
    mux.send_key(pane, "C-c").ok()?;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        if mux.capture(pane).ok().map(|s| profile.classify(&s)) == Some(ScreenState::Ready) {
            return Some(());
        }
        std::thread::sleep(POLL);
    }
    None
}

/// Types a short command such as `/clear` and submits it once it shows.
fn type_command(
    mux: &dyn Mux,
    pane: &PaneId,
    profile: &Profile,
    command: &str,
) -> Result<(), String> {
    mux.send_text(pane, command).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let screen = mux.capture(pane).map_err(|e| e.to_string())?;
        if profile.classify(&screen) != ScreenState::Ready {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(profile.settle);
    mux.send_key(pane, "Enter").map_err(|e| e.to_string())
}
