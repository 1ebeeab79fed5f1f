//! `swarm wait (--done FILE... | --idle [WORKER...]) [--any] [--timeout D]`: block until
//! sentinel files exist or agents are idle, so that a script or an LLM orchestrator never
//! polls with sleeps. Exit 0 when it holds, 1 when it never can, 124 on timeout.

use crate::Outcome;
use crate::agent::Profile;
use crate::cli::WaitArgs;
use crate::config::Overrides;
use crate::error::{BadInput, Failure};
use crate::plan::TaskId;
use crate::roster::{Activity, Roster};
use crate::scheduler::WorkerId;
use crate::sentinel::Sentinels;
use crate::tmux::Tmux;
use crate::workspace::Workspace;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Version of the `--json` output; bump it when a field changes meaning.
const SCHEMA: u32 = 1;
/// The safety net under inotify: how often the files are looked for anyway.
const RESCAN: Duration = Duration::from_millis(250);
/// How often the workers' screens are read while none looks idle: each read costs a tmux
/// process per worker, and a wait can last an hour.
const POLL: Duration = Duration::from_millis(500);
/// How often they are read while one looks idle, to confirm it soon.
const POLL_SETTLING: Duration = Duration::from_millis(100);
/// How long a worker must look idle, on every read, to count as idle: a screen can look
/// ready for a moment between two steps of a turn.
const SETTLED: Duration = Duration::from_millis(300);

/// What held and what did not when the wait ended (`swarm wait --json`).
#[derive(Debug, Default, Serialize)]
pub(crate) struct Report {
    schema: u32,
    /// The files that exist, or the workers that are idle, as named on the command line.
    met: Vec<String>,
    /// What was still awaited when the wait ended.
    missing: Vec<String>,
    /// Workers whose agents are gone: they will never be idle.
    dead: Vec<String>,
    /// `--idle`: each worker's last state, as `swarm workers` names states, with its reason.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    states: BTreeMap<String, String>,
    timed_out: bool,
    /// Why each dead worker is dead, for the message.
    #[serde(skip)]
    why_dead: Vec<String>,
    #[serde(skip)]
    end: End,
}

/// How a wait ended.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum End {
    /// What was asked for holds.
    #[default]
    Held,
    /// It never can: the workers waited for are dead.
    Hopeless,
    TimedOut,
}

pub fn run(args: &WaitArgs) -> anyhow::Result<Outcome> {
    let report = wait(args)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        for met in &report.met {
            println!("{met}");
        }
    }
    report.outcome(args.timeout)
}

/// Waits as `args` say and reports what held: what `swarm wait` prints and the MCP tool
/// `wait` returns.
pub(crate) fn wait(args: &WaitArgs) -> anyhow::Result<Report> {
    let deadline = args.timeout.map(|d| Instant::now() + d);
    Ok(match &args.idle {
        Some(names) => {
            let (ws, tmux, settings) = super::target_with(&args.workspace, Overrides::default())?;
            let roster = Roster::load(&ws, &tmux, &settings.profile)?;
            let ids = named_workers(&roster, names)?;
            idle(&ws, &tmux, &settings.profile, &ids, args.any, deadline)?
        }
        None => done(&args.done, args.any, deadline)?,
    })
}

