//! The orchestrator: the loop that feeds events from the edges (sentinels, panes, plan
//! edits, timers, signals) to the pure scheduler and hands its actions to the executor.

mod executor;
mod fleet;
mod hosts;
mod joblog;
mod jobs;
mod landing;
pub use landing::LandSpec;

pub use hosts::preflight as preflight_hosts;

/// The branch every attempt at `task` works on, in an isolated run.
pub fn task_branch(task: &TaskId) -> String {
    landing::Lander::branch(task)
}
pub mod lock;
mod notify;
mod profiles;
mod progress;
mod receipts;
mod resume;
mod seats;
pub mod snapshot;
mod step;
pub mod stop;
#[cfg(test)]
mod tests;
mod transcripts;

use crate::clock::SystemClock;
use crate::commands;
use crate::config::Settings;
use crate::error::BadInput;
use crate::journal::Journal;
use crate::plan::{Task, TaskId};
use crate::scheduler::{Event, Limits, WorkerId};
use crate::sentinel::Sentinels;
use crate::tmux::{Mux, PaneInfo, PaneNews, Tmux, TmuxError};
use crate::workspace::Workspace;
use anyhow::Context;
use crossbeam_channel::{Receiver, Sender, select};
use executor::Edges;
use profiles::Profiles;
pub use progress::Progress;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use step::{Flow, Input, Loop, Start};

/// How often sentinels are rescanned and the status file refreshed.
const TICK: Duration = Duration::from_millis(250);
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
    Signal,
    /// A stage of an attempt, timed where it happened (a delivery, a monitor).
    Receipt(crate::receipt::Receipt),
    /// What the agents' records say was spent so far this run.
    Spent(Vec<crate::cost::Spend>),
    /// Something a person should know, for the progress lines.
    Warn(String),
    /// A task's work moved on towards the landing branch.
    Stage {
        task: TaskId,
        stage: landing::Stage,
        commit: Option<String>,
    },
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
    pub interrupted: bool,
    /// In an isolated run: the landing branch, and how many tasks landed on it.
    pub landed: Option<(String, usize)>,
    /// What the run cost, against its budgets.
    pub cost: Costs,
}

/// What a run cost, by its agents' records, and its budgets (micro-dollars).
#[derive(Debug, Default)]
pub struct Costs {
    pub total: crate::cost::Spent,
    pub tasks: std::collections::BTreeMap<TaskId, crate::cost::Spent>,
    /// Each task's latest receipt.
    pub stages: HashMap<TaskId, crate::receipt::Latest>,
    pub budget: Option<u64>,
    pub task_budget: Option<u64>,
    /// The run's budget was reached, and dispatch stopped.
    pub budget_reached: bool,
    /// Tasks left pending (never started, or waiting to go again).
    pub left: usize,
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
    /// In an isolated run: git, and where and how tasks land.
    pub landing: Option<(Arc<dyn crate::git::Git>, LandSpec)>,
}

/// Drives the plan to the end on an already started tmux session.
pub fn run(run: Run, progress: &mut Progress) -> anyhow::Result<Summary> {
    let Run {
        ws,
        settings,
        tasks,
        sentinels,
        tmux,
        limits,
        lock: held,
        landing,
    } = run;
    let clock = Arc::new(SystemClock::new());
    let (tmux, local_news) = tmux.linked();
    let socket = tmux.socket.clone();
    let local: Arc<dyn Mux> = Arc::new(tmux);
    // Other hosts' panes join this machine's in one fleet, and their news in one stream.
    let (news_tx, pane_news) = crossbeam_channel::unbounded();
    forward(local_news, news_tx.clone());
    let hosts = match settings.remote_pools.is_empty() {
        true => None,
        false => {
            let ssh = Arc::new(crate::ssh::SystemSsh::new().context("preparing ssh")?);
            // The repository's top: the workspace, less its place inside the repository.
            let top = landing.as_ref().map(|(_, spec)| {
                let mut top = ws.root.clone();
                for _ in spec.prefix.components() {
                    top.pop();
                }
                top
            });
            Some(hosts::connect(
                &settings,
                (&ws.root, top.as_deref()),
                &socket,
                ssh,
            )?)
        }
    };
    let mux: Arc<dyn Mux> = match &hosts {
        Some(hosts) => Arc::new(fleet::Fleet::new(local, hosts.muxes.clone())),
        None => local,
    };
    let seats = hosts.as_ref().map(|h| h.seats.clone());
    std::fs::create_dir_all(ws.done_dir())
        .with_context(|| format!("creating {}", ws.swarm_dir().display()))?;
    let _lock = match held {
        Some(held) => held,
        None => lock::acquire(&ws)
            .context("locking the workspace")?
            .map_err(|pid| already_running(&ws, pid))?,
    };
    let journal = Journal::open(&ws.journal_path(), &ws.plan)?;
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
    watch_signals(tx.clone())?;

    let edges = Edges {
        mux,
        clock,
        jobs: Arc::new(jobs::Threads),
    };
    let stop_note = ws.clone();
    let start = Start {
        ws,
        settings,
        tasks,
        sentinels,
        limits,
        journal,
        socket,
        plan_target,
        landing,
        seats,
    };
    let watcher = (edges.mux.clone(), tx.clone());
    let mut lp = Loop::start(start, edges, tx.clone(), watch, progress)?;
    // Started once the executor knows the workers' profiles; what tmux says of the panes
    // meanwhile waits in `pane_news`.
    watch_panes(watcher.0, lp.profiles().clone(), pane_news, watcher.1);
    let _streams = hosts.map(|hosts| hosts.watch(&tx, &news_tx));
    let _polling = poll_costs(lp.cost_sources(), tx);
    let ticker = crossbeam_channel::tick(TICK);
    let mut flow = lp.flow();
    while flow == Flow::Go {
        let input = select! {
            recv(rx) -> msg => Input::Msg(msg.expect("the loop holds a sender")),
            recv(fs_rx) -> ev => match ev {
                Ok(Ok(ev)) => Input::Fs(ev),
                // A watcher error is covered by the periodic rescans.
                _ => continue,
            },
            recv(ticker) -> _ => Input::Tick,
        };
        // `swarm stop` took the server away on purpose: the run ends as interrupted.
        if matches!(input, Input::Msg(Msg::ServerLost(_))) && stop::requested(&stop_note) {
            flow = Flow::Interrupted;
            break;
        }
        flow = lp.on(input)?;
        // Inputs that queued up meanwhile go first, so that their check-offs share one
        // write of PLAN.md; a few milliseconds at most.
        if (rx.is_empty() && fs_rx.is_empty()) || lp.checkoffs_due() {
            lp.idle()?;
        }
    }
    lp.idle()?;
    if flow == Flow::Finished {
        lp.settle_agents();
    }
    Ok(lp.finish(flow == Flow::Interrupted))
}

