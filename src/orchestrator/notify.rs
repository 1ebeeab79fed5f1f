//! News for people who are not watching: a tmux message and a bell when a task is done
//! or fails, when an agent needs someone, and when the plan is done; and the programs
//! swarm.toml names for `on_done` and `on_fail`, run without a shell.

use super::jobs::Jobs;
use super::transcripts::{RemoteLogs, Which};
use crate::config::Notify;
use crate::plan::{Task, TaskId};
use crate::scheduler::Notice;
use crate::tmux::Mux;
use crate::workspace::Workspace;
use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;
use wait_timeout::ChildExt;

/// How long an `on_done`/`on_fail` program may run before it is killed.
const HOOK_TIMEOUT: Duration = Duration::from_secs(60);

/// The most of a task's text that `SWARM_TASK` holds. Linux refuses to start a program
/// with any one environment string over 128 KiB ("Argument list too long"), so the whole
/// text is always in the file that `SWARM_TASK_FILE` names.
const MAX_ENV_TASK: usize = 32 * 1024;

/// The most of a task's text that a tmux message shows: one status line's worth, and a
/// whole tmux command must fit in 16 KB.
const MAX_MESSAGE_TASK: usize = 200;

pub struct Notifier {
    mux: Arc<dyn Mux>,
    jobs: Arc<dyn Jobs>,
    settings: Notify,
    ws: Workspace,
    /// The transcripts of attempts on other hosts, pulled before a program reads one.
    remote_logs: Option<Arc<RemoteLogs>>,
}

impl Notifier {
    pub fn new(
        mux: Arc<dyn Mux>,
        jobs: Arc<dyn Jobs>,
        settings: Notify,
        ws: Workspace,
    ) -> Notifier {
        Notifier {
            mux,
            jobs,
            settings,
            ws,
            remote_logs: None,
        }
    }

    /// Pulls a transcript recorded on another host before the program that
    /// `SWARM_TRANSCRIPT` is for runs.
    pub fn with_remote_logs(&mut self, logs: Arc<RemoteLogs>) {
        self.remote_logs = Some(logs);
    }

    /// Passes `notice` on, naming tasks by their text and sentinel as the executor knows
    /// them. Nothing here may stop the work: a failure is written to the notify log and
    /// forgotten.
    pub fn notice(
        &self,
        notice: &Notice,
        tasks: &HashMap<TaskId, Task>,
        sentinels: &HashMap<TaskId, PathBuf>,
    ) {
        let text = |id: &TaskId| tasks.get(id).map_or(id.0.clone(), |t| t.text.clone());
        let short = |id: &TaskId| cut(&text(id), MAX_MESSAGE_TASK).to_string();
        let message = match notice {
            Notice::Done { task, .. } => format!("swarm: done: {}", short(task)),
            Notice::Failed { task, reason, .. } => {
                format!("swarm: failed: {}: {reason}", short(task))
            }
            Notice::NeedsPerson { worker, what } => format!("swarm: w{worker} needs you: {what}"),
            Notice::Finished { done, failed: 0 } => {
                format!("swarm: the plan is done ({done} done)")
            }
            Notice::Finished { done, failed } => {
                format!("swarm: the plan is over: {done} done, {failed} failed")
            }
        };
        if self.settings.tmux {
            // As a job: the loop never waits on tmux for news that people read at leisure.
            let (mux, log) = (self.mux.clone(), self.log_file());
            let message = message.clone();
            self.jobs.spawn(Box::new(move || {
                if let (Err(e), Some(mut log)) = (mux.alert(&message), log) {
                    let _ = writeln!(log, "swarm: telling tmux {message:?}: {e}");
                }
            }));
        }
        let (program, event, task, attempt, reason) = match notice {
            Notice::Done { task, attempt } => (&self.settings.on_done, "done", task, attempt, None),
            Notice::Failed {
                task,
                reason,
                attempt,
            } => (
                &self.settings.on_fail,
                "failed",
                task,
                attempt,
                Some(reason),
            ),
            _ => return,
        };
        let Some(argv) = program else { return };
        let full = text(task);
        let mut env = vec![
            ("SWARM_EVENT", event.to_string()),
            ("SWARM_TASK_ID", task.0.clone()),
            ("SWARM_TASK", cut(&full, MAX_ENV_TASK).to_string()),
            ("SWARM_PLAN", self.ws.plan.display().to_string()),
            ("SWARM_WORKSPACE", self.ws.root.display().to_string()),
        ];
        if let Some(sentinel) = sentinels.get(task) {
            env.push((
                "SWARM_SENTINEL",
                self.ws.root.join(sentinel).display().to_string(),
            ));
        }
        if *attempt > 0 {
            let log = self.ws.transcript(task, *attempt);
            env.push(("SWARM_TRANSCRIPT", log.display().to_string()));
        }
        if let Some(reason) = reason {
            env.push(("SWARM_REASON", reason.clone()));
        }
        match self.task_file(task, &full) {
            Ok(file) => env.push(("SWARM_TASK_FILE", file.display().to_string())),
            Err(e) => self.log(&format!("writing the text of {task} for {argv:?}: {e}")),
        }
        let which = Which::Attempt(task.clone(), *attempt);
        match self.remote_logs.clone().filter(|logs| logs.is_open(&which)) {
            None => self.run_hook(argv, &env, None),
            // Its transcript comes from its host first: a host may take seconds.
            Some(logs) => {
                self.run_hook(argv, &env, Some(Box::new(move || drop(logs.pull(&which)))))
            }
        }
    }

