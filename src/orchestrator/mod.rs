//! The orchestrator: the loop that feeds events from the edges (sentinels, panes, plan
//! edits, timers, signals) to the pure scheduler and hands its actions to the executor.

mod executor;
pub mod lock;
mod notify;
mod progress;
mod resume;
pub mod snapshot;

use crate::commands;
use crate::config::Settings;
use crate::error::BadInput;
use crate::journal::Journal;
use crate::plan::{Task, TaskId};
use crate::scheduler::{Event, Limits, PlanTask, State, TaskStatus, WorkerId};
use crate::sentinel::Sentinels;
use crate::tmux::{Mux, PaneInfo, PaneNews, Tmux, TmuxError};
use crate::workspace::Workspace;
use anyhow::Context;
use crossbeam_channel::{Receiver, Sender, select};
use executor::Executor;
pub use progress::Progress;
use snapshot::{Header, Snapshot};
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How often sentinels are rescanned and the status file refreshed.
const TICK: Duration = Duration::from_millis(250);
/// How long PLAN.md must be quiet after an edit before it is read again.
const PLAN_QUIET: Duration = Duration::from_millis(200);
/// How often panes are listed as the safety net under the control-mode subscription.
const PANE_RESCAN: Duration = Duration::from_millis(500);

/// What the edges tell the loop.
pub enum Msg {
    Event(Event),
    /// A delayed respawn is due.
    SpawnNow(WorkerId),
    /// The tmux server is gone: nothing left to drive.
    ServerLost(String),
    /// SIGINT, SIGTERM or SIGHUP.
    Signal(i32),
}

/// How a run ended, counting only the tasks that were open when it started.
#[derive(Debug)]
pub struct Summary {
    pub done: usize,
    pub failed: Vec<(TaskId, String)>,
    pub total: usize,
    /// Tasks that were checked before the run and so are not counted above.
    pub already_checked: usize,
    pub skipped: usize,
    pub elapsed: Duration,
    pub interrupted: bool,
}

/// Everything a run needs, checked before any of it starts.
pub struct Run {
    pub ws: Workspace,
    pub settings: Settings,
    pub tasks: Vec<Task>,
    /// Each task's workspace-relative sentinel path.
    pub sentinels: HashMap<TaskId, PathBuf>,
    pub tmux: Tmux,
    pub limits: Limits,
    /// The plan's lock, when the caller took it before touching tmux.
    pub lock: Option<lock::Lock>,
}

