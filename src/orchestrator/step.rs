//! The run loop's step function: one input (an event from the edges, a file-system
//! change, a tick) in, the scheduler's decisions carried out, and whether to go on. The
//! `select!` in `orchestrator::run` only feeds it, so the whole loop is tested with a fake
//! tmux and a manual clock (docs/architecture.md, "The run loop").

use super::executor::{Edges, Executor};
use super::landing::{LandSpec, Lander};
use super::profiles::Profiles;
use super::snapshot::{self, Header, Snapshot};
use super::transcripts::Which;
use super::{Msg, Progress, Summary, resume};
use crate::clock::Clock;
use crate::commands;
use crate::config::Settings;
use crate::error::Failure;
use crate::journal::{Journal, Record, Replay};
use crate::plan::{Task, TaskId};
use crate::scheduler::{Action, Event, Limits, PlanTask, Scope, ScopeDefault, State, TaskStatus};
use crate::sentinel::Sentinels;
use crate::workspace::Workspace;
use crossbeam_channel::Sender;
use std::collections::{HashMap, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long PLAN.md must be quiet after an edit before it is read again: a half-written
/// file would look like tasks were removed.
pub const PLAN_QUIET: Duration = Duration::from_millis(200);
/// How long a check-off may wait for the inputs queued behind it, so that a burst of
/// completions costs one write of PLAN.md, not one each.
const CHECKOFF_BATCH: Duration = Duration::from_millis(5);
/// The share of the loop's time the status file may take: a 10,000-task plan's takes
/// milliseconds to write, so it is written less often.
const SNAPSHOT_SHARE: u32 = 20;
/// How long the end of a run waits for agents still busy with a reply after their
/// sentinels.
const AGENTS_SETTLE: Duration = Duration::from_secs(15);

/// What wakes the loop.
pub enum Input {
    /// Something an edge reported.
    Msg(Msg),
    /// A change in a watched directory: a sentinel, PLAN.md, a queued command.
    Fs(notify::Event),
    /// Time passed: deadlines, debounced plan reads, rescans and the status file.
    Tick,
}

/// Whether the loop goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Go,
    /// Every task is done, failed or skipped.
    Finished,
    /// A signal asked the run to stop.
    Interrupted,
}

/// What a run starts from, read and checked before the loop exists.
pub struct Start {
    pub ws: Workspace,
    pub settings: Settings,
    pub tasks: Vec<Task>,
    pub sentinels: HashMap<TaskId, PathBuf>,
    pub limits: Limits,
    pub journal: (Journal, Replay),
    /// The tmux socket, for the status file.
    pub socket: String,
    /// Where a symlinked PLAN.md really is: edits show up there.
    pub plan_target: Option<PathBuf>,
    /// In an isolated run: git, and where and how tasks land.
    pub landing: Option<(Arc<dyn crate::git::Git>, LandSpec)>,
    /// Workers on other hosts (`settings.remote_pools`), where they work there.
    pub seats: Option<super::seats::Seats>,
}

/// The status file's budget: after a write that took `t`, the next waits `t × 20`.
#[derive(Debug, Default)]
struct Budget {
    due: Duration,
}

impl Budget {
    fn allows(&self, now: Duration) -> bool {
        now >= self.due
    }

    fn spent(&mut self, now: Duration, took: Duration) {
        self.due = now + took * SNAPSHOT_SHARE;
    }
}

/// The orchestrator between two inputs.
pub struct Loop<'p> {
    ws: Workspace,
    state: State,
    exec: Executor,
    watch: Sentinels,
    clock: Arc<dyn Clock>,
    progress: &'p mut Progress,
    plan_name: String,
    socket: String,
    session: String,
    /// The run's start in Unix time, minus the clock's reading then, so that run time
    /// maps to wall time in the status file.
    epoch: f64,
    started: Duration,
    actions: Vec<Action>,
    /// Something changed since the status file was last written.
    dirty: bool,
    budget: Budget,
    /// Where a symlinked PLAN.md really is.
    plan_target: Option<PathBuf>,
    /// When PLAN.md was last seen changing, until it has been read again.
    plan_touched: Option<Duration>,
    /// Since when check-offs wait to be written, if any do.
    checkoffs_since: Option<Duration>,
    /// Running tasks a person edited after their prompts went out.
    edited: HashSet<TaskId>,
    already_checked: usize,
    /// What a task without `{files=…}` may change.
    scopes: ScopeDefault,
    /// What tokens cost, by model.
    prices: crate::cost::Prices,
    /// Where the agents keep their records, for what the run costs.
    sources: crate::cost::Sources,
}

