//! Carrying a finished task's work to the landing branch (isolated runs): the worktrees
//! the workers' agents run in, the commit and verify in a task's worktree, and the merge
//! queue that rebases, verifies again and moves the landing branch with a compare-and-swap.
//! docs/architecture.md, "Worktrees and landing", tells why it is built this way.

use super::Msg;
use crate::git::{Committed, Git, Integrated, Oid, Strategy, Trailers};
use crate::plan::{Task, TaskId};
use crate::scheduler::{Checked, Event, WorkerId};
use crate::verify::{self, Verdict};
use crate::workspace::Workspace;
use crossbeam_channel::Sender;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How often the merge queue tries again when the landing branch moved under it (a
/// person committed to it) between its rebase and its compare-and-swap.
const LAND_TRIES: usize = 3;

/// Where a task's work stands on its way to the landing branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Committed,
    Verifying,
    VerifyFailed,
    Queued,
    Rebasing,
    Conflict,
    Landed,
    /// The task changed nothing: done, with nothing to land.
    Nothing,
}

impl Stage {
    /// The name `status`, the dashboard and the journal use.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Committed => "committed",
            Stage::Verifying => "verifying",
            Stage::VerifyFailed => "verify-failed",
            Stage::Queued => "queued",
            Stage::Rebasing => "rebasing",
            Stage::Conflict => "conflict",
            Stage::Landed => "landed",
            Stage::Nothing => "nothing to land",
        }
    }
}

/// What the next attempt at a task is told about why the last one did not land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retry {
    /// Its change conflicts with the landing branch in these files.
    Conflict { files: Vec<String> },
    /// Verify failed; the tail of what it printed.
    Verify { output: String },
}

/// The merge queue's order: tasks land one at a time, in the order they were queued.
/// Each landing takes a ticket on the loop thread and waits for its turn on its own.
#[derive(Default)]
struct Tickets {
    next: Mutex<u64>,
    serving: Mutex<u64>,
    turn: Condvar,
}

impl Tickets {
    fn take(&self) -> u64 {
        let mut next = self.next.lock().unwrap();
        *next += 1;
        *next - 1
    }

    /// Waits for `ticket`'s turn; the turn passes on when the returned guard drops, even
    /// if the landing panicked.
    fn wait(self: &Arc<Self>, ticket: u64) -> Turn {
        let mut serving = self.serving.lock().unwrap();
        while *serving != ticket {
            serving = self.turn.wait(serving).unwrap();
        }
        Turn(self.clone())
    }
}

struct Turn(Arc<Tickets>);

impl Drop for Turn {
    fn drop(&mut self) {
        *self.0.serving.lock().unwrap_or_else(|e| e.into_inner()) += 1;
        self.0.turn.notify_all();
    }
}

/// An isolated run's worktrees and merge queue.
pub struct Lander {
    git: Arc<dyn Git>,
    ws: Workspace,
    /// The workspace's place in its repository (empty at the top): an agent works in the
    /// same place inside its worktree.
    prefix: PathBuf,
    /// The landing branch's short name.
    land: String,
    strategy: Strategy,
    verify: Option<String>,
    verify_timeout: Option<Duration>,
    retries: Arc<Mutex<HashMap<TaskId, Retry>>>,
    tickets: Arc<Tickets>,
    tx: Sender<Msg>,
}

/// What a landing needs to know of its task.
#[derive(Clone)]
pub struct Job {
    pub task: TaskId,
    pub attempt: u32,
    /// The commit message: the task's text.
    pub message: String,
}

impl Job {
    pub fn of(task: &Task, attempt: u32) -> Job {
        Job {
            task: task.id.clone(),
            attempt,
            message: task.text.clone(),
        }
    }

    fn trailers(&self) -> Trailers {
        Trailers {
            task: self.task.clone(),
            attempt: self.attempt,
        }
    }
}

/// Settings for a `Lander`, as the run resolved them.
pub struct LandSpec {
    pub prefix: PathBuf,
    pub land: String,
    pub strategy: Strategy,
    pub verify: Option<String>,
    pub verify_timeout: Option<Duration>,
}

impl Lander {
    /// Gets the landing worktree ready (a crash may have left a rebase half-done in it).
    pub fn new(
        git: Arc<dyn Git>,
        ws: Workspace,
        spec: LandSpec,
        tx: Sender<Msg>,
    ) -> anyhow::Result<Lander> {
        let lander = Lander {
            git,
            ws,
            prefix: spec.prefix,
            land: spec.land,
            strategy: spec.strategy,
            verify: spec.verify,
            verify_timeout: spec.verify_timeout,
            retries: Arc::default(),
            tickets: Arc::default(),
            tx,
        };
        lander
            .git
            .ensure_worktree(&lander.ws.land_worktree(), &lander.land)?;
        Ok(lander)
    }

    /// The landing branch's short name.
    pub fn land(&self) -> &str {
        &self.land
    }

