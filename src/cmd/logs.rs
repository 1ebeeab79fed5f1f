//! `swarm logs TASK [--attempt N] [--follow] [--raw]`: a task's transcript, which the
//! orchestrator records from the agent's pane (`tmux pipe-pane`). It prints a header (the
//! task, the attempt, its time, the prompt as sent), then the pane's lines as a person saw
//! them: the bytes replayed through a terminal emulator (src/transcript.rs). A transcript
//! recorded on another host is first brought up to date from there (src/remote/
//! transcripts.rs), and, with `--follow`, again as it grows.

use crate::Outcome;
use crate::cli::LogsArgs;
use crate::config::Settings;
use crate::error::BadInput;
use crate::orchestrator::snapshot::Snapshot;
use crate::plan::{Task, TaskId};
use crate::workspace::Workspace;
use anyhow::Context;
use serde::Serialize;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often `--follow` looks for more output.
const POLL: Duration = Duration::from_millis(200);
/// How often `--follow` asks a transcript's host for more: each time is an ssh call.
const REMOTE_POLL: Duration = Duration::from_secs(1);
/// How long a transcript's host may take to answer before the copy here is shown as it is.
const PULL_TIMEOUT: Duration = Duration::from_secs(5);

/// The pane size assumed for a transcript without a size marker (recorded before it had
/// one): swarm's default window.
const UNMARKED: (u16, u16) = (200, 50);

pub fn run(args: &LogsArgs) -> anyhow::Result<Outcome> {
    if !args.raw && !args.follow {
        // A reader that goes away early (`| head`) ends the process by SIGPIPE (cmd::dispatch).
        io::stdout().lock().write_all(read(args)?.text.as_bytes())?;
        return Ok(Outcome::Success);
    }
    let Found {
        ws,
        settings,
        task,
        attempt,
        path,
        remote,
    } = find(args)?;
    let mut stdout = io::stdout().lock();
    let printed = if args.raw {
        print(
            &ws,
            (&task.id, attempt),
            (&path, &remote),
            Box::new(stdout),
            args.follow,
        )
    } else {
        stdout.write_all(header(&ws, &settings, &task, attempt, &path).as_bytes())?;
        // Stripping is stateful, so an escape sequence split across two reads is still
        // removed.
        let out = Box::new(strip_ansi_escapes::Writer::new(stdout));
        print(&ws, (&task.id, attempt), (&path, &remote), out, true)
    };
    printed.with_context(|| format!("reading {}", path.display()))?;
    Ok(Outcome::Success)
}

/// A task's transcript as people read it (`swarm logs TASK`, and the MCP tool `logs`).
#[derive(Debug, Serialize)]
pub(crate) struct Log {
    pub task: String,
    pub attempt: u32,
    /// The transcript file, as recorded.
    pub path: PathBuf,
    /// The header (task, attempt, time, prompt), then the pane's lines as they showed.
    pub text: String,
}

/// The transcript of the attempt `args` names (the latest by default), replayed.
pub(crate) fn read(args: &LogsArgs) -> anyhow::Result<Log> {
    let found = find(args)?;
    let mut text = header(
        &found.ws,
        &found.settings,
        &found.task,
        found.attempt,
        &found.path,
    )
    .into_bytes();
    replayed(&found.path, &mut text)
        .with_context(|| format!("reading {}", found.path.display()))?;
    Ok(Log {
        task: found.task.id.to_string(),
        attempt: found.attempt,
        text: String::from_utf8_lossy(&text).into_owned(),
        path: found.path,
    })
}

/// The transcript a `swarm logs` command line names, and what its header needs.
struct Found {
    ws: Workspace,
    settings: Settings,
    task: Task,
    attempt: u32,
    path: PathBuf,
    /// Where the transcript is recorded, when on another host.
    remote: Option<Pull>,
}

fn find(args: &LogsArgs) -> anyhow::Result<Found> {
    let (ws, _, settings) = super::target_with(&args.workspace, Default::default())?;
    let task = super::find_task(&ws, &args.task)?;
    let attempts = attempts(&ws.logs_dir(), &task.id);
    let attempt = match (args.attempt, attempts.last()) {
        (Some(n), _) if attempts.contains(&n) => n,
        (None, Some(&latest)) => latest,
        (asked, _) => return Err(missing(&task.id, asked, &attempts).into()),
    };
    let path = ws.transcript(&task.id, attempt);
    let remote = Pull::of(&ws, &settings, &task.id, attempt);
    if let Some(remote) = &remote {
        remote.pull(&path);
    }
    Ok(Found {
        ws,
        settings,
        task,
        attempt,
        path,
        remote,
    })
}

/// A transcript recorded on another host, and the ssh that reaches it.
struct Pull {
    ssh: crate::ssh::SystemSsh,
    host: crate::ssh::Host,
    origin: crate::remote::transcripts::Origin,
}

impl Pull {
    /// The host `task`'s `attempt` was recorded on, if another one; says so on stderr
    /// when that host cannot be asked (no longer in swarm.toml, no ssh).
    fn of(ws: &Workspace, settings: &Settings, task: &TaskId, attempt: u32) -> Option<Pull> {
        let origin = crate::remote::transcripts::read_origin(&ws.transcript_origin(task, attempt))?;
        let Some(pool) = settings
            .remote_pools
            .iter()
            .find(|p| p.host.host.name == origin.host)
        else {
            eprintln!(
                "swarm: the transcript was recorded on host `{}`, which swarm.toml no longer runs workers on: showing the copy here",
                origin.host
            );
            return None;
        };
        match crate::ssh::SystemSsh::new() {
            Ok(ssh) => Some(Pull {
                ssh,
                host: pool.host.host.clone(),
                origin,
            }),
            Err(e) => {
                eprintln!("swarm: cannot use ssh ({e}): showing the copy here");
                None
            }
        }
    }

