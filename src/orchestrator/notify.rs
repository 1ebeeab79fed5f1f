//! News for people who are not watching: a tmux message and a bell when a task is done
//! or fails, when an agent needs someone, and when the plan is done; and the programs
//! swarm.toml names for `on_done` and `on_fail`, run without a shell.

use super::jobs::Jobs;
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

pub struct Notifier {
    mux: Arc<dyn Mux>,
    jobs: Arc<dyn Jobs>,
    settings: Notify,
    ws: Workspace,
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
        }
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
        let message = match notice {
            Notice::Done { task, .. } => format!("swarm: done: {}", text(task)),
            Notice::Failed { task, reason, .. } => {
                format!("swarm: failed: {}: {reason}", text(task))
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
        let mut env = vec![
            ("SWARM_EVENT", event.to_string()),
            ("SWARM_TASK_ID", task.0.clone()),
            ("SWARM_TASK", text(task)),
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
        self.run_hook(argv, &env);
    }

    /// Starts `argv` with `env` and lets a thread wait for it, so that a slow program never
    /// holds up the run; its output goes to the notify log.
    fn run_hook(&self, argv: &[String], env: &[(&str, String)]) {
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
        match command.spawn() {
            Ok(mut child) => {
                std::thread::spawn(move || {
                    if let Ok(None) = child.wait_timeout(HOOK_TIMEOUT) {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                });
            }
            Err(e) => self.log(&format!("running {argv:?}: {e}")),
        }
    }

    fn log_file(&self) -> Option<std::fs::File> {
        let path = self.ws.logs_dir().join("notify.log");
        std::fs::create_dir_all(path.parent()?).ok()?;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .ok()
    }

    fn log(&self, line: &str) {
        if let Some(mut log) = self.log_file() {
            let _ = writeln!(log, "swarm: {line}");
        }
    }
}
