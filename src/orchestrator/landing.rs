//! Carrying a finished task's work to the landing branch (isolated runs): the worktrees
//! the workers' agents run in, the commit and verify in a task's worktree, and the merge
//! queue that rebases, verifies again and moves the landing branch with a compare-and-swap.
//! docs/architecture.md, "Worktrees and landing", tells why it is built this way.

use super::Msg;
use crate::clock::Clock;
use crate::git::{Advanced, Committed, Git, Integrated, Oid, Strategy, Trailers};
use crate::plan::{Task, TaskId};
use crate::scheduler::{Checked, Event, WorkerId};
use crate::verify::{self, Verdict};
use crate::workspace::Workspace;
use crossbeam_channel::Sender;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How often the merge queue tries again when the landing branch moved under it (a
/// person committed to it) between its rebase and its compare-and-swap.
const LAND_TRIES: usize = 3;
/// How often a queue held by a person's checkout of the landing branch looks again.
const HOLD_POLL: Duration = Duration::from_secs(1);

/// Where a task's work stands on its way to the landing branch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Committed,
    Verifying,
    VerifyFailed,
    Queued,
    Rebasing,
    Conflict,
    /// A person has the landing branch checked out: the queue waits for them.
    Held,
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
            Stage::Held => "held",
            Stage::Landed => "landed",
            Stage::Nothing => "nothing to land",
        }
    }
}

/// What the next attempt at a task is told about why the last one did not land. Kept in
/// a file too (`.swarm/retries/<id>.json`), written before the scheduler hears: the next
/// attempt may be prompted by an orchestrator started after a crash.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "why", rename_all = "kebab-case")]
pub enum Retry {
    /// Its change conflicts with the landing branch in these files.
    Conflict { files: Vec<String> },
    /// Verify failed; the tail of what it printed.
    Verify { output: String },
}

/// The merge queue's order: tasks land in the order they were queued, one turn at a
/// time. Each landing takes a ticket on the loop thread and waits for its turn on its
/// own; a turn may take the tickets waiting behind it along (see [`Lander::queue`]), and
/// leaves what it made of each for its job.
#[derive(Default)]
struct Tickets {
    line: Mutex<Line>,
    turn: Condvar,
}

#[derive(Default)]
struct Line {
    next: u64,
    serving: u64,
    /// The tasks whose tickets wait for their turn.
    waiting: BTreeMap<u64, Job>,
    /// What a turn made of the tickets it took along.
    done: HashMap<u64, anyhow::Result<Landing>>,
}

/// A ticket's turn: the tasks it lands (its own first), or what an earlier turn that took
/// it along made of it.
enum Turn {
    Mine(Vec<Job>, Serving),
    Done(anyhow::Result<Landing>),
}

impl Tickets {
    fn take(&self, job: Job) -> u64 {
        let mut line = self.line.lock().unwrap();
        let ticket = line.next;
        line.next += 1;
        line.waiting.insert(ticket, job);
        ticket
    }

    /// Waits for `ticket`'s turn. With `along`, the turn takes every ticket waiting
    /// right behind it too.
    fn wait(self: &Arc<Self>, ticket: u64, along: bool) -> Turn {
        let mut line = self.line.lock().unwrap();
        loop {
            if let Some(outcome) = line.done.remove(&ticket) {
                return Turn::Done(outcome);
            }
            if line.serving == ticket {
                break;
            }
            line = self.turn.wait(line).unwrap();
        }
        let mut tickets = vec![ticket];
        while along && line.waiting.contains_key(&(tickets[tickets.len() - 1] + 1)) {
            tickets.push(tickets[tickets.len() - 1] + 1);
        }
        let jobs = tickets
            .iter()
            .filter_map(|t| line.waiting.remove(t))
            .collect();
        Turn::Mine(
            jobs,
            Serving {
                tickets: self.clone(),
                taken: tickets,
                finished: false,
            },
        )
    }
}

/// A turn being served. It passes on when this drops, even if the landing panicked: the
/// tickets it took along are then told so.
struct Serving {
    tickets: Arc<Tickets>,
    taken: Vec<u64>,
    finished: bool,
}

impl Serving {
    /// Leaves `outcomes` (in the order of the jobs) for the tickets taken along; the
    /// first, the turn's own, is returned.
    fn finish(mut self, outcomes: Vec<anyhow::Result<Landing>>) -> anyhow::Result<Landing> {
        let mut outcomes = self.taken.iter().copied().zip(outcomes);
        let (_, own) = outcomes.next().expect("a turn lands its own task");
        self.tickets
            .line
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .done
            .extend(outcomes);
        self.finished = true;
        own
    }
}