    /// Appends to `local` what the host has beyond it. A host that does not answer is
    /// said on stderr, and the copy here is shown as it is.
    fn pull(&self, local: &Path) {
        let pulled = crate::remote::transcripts::pull(
            &self.ssh,
            &self.host,
            local,
            &self.origin,
            PULL_TIMEOUT,
        );
        if let Err(e) = pulled {
            let first = e.to_string();
            let first = first.lines().next().unwrap_or_default();
            eprintln!("swarm: {first}: showing the copy here");
        }
    }
}

/// Who, when and what was asked: the task, the attempt, when its transcript began, and the
/// prompt as swarm renders it from the plan and `swarm.toml` (as sent, unless either was
/// edited since).
fn header(ws: &Workspace, settings: &Settings, task: &Task, attempt: u32, log: &Path) -> String {
    let began = std::fs::metadata(log)
        .and_then(|m| m.created().or_else(|_| m.modified()))
        .map(|t| humantime::format_rfc3339_seconds(t).to_string())
        .unwrap_or_else(|_| "unknown".into());
    let prompt = crate::prompt::sentinel_for(task)
        .map_err(anyhow::Error::from)
        .and_then(|sentinel| {
            Ok(settings
                .template
                .render(task, &sentinel, attempt, &ws.plan_name())?)
        })
        .unwrap_or_else(|e| format!("(cannot render it: {e:#})"));
    format!(
        "task:    {} ({})\nattempt: {attempt}\nbegan:   {began}\nprompt, as sent:\n{prompt}\n\n── the pane, as it showed ──\n",
        task.id, task.text
    )
}

/// The transcript's lines, replayed at the pane's recorded size, blank runs squeezed.
fn replayed(path: &Path, out: &mut impl Write) -> io::Result<()> {
    let bytes = std::fs::read(path)?;
    let size = crate::transcript::recorded_size(&bytes).unwrap_or(UNMARKED);
    let mut blank = false;
    for line in crate::transcript::replay(&bytes, size) {
        // Runs of empty rows (an agent drawing at the foot of its screen) print as one,
        // as `cat -s` does.
        if blank && line.is_empty() {
            continue;
        }
        blank = line.is_empty();
        writeln!(out, "{line}")?;
    }
    out.flush()
}

/// Copies the transcript to `out`; with `follow`, keeps copying what is appended while
/// the attempt runs (pulled from its host first, when recorded on another one).
fn print(
    ws: &Workspace,
    (task, attempt): (&TaskId, u32),
    (path, remote): (&Path, &Option<Pull>),
    mut out: Box<dyn Write>,
    follow: bool,
) -> io::Result<()> {
    let mut file = File::open(path)?;
    let mut pulled = std::time::Instant::now();
    loop {
        // Asked before reading, so that the last bytes written before the attempt ended
        // are still read after it ended.
        let running = follow && still_running(ws, task, attempt);
        if let Some(remote) = remote.as_ref().filter(|_| follow)
            && (!running || pulled.elapsed() >= REMOTE_POLL)
        {
            remote.pull(path);
            pulled = std::time::Instant::now();
        }
        io::copy(&mut file, &mut out)?;
        out.flush()?;
        if !running {
            return Ok(());
        }
        std::thread::sleep(POLL);
    }
}

/// This attempt of `task` runs, as far as a live orchestrator's snapshot says.
fn still_running(ws: &Workspace, task: &TaskId, attempt: u32) -> bool {
    if crate::orchestrator::lock::holder(ws).is_none() {
        return false;
    }
    let Ok(Some(snapshot)) = Snapshot::read(&ws.state_path()) else {
        return false;
    };
    snapshot
        .tasks
        .iter()
        .any(|t| t.id == task.0 && t.state == "running" && t.attempts == attempt)
}

/// The attempts of `task` that have a transcript, oldest first.
pub(crate) fn attempts(dir: &Path, task: &TaskId) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let prefix = format!("{task}.");
    let mut found: Vec<u32> = entries
        .filter_map(|e| {
            let name = e.ok()?.file_name().into_string().ok()?;
            name.strip_prefix(&prefix)?
                .strip_suffix(".log")?
                .parse()
                .ok()
        })
        .collect();
    found.sort_unstable();
    found
}

fn missing(task: &TaskId, asked: Option<u32>, attempts: &[u32]) -> BadInput {
    match asked {
        None => BadInput::new(format!("task `{task}` has no transcript yet"))
            .hint("a transcript starts when the task is handed to an agent"),
        Some(n) => {
            let have: Vec<String> = attempts.iter().map(u32::to_string).collect();
            BadInput::new(format!("task `{task}` has no transcript of attempt {n}")).hint(format!(
                "its transcripts are of attempts {}",
                have.join(", ")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_found_in_numeric_order_and_only_for_that_task() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::locate(&dir.path().join("PLAN.md")).unwrap();
        let task = TaskId("auth".into());
        let logs = ws.logs_dir();
        std::fs::create_dir_all(&logs).unwrap();
        for name in [
            "auth.2.log",
            "auth.10.log",
            "auth.1.log",
            "auth-docs.3.log",
            "auth.x.log",
        ] {
            std::fs::write(logs.join(name), "x").unwrap();
        }
        assert_eq!(attempts(&logs, &task), [1, 2, 10]);
    }
}