    /// The branch every attempt at `task` works on.
    pub fn branch(task: &TaskId) -> String {
        format!("swarm/task/{task}")
    }

    /// Where worker `worker`'s agent works: its worktree, at the workspace's place.
    pub fn cwd(&self, worker: WorkerId) -> PathBuf {
        self.ws.worktree(worker).join(&self.prefix)
    }

    /// A workspace-relative path (a sentinel) as it is inside worker `worker`'s
    /// worktree, relative to the workspace again.
    pub fn in_worktree(&self, worker: WorkerId, rel: &Path) -> PathBuf {
        let wt = self.ws.worktree(worker).join(&self.prefix).join(rel);
        wt.strip_prefix(&self.ws.root)
            .map(Path::to_path_buf)
            .unwrap_or(wt)
    }

    /// Makes worker `worker`'s worktree before its agent starts there.
    pub fn ensure(&self, worker: WorkerId) -> anyhow::Result<()> {
        Ok(self
            .git
            .ensure_worktree(&self.ws.worktree(worker), &self.land)?)
    }

    /// What to run before `task`'s prompt goes to worker `worker`: its branch checked out
    /// in the worker's worktree.
    pub fn prep(&self, worker: WorkerId, task: &TaskId) -> Prep {
        Prep {
            git: self.git.clone(),
            wt: self.ws.worktree(worker),
            branch: Lander::branch(task),
            land: self.land.clone(),
        }
    }

    /// What the next attempt at `task` must be told, if its last one did not land.
    pub fn retry(&self, task: &TaskId) -> Option<Retry> {
        self.retries.lock().unwrap().get(task).cloned()
    }

    pub fn verify_command(&self) -> Option<&str> {
        self.verify.as_deref()
    }

    /// Commits and verifies `job`'s work in worker `worker`'s worktree; `sentinel` is
    /// workspace-relative, as in the prompt.
    pub fn check(
        &self,
        worker: WorkerId,
        job: Job,
        sentinel: &Path,
    ) -> impl FnOnce() -> Event + Send + 'static {
        let git = self.git.clone();
        let wt = self.ws.worktree(worker);
        let exclude = vec![self.prefix.join(sentinel)];
        let sentinel = wt.join(&exclude[0]);
        let land = self.land.clone();
        let verify = self.verify_run(self.ws.verify_log(&job.task, job.attempt));
        let (retries, tx) = (self.retries.clone(), self.tx.clone());
        move || {
            let stage = |stage: Stage, commit: Option<&Oid>| {
                let _ = tx.send(Msg::Stage {
                    task: job.task.clone(),
                    stage,
                    commit: commit.cloned(),
                });
            };
            let outcome = (|| {
                let tip = git
                    .tip(&land)?
                    .ok_or_else(|| anyhow::anyhow!("the landing branch `{land}` is gone"))?;
                let committed = git.commit(&wt, &job.message, &job.trailers(), &exclude, &tip)?;
                // Swarm's own file: a later attempt in this worktree must not find it.
                let _ = std::fs::remove_file(&sentinel);
                let Committed::Changes { head } = committed else {
                    stage(Stage::Nothing, None);
                    return Ok(Checked::Nothing);
                };
                stage(Stage::Committed, Some(&head));
                let Some(verify) = verify else {
                    return Ok(Checked::ToLand);
                };
                stage(Stage::Verifying, Some(&head));
                Ok(match verify.run(&wt)? {
                    Ok(()) => Checked::ToLand,
                    Err((why, output)) => {
                        retries
                            .lock()
                            .unwrap()
                            .insert(job.task.clone(), Retry::Verify { output });
                        stage(Stage::VerifyFailed, Some(&head));
                        Checked::Failed(why)
                    }
                })
            })();
            let outcome = outcome.unwrap_or_else(|e: anyhow::Error| {
                Checked::Failed(format!("its work could not be committed: {e:#}"))
            });
            Event::Checked {
                worker,
                task: job.task,
                outcome,
            }
        }
    }

    /// Queues `job` to land: the returned job waits for its turn, then rebases, verifies
    /// again if the landing tip moved, and moves the landing branch.
    pub fn queue(&self, job: Job) -> impl FnOnce() -> Event + Send + 'static {
        let ticket = self.tickets.take();
        let tickets = self.tickets.clone();
        let git = self.git.clone();
        let wt = self.ws.land_worktree();
        let (land, strategy) = (self.land.clone(), self.strategy);
        let verify = self.verify_run(
            self.ws
                .logs_dir()
                .join(format!("{}.{}.verify-tip.log", job.task, job.attempt)),
        );
        let (retries, tx) = (self.retries.clone(), self.tx.clone());
        let stage = move |task: &TaskId, stage: Stage, commit: Option<&Oid>| {
            let _ = tx.send(Msg::Stage {
                task: task.clone(),
                stage,
                commit: commit.cloned(),
            });
        };
        stage(&job.task, Stage::Queued, None);
        move || {
            let _turn = tickets.wait(ticket);
            stage(&job.task, Stage::Rebasing, None);
            let landed = land_one(&*git, &wt, &land, strategy, &job, verify.as_ref());
            let task = job.task.clone();
            match landed {
                Ok(Landing::Landed(commit)) => {
                    let at = if commit.is_some() {
                        Stage::Landed
                    } else {
                        Stage::Nothing
                    };
                    stage(&task, at, commit.as_ref());
                    retries.lock().unwrap().remove(&task);
                    Event::Landed { task, commit }
                }
                Ok(Landing::Failed { stage: at, retry, reason }) => {
                    stage(&task, at, None);
                    retries.lock().unwrap().insert(task.clone(), retry);
                    Event::LandFailed { task, reason }
                }
                Err(e) => Event::LandFailed {
                    task,
                    reason: format!("landing failed: {e:#}"),
                },
            }
        }
    }

    fn verify_run(&self, log: PathBuf) -> Option<VerifyRun> {
        Some(VerifyRun {
            command: self.verify.clone()?,
            timeout: self.verify_timeout,
            log,
        })
    }

    /// At the end of a run: the worktrees go, unless something in one would be lost.
    pub fn tidy(&self, workers: usize) {
        for worker in 0..workers {
            let _ = self.git.remove_worktree(&self.ws.worktree(worker));
        }
        let _ = self.git.remove_worktree(&self.ws.land_worktree());
    }
}