impl<'p> Loop<'p> {
    /// Takes over what an earlier orchestrator left (live panes, sentinels that exist
    /// already, queued commands), starts the agents there is work for, and carries out
    /// the first actions.
    pub fn start(
        start: Start,
        edges: Edges,
        tx: Sender<Msg>,
        mut watch: Sentinels,
        progress: &'p mut Progress,
    ) -> anyhow::Result<Loop<'p>> {
        let Start {
            ws,
            settings,
            tasks,
            sentinels,
            limits,
            journal: (journal, replay),
            socket,
            plan_target,
            landing,
            seats,
        } = start;
        let scopes = settings.scope_default;
        let plan_tasks: Vec<PlanTask> = tasks.iter().map(|t| plan_task(t, scopes)).collect();
        let pools = settings.scheduler_pools();
        let mut state = State::with_pools(&plan_tasks, &pools, &settings.profile.name, limits);
        for pool in &settings.remote_pools {
            let host = &pool.host;
            state.add_remote_workers(
                &host.host.name,
                &host.tags,
                &pool.profile.name,
                pool.workers,
            );
        }
        state.set_lease_grace(settings.lease_grace);
        let (clock, mux) = (edges.clock.clone(), edges.mux.clone());
        state.set_budgets(settings.costing.budgets);
        let lander = landing
            .map(|(git, spec)| Lander::new(git, ws.clone(), spec, (tx.clone(), clock.clone())))
            .transpose()?;
        state.set_lands(lander.is_some());
        let mut exec = Executor::new(
            edges,
            &settings,
            ws.clone(),
            &tasks,
            sentinels.clone(),
            tx,
            (journal, replay),
        )?
        .isolated(lander);
        if let Some(seats) = seats {
            exec = exec.seated(seats);
        }
        state.restore(exec.replay());
        let adoptions = resume::reconcile(&*mux, exec.profiles(), exec.replay());
        for adoption in &adoptions {
            exec.profiles().started(adoption.worker, &adoption.pane);
        }
        // A prompt that was going out when the last orchestrator died, and that no agent
        // is working on now, never reached one: its attempt is given back.
        let unsent: Vec<TaskId> = exec
            .replay()
            .tasks
            .iter()
            .filter(|(_, h)| h.running.as_ref().is_some_and(|f| !f.delivered))
            .map(|(id, _)| id.clone())
            .filter(|id| !adoptions.iter().any(|a| a.task.as_ref() == Some(id)))
            .collect();

