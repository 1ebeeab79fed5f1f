//! The transcripts of attempts on other hosts, as a run keeps them: each begun as its
//! prompt goes out (the opening here, the pane piped into a file on its host), then
//! pulled here when its attempt's sentinel comes, when its pane moves on to another
//! attempt, when its host is back after a silence, and as the run ends. Pulls are
//! idempotent (src/remote/transcripts.rs), so pulling more often than needed costs an
//! ssh call and nothing else.

use super::seats::Place;
use crate::plan::TaskId;
use crate::remote::transcripts::{self, Origin, PullError};
use crate::ssh::{Host, Remote};
use crate::tmux::{Mux, PaneId, TmuxError};
use crate::workspace::Workspace;
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long one pull may take.
const PULL_TIMEOUT: Duration = Duration::from_secs(10);

/// Which transcripts to pull.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Which {
    /// One attempt's.
    Attempt(TaskId, u32),
    /// Those of one host's attempts.
    Host(String),
    /// Every one that may still grow.
    All,
}

impl Which {
    fn names(&self, open: &Open) -> bool {
        match self {
            Which::Attempt(task, attempt) => (&open.task, open.attempt) == (task, *attempt),
            Which::Host(host) => open.host.name == *host,
            Which::All => true,
        }
    }
}

/// A transcript recorded on a host that may still grow: its pane still pipes into it.
#[derive(Clone)]
struct Open {
    task: TaskId,
    attempt: u32,
    pane: PaneId,
    host: Host,
    origin: Origin,
}

/// Transcripts whose panes moved on to another attempt: complete on their hosts.
#[must_use = "a closed transcript is pulled a last time"]
pub struct Closed(Vec<Open>);

/// The run's transcripts on other hosts.
pub struct RemoteLogs {
    ssh: Arc<dyn Remote>,
    ws: Workspace,
    open: Mutex<Vec<Open>>,
    /// One pull at a time per host: one ssh session of the host's budget
    /// (docs/multihost.md, "Session budget"), however many attempts end at once.
    pulling: Mutex<HashMap<String, Arc<Mutex<()>>>>,
}

impl RemoteLogs {
    pub fn new(ssh: Arc<dyn Remote>, ws: Workspace) -> RemoteLogs {
        RemoteLogs {
            ssh,
            ws,
            open: Mutex::new(Vec::new()),
            pulling: Mutex::new(HashMap::new()),
        }
    }

    fn open(&self) -> std::sync::MutexGuard<'_, Vec<Open>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts recording `task`'s `attempt` in `pane`, at `place`: the opening here, the
    /// pane's output into `<dir>/logs/<task>.<attempt>.log` there. The pane's transcript
    /// before (an earlier attempt's) is closed by that: it is returned, to be pulled a
    /// last time once the prompt is in (`pull_closed`).
    pub fn begin(
        &self,
        mux: &dyn Mux,
        pane: &PaneId,
        place: &Place,
        (task, attempt): (&TaskId, u32),
    ) -> Result<Closed, String> {
        let path = transcripts::host_path(&place.dir, task, attempt);
        let (local, origin_path) = (
            self.ws.transcript(task, attempt),
            self.ws.transcript_origin(task, attempt),
        );
        let opening = mux.opening(pane).map_err(|e| e.to_string())?;
        transcripts::begin(&local, &origin_path, (&place.host.name, &path), &opening)
            .map_err(|e| format!("{}: {e}", local.display()))?;
        let origin = transcripts::read_origin(&origin_path)
            .ok_or_else(|| format!("{}: unreadable", origin_path.display()))?;
        mux.transcript(pane, Some(Path::new(&path)))
            .map_err(|e: TmuxError| e.to_string())?;
        let closed: Vec<Open> = {
            let mut open = self.open();
            let (closed, kept): (Vec<Open>, Vec<Open>) = open
                .drain(..)
                .partition(|o| o.pane == *pane && (&o.task, o.attempt) != (task, attempt));
            *open = kept;
            if !open.iter().any(|o| (&o.task, o.attempt) == (task, attempt)) {
                open.push(Open {
                    task: task.clone(),
                    attempt,
                    pane: pane.clone(),
                    host: place.host.clone(),
                    origin,
                });
            }
            closed
        };
        Ok(Closed(closed))
    }

    /// Pulls the transcripts `begin` closed; says what went wrong other than a host out
    /// of reach.
    pub fn pull_closed(&self, closed: Closed) -> Vec<String> {
        closed
            .0
            .iter()
            .filter_map(|o| self.pull_one(o).err())
            .collect()
    }