/// The workers `names` stands for (every worker when it is empty), all of them known.
fn named_workers(roster: &Roster, names: &[String]) -> anyhow::Result<Vec<WorkerId>> {
    if names.is_empty() {
        if roster.workers.is_empty() {
            return Err(BadInput::new("there are no workers to wait for")
                .hint("start some with `swarm spawn`")
                .into());
        }
        return Ok(roster.workers.iter().map(|w| w.id).collect());
    }
    let mut ids = Vec::new();
    for name in names {
        let id = super::worker_id(name)?;
        if roster.get(id).is_none() {
            return Err(BadInput::new(format!("there is no worker w{id}"))
                .hint("`swarm workers` lists them")
                .into());
        }
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(ids)
}

/// Waits until the files exist (one of them, with `any`), watching their directories
/// with inotify and looking again every `RESCAN` in case an event was missed.
fn done(files: &[PathBuf], any: bool, deadline: Option<Instant>) -> anyhow::Result<Report> {
    let (tx, rx) = crossbeam_channel::unbounded();
    // Rooted at `/`, so that paths outside the current directory are watched too.
    let mut watch = Sentinels::new(Path::new("/"), tx)?;
    let mut report = Report::new();
    let order: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    for file in files {
        let name = file.display().to_string();
        if report.met.contains(&name) || report.missing.contains(&name) {
            continue;
        }
        let path = std::path::absolute(file)?;
        // The watcher reports by task id: here each file is its own "task", named as given.
        match watch.expect(&path, TaskId(name.clone())) {
            Some(_) => report.met.push(name),
            None => report.missing.push(name),
        }
    }
    loop {
        if report.missing.is_empty() || (any && !report.met.is_empty()) {
            return Ok(report.end(End::Held, &order));
        }
        let Some(left) = time_left(deadline) else {
            return Ok(report.end(End::TimedOut, &order));
        };
        let found = match rx.recv_timeout(left.min(RESCAN)) {
            Ok(Ok(event)) => watch.on_event(&event),
            _ => watch.rescan(),
        };
        for TaskId(name) in found {
            report.missing.retain(|m| *m != name);
            report.met.push(name);
        }
    }
}

/// Waits until the workers `ids` (one of them, with `any`) have looked idle on every read
/// for `SETTLED`; a worker whose agent is gone fails the wait.
pub(super) fn idle(
    ws: &Workspace,
    tmux: &Tmux,
    fallback: &Profile,
    ids: &[WorkerId],
    any: bool,
    deadline: Option<Instant>,
) -> anyhow::Result<Report> {
    let mut idle_since: HashMap<WorkerId, Instant> = HashMap::new();
    let mut report = Report::new();
    let name = |id: WorkerId| format!("w{id}");
    let order: Vec<String> = ids.iter().map(|&id| name(id)).collect();
    loop {
        let roster = Roster::load(ws, tmux, fallback)?;
        let now = Instant::now();
        report.missing.clear();
        for &id in ids {
            if report.met.contains(&name(id)) || report.dead.contains(&name(id)) {
                continue;
            }
            let activity = match roster.get(id) {
                Some(worker) => worker.activity(tmux, ws),
                None => Activity::Dead("its pane is gone".into()),
            };
            report.states.insert(name(id), activity.describe());
            match activity {
                Activity::Dead(why) => {
                    report.dead.push(name(id));
                    report.why_dead.push(format!("w{id}: {why}"));
                }
                Activity::Idle => {
                    let since = *idle_since.entry(id).or_insert(now);
                    if now - since >= SETTLED {
                        idle_since.remove(&id);
                        report.met.push(name(id));
                    } else {
                        report.missing.push(name(id));
                    }
                }
                _ => {
                    idle_since.remove(&id);
                    report.missing.push(name(id));
                }
            }
        }
        let hopeless = if any {
            report.met.is_empty() && report.missing.is_empty()
        } else {
            !report.dead.is_empty()
        };
        if hopeless {
            return Ok(report.end(End::Hopeless, &order));
        }
        if report.missing.is_empty() || (any && !report.met.is_empty()) {
            return Ok(report.end(End::Held, &order));
        }
        let Some(left) = time_left(deadline) else {
            return Ok(report.end(End::TimedOut, &order));
        };
        let poll = if idle_since.is_empty() {
            POLL
        } else {
            POLL_SETTLING
        };
        std::thread::sleep(left.min(poll));
    }
}

/// Time until `deadline`; `None` once it has passed. No deadline leaves plenty.
fn time_left(deadline: Option<Instant>) -> Option<Duration> {
    match deadline {
        None => Some(Duration::MAX),
        Some(deadline) => deadline
            .checked_duration_since(Instant::now())
            .filter(|left| !left.is_zero()),
    }
}

impl Report {
    fn new() -> Report {
        Report {
            schema: SCHEMA,
            ..Report::default()
        }
    }

    /// Ends the wait, with what held listed in the order the command line named it.
    fn end(mut self, end: End, order: &[String]) -> Report {
        self.end = end;
        self.timed_out = end == End::TimedOut;
        self.met.sort_by_key(|m| order.iter().position(|o| o == m));
        self
    }

    /// 0 when it held, an error (exit 1) when it never can, 124 on timeout.
    fn outcome(&self, timeout: Option<Duration>) -> anyhow::Result<Outcome> {
        self.in_vain()?;
        let Some(trouble) = self.trouble() else {
            return Ok(Outcome::Success);
        };
        let after = timeout.map(|d| humantime::format_duration(d).to_string());
        eprintln!(
            "swarm: timed out after {}; {trouble}",
            after.unwrap_or_default()
        );
        Ok(Outcome::TimedOut)
    }

    /// An error (exit 1) when what was waited for never can hold: its workers are dead.
    pub(crate) fn in_vain(&self) -> anyhow::Result<()> {
        match self.trouble() {
            Some(trouble) if self.end == End::Hopeless => {
                Err(Failure::new(format!("waited in vain: {trouble}"))
                    .hint(
                        "`swarm capture WORKER` shows its last screen; `swarm spawn` starts a \
                         new worker",
                    )
                    .into())
            }
            _ => Ok(()),
        }
    }

    /// What went wrong, if the wait did not end with everything asked for holding.
    pub(super) fn trouble(&self) -> Option<String> {
        match self.end {
            End::Held => None,
            End::Hopeless => Some(self.why_dead.join("; ")),
            End::TimedOut => Some(format!("still waiting for: {}", self.waiting().join(", "))),
        }
    }

    /// What was awaited, with each worker's state.
    fn waiting(&self) -> Vec<String> {
        self.missing
            .iter()
            .map(|m| match self.states.get(m) {
                Some(state) => format!("{m} ({state})"),
                None => m.clone(),
            })
            .collect()
    }
}
