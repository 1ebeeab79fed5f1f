//! Carrying out the scheduler's actions. Quick tmux calls happen inline; anything that
//! waits on an agent (readiness, delivery, reset) runs as a job of its own and reports
//! back as an event, so one slow agent never holds up the others.

use super::Msg;
use super::jobs::Jobs;
use super::landing::{self, Lander};
use super::notify::Notifier;
use super::profiles::Profiles;
use super::receipts::Book;
use super::seats::{Place, Seats};
use super::transcripts::{RemoteLogs, Which};
use crate::agent::{Profile, Reset, ScreenState, hooks, launch};
use crate::clock::Clock;
use crate::config::Settings;
use crate::deliver::DeliveryError;
use crate::journal::{Journal, Replay};
use crate::plan::{PlanFile, Refresh, Task, TaskId};
use crate::prompt::PromptTemplate;
use crate::receipt::{Receipt, Stage};
use crate::scheduler::{Action, DeliveryFailure, Event, WorkerId};
use crate::sentinel::Sentinels;
use crate::tmux::{Mux, PaneId, SpawnSpec};
use crate::waits::{self, Blocked};
use crate::workspace::Workspace;
use anyhow::Context;
use crossbeam_channel::Sender;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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
/// The key that stops an agent's turn when its profile names none (Claude Code, Codex
/// and the simulator agree on it).
const INTERRUPT_KEY: &str = "Escape";
/// How long a closed popup or a cancelled auto-continue takes to leave the screen.
const UNPARK_SETTLE: Duration = Duration::from_millis(300);
/// How often the end of a run looks whether the agents' last turns are over.
const SETTLE_POLL: Duration = Duration::from_millis(150);
/// How long an agent told to quit has to exit before its pane is killed.
const QUIT_GRACE: Duration = Duration::from_secs(3);

/// The edges the executor drives, each behind its seam: tmux, time, and where waits run.
#[derive(Clone)]
pub struct Edges {
    pub mux: Arc<dyn Mux>,
    pub clock: Arc<dyn Clock>,
    pub jobs: Arc<dyn Jobs>,
}

pub struct Executor {
    edges: Edges,
    /// The profile of each worker, and of each worker pane.
    profiles: Profiles,
    template: PromptTemplate,
    ws: Workspace,
    panes_per_window: usize,
    /// Worker windows (`@id`) by host and index; a window disappears with its last pane.
    windows: HashMap<(Option<String>, usize), String>,
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
    /// Worktrees and the merge queue, when tasks are isolated.
    lander: Option<Lander>,
    /// Where each task's work stands on its way to landing, and its commit.
    stages: HashMap<TaskId, (landing::Stage, Option<String>)>,
    /// The branches failed and skipped tasks left, with their work on them.
    kept: HashMap<TaskId, String>,
    /// Each attempt's receipts, and what each task has cost.
    book: Book,
    /// The workers on other hosts, and where they work there.
    seats: Option<Seats>,
    /// The transcripts of attempts on other hosts.
    remote_logs: Option<Arc<RemoteLogs>>,
    /// The sentinel each remote worker's prompt named last, with its task: reminders
    /// name the same.
    named: HashMap<WorkerId, (TaskId, PathBuf)>,
}

impl Executor {
    pub fn new(
        edges: Edges,
        settings: &Settings,
        ws: Workspace,
        tasks: &[Task],
        sentinels: HashMap<TaskId, PathBuf>,
        tx: Sender<Msg>,
        (journal, replay): (Journal, Replay),
    ) -> anyhow::Result<Executor> {
        let mut plan = PlanFile::open(&ws.plan)?;
        // A save that gives a task to a profile no pool runs is a bad save: the run keeps
        // its last good plan, as for a cycle.
        let routes = settings.clone();
        let path = ws.plan.clone();
        plan.check_with(Box::new(move |tasks| {
            routes.check_agents(tasks, &path).map_err(|bad| bad.message)
        }));
        Ok(Executor {
            lander: None,
            stages: HashMap::new(),
            kept: HashMap::new(),
            book: Book::default(),
            seats: None,
            remote_logs: None,
            named: HashMap::new(),
            plan,
            checkoffs: Vec::new(),
            notifier: Notifier::new(
                edges.mux.clone(),
                edges.jobs.clone(),
                settings.notify.clone(),
                ws.clone(),
            ),
            edges,
            profiles: Profiles::new(settings),
            template: settings.template.clone(),
            ws,
            panes_per_window: settings.panes_per_window.max(1),
            windows: HashMap::new(),
            tasks: tasks.iter().map(|t| (t.id.clone(), t.clone())).collect(),
            sentinels,
            tx,
            journal,
            replay,
            monitors: HashMap::new(),
        })
    }

    /// Runs tasks in worktrees, and lands their work through `lander`'s merge queue.
    pub fn isolated(mut self, lander: Option<Lander>) -> Executor {
        self.lander = lander;
        self
    }

    /// Runs some workers on other hosts, at `seats`.
    pub fn seated(mut self, seats: Seats) -> Executor {
        let logs = Arc::new(RemoteLogs::new(seats.ssh(), self.ws.clone()));
        self.notifier.with_remote_logs(logs.clone());
        self.remote_logs = Some(logs);
        self.seats = Some(seats);
        self
    }

    /// Brings `which` transcripts of attempts on other hosts up to date here, as a job:
    /// a host may take seconds to answer.
    pub fn pull_transcripts(&self, which: Which) {
        let Some(logs) = self.remote_logs.clone() else {
            return;
        };
        let tx = self.tx.clone();
        self.edges.jobs.spawn(Box::new(move || {
            for problem in logs.pull(&which) {
                let _ = tx.send(Msg::Warn(format!("a transcript: {problem}")));
            }
        }));
    }