impl Drop for Serving {
    fn drop(&mut self) {
        let mut line = self.tickets.line.lock().unwrap_or_else(|e| e.into_inner());
        if !self.finished {
            for ticket in self.taken.iter().skip(1) {
                line.done.insert(
                    *ticket,
                    Err(anyhow::anyhow!(
                        "the merge queue's turn that took it along failed"
                    )),
                );
            }
        }
        line.serving = self.taken.last().map_or(line.serving, |last| last + 1);
        self.tickets.turn.notify_all();
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
    retries: Retries,
    tickets: Arc<Tickets>,
    tx: Sender<Msg>,
    /// The commit verify passed for each task in its worktree, in this run: landing it
    /// unchanged needs no second verify. After a crash nothing is known, and a task's
    /// commit is verified again before it lands.
    verified: Arc<Mutex<HashMap<TaskId, Oid>>>,
    clock: Arc<dyn Clock>,
}

/// Why each task's last attempt did not land, in memory and on disk.
#[derive(Clone)]
struct Retries {
    dir: PathBuf,
    known: Arc<Mutex<HashMap<TaskId, Retry>>>,
}

impl Retries {
    fn path(&self, task: &TaskId) -> PathBuf {
        self.dir.join(format!("{task}.json"))
    }

    fn get(&self, task: &TaskId) -> Option<Retry> {
        if let Some(retry) = self.known.lock().unwrap().get(task) {
            return Some(retry.clone());
        }
        let text = std::fs::read_to_string(self.path(task)).ok()?;
        serde_json::from_str(&text).ok()
    }

    fn insert(&self, task: &TaskId, retry: Retry) {
        // The next prompt is the better for it, but a run must not stop for want of it.
        let _ = std::fs::create_dir_all(&self.dir).and_then(|()| {
            let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
            serde_json::to_writer(&mut file, &retry)?;
            file.persist(self.path(task)).map(drop).map_err(|e| e.error)
        });
        self.known.lock().unwrap().insert(task.clone(), retry);
    }