/// Drives the plan to the end on an already started tmux session.
pub fn run(run: Run, progress: &mut Progress) -> anyhow::Result<Summary> {
    let started = Instant::now();
    let Run {
        ws,
        settings,
        tasks,
        sentinels: sentinel_paths,
        tmux,
        limits,
        lock: held,
    } = run;
    let (tmux, pane_news) = tmux.linked();
    let tmux = Arc::new(tmux);
    std::fs::create_dir_all(ws.swarm_dir().join("done"))
        .with_context(|| format!("creating {}", ws.swarm_dir().display()))?;
    let _lock = match held {
        Some(held) => held,
        None => lock::acquire(&ws)
            .context("locking the workspace")?
            .map_err(|pid| already_running(&ws, pid))?,
    };
    let (journal, replay) = Journal::open(&ws.journal_path(), &ws.plan)?;
    std::fs::create_dir_all(commands::dir(&ws))?;

    let (tx, rx) = crossbeam_channel::unbounded::<Msg>();
    let (fs_tx, fs_rx) = crossbeam_channel::unbounded();
    let mut watch = Sentinels::new(&ws.root, fs_tx).context("watching the workspace")?;
    watch.watch_dir(&commands::dir(&ws));
    // A symlinked plan is edited where its target is.
    let plan_target = std::fs::canonicalize(&ws.plan)
        .ok()
        .filter(|t| *t != ws.plan);
    if let Some(dir) = plan_target.as_deref().and_then(std::path::Path::parent) {
        watch.watch_dir(dir);
    }
    watch_panes(tmux.clone(), pane_news, tx.clone());
    watch_signals(tx.clone())?;

    let plan_tasks: Vec<PlanTask> = tasks.iter().map(plan_task).collect();
    let mut state = State::new(&plan_tasks, settings.workers, limits);
    state.restore(&replay);
    let adoptions = resume::reconcile(&*tmux, &settings.profile, &replay, settings.workers);
    let mut exec = Executor::new(
        tmux.clone(),
        &settings,
        ws.clone(),
        &tasks,
        sentinel_paths.clone(),
        tx.clone(),
        (journal, replay),
    )?;

    // A sentinel that already exists means the task is done, even if PLAN.md says not.
    let mut actions = Vec::new();
    for task in tasks.iter().filter(|t| !t.checked) {
        if ws.root.join(&sentinel_paths[&task.id]).exists() {
            actions.extend(state.handle(Event::Sentinel {
                task: task.id.clone(),
            }));
        }
    }
    for adoption in adoptions {
        exec.adopt_window(adoption.worker, adoption.window);
        if let Some(task) = &adoption.task
            && let Some(done) = watch.expect(&sentinel_paths[task], task.clone())
        {
            actions.extend(state.handle(Event::Sentinel { task: done }));
        }
        actions.extend(state.adopt(adoption.worker, adoption.pane, adoption.task));
    }
    actions.extend(take_commands(&ws, &mut state));
    actions.extend(state.start());

    let header_socket = tmux.socket.clone();
    let plan_name = ws.plan_name();
    let header = Header {
        plan: &plan_name,
        socket: &header_socket,
        session: &settings.session,
        // The scheduler's run time counts from `started`, so tasks' start times line up.
        started: snapshot::now() - started.elapsed().as_secs_f64(),
    };
    let ticker = crossbeam_channel::tick(TICK);
    let mut dirty = true;
    let mut snapshot_due = Instant::now();
    let mut interrupted = false;
    let mut plan_touched: Option<Instant> = None;
    progress.update(&state);

    loop {
        let mut queue: std::collections::VecDeque<_> = actions.drain(..).collect();
        while let Some(action) = queue.pop_front() {
            progress.action(&action, exec.tasks());
            for event in exec.execute(action, &mut watch)? {
                queue.extend(state.handle(event));
            }
            dirty = true;
        }
        exec.flush_checkoffs()?;
        if state.is_finished() {
            break;
        }
        select! {
            recv(rx) -> msg => match msg.expect("the loop holds a sender") {
                Msg::Event(event) => {
                    progress.event(&event);
                    if matches!(event, Event::IdleWithoutSentinel { .. }) {
                        // The sentinel may be there with its inotify event still queued.
                        for task in watch.rescan() {
                            actions.extend(state.handle(Event::Sentinel { task }));
                        }
                    }
                    actions.extend(state.handle(event));
                }
                Msg::SpawnNow(worker) => {
                    for event in exec.spawn(worker)? {
                        actions.extend(state.handle(event));
                    }
                }
                Msg::ServerLost(why) => {
                    write_snapshot(&ws, &header, &state, &exec);
                    anyhow::bail!(
                        "the tmux server went away ({why}); the run stops here\nhint: PLAN.md has every finished task checked; run `swarm run` again to go on"
                    );
                }
                Msg::Signal(_) => {
                    interrupted = true;
                    break;
                }
            },
            recv(fs_rx) -> ev => {
                if let Ok(Ok(ev)) = ev {
                    for task in watch.on_event(&ev) {
                        actions.extend(state.handle(Event::Sentinel { task }));
                    }
                    if ev.paths.iter().any(|p| p == &ws.plan || Some(p) == plan_target.as_ref()) {
                        plan_touched = Some(Instant::now());
                    }
                    if ev.paths.iter().any(|p| p.starts_with(commands::dir(&ws))) {
                        let commanded = take_commands(&ws, &mut state);
                        dirty |= !commanded.is_empty();
                        actions.extend(commanded);
                    }
                }
            },
            recv(ticker) -> _ => {
                // A plan being written is read only once it has been quiet for a moment:
                // a half-written file would look like tasks were removed.
                if plan_touched.is_some_and(|t| t.elapsed() >= PLAN_QUIET) {
                    plan_touched = None;
                    actions.extend(plan_edited(&mut state, &mut exec, &mut watch, progress));
                }
                actions.extend(state.handle(Event::Tick { now: started.elapsed() }));
                let commanded = take_commands(&ws, &mut state);
                dirty |= !commanded.is_empty();
                actions.extend(commanded);
                for task in watch.rescan() {
                    actions.extend(state.handle(Event::Sentinel { task }));
                }
                // At most 5 % of the time goes to the status file: a 10,000-task plan's
                // takes milliseconds to write, so it is written less often.
                if dirty && Instant::now() >= snapshot_due {
                    let began = Instant::now();
                    write_snapshot(&ws, &header, &state, &exec);
                    snapshot_due = Instant::now() + began.elapsed() * 20;
                    dirty = false;
                }
                progress.update(&state);
            },
        }
    }
    // Check-offs still waiting for a plan a person is saving land before the run ends.
    exec.settle_plan(progress);
    write_snapshot(&ws, &header, &state, &exec);
    let failed = state
        .tasks()
        .iter()
        .filter_map(|t| match &t.status {
            TaskStatus::Failed(reason) => Some((t.id.clone(), reason.clone())),
            _ => None,
        })
        .collect();
    let already_checked = tasks.iter().filter(|t| t.checked).count();
    Ok(Summary {
        done: state
            .count(|s| *s == TaskStatus::Done)
            .saturating_sub(already_checked),
        failed,
        total: state.tasks().len().saturating_sub(already_checked),
        already_checked,
        skipped: state.count(|s| *s == TaskStatus::Skipped),
        elapsed: started.elapsed(),
        interrupted,
    })
}