    /// The same, for every transcript that may still grow, before the run ends; a host
    /// that does not answer keeps the rest, for `swarm logs` to pull.
    pub fn pull_transcripts_now(&self, progress: &super::Progress) {
        if let Some(logs) = &self.remote_logs {
            for problem in logs.pull(&Which::All) {
                progress.warn(&format!("a transcript: {problem}"));
            }
        }
    }

    /// Where worker `worker` runs, if on another host.
    fn place(&self, worker: WorkerId) -> Option<&Place> {
        self.seats.as_ref()?.of(worker)
    }

    /// The merge queue, in an isolated run.
    pub fn lander(&self) -> Option<&Lander> {
        self.lander.as_ref()
    }

    /// Where each task's work stands on its way to landing, with its commit.
    pub fn stages(&self) -> &HashMap<TaskId, (landing::Stage, Option<String>)> {
        &self.stages
    }

    /// The branches failed and skipped tasks left, by task.
    pub fn kept(&self) -> &HashMap<TaskId, String> {
        &self.kept
    }

    /// The run's receipts and what its tasks cost.
    pub fn book(&self) -> &Book {
        &self.book
    }

    pub fn book_mut(&mut self) -> &mut Book {
        &mut self.book
    }

    /// Journals a receipt (one a job sent, or one a record made) unless it says nothing
    /// new.
    pub fn receipt(&mut self, receipt: Receipt) -> anyhow::Result<()> {
        if self.book.add(receipt.clone()) {
            let record = crate::journal::Record::Receipt(receipt);
            self.journal
                .note(&record)
                .with_context(|| format!("appending to {}", self.journal.path().display()))?;
            self.replay.apply(record);
        }
        Ok(())
    }

    /// Where worker `worker`'s agent works.
    pub fn cwd(&self, worker: WorkerId) -> PathBuf {
        match &self.lander {
            Some(lander) => lander.cwd(worker),
            None => self.ws.root.clone(),
        }
    }

    /// Each sentinel path as prompts name it, with its task.
    pub fn sentinel_names(&self) -> HashMap<String, TaskId> {
        self.sentinels
            .iter()
            .map(|(task, path)| (path.display().to_string(), task.clone()))
            .collect()
    }

    /// Notes how far `task`'s work got, in the journal too.
    pub fn staged(
        &mut self,
        task: TaskId,
        stage: landing::Stage,
        commit: Option<String>,
    ) -> anyhow::Result<()> {
        // Queued for landing after verifying: verify passed.
        if stage == landing::Stage::Queued
            && self.stages.get(&task).map(|(s, _)| *s) == Some(landing::Stage::Verifying)
            && let Some(receipt) = self.book.latest(&task).map(|l| Receipt {
                task: task.clone(),
                attempt: l.attempt,
                at: crate::cost::now_ms(),
                stage: Stage::Verified,
            })
        {
            self.receipt(receipt)?;
        }
        let record = crate::journal::Record::Stage {
            task: task.clone(),
            stage: stage.name().to_string(),
            commit: commit.clone(),
        };
        self.journal.note(&record)?;
        let commit = commit.or_else(|| self.stages.get(&task).and_then(|(_, c)| c.clone()));
        self.stages.insert(task, (stage, commit));
        Ok(())
    }

    /// The workspace-relative sentinel of `task` when worker `worker` does it: in an
    /// isolated run, inside the worker's worktree.
    pub fn sentinel_at(&self, task: &TaskId, worker: WorkerId) -> Option<PathBuf> {
        let rel = self.sentinels.get(task)?;
        Some(match &self.lander {
            Some(lander) => lander.in_worktree(worker, rel),
            None => rel.clone(),
        })
    }

    /// The profile of each worker, and of each worker pane as it starts.
    pub fn profiles(&self) -> &Profiles {
        &self.profiles
    }

