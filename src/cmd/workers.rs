//! `swarm workers [--idle] [--json]`: the workers and what they do, with a JSON schema of
//! their own (docs/cli.md) that scripts can rely on. While an orchestrator runs they come
//! from its snapshot; without one, live from the panes of swarm's tmux session.

use crate::Outcome;
use crate::agent::Profile;
use crate::cli::WorkersArgs;
use crate::config::Overrides;
use crate::orchestrator::snapshot::Snapshot;
use crate::roster::{Roster, Worker};
use crate::tmux::Tmux;
use crate::workspace::Workspace;
use serde::Serialize;
use std::time::Duration;

/// Version of the `--json` output; bump it when a field changes meaning.
const SCHEMA: u32 = 1;

/// How often window 0's list is redrawn.
const REDRAW: Duration = Duration::from_secs(1);

/// `swarm workers --json`.
#[derive(Debug, Serialize)]
pub(crate) struct Listing {
    schema: u32,
    /// An orchestrator is running for the workspace.
    running: bool,
    /// `tmux`: read from the panes just now; `snapshot`: the orchestrator's
    /// `.swarm/state.json` (its last run's, when none is running); `none`: no workers.
    source: &'static str,
    workers: Vec<WorkerJson>,
}

/// One worker in `swarm workers --json`.
#[derive(Debug, Serialize)]
struct WorkerJson {
    /// `w2`: the name the other commands take.
    worker: String,
    id: usize,
    pane: Option<String>,
    state: String,
    task: Option<String>,
    paused: bool,
    needs: Option<String>,
    restarts: u32,
    /// The agent profile its agent runs; `null` in the snapshot of an older swarm.
    profile: Option<String>,
    /// The host it runs on; absent on this machine.
    #[serde(skip_serializing_if = "Option::is_none")]
    host: Option<String>,
}

pub fn run(args: &WorkersArgs) -> anyhow::Result<Outcome> {
    if args.watch {
        let (ws, tmux, settings) = super::target_with(&args.workspace, Overrides::default())?;
        return watch(&ws, &tmux, &settings.profile);
    }
    print(&list(args)?, args.json)?;
    Ok(Outcome::Success)
}

/// The workers (`--idle`: those ready for a task): what `swarm workers` prints and the MCP
/// tool `workers` returns.
pub(crate) fn list(args: &WorkersArgs) -> anyhow::Result<Listing> {
    let (ws, tmux, settings) = super::target_with(&args.workspace, Overrides::default())?;
    let mut listing = listing(&ws, &tmux, &settings.profile)?;
    if args.idle {
        listing.workers.retain(is_idle);
    }
    Ok(listing)
}

/// The live listing of `workers`, read from their panes now.
pub(super) fn live<'a>(
    ws: &Workspace,
    tmux: &Tmux,
    workers: impl IntoIterator<Item = &'a Worker>,
) -> Listing {
    let workers = workers
        .into_iter()
        .map(|w| {
            let activity = w.activity(tmux, ws);
            WorkerJson {
                worker: w.name(),
                id: w.id,
                pane: Some(w.pane.info.id.to_string()),
                state: activity.state().to_string(),
                task: None,
                paused: false,
                needs: activity.needs(),
                restarts: 0,
                profile: Some(w.profile.name.clone()),
                // Only this machine's panes are listed live.
                host: None,
            }
        })
        .collect();
    Listing {
        schema: SCHEMA,
        running: false,
        source: "tmux",
        workers,
    }
}

/// Prints `listing` as JSON or as a table for people.
pub(super) fn print(listing: &Listing, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(listing)?);
    } else {
        print!("{}", render(listing));
    }
    Ok(())
}

/// Live from tmux when no orchestrator runs and the session has worker panes; otherwise
/// the orchestrator's snapshot.
fn listing(ws: &Workspace, tmux: &Tmux, fallback: &Profile) -> anyhow::Result<Listing> {
    let running = crate::orchestrator::lock::holder(ws).is_some();
    if !running {
        let roster = Roster::load(ws, tmux, fallback)?;
        if !roster.workers.is_empty() {
            return Ok(live(ws, tmux, &roster.workers));
        }
    }
    let Some(snapshot) = Snapshot::read(&ws.state_path())? else {
        return Ok(Listing {
            schema: SCHEMA,
            running,
            source: "none",
            workers: Vec::new(),
        });
    };
    // Without its server, the snapshot's workers are gone, whatever they were doing.
    let snapshot = if tmux.server_alive() {
        snapshot
    } else {
        snapshot.left_behind()
    };
    let workers = snapshot
        .workers
        .iter()
        .map(|w| WorkerJson {
            worker: format!("w{}", w.id),
            id: w.id,
            pane: w.pane.clone(),
            state: w.state.clone(),
            task: w.task.clone(),
            paused: w.paused || snapshot.paused,
            needs: w.needs.clone(),
            restarts: w.restarts,
            profile: (!w.profile.is_empty()).then(|| w.profile.clone()),
            host: w.host.clone(),
        })
        .collect();
    Ok(Listing {
        schema: SCHEMA,
        running,
        source: "snapshot",
        workers,
    })
}

/// The table people read.
fn render(listing: &Listing) -> String {
    use std::fmt::Write;
    if listing.source == "none" {
        return "no workers yet\nhint: `swarm spawn` starts some; `swarm run` works through the plan\n"
            .into();
    }
    let mut out = String::from("WORKER  PANE   PROFILE    STATE        TASK\n");
    for w in &listing.workers {
        let doing = match (&w.needs, &w.task) {
            (Some(needs), _) if w.state == "rate-limited" => needs.clone(),
            (Some(needs), _) => format!("needs you: {needs}"),
            (None, task) => task.clone().unwrap_or_default(),
        };
        let state = if w.paused {
            format!("{} (paused)", w.state)
        } else {
            w.state.clone()
        };
        let pane = w.pane.as_deref().unwrap_or("-");
        let profile = w.profile.as_deref().unwrap_or("-");
        let name = match &w.host {
            Some(host) => format!("{}@{host}", w.worker),
            None => w.worker.clone(),
        };
        let row = format!("{name:<7} {pane:<6} {profile:<10} {state:<12} {doing}");
        let _ = writeln!(out, "{}", row.trim_end());
    }
    out
}

/// Ready for a task: idle, not paused, and needing nobody.
fn is_idle(w: &WorkerJson) -> bool {
    w.state == "idle" && !w.paused && w.needs.is_none()
}

/// Window 0 of a session `swarm spawn` started: the workers, redrawn until the server ends.
fn watch(ws: &Workspace, tmux: &Tmux, fallback: &Profile) -> anyhow::Result<Outcome> {
    use std::io::Write;
    while tmux.server_alive() {
        let body = match listing(ws, tmux, fallback) {
            Ok(listing) => render(&listing),
            Err(err) => format!("swarm: {err}\n"),
        };
        // Home the cursor and clear the screen, then draw.
        print!(
            "\x1b[H\x1b[2Jswarm workers of {} (C-b n: their panes)\n\n{body}",
            ws.root.display()
        );
        std::io::stdout().flush()?;
        std::thread::sleep(REDRAW);
    }
    Ok(Outcome::Success)
}