/// Hands a person's queued commands to the scheduler.
fn take_commands(ws: &Workspace, state: &mut State) -> Vec<crate::scheduler::Action> {
    commands::take(ws)
        .into_iter()
        .flat_map(|command| state.handle(Event::Command(command)))
        .collect()
}

fn already_running(ws: &Workspace, pid: Option<u32>) -> BadInput {
    let who = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
    BadInput::new(format!(
        "a swarm is already running for {}{who}",
        ws.plan.display()
    ))
    .hint("`swarm attach` to watch it, `swarm status` to see it, or `swarm stop` to end it")
}

fn plan_task(task: &Task) -> PlanTask {
    PlanTask {
        id: task.id.clone(),
        checked: task.checked,
    }
}

/// Re-reads PLAN.md after a person edited it. A plan that does not parse right now (the
/// person is mid-edit) is ignored until the next edit.
fn plan_edited(
    state: &mut State,
    exec: &mut Executor,
    watch: &mut Sentinels,
    progress: &mut Progress,
) -> Vec<crate::scheduler::Action> {
    let (tasks, refresh) = exec.plan_edited();
    if let Some(problem) = &refresh.problem {
        progress.warn(&format!(
            "{problem}; swarm goes on with the last good plan and picks up the next good save"
        ));
    }
    let Some(tasks) = tasks else {
        return Vec::new();
    };
    for task in &tasks {
        if !exec.tasks().contains_key(&task.id) {
            // A new task with an unusable sentinel path is left out, not fatal.
            if let Ok(sentinel) = crate::prompt::sentinel_for(task) {
                exec.learn(task.clone(), sentinel);
            }
        }
    }
    let known: Vec<PlanTask> = tasks
        .iter()
        .filter(|t| exec.tasks().contains_key(&t.id))
        .map(plan_task)
        .collect();
    let before: HashSet<TaskId> = state.tasks().iter().map(|t| t.id.clone()).collect();
    let actions = state.handle(Event::PlanChanged { tasks: known });
    for gone in before.iter().filter(|id| state.task(id).is_none()) {
        watch.forget(gone);
    }
    actions
}

fn write_snapshot(ws: &Workspace, header: &Header, state: &State, exec: &Executor) {
    // The snapshot is a convenience for `swarm status`; a failed write must not stop work.
    let _ = Snapshot::capture(header, state, exec.tasks()).write(&ws.state_path());
}

/// Reports dead panes (or panes with a shell in front) once each, and a lost server:
/// pushed by the link's subscription, with a slow `list-panes` (over the same link) as the
/// safety net: under load the subscription was seen to miss a change.
fn watch_panes(tmux: Arc<Tmux>, news: Receiver<PaneNews>, tx: Sender<Msg>) {
    let reported = Arc::new(Mutex::new(HashSet::new()));
    let report = {
        let (reported, tx) = (reported.clone(), tx.clone());
        move |info: PaneInfo| -> bool {
            // An agent that exited to a shell is as gone as a dead pane.
            if (info.dead || info.shell_in_front())
                && reported
                    .lock()
                    .expect("not poisoned")
                    .insert(info.id.clone())
            {
                let event = Event::PaneDead {
                    pane: info.id,
                    status: info.dead_status,
                };
                return tx.send(Msg::Event(event)).is_ok();
            }
            true
        }
    };
    let poll_report = report.clone();
    let poll_tx = tx.clone();
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(PANE_RESCAN);
            match tmux.panes() {
                Ok(panes) => {
                    if !panes.into_iter().all(&poll_report) {
                        return;
                    }
                }
                Err(TmuxError::ServerGone { .. }) => {
                    let _ = poll_tx.send(Msg::ServerLost("no tmux server on the socket".into()));
                    return;
                }
                // A slow or failed listing is retried on the next rescan.
                Err(_) => {}
            }
        }
    });
    std::thread::spawn(move || {
        for item in news {
            match item {
                PaneNews::Changed(info) => {
                    if !report(info) {
                        return;
                    }
                }
                PaneNews::ServerGone => break,
            }
        }
        let _ = tx.send(Msg::ServerLost("no tmux server on the socket".into()));
    });
}

fn watch_signals(tx: Sender<Msg>) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("installing signal handlers")?;
    std::thread::spawn(move || {
        if let Some(signal) = signals.forever().next() {
            let _ = tx.send(Msg::Signal(signal));
        }
    });
    Ok(())
}