    /// What the journal holds.
    pub fn replay(&self) -> &Replay {
        &self.replay
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
                let (tx, clock) = (self.tx.clone(), self.edges.clock.clone());
                self.edges.jobs.spawn(Box::new(move || {
                    clock.sleep(delay);
                    let _ = tx.send(Msg::SpawnNow(worker));
                }));
            }
            Action::Deliver {
                worker,
                pane,
                task,
                attempt,
                again,
            } => return self.deliver(worker, pane, (task, attempt, again), watch),
            Action::Reset { worker, pane } => return self.reset(worker, pane),
            Action::AwaitReady { worker, pane } => {
                self.then_ready(worker, pane, |_, _, _, _| Ok(()))
            }
            Action::AwaitFree { worker, pane } => {
                // A pane that refused a prompt is a person's for now: wait for them first,
                // with no deadline, and only then for the agent.
                self.then_ready(worker, pane, |edges, pane, profile, blocked| {
                    waits::wait_free(&*edges.mux, &*edges.clock, pane, profile, blocked)
                })
            }
            Action::Interrupt { worker, pane } => {
                // A key into a pane a person is scrolling would be a copy-mode command
                // and throw them out of it: the turn ends once they are done.
                self.then_ready(worker, pane, |edges, pane, profile, blocked| {
                    let (mux, clock) = (&*edges.mux, &*edges.clock);
                    waits::wait_out_of_mode(mux, clock, pane, blocked)?;
                    let key = profile.interrupt.as_deref().unwrap_or(INTERRUPT_KEY);
                    mux.send_key(pane, key).map_err(|e| e.to_string())
                });
            }
            Action::Unpark { worker, pane } => return self.unpark(worker, pane),
            Action::Nudge { worker, pane, task } => {
                let sentinel = match self.named.get(&worker) {
                    Some((t, path)) if *t == task => path,
                    _ => &self.sentinels[&task],
                };
                let sentinel = sentinel.display().to_string();
                let text = format!(
                    "Continue with the task. When you have finished, create the empty file `{sentinel}` to signal that you are done."
                );
                self.deliver_text(worker, pane, task, text, None);
            }
            Action::Monitor { worker, pane } => self.start_monitor(worker, pane),
            Action::NoteFailure {
                task,
                reason,
                attempt,
            } => {
                // The failed attempt's transcript, if on another host, comes here for
                // the note to point at.
                if attempt > 0 {
                    self.pull_transcripts(Which::Attempt(task.clone(), attempt));
                }
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
                // A failed or skipped task's branch stays, with its work, for a person.
                if let (
                    crate::journal::Record::Failed { task, .. }
                    | crate::journal::Record::Skipped { task },
                    Some(lander),
                ) = (&record, &self.lander)
                    && let Some(branch) = lander.kept_branch(task)
                {
                    self.kept.insert(task.clone(), branch);
                }
                if let crate::journal::Record::Retried { task } = &record {
                    self.kept.remove(task);
                }
                let (lander, root) = (&self.lander, &self.ws.root);
                let cwds = |w| lander.as_ref().map_or_else(|| root.clone(), |l| l.cwd(w));
                let receipt = self.book.of_record(&record, crate::cost::now_ms(), cwds);
                self.journal
                    .append(&record)
                    .with_context(|| format!("appending to {}", self.journal.path().display()))?;
                self.replay.apply(record);
                if let Some(receipt) = receipt {
                    self.receipt(receipt)?;
                }
                self.journal.compact_if_long(&self.replay)?;
            }
            Action::Kill { pane } => self.kill(pane),
            Action::Label { pane, label } => {
                // A task's text says more to a person than its id.
                let text = match self.tasks.get(&TaskId(label.clone())) {
                    Some(task) => task.text.clone(),
                    None => label,
                };
                let _ = self.edges.mux.set_label(&pane, &text);
            }
            Action::CheckOff { task } => {
                watch.forget(&task);
                self.checkoffs.push(task);
            }
            Action::Notify(notice) => self.notifier.notice(&notice, &self.tasks, &self.sentinels),
            Action::Finished => {
                self.journal.append(&crate::journal::Record::Finished)?;
            }
            Action::Check {
                worker,
                task,
                attempt,
            } => {
                let (Some(lander), Some(t)) = (&self.lander, self.tasks.get(&task)) else {
                    anyhow::bail!("checking task `{task}`, which is not in an isolated run");
                };
                let job =
                    lander.check(worker, landing::Job::of(t, attempt), &self.sentinels[&task]);
                match self.seats.clone().filter(|s| s.of(worker).is_some()) {
                    None => self.background(job),
                    // Work on another host comes back first: committed there, its branch
                    // fetched here and checked out in a worktree here for verify.
                    Some(seats) => {
                        lander.ensure(worker)?;
                        let prep = lander.prep(worker, &task);
                        let (git, land) = (lander.git(), lander.land().to_string());
                        let message = t.text.clone();
                        self.background(move || {
                            let back = seats
                                .finish_attempt(worker, (&task, attempt, &message), (&*git, &land))
                                .and_then(|()| prep.run());
                            match back {
                                Ok(()) => job(),
                                Err(why) => Event::Checked {
                                    worker,
                                    task,
                                    outcome: crate::scheduler::Checked::Failed(why),
                                },
                            }
                        });
                    }
                }
            }
            Action::Land { task, attempt } => {
                let (Some(lander), Some(t)) = (&self.lander, self.tasks.get(&task)) else {
                    anyhow::bail!("landing task `{task}`, which is not in an isolated run");
                };
                let job = lander.queue(landing::Job::of(t, attempt));
                self.background(job);
            }
        }
        Ok(Vec::new())
    }

    /// Waits, up to `within`, for the agents in `panes` to end the turns they still have
    /// going (the reply after a sentinel), so that their own records hold all the run
    /// spent before their panes go.
    pub fn settle_agents(&self, panes: &[(WorkerId, PaneId)], within: Duration) {
        let (mux, clock) = (&*self.edges.mux, &*self.edges.clock);
        let deadline = clock.now() + within;
        let ready = |worker: WorkerId, pane| {
            let profile = self.profiles.worker(worker);
            mux.capture(pane)
                .map(|screen| profile.classify(&screen) == ScreenState::Ready)
        };
        // All the panes in each round: ready twice in a row, a poll apart (a screen between
        // two requests of one turn can look ready for a moment). A pane that is gone has
        // nothing to wait for.
        let mut before = vec![false; panes.len()];
        let mut settled = vec![false; panes.len()];
        while clock.now() < deadline && settled.contains(&false) {
            for (i, (worker, pane)) in panes.iter().enumerate() {
                if settled[i] {
                    continue;
                }
                match ready(*worker, pane) {
                    Ok(true) if before[i] => settled[i] = true,
                    Ok(now) => before[i] = now,
                    Err(_) => settled[i] = true,
                }
            }
            if settled.contains(&false) {
                clock.sleep(SETTLE_POLL);
            }
        }
    }

    /// Takes over the transcript of the attempt a pane on another host runs, taken over
    /// from an earlier orchestrator.
    pub fn adopt_transcript(&self, worker: WorkerId, pane: &PaneId, task: &TaskId) {
        let (Some(logs), Some(place)) = (&self.remote_logs, self.place(worker)) else {
            return;
        };
        let running = self.replay.tasks.get(task).and_then(|h| h.running.as_ref());
        if let Some(flight) = running.filter(|f| f.worker == worker && &f.pane == pane) {
            logs.adopt(pane, place, (task, flight.attempt));
        }
    }

    /// Remembers the window of a pane taken over from an earlier orchestrator.
    pub fn adopt_window(&mut self, worker: WorkerId, window: String) {
        let key = self.window_key(worker);
        self.windows.insert(key, window);
    }

    /// The window worker `worker`'s pane goes in: a host's workers share windows only
    /// with each other.
    fn window_key(&self, worker: WorkerId) -> (Option<String>, usize) {
        let host = self.place(worker).map(|p| p.host.name.clone());
        (host, worker / self.panes_per_window)
    }

    /// Starts worker `worker`'s agent in its window (made when missing).
    pub fn spawn(&mut self, worker: WorkerId) -> anyhow::Result<Vec<Event>> {
        let key = self.window_key(worker);
        let index = key.1;
        let profile = self.profiles.worker(worker);
        if let Some(place) = self.place(worker).cloned() {
            return self.spawn_remote(worker, key, &profile, &place);
        }
        let mut spec = SpawnSpec {
            window: self.windows.get(&key).cloned(),
            window_name: format!("workers-{}", index + 1),
            label: format!("w{worker}"),
            profile: profile.name.clone(),
            argv: launch::argv(&profile, &self.ws)?,
            cwd: match &self.lander {
                Some(lander) => {
                    lander.ensure(worker)?;
                    lander.cwd(worker)
                }
                None => self.ws.root.clone(),
            },
            env: launch::env(&profile, &self.ws, worker),
            host: None,
        };
        let spawned = match self.edges.mux.spawn(&spec) {
            Ok(spawned) => spawned,
            // The window went away with its last pane: make a new one.
            Err(_) if spec.window.is_some() => {
                spec.window = None;
                self.edges
                    .mux
                    .spawn(&spec)
                    .context("starting an agent pane")?
            }
            Err(e) => return Err(e).context("starting an agent pane"),
        };
        self.windows.insert(key, spawned.window.clone());
        let pane = spawned.pane;
        self.profiles.started(worker, &pane);
        self.then_ready(worker, pane.clone(), |_, _, _, _| Ok(()));
        Ok(vec![Event::Spawned { worker, pane }])
    }

    /// Starts worker `worker`'s agent on its host, in the host's directory. A host that
    /// cannot be reached is not a failed agent: the scheduler hears the host is lost,
    /// and asks again once it is back.
    fn spawn_remote(
        &mut self,
        worker: WorkerId,
        key: (Option<String>, usize),
        profile: &Profile,
        place: &Place,
    ) -> anyhow::Result<Vec<Event>> {
        let mut spec = SpawnSpec {
            window: self.windows.get(&key).cloned(),
            window_name: format!("{}-{}", place.host.name, key.1 + 1),
            label: format!("w{worker}@{}", place.host.name),
            profile: profile.name.clone(),
            argv: Seats::argv(profile),
            cwd: PathBuf::from(&place.dir),
            env: Seats::env(profile, place, worker),
            host: Some(place.host.name.clone()),
        };
        let spawned = match self.edges.mux.spawn(&spec) {
            Ok(spawned) => Ok(spawned),
            Err(_) if spec.window.is_some() => {
                spec.window = None;
                self.edges.mux.spawn(&spec)
            }
            Err(e) => Err(e),
        };
        let spawned = match spawned {
            Ok(spawned) => spawned,
            Err(e) => {
                let host = place.host.name.clone();
                let _ = self.tx.send(Msg::Warn(format!(
                    "w{worker}: its agent could not start on {host}: {e}"
                )));
                return Ok(vec![Event::HostLost { host }]);
            }
        };
        self.windows.insert(key, spawned.window.clone());
        let pane = spawned.pane;
        self.profiles.started(worker, &pane);
        self.then_ready(worker, pane.clone(), |_, _, _, _| Ok(()));
        Ok(vec![Event::Spawned { worker, pane }])
    }

    fn deliver(
        &mut self,
        worker: WorkerId,
        pane: PaneId,
        (id, attempt, again): (TaskId, u32, bool),
        watch: &mut Sentinels,
    ) -> anyhow::Result<Vec<Event>> {
        let task = self.tasks.get(&id).context("delivering an unknown task")?;
        // On another host, the attempt has a folder of its own under the host's directory
        // (in an isolated run, its worktree there), the sentinel is in it, and that host's
        // watcher reports it (docs/multihost.md).
        let remote = self.seats.clone().filter(|s| s.of(worker).is_some());
        let attempt_dir = remote.as_ref().map(|_| {
            let dir = Seats::attempt_dir(&id, attempt);
            match &self.lander {
                Some(lander) => dir.join(lander.prefix()),
                None => dir,
            }
        });
        let worktree = self.ws.worktree(worker);
        if self.lander.is_some() && remote.is_none() && !worktree.is_dir() {
            // A person removed it: the agent's folder is gone under it. A new agent, in
            // a new worktree, takes the work on.
            let why = format!(
                "its worktree {} is gone",
                relative(&self.ws.root, &worktree)
            );
            return Ok(vec![Event::DeliveryFailed {
                worker,
                pane,
                task: id,
                failure: DeliveryFailure::Broken(why),
            }]);
        }
        let sentinel = match &attempt_dir {
            Some(dir) => dir.join(&self.sentinels[&id]),
            None => self.sentinels[&id].clone(),
        };
        let watched = self.sentinel_at(&id, worker).unwrap_or(sentinel.clone());
        if self.lander.is_some() && remote.is_none() {
            // In a worktree, a sentinel no attempt is running for is a stale one. Its
            // folder is made now, so that it is watched from the start.
            let path = self.ws.root.join(&watched);
            let _ = std::fs::remove_file(&path);
            if let Some(dir) = path.parent() {
                let _ = std::fs::create_dir_all(dir);
            }
        }
        // Expect the sentinel before the prompt goes out: a fast agent may beat us to it.
        if remote.is_none()
            && let Some(done) = watch.expect(&watched, id.clone())
        {
            // Nothing goes out, and the worker must hear so, or it waits for a delivery.
            let failure = DeliveryFailure::NotSubmitted("its sentinel was already there".into());
            return Ok(vec![
                Event::Sentinel { task: done },
                Event::DeliveryFailed {
                    worker,
                    pane,
                    task: id,
                    failure,
                },
            ]);
        }
        // An isolated attempt on another host works in its worktree there: the paths the
        // prompt names are in it.
        let in_worktree = |t: &Task| -> Task {
            let mut t = t.clone();
            if let (Some(dir), Some(_)) = (&attempt_dir, &self.lander) {
                t.output = t.output.map(|out| dir.join(out).display().to_string());
            }
            t
        };
        let deps: Vec<Task> = task
            .waits_for()
            .filter_map(|d| self.tasks.get(d))
            .map(in_worktree)
            .collect();
        let deps: Vec<&Task> = deps.iter().collect();
        let task = in_worktree(task);
        let git = self.lander.as_ref().map(|lander| {
            let retry = lander.retry(&id);
            crate::prompt::GitContext {
                branch: Lander::branch(&id),
                land: lander.land().to_string(),
                verify: lander.verify_command().map(str::to_string),
                conflicts: match &retry {
                    Some(landing::Retry::Conflict { files }) => files.clone(),
                    _ => Vec::new(),
                },
                verify_output: match retry {
                    Some(landing::Retry::Verify { output }) => Some(output),
                    _ => None,
                },
                workdir: attempt_dir.as_ref().map(|d| d.display().to_string()),
            }
        });
        let prompt = self
            .template
            .render_with(
                &task,
                &deps,
                &sentinel,
                attempt,
                &self.ws.plan_name(),
                git.as_ref(),
            )
            .with_context(|| format!("rendering the prompt of task `{id}`"))?;
        let log = self.ws.transcript(&id, attempt);
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let prep = match &remote {
            None => self.lander.as_ref().map(|l| l.prep(worker, &id)),
            Some(_) => None,
        };
        if remote.is_some() {
            self.named.insert(worker, (id.clone(), sentinel.clone()));
        }
        let attempt = Attempt {
            n: attempt,
            again,
            log,
            prep,
            remote: remote.map(|seats| RemotePrep {
                seats,
                logs: self
                    .remote_logs
                    .clone()
                    .expect("a seated executor keeps remote transcripts"),
                sentinel,
                start: self
                    .lander
                    .as_ref()
                    .map(|l| (l.git(), l.land().to_string())),
            }),
        };
        self.deliver_text(worker, pane, id, prompt, Some(attempt));
        Ok(Vec::new())
    }

    /// Delivers `text` as a job of its own and reports how it went. A task's prompt (an
    /// `attempt`, not a reminder) has its worktree made ready first, its transcript
    /// started, so that it holds the prompt, and receipts for its paste and submission.
    fn deliver_text(
        &self,
        worker: WorkerId,
        pane: PaneId,
        task: TaskId,
        text: String,
        attempt: Option<Attempt>,
    ) {
        let (edges, profile, tx) = (
            self.edges.clone(),
            self.profiles.worker(worker),
            self.tx.clone(),
        );
        self.background(move || {
            // The task's branch is checked out in the worker's worktree before the prompt
            // names it; if it cannot be, nothing is typed.
            let (attempt, prep, again) = match attempt {
                Some(Attempt {
                    n,
                    again,
                    log,
                    prep,
                    remote,
                }) => {
                    if let Some(prep) = &remote
                        && let Err(failure) = prep.run(worker, &task, n)
                    {
                        if matches!(failure, DeliveryFailure::Unreachable(_)) {
                            edges.mux.host_silent(&pane);
                        }
                        return Event::DeliveryFailed {
                            worker,
                            pane,
                            task,
                            failure,
                        };
                    }
                    // A transcript is for people; a failure to start one must not stop work.
                    match &remote {
                        Some(prep) => prep.transcript(&edges, &pane, worker, (&task, n)),
                        None => {
                            let _ = edges.mux.transcript(&pane, Some(&log));
                        }
                    }
                    (Some(n), prep, again)
                }
                None => (None, None, false),
            };
            if let Some(Err(why)) = prep.map(landing::Prep::run) {
                return Event::DeliveryFailed {
                    worker,
                    pane,
                    task,
                    failure: DeliveryFailure::NotSubmitted(why),
                };
            }
            // A delivery its host's loss cut short is finished, not pasted twice.
            let deliver = match again {
                true => crate::deliver::deliver_once,
                false => crate::deliver::deliver,
            };
            match deliver(&*edges.mux, &*edges.clock, &pane, &text, &profile) {
                Ok(delivered) => {
                    if let Some(attempt) = attempt {
                        for receipt in delivery_receipts(&task, attempt, &pane, &text, &delivered) {
                            let _ = tx.send(Msg::Receipt(receipt));
                        }
                    }
                    Event::Delivered { worker, pane, task }
                }
                Err(e) => {
                    let failure = match e {
                        DeliveryError::Refused(why) => DeliveryFailure::Refused(why),
                        DeliveryError::PaneDied => DeliveryFailure::PaneGone,
                        DeliveryError::Tmux(e @ crate::tmux::TmuxError::HostUnreachable { .. }) => {
                            // The link says when the host is back, and the prompt goes again.
                            edges.mux.host_silent(&pane);
                            DeliveryFailure::Unreachable(e.to_string())
                        }
                        e => DeliveryFailure::NotSubmitted(e.to_string()),
                    };
                    Event::DeliveryFailed {
                        worker,
                        pane,
                        task,
                        failure,
                    }
                }
            }
        });
    }

    /// Watches a busy agent until it looks idle for a while without its sentinel. The
    /// screen is read only after the pane has gone quiet, and not again until it writes
    /// more: an agent at work animates, and one that is quiet shows what it showed.
    fn start_monitor(&mut self, worker: WorkerId, pane: PaneId) {
        // A worker that resumes after a pause is watched anew, by one monitor.
        self.stop_monitor(worker);
        let stop = Arc::new(AtomicBool::new(false));
        self.monitors.insert(worker, stop.clone());
        let profile = self.profiles.worker(worker);
        let (edges, tx) = (self.edges.clone(), self.tx.clone());
        let hooks = launch::hooks_dir(&profile, &self.ws);
        let name = worker.to_string();
        // The first sign of the agent at work on the attempt is its `working` receipt.
        let mut working = self.book.on_worker(worker);
        let hook = move || hooks.as_ref().and_then(|dir| hooks::read_state(dir, &name));
        self.edges.jobs.spawn(Box::new(move || {
            let (mux, clock) = (&*edges.mux, &*edges.clock);
            let send = |event| tx.send(Msg::Event(event)).is_ok();
            // The hook state from before this turn (or the last one reported): old news.
            let mut before = hook();
            let mut idle_since: Option<Duration> = None;
            // The output count when the screen was last read, and what it showed.
            let mut looked: Option<(u64, ScreenState)> = None;
            // A condition (a dialog, a question, a rate limit, an API error) reported in
            // the middle of the turn, until the screen no longer shows one.
            let mut blocked = false;
            // Sends the attempt's `working` receipt once the agent shows it at work: its
            // output moved, its hook says a turn began, or its screen is busy.
            let mut tell_working = |moved: bool| {
                let at_work = |_: &mut (TaskId, u32)| {
                    moved
                        || hook().is_some_and(|s| s.event == "UserPromptSubmit")
                        || mux
                            .capture(&pane)
                            .is_ok_and(|screen| profile.classify(&screen) == ScreenState::Busy)
                };
                if let Some((task, attempt)) = working.take_if(at_work) {
                    let (at, stage) = (crate::cost::now_ms(), Stage::Working);
                    let _ = tx.send(Msg::Receipt(Receipt {
                        task,
                        attempt,
                        at,
                        stage,
                    }));
                }
            };
            while !stop.load(Ordering::Relaxed) {
                // Compared across a sleep, not awaited: an agent at work animates many
                // times a second, and waking on each frame would cost more than looking.
                let earlier = mux.output_count(&pane);
                // Looked at before the first sleep too: the turn began as the prompt went in.
                tell_working(false);
                clock.sleep(MONITOR_POLL);
                let count = mux.output_count(&pane);
                tell_working(count != earlier);
                if count != earlier && !blocked {
                    idle_since = None;
                    continue;
                }
                // The agent's own word (a hook that fired since the prompt went in) beats
                // the screen, which is only the fallback.
                let told = hook().filter(|state| Some(state) != before.as_ref());
                if !blocked
                    && let Some(what) = told
                        .as_ref()
                        .and_then(|state| hook_condition(state, &profile, clock))
                {
                    before = told;
                    blocked = true;
                    if !send(blocked_event(worker, &pane, what)) {
                        return;
                    }
                    continue;
                }
                // The screen is read all the same: a turn a hook says is under way can
                // be held up by a limit or a question that fires no hook.
                let screen_seen = match (count, looked) {
                    (Some(count), Some((at, seen))) if at == count => seen,
                    _ => {
                        // A pane that is gone is the pane watcher's news, not ours.
                        let Ok(screen) = mux.capture(&pane) else {
                            return;
                        };
                        let seen = profile.classify(&screen);
                        looked = count.map(|count| (count, seen));
                        if !blocked
                            && let Some(what) = waits::condition(&profile, clock, &screen, seen)
                        {
                            blocked = true;
                            if !send(blocked_event(worker, &pane, what)) {
                                return;
                            }
                        }
                        seen
                    }
                };
                let seen = match told {
                    _ if blocked => screen_seen,
                    Some(state) if state.event == "Stop" => ScreenState::Ready,
                    Some(state) if state.event == "UserPromptSubmit" => ScreenState::Busy,
                    _ => screen_seen,
                };
                if blocked {
                    // A person answered (or the agent went on by itself): the turn goes on.
                    if !matches!(
                        seen,
                        ScreenState::Dialog | ScreenState::RateLimited | ScreenState::ApiError
                    ) {
                        blocked = false;
                        before = hook();
                        let pane = pane.clone();
                        if !send(Event::Ready { worker, pane }) {
                            return;
                        }
                    }
                    continue;
                }
                if seen != ScreenState::Ready {
                    idle_since = None;
                    continue;
                }
                let since = *idle_since.get_or_insert_with(|| clock.now());
                if clock.now() - since >= IDLE_GRACE && !stop.load(Ordering::Relaxed) {
                    send(Event::IdleWithoutSentinel { worker, pane });
                    return;
                }
            }
        }));
    }

    fn stop_monitor(&mut self, worker: WorkerId) {
        if let Some(stop) = self.monitors.remove(&worker) {
            stop.store(true, Ordering::Relaxed);
        }
    }

    /// Removes a pane. An agent that is still alive and has a quit command is asked to
    /// quit first, so that it ends its session the way it would for a person (its
    /// transcript saved); the pane is killed whatever it does.
    fn kill(&self, pane: PaneId) {
        let edges = self.edges.clone();
        let alive = |mux: &dyn Mux, pane: &PaneId| {
            mux.panes()
                .is_ok_and(|panes| panes.iter().any(|p| &p.id == pane && !p.dead))
        };
        let profile = self.profiles.pane(&pane);
        match profile.as_ref().and_then(|p| p.quit.clone()) {
            Some(quit) if alive(&*edges.mux, &pane) => self.edges.jobs.spawn(Box::new(move || {
                let profile = profile.expect("a quit command comes from a profile");
                let (mux, clock) = (&*edges.mux, &*edges.clock);
                if waits::type_command(mux, clock, &pane, &profile, &quit).is_ok() {
                    let deadline = clock.now() + QUIT_GRACE;
                    while alive(mux, &pane) && clock.now() < deadline {
                        clock.sleep(Duration::from_millis(100));
                    }
                }
                // Already gone is fine: the point is that it is gone.
                let _ = mux.kill_pane(&pane);
            })),
            _ => {
                let _ = self.edges.mux.kill_pane(&pane);
            }
        }
    }

    fn reset(&mut self, worker: WorkerId, pane: PaneId) -> anyhow::Result<Vec<Event>> {
        match self.profiles.worker(worker).reset.clone() {
            Reset::Restart => {
                let _ = self.edges.mux.kill_pane(&pane);
                self.spawn(worker)
            }
            Reset::Command(command) => {
                self.then_ready(worker, pane, move |edges, pane, profile, blocked| {
                    let (mux, clock) = (&*edges.mux, &*edges.clock);
                    // An agent that queues the command gets it now, while it ends its
                    // turn (the reply after its sentinel), and runs it as the turn ends.
                    if waits::queue_command(mux, clock, pane, profile, &command)? {
                        let ready = [ScreenState::Ready];
                        return waits::wait_for(
                            mux,
                            clock,
                            pane,
                            profile,
                            TURN_END_TIMEOUT,
                            &ready,
                            blocked,
                        )
                        .map(drop);
                    }
                    // Otherwise the turn ends first. Text left in the box is ours only if it is the
                    // reset command (typed, then the orchestrator was killed before Enter);
                    // anything else a person typed, and stays.
                    let idle = [ScreenState::Ready, ScreenState::InputPending];
                    let state = waits::wait_for(
                        mux,
                        clock,
                        pane,
                        profile,
                        TURN_END_TIMEOUT,
                        &idle,
                        blocked,
                    )?;
                    if state == ScreenState::InputPending {
                        waits::clear_own_leftover(mux, clock, pane, profile, &command)?;
                    }
                    // Copy mode, another program in front, or a person's text in the box:
                    // the pane is theirs until they are done.
                    waits::wait_free(mux, clock, pane, profile, blocked)?;
                    waits::type_command(mux, clock, pane, profile, &command)
                });
                Ok(Vec::new())
            }
        }
    }

    /// Gets a worker going after a rate limit or an API error. What the agent shows about
    /// a limit (Claude's "Continuing automatically · Esc to cancel", Codex's model-switch
    /// popup) is closed with the interrupt key, never accepted with Enter; then the agent
    /// gets a fresh context, which also clears the old condition from its screen.
    fn unpark(&mut self, worker: WorkerId, pane: PaneId) -> anyhow::Result<Vec<Event>> {
        let Reset::Command(command) = self.profiles.worker(worker).reset.clone() else {
            return self.reset(worker, pane);
        };
        self.then_ready(worker, pane, move |edges, pane, profile, blocked| {
            let (mux, clock) = (&*edges.mux, &*edges.clock);
            waits::wait_out_of_mode(mux, clock, pane, blocked)?;
            let screen = mux.capture(pane).map_err(|e| e.to_string())?;
            if profile.classify(&screen) == ScreenState::RateLimited {
                let key = profile.interrupt.as_deref().unwrap_or(INTERRUPT_KEY);
                mux.send_key(pane, key).map_err(|e| e.to_string())?;
                clock.sleep(profile.settle.max(UNPARK_SETTLE));
            }
            waits::type_over(mux, clock, pane, profile, &command)
        });
        Ok(Vec::new())
    }

    /// As a job: `prepare`, then wait for the ready screen; reports `Ready`/`NotReady`. A
    /// screen that only a person or time can clear is reported as it appears.
    fn then_ready(
        &self,
        worker: WorkerId,
        pane: PaneId,
        prepare: impl FnOnce(&Edges, &PaneId, &Profile, &mut dyn FnMut(Blocked)) -> Result<(), String>
        + Send
        + 'static,
    ) {
        let profile = self.profiles.worker(worker);
        let (edges, tx) = (self.edges.clone(), self.tx.clone());
        self.background(move || {
            let mut blocked = |what: Blocked| {
                let _ = tx.send(Msg::Event(blocked_event(worker, &pane, what)));
            };
            let result = prepare(&edges, &pane, &profile, &mut blocked).and_then(|()| {
                waits::wait_ready(
                    &*edges.mux,
                    &*edges.clock,
                    &pane,
                    &profile,
                    profile.startup_timeout,
                    &mut blocked,
                )
            });
            ready_event(worker, &pane, result)
        });
    }

    fn background(&self, job: impl FnOnce() -> Event + Send + 'static) {
        let tx = self.tx.clone();
        self.edges.jobs.spawn(Box::new(move || {
            let _ = tx.send(Msg::Event(job()));
        }));
    }
}