/// Passes one link's news on to the stream the pane watcher reads.
fn forward(news: Receiver<PaneNews>, to: Sender<PaneNews>) {
    std::thread::spawn(move || {
        for item in news {
            if to.send(item).is_err() {
                return;
            }
        }
        // The link ended without a word: its server is as good as gone.
        let _ = to.send(PaneNews::ServerGone);
    });
}

fn already_running(ws: &Workspace, pid: Option<u32>) -> BadInput {
    let who = pid.map(|p| format!(" (pid {p})")).unwrap_or_default();
    BadInput::new(format!(
        "a swarm is already running for {}{who}",
        ws.plan.display()
    ))
    .hint("`swarm attach` to watch it, `swarm status` to see it, or `swarm stop` to end it")
}

/// Reports dead panes (or panes with a shell in front) once each, and a lost server:
/// pushed by the link's subscription, with a slow `list-panes` (over the same link) as the
/// safety net: under load the subscription was seen to miss a change.
fn watch_panes(mux: Arc<dyn Mux>, profiles: Profiles, news: Receiver<PaneNews>, tx: Sender<Msg>) {
    let reported = Arc::new(Mutex::new(HashSet::new()));
    let report = {
        let (reported, tx) = (reported.clone(), tx.clone());
        move |info: PaneInfo| -> bool {
            // An agent that exited to a shell, or to any program not its own, is as gone
            // as a dead pane.
            let gone = info.dead || info.shell_in_front() || profiles.agent_gone(&info);
            if gone
                && reported
                    .lock()
                    .expect("not poisoned")
                    .insert(info.id.clone())
            {
                let event = Event::PaneDead {
                    pane: info.id,
                    status: info.dead_status,
                    signal: info.dead_signal,
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
            match mux.panes() {
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
                // Only a link to a server on another host says these.
                PaneNews::HostLost | PaneNews::HostBack { .. } => {}
            }
        }
        let _ = tx.send(Msg::ServerLost("no tmux server on the socket".into()));
    });
}

/// How often the agents' records are read for what the running tasks cost.
const COST_POLL: Duration = Duration::from_secs(1);

/// Stops the cost poller when dropped: when the run ends, however it ends.
struct Polling(Arc<std::sync::atomic::AtomicBool>);

impl Drop for Polling {
    fn drop(&mut self) {
        self.0.store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Reads the agents' records now and then, off the loop's thread, and sends what they
/// say was spent when it changed, until the returned guard is dropped.
fn poll_costs(sources: crate::cost::Sources, tx: Sender<Msg>) -> Polling {
    let polling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let guard = Polling(polling.clone());
    std::thread::spawn(move || {
        let mut last = Vec::new();
        while polling.load(std::sync::atomic::Ordering::Relaxed) {
            let spends = sources.read();
            if spends != last {
                last = spends.clone();
                if tx.send(Msg::Spent(spends)).is_err() {
                    return;
                }
            }
            std::thread::sleep(COST_POLL);
        }
    });
    guard
}

fn watch_signals(tx: Sender<Msg>) -> anyhow::Result<()> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .context("installing signal handlers")?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            let _ = tx.send(Msg::Signal);
        }
    });
    Ok(())
}