    /// Takes over the transcript of `task`'s `attempt` that an earlier coordinator began
    /// in `pane` at `place` (its agent lives on): the run pulls it as its own. Nothing, if
    /// none was begun.
    pub fn adopt(&self, pane: &PaneId, place: &Place, (task, attempt): (&TaskId, u32)) {
        let origin_path = self.ws.transcript_origin(task, attempt);
        let Some(origin) = transcripts::read_origin(&origin_path) else {
            return;
        };
        let mut open = self.open();
        if !open.iter().any(|o| (&o.task, o.attempt) == (task, attempt)) {
            open.push(Open {
                task: task.clone(),
                attempt,
                pane: pane.clone(),
                host: place.host.clone(),
                origin,
            });
        }
    }

    /// Whether a transcript `which` names may still grow.
    pub fn is_open(&self, which: &Which) -> bool {
        self.open().iter().any(|o| which.names(o))
    }

    /// Pulls `which` transcripts; says what went wrong other than a host out of reach
    /// (its transcripts are pulled again once it is back). Hosts are asked at once: one
    /// that does not answer holds up only its own.
    pub fn pull(&self, which: &Which) -> Vec<String> {
        let mut by_host: HashMap<String, Vec<Open>> = HashMap::new();
        for open in self.open().iter().filter(|o| which.names(o)) {
            by_host
                .entry(open.host.name.clone())
                .or_default()
                .push(open.clone());
        }
        std::thread::scope(|scope| {
            let pulls: Vec<_> = by_host
                .values()
                .map(|opens| {
                    scope.spawn(move || {
                        opens
                            .iter()
                            .filter_map(|o| self.pull_one(o).err())
                            .collect::<Vec<String>>()
                    })
                })
                .collect();
            pulls
                .into_iter()
                .flat_map(|pull| pull.join().unwrap_or_default())
                .collect()
        })
    }

    fn pull_one(&self, open: &Open) -> Result<(), String> {
        let host = self
            .pulling
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(open.host.name.clone())
            .or_default()
            .clone();
        let _one = host.lock().unwrap_or_else(|e| e.into_inner());
        let local = self.ws.transcript(&open.task, open.attempt);
        match transcripts::pull(&*self.ssh, &open.host, &local, &open.origin, PULL_TIMEOUT) {
            Ok(_) | Err(PullError::Unreachable(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::fake_host::FakeHost;
    use crate::scheduler::Notice;
    use crate::tmux::fake::FakeMux;
    use std::time::Instant;

    /// Waits for `cond`, failing the test after 20 s.
    fn wait_for(what: &str, mut cond: impl FnMut() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn an_on_fail_program_reads_the_transcript_pulled_from_the_host_first() {
        let host = FakeHost::new();
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("PLAN.md"), "- [ ] There {#b}\n").unwrap();
        let ws = Workspace::locate(&dir.path().join("PLAN.md")).unwrap();
        std::fs::create_dir_all(ws.logs_dir()).unwrap();
        let logs = Arc::new(RemoteLogs::new(host.ssh.clone(), ws.clone()));
        let mux = Arc::new(FakeMux::new());
        let pane = mux.add_agent("w0");
        let place = Place {
            host: host.host(),
            dir: host.home().join("ws").display().to_string(),
            repo: None,
        };
        let task = TaskId("b".into());
        let closed = logs.begin(&*mux, &pane, &place, (&task, 1)).unwrap();
        assert!(logs.pull_closed(closed).is_empty());
        // The pane printed on the host; nothing came here yet.
        let there = host.home().join("ws/logs/b.1.log");
        std::fs::create_dir_all(there.parent().unwrap()).unwrap();
        std::fs::write(&there, "the agent gave up\r\n").unwrap();
        let out = dir.path().join("seen");
        let notify = crate::config::Notify {
            tmux: false,
            on_done: None,
            on_fail: Some(vec![
                "sh".into(),
                "-c".into(),
                format!("cat \"$SWARM_TRANSCRIPT\" > {}", out.display()),
            ]),
        };
        let mut notifier = super::super::notify::Notifier::new(
            mux,
            Arc::new(super::super::jobs::Threads),
            notify,
            ws,
        );
        notifier.with_remote_logs(logs);
        let failed = Notice::Failed {
            task: task.clone(),
            reason: "it gave up".into(),
            attempt: 1,
        };
        notifier.notice(&failed, &HashMap::new(), &HashMap::new());
        wait_for("the on_fail program", || {
            std::fs::read_to_string(&out).is_ok_and(|s| s.ends_with("the agent gave up\r\n"))
        });
    }
}