/// The receipts of a prompt that went in: pasted (when, where, how much, its sha256) and
/// submitted (when, and how that was seen), timed back from now by what delivery measured.
fn delivery_receipts(
    task: &TaskId,
    attempt: u32,
    pane: &PaneId,
    text: &str,
    delivered: &crate::deliver::Delivered,
) -> [Receipt; 2] {
    let now = crate::cost::now_ms();
    let submitted = now - delivered.confirmed_in.as_millis() as i64;
    let pasted = submitted - delivered.paste_to_enter.as_millis() as i64;
    let receipt = |at, stage| Receipt {
        task: task.clone(),
        attempt,
        at,
        stage,
    };
    [
        receipt(
            pasted,
            Stage::Pasted {
                pane: pane.clone(),
                bytes: text.len(),
                sha256: crate::receipt::sha256(text),
            },
        ),
        receipt(submitted, Stage::Submitted { how: delivered.how }),
    ]
}

/// What goes out with a task's prompt, and not with a reminder.
struct Attempt {
    n: u32,
    /// Sent again after its host's loss cut the delivery short (`deliver_once`).
    again: bool,
    /// Where the pane's transcript of the attempt goes.
    log: PathBuf,
    /// The task's branch, checked out in the worker's worktree (isolated runs).
    prep: Option<landing::Prep>,
    /// On another host: the attempt's folder to make there, for its sentinel.
    remote: Option<RemotePrep>,
}