    /// Writes a task's whole text where `SWARM_TASK_FILE` points, readable by the user only.
    fn task_file(&self, task: &TaskId, text: &str) -> std::io::Result<PathBuf> {
        let dir = self.ws.notify_dir();
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{task}.txt"));
        let mut file = private_file(&path, false)?;
        file.write_all(text.as_bytes())?;
        Ok(path)
    }

    /// Starts `argv` with `env` and lets a thread wait for it, so that a slow program never
    /// holds up the run; its output goes to the notify log. With `first`, a job does that
    /// first and then starts the program.
    fn run_hook(
        &self,
        argv: &[String],
        env: &[(&str, String)],
        first: Option<Box<dyn FnOnce() + Send>>,
    ) {
        let log = self.log_file();
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.ws.root)
            .stdin(Stdio::null());
        if let Some(log) = &log {
            command.stdout(log.try_clone().map_or(Stdio::null(), Stdio::from));
            command.stderr(log.try_clone().map_or(Stdio::null(), Stdio::from));
        } else {
            command.stdout(Stdio::null()).stderr(Stdio::null());
        }
        let argv = argv.to_vec();
        let start = move || match command.spawn() {
            Ok(mut child) => {
                std::thread::spawn(move || {
                    if let Ok(None) = child.wait_timeout(HOOK_TIMEOUT) {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                });
            }
            Err(e) => {
                if let Some(mut log) = log {
                    let _ = writeln!(log, "swarm: running {argv:?}: {e}");
                }
            }
        };
        match first {
            None => start(),
            Some(first) => self.jobs.spawn(Box::new(move || {
                first();
                start();
            })),
        }
    }

    fn log_file(&self) -> Option<std::fs::File> {
        let path = self.ws.logs_dir().join("notify.log");
        std::fs::create_dir_all(path.parent()?).ok()?;
        private_file(&path, true).ok()
    }

    fn log(&self, line: &str) {
        if let Some(mut log) = self.log_file() {
            let _ = writeln!(log, "swarm: {line}");
        }
    }
}

/// Opens `path` for writing (appending, or from empty), created 0600: task texts and the
/// programs' output can hold secrets, as the journal and state.json can.
fn private_file(path: &std::path::Path, append: bool) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(append)
        .truncate(!append)
        .mode(0o600)
        .open(path)
}

/// The first `max` bytes of `text`, cut at a character boundary.
fn cut(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cut_stops_at_a_character_boundary() {
        assert_eq!(cut("héllo", 2), "h");
        assert_eq!(cut("héllo", 3), "hé");
        assert_eq!(cut("hi", 10), "hi");
    }
}
