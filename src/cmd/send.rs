//! `swarm send WORKER (--file F | TEXT)`: the orchestrator's own delivery, for scripts and
//! LLM orchestrators: a guarded bracketed paste (never `send-keys`, which reads `Enter` or
//! `C-c` in the text as keys), Enter once the screen settles, confirmed, re-pressed a
//! bounded number of times. Exit 0 delivered, 1 not delivered, 2 bad input.

use crate::Outcome;
use crate::agent::Profile;
use crate::cli::SendArgs;
use crate::config::Overrides;
use crate::error::{BadInput, Failure};
use crate::orchestrator::snapshot::Snapshot;
use crate::roster::{Activity, Roster};
use crate::scheduler::WorkerId;
use crate::workspace::Workspace;
use serde::Serialize;
use std::fs::{File, TryLockError};
use std::io::Read;
use std::path::Path;

pub fn run(args: &SendArgs) -> anyhow::Result<Outcome> {
    let sent = send(args)?;
    let retries = match sent.enter_presses {
        1 => String::new(),
        n => format!(" (Enter pressed {n} times)"),
    };
    println!("delivered to {} (pane {}){retries}", sent.worker, sent.pane);
    Ok(Outcome::Success)
}

/// A delivery that the agent took (`swarm send`, and the MCP tool `send`).
#[derive(Debug, Serialize)]
pub(crate) struct Sent {
    pub worker: String,
    pub pane: String,
    /// How many times Enter was pressed before the agent took the prompt.
    pub enter_presses: u32,
}

/// Delivers the text to the worker, here or on one of the hosts, or says why not (nothing
/// typed on bad input).
pub(crate) fn send(args: &SendArgs) -> anyhow::Result<Sent> {
    let id = super::worker_id(&args.worker)?;
    let text = text(args)?;
    let (ws, tmux, settings) = super::target_with(&args.workspace, Overrides::default())?;
    let roster = Roster::load(&ws, &tmux, &settings.profile)?;
    let target = match roster.get(id) {
        Some(worker) => Target::Here(worker),
        None => match super::on_host::worker(&ws, id)? {
            Some(remote) => Target::OnHost(remote),
            None => {
                return Err(BadInput::new(format!("there is no worker w{id}"))
                    .hint("`swarm workers` lists them; `swarm spawn` starts some")
                    .into());
            }
        },
    };
    if crate::orchestrator::lock::holder(&ws).is_some() {
        not_the_orchestrators(&ws, id)?;
    }
    let _turn = take_turn(&ws, id)?;
    let (mux, pane, profile, shown) = match target {
        Target::Here(worker) => {
            // The paste guard refuses a dead pane anyway; this only says so more plainly.
            if let Activity::Dead(why) = worker.activity(&tmux, &ws) {
                return Err(Failure::new(format!(
                    "w{id} was not given the text: {why}; nothing was typed"
                ))
                .hint("`swarm spawn` starts a new worker")
                .into());
            }
            let pane = worker.pane.info.id.clone();
            let shown = pane.to_string();
            (tmux, pane, worker.profile.clone(), shown)
        }
        Target::OnHost(remote) => {
            let session = super::on_host::session(&ws, &tmux, &settings, &remote.host)?;
            let linked = super::on_host::linked(session, &remote.host)?;
            let profile = profile_named(&ws, &remote.profile, &settings.profile)?;
            let shown = format!("{}:{}", remote.host, remote.pane);
            (linked, remote.pane, profile, shown)
        }
    };
    match crate::deliver::deliver(
        &mux,
        &crate::clock::SystemClock::new(),
        &pane,
        &text,
        &profile,
    ) {
        Ok(delivered) => Ok(Sent {
            worker: format!("w{id}"),
            pane: shown,
            enter_presses: delivered.enter_presses,
        }),
        Err(err) => Err(Failure::new(format!("w{id} was not given the text: {err}"))
            .hint(format!("`swarm capture w{id}` shows its pane"))
            .into()),
    }
}

/// Where the worker's pane is.
enum Target<'a> {
    Here(&'a crate::roster::Worker),
    OnHost(super::on_host::Remote),
}

/// The profile `name` (a remote worker's, from the snapshot), or `fallback` when the
/// snapshot names none or the same.
fn profile_named(ws: &Workspace, name: &str, fallback: &Profile) -> anyhow::Result<Profile> {
    if name.is_empty() || name == fallback.name {
        return Ok(fallback.clone());
    }
    let user_profiles = crate::config::load(&ws.config_path())?
        .map(|config| config.profiles)
        .unwrap_or_default();
    Ok(crate::agent::resolve_profile(name, &user_profiles)?)
}

/// The text to deliver: the file (`-`: stdin) or the argument, never empty, without
/// trailing white space.
fn text(args: &SendArgs) -> Result<String, BadInput> {
    let text = match (&args.file, &args.text) {
        (Some(file), _) if file == Path::new("-") => {
            let mut text = String::new();
            std::io::stdin()
                .read_to_string(&mut text)
                .map_err(|e| BadInput::new(format!("cannot read the text on stdin: {e}")))?;
            text
        }
        (Some(file), _) => std::fs::read_to_string(file).map_err(|e| {
            BadInput::new(format!("{}: cannot read: {e}", file.display()))
                .hint("name a UTF-8 text file, or `-` for standard input")
        })?,
        (None, text) => text.clone().unwrap_or_default(),
    };
    // As with rendered prompts: Enter is pressed on its own, so a file's final newline
    // would only leave an empty line in the agent's input box.
    let text = text.trim_end();
    if text.is_empty() {
        return Err(BadInput::new("nothing to send: the text is empty")
            .hint("give the prompt as TEXT, or with --file FILE"));
    }
    Ok(text.to_string())
}

/// A running orchestrator hands tasks to its workers the moment they are idle: another
/// prompt may only go to a worker it was told to leave alone.
fn not_the_orchestrators(ws: &Workspace, id: WorkerId) -> Result<(), BadInput> {
    let snapshot = Snapshot::read(&ws.state_path()).ok().flatten();
    let row = snapshot
        .as_ref()
        .and_then(|s| s.workers.iter().find(|w| w.id == id));
    let paused = snapshot.as_ref().is_some_and(|s| s.paused) || row.is_some_and(|w| w.paused);
    if paused {
        return Ok(());
    }
    let doing = match row.and_then(|w| w.task.as_deref()) {
        Some(task) => format!("is working on task `{task}`"),
        None => "gets its next task when idle".into(),
    };
    Err(BadInput::new(format!(
        "w{id} works for the orchestrator running here, and {doing}; nothing was sent"
    ))
    .hint(format!(
        "pause it first: `swarm pause w{id}` (and wait until it is idle)"
    )))
}

/// Holds worker `id` for this delivery: two sends at once would paste into each other.
fn take_turn(ws: &Workspace, id: WorkerId) -> anyhow::Result<File> {
    let dir = ws.send_locks_dir();
    std::fs::create_dir_all(&dir)?;
    let file = File::create(dir.join(format!("w{id}.lock")))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => {
            anyhow::bail!("another `swarm send` is delivering to w{id} right now; nothing was sent")
        }
        Err(TryLockError::Error(e)) => Err(e.into()),
    }
}