/// What goes before a prompt to another host: in an isolated run, the attempt's worktree
/// made there from the landing branch (`start`); then its sentinel's folder, empty.
struct RemotePrep {
    seats: Seats,
    sentinel: PathBuf,
    start: Option<(Arc<dyn crate::git::Git>, String)>,
    logs: Arc<RemoteLogs>,
}

impl RemotePrep {
    /// Gets `task`'s `attempt` ready on `worker`'s host; nothing is typed if it fails.
    fn run(&self, worker: WorkerId, task: &TaskId, attempt: u32) -> Result<(), DeliveryFailure> {
        if let Some((git, land)) = &self.start {
            self.seats
                .start_attempt(worker, task, attempt, (&**git, land))
                .map_err(|e| match e {
                    super::seats::Unready::Unreachable(why) => DeliveryFailure::Unreachable(why),
                    super::seats::Unready::Broken(why) => DeliveryFailure::NotSubmitted(format!(
                        "its worktree on its host could not be made ready: {why}"
                    )),
                })?;
        }
        self.seats
            .prepare(worker, &self.sentinel)
            .map_err(|e| match e {
                super::seats::Unready::Unreachable(why) => DeliveryFailure::Unreachable(why),
                super::seats::Unready::Broken(why) => DeliveryFailure::NotSubmitted(format!(
                    "its folder on its host could not be made: {why}"
                )),
            })
    }