    fn remove(&self, task: &TaskId) {
        let _ = std::fs::remove_file(self.path(task));
        self.known.lock().unwrap().remove(task);
    }
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
        (tx, clock): (Sender<Msg>, Arc<dyn Clock>),
    ) -> anyhow::Result<Lander> {
        let retries = Retries {
            dir: ws.swarm_dir().join("retries"),
            known: Arc::default(),
        };
        let lander = Lander {
            git,
            ws,
            prefix: spec.prefix,
            land: spec.land,
            strategy: spec.strategy,
            verify: spec.verify,
            verify_timeout: spec.verify_timeout,
            retries,
            tickets: Arc::default(),
            tx,
            verified: Arc::default(),
            clock,
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

    /// The repository, for work on other hosts that comes back as its branches.
    pub fn git(&self) -> Arc<dyn Git> {
        self.git.clone()
    }

    /// Where the workspace is inside the repository.
    pub fn prefix(&self) -> &Path {
        &self.prefix
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

    /// `task`'s branch, if it is there: a failed or skipped task's work stays on it.
    pub fn kept_branch(&self, task: &TaskId) -> Option<String> {
        let branch = Lander::branch(task);
        self.git.tip(&branch).ok().flatten().map(|_| branch)
    }

    /// What the next attempt at `task` must be told, if its last one did not land.
    pub fn retry(&self, task: &TaskId) -> Option<Retry> {
        self.retries.get(task)
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
        let verified = self.verified.clone();
        move || {
            let stage = |stage: Stage, commit: Option<&Oid>| {
                let _ = tx.send(Msg::Stage {
                    task: job.task.clone(),
                    stage,
                    commit: commit.cloned(),
                });
            };
            let outcome = (|| {
                let committed = git.commit(&wt, &job.message, &job.trailers(), &exclude, &land)?;
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
                    Ok(()) => {
                        verified.lock().unwrap().insert(job.task.clone(), head);
                        Checked::ToLand
                    }
                    Err((why, output)) => {
                        retries.insert(&job.task, Retry::Verify { output });
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
    /// again if the landing tip moved, and moves the landing branch. Without a verify
    /// command, a turn takes along the tasks queued behind it that wait too, puts each
    /// on the one before, and moves the landing branch once for all of them: at eight
    /// landings a second, one at a time, the queue was what an agent's work waited for.
    pub fn queue(&self, job: Job) -> impl FnOnce() -> Event + Send + 'static {
        let ticket = self.tickets.take(job.clone());
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
        let verified = self.verified.clone();
        let (clock, warn) = (self.clock.clone(), self.tx.clone());
        let stage = move |task: &TaskId, stage: Stage, commit: Option<&Oid>| {
            let _ = tx.send(Msg::Stage {
                task: task.clone(),
                stage,
                commit: commit.cloned(),
            });
        };
        stage(&job.task, Stage::Queued, None);
        move || {
            let hold = Hold {
                clock: &*clock,
                told: &|task: &TaskId, person: &Path| {
                    stage(task, Stage::Held, None);
                    let _ = warn.send(Msg::Warn(format!(
                        "`{land}` is checked out in {}: nothing lands on it until that working tree is on another branch (moving it would leave its index stale)",
                        person.display()
                    )));
                },
            };
            let landed = match tickets.wait(ticket, verify.is_none()) {
                Turn::Done(outcome) => outcome,
                Turn::Mine(jobs, serving) => {
                    for job in &jobs {
                        stage(&job.task, Stage::Rebasing, None);
                    }
                    let outcomes = match &verify {
                        None => land_all(&*git, &wt, &land, strategy, &jobs, &hold),
                        Some(run) => {
                            let passed = verified.lock().unwrap().remove(&job.task);
                            vec![land_one(
                                &*git,
                                &wt,
                                &land,
                                strategy,
                                &job,
                                (run, passed),
                                &hold,
                            )]
                        }
                    };
                    serving.finish(outcomes)
                }
            };
            let task = job.task.clone();
            match landed {
                Ok(Landing::Landed(commit)) => {
                    let at = if commit.is_some() {
                        Stage::Landed
                    } else {
                        Stage::Nothing
                    };
                    stage(&task, at, commit.as_ref());
                    retries.remove(&task);
                    Event::Landed { task, commit }
                }
                Ok(Landing::Failed {
                    stage: at,
                    retry,
                    reason,
                }) => {
                    stage(&task, at, None);
                    retries.insert(&task, retry);
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

    /// At the end of a run: the worktrees go, unless something in one would be lost. A
    /// worktree may still sit on a task's commit that landed as a rebased copy: it moves
    /// to the landing tip first, if it is clean.
    /// One after another: all at once saved a quarter of a second at the end of a run
    /// of nine worktrees, but a clean-clone CI run was seen to leave one behind.
    pub fn tidy(&self, workers: usize) {
        let worktrees = (0..workers).map(|w| self.ws.worktree(w));
        for wt in worktrees.chain([self.ws.land_worktree()]) {
            if self.git.park(&wt, &self.land).unwrap_or(false) {
                let _ = self.git.remove_worktree(&wt);
            }
        }
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

/// What the merge queue does while a person has the landing branch checked out: moving
/// it would leave their index stale, and a commit of theirs then would undo what landed.
struct Hold<'a> {
    clock: &'a dyn Clock,
    /// Tells the people watching, once, which working tree holds a task.
    told: &'a dyn Fn(&TaskId, &Path),
}

impl Hold<'_> {
    /// Moves the landing branch from `onto` to `new` with the tasks' branches `landed`
    /// going too, once no person's working tree has it checked out; false if it had moved.
    fn advance(
        &self,
        git: &dyn Git,
        land: &str,
        (new, onto): (&Oid, &Oid),
        landed: &[(String, Oid)],
        tasks: &[&TaskId],
    ) -> anyhow::Result<bool> {
        let landed: Vec<(&str, &Oid)> = landed.iter().map(|(b, at)| (b.as_str(), at)).collect();
        let mut told = false;
        loop {
            match git.advance(land, new, onto, &landed)? {
                Advanced::Moved => return Ok(true),
                Advanced::Raced => return Ok(false),
                Advanced::Held(person) => {
                    if !told {
                        for task in tasks {
                            (self.told)(task, &person);
                        }
                        told = true;
                    }
                    self.clock.sleep(HOLD_POLL);
                }
            }
        }
    }
}

/// What `integrate` made of a task's branch when there is nothing to put on the landing
/// branch for it; None when there is.
fn settled(git: &dyn Git, land: &str, branch: &str, integrated: &Integrated) -> Option<Landing> {
    Some(match integrated {
        Integrated::Conflict { files } => {
            let list: Vec<String> = files.iter().map(|f| format!("`{f}`")).collect();
            Landing::Failed {
                stage: Stage::Conflict,
                reason: format!("it conflicts with `{land}` in {}", list.join(", ")),
                retry: Retry::Conflict {
                    files: files.clone(),
                },
            }
        }
        Integrated::Empty { from } => {
            let _ = git.delete_branch(branch, from);
            Landing::Landed(None)
        }
        // Checked with changes, yet in the landing branch already: it landed before a
        // crash, after the compare-and-swap and before the journal heard.
        Integrated::Contained { head } => {
            let _ = git.delete_branch(branch, head);
            Landing::Landed(Some(head.clone()))
        }
        // The branch goes only once its work has landed: a crash came after that.
        Integrated::Gone => Landing::Landed(None),
        Integrated::Ready { .. } => return None,
    })
}

/// One turn of the merge queue for `job`, with a verify to pass on the result.
fn land_one(
    git: &dyn Git,
    wt: &Path,
    land: &str,
    strategy: Strategy,
    job: &Job,
    (verify, passed): (&VerifyRun, Option<Oid>),
    hold: &Hold,
) -> anyhow::Result<Landing> {
    let branch = Lander::branch(&job.task);
    for _ in 0..LAND_TRIES {
        let integrated =
            git.integrate(wt, &branch, land, strategy, &job.message, &job.trailers())?;
        if let Some(landing) = settled(git, land, &branch, &integrated) {
            return Ok(landing);
        }
        let Integrated::Ready { head, onto, from } = integrated else {
            unreachable!("settled takes every other case")
        };
        // Verified where it was made; again, on the result checked out in the landing
        // worktree, unless it is that very commit (the landing tip had not moved). After
        // a crash, what verify passed is not known: it runs again. The branch moves to
        // the result first, so that a retry after a failure starts from it.
        let mut branch_at = from;
        if passed.as_ref() != Some(&head) {
            git.move_branch(&branch, &head, &branch_at)?;
            branch_at = head.clone();
            anyhow::ensure!(
                git.park(wt, &head)?,
                "the landing worktree {} holds changes of its own",
                wt.display()
            );
            if let Err((why, output)) = verify.run(wt)? {
                return Ok(Landing::Failed {
                    stage: Stage::VerifyFailed,
                    reason: format!("on the landing tip, {why}"),
                    retry: Retry::Verify { output },
                });
            }
        }
        // The landing branch moves and the task's branch goes in one transaction: a
        // crash leaves both or neither.
        let landed = [(branch.clone(), branch_at)];
        if hold.advance(git, land, (&head, &onto), &landed, &[&job.task])? {
            return Ok(Landing::Landed(Some(head)));
        }
    }
    anyhow::bail!("`{land}` kept moving while the task was landed on it")
}

/// One turn of the merge queue for `jobs`, in order, with no verify to run: each task's
/// work goes on what the one before made, and the landing branch moves once, to the
/// last, in the same transaction that deletes their branches. A task that conflicts or
/// brings nothing is left out of the chain.
fn land_all(
    git: &dyn Git,
    wt: &Path,
    land: &str,
    strategy: Strategy,
    jobs: &[Job],
    hold: &Hold,
) -> Vec<anyhow::Result<Landing>> {
    let mut outcomes: Vec<Option<anyhow::Result<Landing>>> = jobs.iter().map(|_| None).collect();
    for _ in 0..LAND_TRIES {
        // (job, its commit on the chain, its branch's tip)
        let mut chain: Vec<(usize, Oid, Oid)> = Vec::new();
        let mut base: Option<Oid> = None;
        for (i, job) in jobs.iter().enumerate() {
            if outcomes[i].is_some() {
                continue;
            }
            let branch = Lander::branch(&job.task);
            let onto = chain.last().map_or(land, |(_, head, _)| head.as_str());
            let integrated =
                git.integrate(wt, &branch, onto, strategy, &job.message, &job.trailers());
            match integrated {
                Err(e) => outcomes[i] = Some(Err(e.into())),
                Ok(Integrated::Ready { head, onto, from }) => {
                    base.get_or_insert(onto);
                    chain.push((i, head, from));
                }
                Ok(integrated) => outcomes[i] = settled(git, land, &branch, &integrated).map(Ok),
            }
        }
        let (Some(base), Some((_, new, _))) = (&base, chain.last()) else {
            break;
        };
        let landed: Vec<(String, Oid)> = chain
            .iter()
            .map(|(i, _, from)| (Lander::branch(&jobs[*i].task), from.clone()))
            .collect();
        let tasks: Vec<&TaskId> = chain.iter().map(|(i, _, _)| &jobs[*i].task).collect();
        match hold.advance(git, land, (new, base), &landed, &tasks) {
            Ok(false) => continue,
            Ok(true) => {
                for (i, head, _) in chain {
                    outcomes[i] = Some(Ok(Landing::Landed(Some(head))));
                }
            }
            Err(e) => {
                for (i, _, _) in chain {
                    outcomes[i] = Some(Err(anyhow::anyhow!("{e:#}")));
                }
            }
        }
        break;
    }
    outcomes
        .into_iter()
        .map(|outcome| {
            outcome.unwrap_or_else(|| {
                Err(anyhow::anyhow!(
                    "`{land}` kept moving while the task was landed on it"
                ))
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::SystemClock;
    use crate::git::fake::FakeGit;

    fn job(task: &str) -> Job {
        Job {
            task: TaskId(task.into()),
            attempt: 1,
            message: format!("task {task}"),
        }
    }

    #[test]
    fn a_turn_takes_the_tickets_waiting_behind_it_and_leaves_each_its_outcome() {
        let tickets = Arc::new(Tickets::default());
        let [a, b, c] = ["a", "b", "c"].map(|t| tickets.take(job(t)));
        let Turn::Mine(jobs, serving) = tickets.wait(a, true) else {
            panic!("the first ticket's turn is its own")
        };
        let tasks: Vec<String> = jobs.iter().map(|j| j.task.to_string()).collect();
        assert_eq!(tasks, ["a", "b", "c"]);
        let outcomes = vec![
            Ok(Landing::Landed(Some("1".into()))),
            Ok(Landing::Landed(None)),
            Err(anyhow::anyhow!("c failed")),
        ];
        assert!(matches!(serving.finish(outcomes), Ok(Landing::Landed(Some(c))) if c == "1"));
        assert!(matches!(
            tickets.wait(b, true),
            Turn::Done(Ok(Landing::Landed(None)))
        ));
        assert!(matches!(tickets.wait(c, true), Turn::Done(Err(_))));
        // The next ticket has the turn, alone.
        let d = tickets.take(job("d"));
        assert!(matches!(tickets.wait(d, true), Turn::Mine(jobs, _) if jobs.len() == 1));
    }

    #[test]
    fn a_turn_that_fails_tells_the_tickets_it_took_along() {
        let tickets = Arc::new(Tickets::default());
        let [a, b] = ["a", "b"].map(|t| tickets.take(job(t)));
        let Turn::Mine(_, serving) = tickets.wait(a, true) else {
            panic!("not mine")
        };
        drop(serving);
        assert!(matches!(tickets.wait(b, true), Turn::Done(Err(_))));
    }

    #[test]
    fn tasks_landed_together_go_in_order_with_one_move_of_the_landing_branch() {
        let git = FakeGit::new("swarm/main");
        let jobs = [job("a"), job("b"), job("c")];
        for job in &jobs {
            let wt = PathBuf::from(format!("/nowhere/{}", job.task));
            git.prepare(&wt, &Lander::branch(&job.task), "swarm/main")
                .unwrap();
            git.commit(&wt, "", &job.trailers(), &[], "swarm/main")
                .unwrap();
        }
        git.world().conflicts.insert("swarm/task/b".into(), 1);
        let clock = SystemClock::new();
        let hold = Hold {
            clock: &clock,
            told: &|_, _| panic!("nobody holds the landing branch"),
        };
        let outcomes = land_all(
            &git,
            Path::new("/nowhere/land"),
            "swarm/main",
            Strategy::Rebase,
            &jobs,
            &hold,
        );
        let heads: Vec<Option<Oid>> = outcomes
            .iter()
            .map(|o| match o {
                Ok(Landing::Landed(head)) => head.clone(),
                _ => None,
            })
            .collect();
        assert!(heads[0].is_some() && heads[2].is_some());
        assert!(matches!(
            outcomes[1],
            Ok(Landing::Failed {
                stage: Stage::Conflict,
                ..
            })
        ));
        let w = git.world();
        assert_eq!(
            w.calls
                .iter()
                .filter(|c| *c == "advance swarm/main")
                .count(),
            1
        );
        let integrated: Vec<&String> = w
            .calls
            .iter()
            .filter(|c| c.starts_with("integrate"))
            .collect();
        assert_eq!(
            integrated,
            [
                "integrate swarm/task/a",
                "integrate swarm/task/b",
                "integrate swarm/task/c"
            ]
        );
        drop(w);
        assert_eq!(
            git.tip("swarm/main").unwrap(),
            heads[2],
            "the last on the chain"
        );
        assert_eq!(git.tip("swarm/task/a").unwrap(), None, "landed branches go");
        assert!(
            git.tip("swarm/task/b").unwrap().is_some(),
            "a conflict's stays"
        );
    }
}