/// Checking out a task's branch in a worker's worktree, run just before its prompt goes.
pub struct Prep {
    git: Arc<dyn Git>,
    wt: PathBuf,
    branch: String,
    land: String,
}

impl Prep {
    pub fn run(self) -> Result<(), String> {
        self.git
            .prepare(&self.wt, &self.branch, &self.land)
            .map(drop)
            .map_err(|e| format!("its worktree could not be made ready: {e}"))
    }
}

/// A verify command to run for one task.
struct VerifyRun {
    command: String,
    timeout: Option<Duration>,
    log: PathBuf,
}

impl VerifyRun {
    /// Whether it passed in `dir`; if not, why, and the tail of what it printed.
    fn run(&self, dir: &Path) -> anyhow::Result<Result<(), (String, String)>> {
        let verdict = verify::run(dir, &self.command, self.timeout, &self.log)?;
        let log = self.log.display();
        Ok(match verdict {
            Verdict::Passed => Ok(()),
            Verdict::Failed { status, tail } => Err((
                format!("verify `{}` failed ({status}); see {log}", self.command),
                tail,
            )),
            Verdict::TimedOut { after, tail } => Err((
                format!(
                    "verify `{}` ran out of time after {}; see {log}",
                    self.command,
                    humantime::format_duration(after)
                ),
                tail,
            )),
        })
    }
}

enum Landing {
    Landed(Option<Oid>),
    Failed {
        stage: Stage,
        retry: Retry,
        reason: String,
    },
}

/// One turn of the merge queue for `job`.
fn land_one(
    git: &dyn Git,
    wt: &Path,
    land: &str,
    strategy: Strategy,
    job: &Job,
    verify: Option<&VerifyRun>,
) -> anyhow::Result<Landing> {
    let branch = Lander::branch(&job.task);
    let Some(head) = git.tip(&branch)? else {
        // The branch goes only once its work has landed: a crash came after that.
        return Ok(Landing::Landed(None));
    };
    if git.contains(land, &head)? {
        // Landed before a crash, or nothing beyond what the landing branch has.
        let _ = git.delete_branch(&branch, &head);
        return Ok(Landing::Landed(None));
    }
    for _ in 0..LAND_TRIES {
        let (new, onto) = match git.integrate(
            wt,
            &branch,
            land,
            strategy,
            &job.message,
            &job.trailers(),
        )? {
            Integrated::Conflict { files } => {
                let list: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
                return Ok(Landing::Failed {
                    stage: Stage::Conflict,
                    reason: format!("it conflicts with `{land}` in {}", list.join(", ")),
                    retry: Retry::Conflict { files },
                });
            }
            Integrated::Empty => {
                let _ = git.delete_branch(&branch, &head);
                return Ok(Landing::Landed(None));
            }
            Integrated::Ready { head, onto } => (head, onto),
        };
        // Verified where it was made; again only if the landing tip moved since.
        if let Some(verify) = verify
            && !git.contains(&head, &onto)?
            && let Err((why, output)) = verify.run(wt)?
        {
            return Ok(Landing::Failed {
                stage: Stage::VerifyFailed,
                reason: format!("on the landing tip, {why}"),
                retry: Retry::Verify { output },
            });
        }
        if git.advance(land, &new, &onto)? {
            let _ = git.delete_branch(&branch, &new);
            return Ok(Landing::Landed(Some(new)));
        }
    }
    anyhow::bail!("`{land}` kept moving while the task was landed on it")
}