    /// Starts the attempt's transcript, written on the host and read here; the pane's
    /// transcript before it is pulled a last time by a job of its own, off the way of
    /// the prompt.
    fn transcript(&self, edges: &Edges, pane: &PaneId, worker: WorkerId, attempt: (&TaskId, u32)) {
        let Some(place) = self.seats.of(worker) else {
            return;
        };
        // A transcript is for people; a failure to start one must not stop work.
        let Ok(closed) = self.logs.begin(&*edges.mux, pane, place, attempt) else {
            return;
        };
        let logs = self.logs.clone();
        // What goes wrong is for `swarm logs` to say, when a person asks.
        edges
            .jobs
            .spawn(Box::new(move || drop(logs.pull_closed(closed))));
    }
}

/// What the scheduler hears of a screen that waits for a person or for time.
fn blocked_event(worker: WorkerId, pane: &PaneId, what: Blocked) -> Event {
    let pane = pane.clone();
    match what {
        Blocked::Dialog => Event::NeedsHuman {
            worker,
            pane,
            what: "a blocking dialog on screen: answer it in the pane".into(),
        },
        Blocked::Person(what) => Event::Occupied { worker, pane, what },
        Blocked::Question(question) => Event::NeedsHuman {
            worker,
            pane,
            what: format!("the agent asks: {question}"),
        },
        Blocked::RateLimited { until, resets_in } => Event::RateLimited {
            worker,
            pane,
            until,
            resets_in,
        },
        Blocked::ApiError(what) => Event::ApiError { worker, pane, what },
    }
}