        let mut actions: Vec<Action> = unsent.iter().flat_map(|id| state.give_back(id)).collect();
        // A sentinel that already exists means the task is done, even if PLAN.md says not
        // (in an isolated run: in the worktree of the worker that last ran it).
        for task in tasks.iter().filter(|t| !t.checked) {
            let sentinel = match exec.lander() {
                None => Some(sentinels[&task.id].clone()),
                Some(_) => state
                    .task(&task.id)
                    .filter(|t| t.status == TaskStatus::Pending)
                    .and_then(|t| t.last_worker())
                    .and_then(|w| exec.sentinel_at(&task.id, w)),
            };
            if sentinel.is_some_and(|s| ws.root.join(s).exists()) {
                actions.extend(state.handle(Event::Sentinel {
                    task: task.id.clone(),
                }));
            }
        }
        for adoption in adoptions {
            exec.adopt_window(adoption.worker, adoption.window);
            if let Some(task) = &adoption.task {
                exec.adopt_transcript(adoption.worker, &adoption.pane, task);
            }
            if let Some(task) = &adoption.task
                && let Some(sentinel) = exec.sentinel_at(task, adoption.worker)
                && let Some(done) = watch.expect(&sentinel, task.clone())
            {
                actions.extend(state.handle(Event::Sentinel { task: done }));
            }
            actions.extend(state.adopt(adoption.worker, adoption.pane, adoption.task));
        }
        actions.extend(take_commands(&ws, &mut state));
        actions.extend(state.start());
        progress.update(&state);
        let now = clock.now();
        let workers = state.workers().len();
        let cwds: HashSet<PathBuf> = (0..workers).map(|w| exec.cwd(w)).collect();
        let sources = crate::cost::Sources::new(
            cwds.into_iter().collect(),
            crate::agent::launch::hooks_dir(&settings.profile, &ws),
            crate::cost::now_ms(),
        );
        let mut lp = Loop {
            prices: settings.costing.prices.clone(),
            sources,
            plan_name: ws.plan_name(),
            ws,
            state,
            exec,
            watch,
            epoch: snapshot::now() - now.as_secs_f64(),
            started: now,
            clock,
            progress,
            socket,
            session: settings.session.clone(),
            actions,
            dirty: true,
            budget: Budget::default(),
            plan_target,
            plan_touched: None,
            checkoffs_since: None,
            edited: HashSet::new(),
            already_checked: tasks.iter().filter(|t| t.checked).count(),
            scopes,
        };
        lp.carry_out()?;
        lp.idle()?;
        Ok(lp)
    }

    /// Takes one input, carries out what the scheduler decides (dispatches at once), and
    /// says whether to go on. Check-offs wait for `idle`, unless the run is over.
    pub fn on(&mut self, input: Input) -> anyhow::Result<Flow> {
        match input {
            Input::Msg(Msg::Event(event)) => {
                self.progress.event(&event);
                if matches!(event, Event::IdleWithoutSentinel { .. }) {
                    // The sentinel may be there with its inotify event still queued.
                    self.rescan();
                }
                // A transcript on another host comes here as its attempt ends, and after
                // its host was out of reach.
                match &event {
                    Event::AttemptDone { task, attempt } => self
                        .exec
                        .pull_transcripts(Which::Attempt(task.clone(), *attempt)),
                    Event::HostBack { host, .. } => {
                        self.exec.pull_transcripts(Which::Host(host.clone()))
                    }
                    _ => {}
                }
                self.handle(event);
            }
            Input::Msg(Msg::SpawnNow(worker)) => {
                for event in self.exec.spawn(worker)? {
                    self.handle(event);
                }
            }
            Input::Msg(Msg::ServerLost(why)) => {
                self.write_snapshot();
                return Err(Failure::new(format!(
                    "the tmux server went away ({why}); the run stops here"
                ))
                .hint("PLAN.md has every finished task checked; run `swarm run` again to go on")
                .into());
            }
            Input::Msg(Msg::Signal) => return Ok(Flow::Interrupted),
            Input::Msg(Msg::Warn(text)) => self.progress.warn(&text),
            Input::Msg(Msg::Receipt(receipt)) => self.exec.receipt(receipt)?,
            Input::Msg(Msg::Spent(spends)) => self.spent(&spends),
            Input::Msg(Msg::Stage {
                task,
                stage,
                commit,
            }) => {
                self.progress.stage(&task, stage.name(), commit.as_deref());
                self.exec.staged(task, stage, commit)?;
            }
            Input::Fs(event) => {
                for task in self.watch.on_event(&event) {
                    self.handle(Event::Sentinel { task });
                }
                let plan = |p: &PathBuf| p == &self.ws.plan || Some(p) == self.plan_target.as_ref();
                if event.paths.iter().any(plan) {
                    self.plan_touched = Some(self.clock.now());
                }
                let commands = commands::dir(&self.ws);
                if event.paths.iter().any(|p| p.starts_with(&commands)) {
                    self.take_commands();
                }
            }
            Input::Tick => self.tick(),
        }
        self.carry_out()?;
        let flow = self.flow();
        if flow != Flow::Go {
            self.idle()?;
        }
        Ok(flow)
    }

    /// No input waits: writes the check-offs gathered since the last time, in one write
    /// of PLAN.md.
    pub fn idle(&mut self) -> anyhow::Result<()> {
        self.checkoffs_since = None;
        self.exec.flush_checkoffs()
    }

    /// Check-offs have waited long enough for the inputs behind them: write them even
    /// though more inputs wait.
    pub fn checkoffs_due(&self) -> bool {
        self.checkoffs_since
            .is_some_and(|since| self.clock.now() - since >= CHECKOFF_BATCH)
    }

    /// Whether there is anything left to do.
    pub fn flow(&self) -> Flow {
        if self.state.is_finished() {
            Flow::Finished
        } else {
            Flow::Go
        }
    }

    /// How the run ended, counting only the tasks that were open when it started.
    pub fn finish(mut self, interrupted: bool) -> Summary {
        // Check-offs still waiting for a plan a person is saving land before the run ends.
        self.exec.settle_plan(self.progress);
        // What the agents on other hosts printed last comes here.
        self.exec.pull_transcripts_now(self.progress);
        // The last word on what the run cost.
        let spends = self.sources.read();
        let names = self.exec.sentinel_names();
        self.exec.book_mut().spent(&spends, &names, &self.prices);
        self.write_snapshot();
        let state = &self.state;
        let failed = state
            .tasks()
            .iter()
            .filter_map(|t| match &t.status {
                TaskStatus::Failed(reason) => Some((t.id.clone(), reason.clone())),
                // Not done either: it waited for a task that did not get done.
                TaskStatus::Blocked(why) => Some((t.id.clone(), format!("blocked: {why}"))),
                _ => None,
            })
            .collect();
        let already_checked = self.already_checked;
        let landed = self.exec.lander().map(|lander| {
            let stages = self.exec.stages();
            let landed = stages
                .values()
                .filter(|(stage, _)| *stage == super::landing::Stage::Landed)
                .count();
            (lander.land().to_string(), landed)
        });
        if let Some(lander) = self.exec.lander()
            && !interrupted
            && state.is_finished()
        {
            // The work is on its branches; the worktrees go unless one holds more.
            lander.tidy(state.workers().len());
        }
        let budgets = state.budgets();
        let book = self.exec.book();
        let cost = super::Costs {
            total: book.total().clone(),
            tasks: book.tasks_spent().clone(),
            stages: state
                .tasks()
                .iter()
                .filter_map(|t| Some((t.id.clone(), book.latest(&t.id)?)))
                .collect(),
            budget: budgets.run,
            task_budget: budgets.task,
            budget_reached: state.budget_reached(),
            left: state.count(|s| *s == TaskStatus::Pending),
        };
        Summary {
            cost,
            landed,
            done: state
                .count(|s| *s == TaskStatus::Done)
                .saturating_sub(already_checked),
            failed,
            total: state.tasks().len().saturating_sub(already_checked),
            already_checked,
            skipped: state.count(|s| *s == TaskStatus::Skipped),
            interrupted,
        }
    }

    /// The profile of each worker, and of each worker pane as it starts.
    pub fn profiles(&self) -> &Profiles {
        self.exec.profiles()
    }

    /// Lets the agents end the turns that outlive their tasks' sentinels (bounded), so
    /// that what they record, and so what the run cost, is complete.
    pub fn settle_agents(&self) {
        let panes: Vec<_> = self
            .state
            .workers()
            .iter()
            // An idle agent's turn is over (its reset waited for that): nothing to wait for.
            .filter(|w| *w.state() != crate::scheduler::WorkerState::Idle)
            .filter_map(|w| Some((w.id, w.pane()?.clone())))
            .collect();
        self.exec.settle_agents(&panes, AGENTS_SETTLE);
    }

    /// Where the agents keep their records: the cost poller reads them.
    pub fn cost_sources(&self) -> crate::cost::Sources {
        self.sources.clone()
    }

    /// Takes what the agents' records say was spent; a task whose cost changed is news
    /// for the budgets.
    fn spent(&mut self, spends: &[crate::cost::Spend]) {
        let names = self.exec.sentinel_names();
        let changed = self.exec.book_mut().spent(spends, &names, &self.prices);
        for (task, spent) in changed {
            if let Some(cost) = spent.cost {
                let micros = (cost * 1e6).round() as u64;
                self.handle(Event::Spent { task, micros });
            }
        }
        self.dirty = true;
    }

    #[cfg(test)]
    pub fn state(&self) -> &State {
        &self.state
    }

    fn handle(&mut self, event: Event) {
        let actions = self.state.handle(event);
        self.actions.extend(actions);
    }

    fn tick(&mut self) {
        let now = self.clock.now();
        if self
            .plan_touched
            .is_some_and(|touched| now - touched >= PLAN_QUIET)
        {
            self.plan_touched = None;
            self.plan_edited();
        }
        self.handle(Event::Tick {
            now: now - self.started,
        });
        self.take_commands();
        self.rescan();
        if self.dirty && self.budget.allows(now) {
            let began = Instant::now();
            self.write_snapshot();
            self.budget.spent(now, began.elapsed());
            self.dirty = false;
        }
        self.progress.update(&self.state);
    }

    fn rescan(&mut self) {
        for task in self.watch.rescan() {
            self.handle(Event::Sentinel { task });
        }
    }

    fn take_commands(&mut self) {
        let actions = take_commands(&self.ws, &mut self.state);
        self.dirty |= !actions.is_empty();
        self.actions.extend(actions);
    }

    /// Carries out the pending actions and all that follows from them. Check-offs are
    /// gathered for `idle`: after the dispatches, so that a check-off never delays one.
    fn carry_out(&mut self) -> anyhow::Result<()> {
        let mut queue: VecDeque<Action> = self.actions.drain(..).collect();
        while let Some(action) = queue.pop_front() {
            if matches!(action, Action::CheckOff { .. }) && self.checkoffs_since.is_none() {
                self.checkoffs_since = Some(self.clock.now());
            }
            self.progress.action(&action, self.exec.tasks());
            for event in self.exec.execute(action, &mut self.watch)? {
                queue.extend(self.state.handle(event));
            }
            self.dirty = true;
        }
        Ok(())
    }

    /// Re-reads PLAN.md after a person edited it. A plan that does not parse right now
    /// (the person is mid-edit) is ignored until the next edit.
    fn plan_edited(&mut self) {
        let (tasks, refresh) = self.exec.plan_edited();
        if let Some(problem) = &refresh.problem {
            self.progress.warn(&format!(
                "{problem}; swarm goes on with the last good plan and picks up the next good save"
            ));
        }
        for task in refresh.edited {
            let running = self
                .state
                .task(&task)
                .is_some_and(|t| t.status == TaskStatus::Running);
            if running {
                self.progress.warn(&format!(
                    "task `{task}` was edited after its prompt went out: its agent works from the text before the edit"
                ));
                self.edited.insert(task.clone());
            }
            self.actions
                .push(Action::Journal(Record::Edited { task, running }));
        }
        let Some(tasks) = tasks else {
            return;
        };
        for task in &tasks {
            if !self.exec.tasks().contains_key(&task.id) {
                // A new task with an unusable sentinel path or a forbidden output is left
                // out, not fatal. (A plan with a task for a profile no pool runs is not
                // taken at all: the executor's plan reports it.)
                let sentinel = crate::plan::check_output(task, &self.ws.plan)
                    .ok()
                    .and_then(|()| crate::prompt::sentinel_for(task).ok());
                if let Some(sentinel) = sentinel {
                    self.exec.learn(task.clone(), sentinel);
                }
            } else if let Some(known) = self.exec.tasks().get(&task.id)
                && (known.after != task.after || known.children != task.children)
            {
                // What it waits for changed, not its text: its prompt names the new list.
                let known = Task {
                    after: task.after.clone(),
                    children: task.children.clone(),
                    ..known.clone()
                };
                if let Ok(sentinel) = crate::prompt::sentinel_for(&known) {
                    self.exec.learn(known, sentinel);
                }
            }
        }
        let root = &self.ws.root;
        let state = &self.state;
        let known: Vec<PlanTask> = tasks
            .iter()
            .filter(|t| self.exec.tasks().contains_key(&t.id))
            .map(|t| {
                let mut task = plan_task(t, self.scopes);
                // A done task comes unchecked for the scheduler to redo only once its
                // sentinel is gone too (the documented redo); with the sentinel there, a
                // stale save lost the check mark, and the task stays done.
                if !task.checked
                    && state
                        .task(&t.id)
                        .is_some_and(|e| e.status == TaskStatus::Done)
                {
                    task.checked =
                        crate::prompt::sentinel_for(t).is_ok_and(|path| root.join(path).exists());
                }
                task
            })
            .collect();
        let before: HashSet<TaskId> = self.state.tasks().iter().map(|t| t.id.clone()).collect();
        self.handle(Event::PlanChanged { tasks: known });
        for gone in before.iter().filter(|id| self.state.task(id).is_none()) {
            self.watch.forget(gone);
        }
    }

    fn write_snapshot(&self) {
        let header = Header {
            plan: &self.plan_name,
            socket: &self.socket,
            session: &self.session,
            started: self.epoch + self.started.as_secs_f64(),
            land: self.exec.lander().map(|l| l.land()),
        };
        // The snapshot is a convenience for `swarm status`; a failed write must not stop work.
        let _ = Snapshot::capture(
            &header,
            &self.state,
            self.exec.tasks(),
            &self.edited,
            self.exec.stages(),
            self.exec.kept(),
            self.exec.book(),
        )
        .write(&self.ws.state_path());
    }
}

/// Hands a person's queued commands to the scheduler.
fn take_commands(ws: &Workspace, state: &mut State) -> Vec<Action> {
    commands::take(ws)
        .into_iter()
        .flat_map(|command| state.handle(Event::Command(command)))
        .collect()
}

fn plan_task(task: &Task, scopes: ScopeDefault) -> PlanTask {
    PlanTask {
        id: task.id.clone(),
        checked: task.checked,
        after: task.waits_for().cloned().collect(),
        scope: Scope::of(&task.files, scopes),
        agent: task.agent.clone(),
        tags: task.tags.clone(),
    }
}

#[cfg(test)]
mod budget_tests {
    use super::Budget;
    use std::time::Duration;

    #[test]
    fn the_status_file_takes_at_most_a_twentieth_of_the_time() {
        let ms = Duration::from_millis;
        let mut budget = Budget::default();
        assert!(budget.allows(ms(0)));
        // A write that took 10 ms at 1 s: the next one waits until 1.2 s.
        budget.spent(ms(1000), ms(10));
        assert!(!budget.allows(ms(1199)));
        assert!(budget.allows(ms(1200)));
    }
}