/// What a Claude Code hook says holds the agent up: a turn that ended on a usage limit
/// or an API error (`StopFailure`, whose `error` says which and whose
/// `last_assistant_message` holds the agent's words), or a question for a person (a
/// permission `Notification`). An idle reminder is nothing.
pub(super) fn hook_condition(
    state: &hooks::HookState,
    profile: &Profile,
    clock: &dyn Clock,
) -> Option<Blocked> {
    let text = |key: &str| state.payload.get(key).and_then(|v| v.as_str());
    match state.event.as_str() {
        "StopFailure" => {
            let said = text("last_assistant_message").or(text("message"));
            if text("error") == Some("rate_limit") {
                return Some(waits::rate_limit(profile, clock, said.unwrap_or_default()));
            }
            Some(Blocked::ApiError(
                said.or(text("error"))
                    .unwrap_or("the turn ended on an API error")
                    .to_string(),
            ))
        }
        "Notification" => {
            let message = text("message")?;
            let asks = text("notification_type") == Some("permission_prompt")
                || message.contains("permission");
            asks.then(|| Blocked::Question(message.to_string()))
        }
        _ => None,
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
        | Action::AwaitFree { worker, .. }
        | Action::Interrupt { worker, .. }
        | Action::Unpark { worker, .. }
        | Action::Nudge { worker, .. } => Some(*worker),
        _ => None,
    }
}
