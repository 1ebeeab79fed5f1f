//! The run loop, tested in milliseconds: the real scheduler, executor, journal, plan file
//! and sentinel watch, with a fake tmux (`tmux::fake`) and a manual clock. Jobs run on
//! real threads; the harness knows the system has settled when every job alive sleeps on
//! the manual clock and no event is waiting, so no test sleeps and hopes.

use super::LandSpec;
use super::executor::Edges;
use super::jobs::Jobs;
use super::step::{Flow, Input, Loop, PLAN_QUIET, Start};
use super::{Msg, Progress};
use crate::agent::Profile;
use crate::clock::manual::ManualClock;
use crate::commands;
use crate::config::{self, Overrides};
use crate::git::fake::FakeGit;
use crate::git::{Git, Strategy};
use crate::journal::{Journal, Record};
use crate::plan::TaskId;
use crate::scheduler::{Command, Event, Limits, TaskStatus};
use crate::sentinel::Sentinels;
use crate::tmux::PaneId;
use crate::tmux::fake::{self, FakeMux};
use crate::workspace::Workspace;
use crossbeam_channel::Receiver;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Real time a test may take to settle before it is a hang.
const HANG: Duration = Duration::from_secs(10);
/// Fake time between two loop ticks.
const STEP: Duration = Duration::from_millis(50);
/// Fake time long enough for a reset and a delivery: each waits on the screen in steps.
const TURN: Duration = Duration::from_millis(400);

/// Threads, counted, so that the harness can tell when all of them sleep.
#[derive(Default)]
struct Counted {
    alive: Arc<AtomicUsize>,
}

struct Alive(Arc<AtomicUsize>);

impl Drop for Alive {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Jobs for Counted {
    fn spawn(&self, job: Box<dyn FnOnce() + Send>) {
        self.alive.fetch_add(1, Ordering::SeqCst);
        let alive = Alive(self.alive.clone());
        std::thread::spawn(move || {
            let _alive = alive;
            job();
        });
    }
}

/// How a test sets up its run.
struct Setup {
    plan: &'static str,
    workers: usize,
    limits: Limits,
    interrupt: Option<&'static str>,
    /// Journal records of an earlier run, and fake panes that outlived it.
    earlier: Vec<Record>,
    live_panes: usize,
    slow_start: bool,
    /// Tasks run in worktrees of a fake git, and land on `swarm/main`.
    isolated: bool,
    /// Pools of fake agents by profile name, instead of `workers` of the default profile.
    pools: Vec<(&'static str, usize)>,
    /// Workers on a host `h1` (a fake tmux of its own, behind the fleet), after the
    /// local ones.
    remote: usize,
}

impl Default for Setup {
    fn default() -> Self {
        Setup {
            plan: "- [ ] First {#a}\n- [ ] Second {#b}\n",
            workers: 1,
            limits: Limits::default(),
            interrupt: None,
            earlier: Vec::new(),
            live_panes: 0,
            slow_start: false,
            isolated: false,
            pools: Vec::new(),
            remote: 0,
        }
    }
}

struct Harness {
    _dir: tempfile::TempDir,
    ws: Workspace,
    mux: Arc<FakeMux>,
    clock: Arc<ManualClock>,
    alive: Arc<AtomicUsize>,
    rx: Receiver<Msg>,
    _fs: Receiver<notify::Result<notify::Event>>,
    sentinels: HashMap<TaskId, PathBuf>,
    lp: Option<Loop<'static>>,
    flow: Flow,
    git: Option<Arc<FakeGit>>,
    /// Host `h1`'s tmux, and the ssh that reaches it, with `Setup::remote`.
    h1: Arc<FakeMux>,
    ssh: Arc<FakeSsh>,
}

/// ssh to a fake host: it runs nothing, records each command, and can be cut off.
#[derive(Default)]
struct FakeSsh {
    cut: std::sync::atomic::AtomicBool,
    calls: std::sync::Mutex<Vec<String>>,
}

impl crate::ssh::Remote for FakeSsh {
    fn exec(
        &self,
        host: &crate::ssh::Host,
        argv: &[&str],
        _timeout: Duration,
    ) -> Result<crate::ssh::Output, crate::ssh::SshError> {
        if self.cut.load(Ordering::SeqCst) {
            return Err(crate::ssh::SshError::HostUnreachable {
                host: host.name.clone(),
                why: "ssh exited with status 255".into(),
            });
        }
        self.calls.lock().unwrap().push(argv.join(" "));
        Ok(crate::ssh::Output {
            status: 0,
            stdout: String::new(),
            stderr: String::new(),
        })
    }
}

impl Harness {
    fn new(setup: Setup) -> Harness {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("PLAN.md"), setup.plan).unwrap();
        let ws = Workspace::locate(&dir.path().join("PLAN.md")).unwrap();
        let (_, tasks) = crate::plan::load(&ws.plan).unwrap();
        let overrides = Overrides {
            // A run of only remote workers has 0 here; swarm.toml's hosts allow that.
            workers: Some(setup.workers.max(1) as u32),
            ..Overrides::default()
        };
        let mut settings = config::resolve(None, &overrides, &ws.root).unwrap();
        settings.profile = fake::profile(setup.interrupt);
        settings.pools = setup
            .pools
            .iter()
            .map(|&(name, workers)| config::Pool {
                profile: Profile {
                    name: name.into(),
                    ..settings.profile.clone()
                },
                workers,
            })
            .collect();
        match settings.pools.first() {
            // The first pool's profile is the default.
            Some(first) => settings.profile = first.profile.clone(),
            None => {
                settings.pools = vec![config::Pool {
                    profile: settings.profile.clone(),
                    workers: setup.workers,
                }];
            }
        }
        let (h1, ssh) = (Arc::new(FakeMux::new()), Arc::new(FakeSsh::default()));
        let mut seats = None;
        if setup.remote > 0 {
            let host = crate::ssh::Host::new("h1", "h1.lan", Vec::new()).unwrap();
            settings.lease_grace = Duration::from_secs(2);
            settings.remote_pools = vec![config::RemotePool {
                host: config::HostConfig {
                    host: host.clone(),
                    workers: setup.remote,
                    dir: Some("/srv/h1".into()),
                    agents: Vec::new(),
                    tags: Vec::new(),
                },
                profile: settings.profile.clone(),
                workers: setup.remote,
            }];
            let mut seated = super::seats::Seats::none(ssh.clone());
            let local = settings.local_workers();
            for worker in local..local + setup.remote {
                let place = super::seats::Place {
                    host: host.clone(),
                    dir: "/srv/h1".into(),
                    repo: None,
                };
                seated.seat(worker, place);
            }
            seats = Some(seated);
        }
        let sentinels: HashMap<TaskId, PathBuf> = tasks
            .iter()
            .map(|t| (t.id.clone(), crate::prompt::sentinel_for(t).unwrap()))
            .collect();
        std::fs::create_dir_all(ws.swarm_dir().join("done")).unwrap();
        std::fs::create_dir_all(commands::dir(&ws)).unwrap();
        let mux = Arc::new(FakeMux::new());
        for worker in 0..setup.live_panes {
            mux.add_agent(&format!("w{worker}"));
        }
        mux.world().slow_start = setup.slow_start;
        h1.world().slow_start = setup.slow_start;
        if !setup.earlier.is_empty() {
            let (mut journal, _) = Journal::open(&ws.journal_path(), &ws.plan).unwrap();
            for record in &setup.earlier {
                journal.append(record).unwrap();
            }
        }
        let journal = Journal::open(&ws.journal_path(), &ws.plan).unwrap();
        let clock = Arc::new(ManualClock::new());
        let jobs = Counted::default();
        let alive = jobs.alive.clone();
        let (tx, rx) = crossbeam_channel::unbounded();
        let (fs_tx, fs) = crossbeam_channel::unbounded();
        let watch = Sentinels::new(&ws.root, fs_tx).unwrap();
        let fleet = super::fleet::Fleet::new(mux.clone(), vec![("h1".into(), h1.clone())]);
        let edges = Edges {
            mux: Arc::new(fleet),
            clock: clock.clone(),
            jobs: Arc::new(jobs),
        };
        let git = setup.isolated.then(|| Arc::new(FakeGit::new("swarm/main")));
        let landing = git.clone().map(|git| {
            let spec = LandSpec {
                prefix: PathBuf::new(),
                land: "swarm/main".into(),
                strategy: Strategy::Rebase,
                verify: None,
                verify_timeout: None,
            };
            (git as Arc<dyn Git>, spec)
        });
        let start = Start {
            ws: ws.clone(),
            settings,
            tasks,
            sentinels: sentinels.clone(),
            limits: setup.limits,
            journal,
            socket: "fake".into(),
            plan_target: None,
            landing,
            seats,
        };
        let progress: &'static mut Progress = Box::leak(Box::new(Progress::quiet()));
        let lp = Loop::start(start, edges, tx, watch, progress).unwrap();
        let flow = lp.flow();
        let mut h = Harness {
            _dir: dir,
            ws,
            mux,
            clock,
            alive,
            rx,
            _fs: fs,
            sentinels,
            lp: Some(lp),
            flow,
            git,
            h1,
            ssh,
        };
        // Long enough for the first prompts to be pasted, settle and be submitted.
        h.advance(Duration::from_millis(200));
        h
    }

    fn lp(&mut self) -> &mut Loop<'static> {
        self.lp.as_mut().expect("the loop runs")
    }

    /// One input, then nothing waiting: as the real loop does when it is quiet.
    fn on(&mut self, input: Input) {
        self.flow = self.lp().on(input).unwrap();
        self.lp().idle().unwrap();
    }

    /// Feeds the loop what the jobs report until every job alive sleeps on the clock.
    fn settle(&mut self) {
        let deadline = Instant::now() + HANG;
        loop {
            while let Ok(msg) = self.rx.try_recv() {
                self.on(Input::Msg(msg));
            }
            if self.alive.load(Ordering::SeqCst) == self.clock.sleepers() && self.rx.is_empty() {
                return;
            }
            assert!(Instant::now() < deadline, "the loop never settled");
            std::thread::yield_now();
        }
    }

    /// Lets `time` pass in steps, with a tick after each, as the real loop's ticker does.
    fn advance(&mut self, time: Duration) {
        let mut left = time;
        while !left.is_zero() {
            let step = left.min(STEP);
            self.clock.advance(step);
            left -= step;
            self.settle();
            self.on(Input::Tick);
            self.settle();
        }
    }

    /// The first agent of a slow start comes up, as `change` makes it.
    fn first_comes_up(&self, change: impl FnOnce(&mut fake::FakePane)) -> PaneId {
        let pane = self.mux.live()[0].clone();
        self.mux.pane(&pane, |p| {
            p.up = true;
            change(p);
        });
        pane
    }

    fn status(&mut self, task: &str) -> TaskStatus {
        let id = TaskId(task.into());
        self.lp().state().task(&id).expect("a task").status.clone()
    }

    fn attempts(&mut self, task: &str) -> u32 {
        let id = TaskId(task.into());
        self.lp().state().task(&id).expect("a task").attempts
    }

    /// The pane that the prompt naming `task`'s sentinel went into last.
    fn pane_of(&self, task: &str) -> PaneId {
        let sentinel = self.sentinels[&TaskId(task.into())].display().to_string();
        let world = self.mux.world();
        world
            .panes
            .iter()
            .find(|(_, p)| p.prompts.last().is_some_and(|s| s.contains(&sentinel)))
            .map(|(id, _)| id.clone())
            .unwrap_or_else(|| panic!("no pane got task {task}"))
    }

    /// How many prompts for `task` the agents took.
    fn prompts_for(&self, task: &str) -> usize {
        let sentinel = self.sentinels[&TaskId(task.into())].display().to_string();
        let world = self.mux.world();
        world
            .panes
            .values()
            .flat_map(|p| &p.prompts)
            .filter(|s| s.contains(&sentinel))
            .count()
    }

    /// The agent working on `task` finishes it: the sentinel, then the end of its turn.
    fn agent_done(&mut self, task: &str) {
        let pane = self.pane_of(task);
        self.write_sentinel(task);
        self.mux.pane(&pane, |p| p.busy = false);
    }

    fn write_sentinel(&mut self, task: &str) {
        let id = TaskId(task.into());
        let mut path = self.ws.root.join(&self.sentinels[&id]);
        if self.git.is_some() {
            // In an isolated run, the agent works in its worker's worktree.
            let worker = self.lp().state().holder(&id).expect("a running task");
            path = self.ws.worktree(worker).join(&self.sentinels[&id]);
        }
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }

    fn plan(&self) -> String {
        std::fs::read_to_string(&self.ws.plan).unwrap()
    }

    /// Saves PLAN.md as an editor would, and tells the loop the file changed.
    fn edit_plan(&mut self, text: &str) {
        std::fs::write(&self.ws.plan, text).unwrap();
        // Saved a moment ago in the file system's time too: PLAN.md is written only once
        // a person's save has settled, and that is read from the file, not the clock.
        let settled = std::time::SystemTime::now() - Duration::from_secs(1);
        std::fs::File::options()
            .write(true)
            .open(&self.ws.plan)
            .and_then(|f| f.set_modified(settled))
            .unwrap();
        let event = notify::Event::new(notify::EventKind::Any).add_path(self.ws.plan.clone());
        self.on(Input::Fs(event));
        self.settle();
    }

    fn command(&mut self, command: Command) {
        commands::send(&self.ws, &command).unwrap();
        self.advance(STEP);
    }

    fn journal(&self) -> String {
        std::fs::read_to_string(self.ws.journal_path()).unwrap()
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        // The loop first, so that the executor's monitors stop; then the sleepers end.
        self.lp.take();
        self.clock.close();
    }
}

fn done(task: &str) -> String {
    format!("[x] {task}")
}

#[test]
fn a_ready_agent_gets_the_first_task_pasted_and_submitted() {
    let h = Harness::new(Setup::default());
    assert_eq!(h.mux.calls("spawn").len(), 1, "one worker for two tasks");
    assert_eq!(h.prompts_for("a"), 1);
    assert_eq!(h.prompts_for("b"), 0);
    let pane = h.pane_of("a");
    assert!(h.mux.pane(&pane, |p| p.busy));
    // The transcript starts before the paste, so that it holds the prompt.
    let calls: Vec<String> = h.mux.world().calls.clone();
    let transcript = calls.iter().position(|c| c.starts_with("transcript"));
    let paste = calls.iter().position(|c| c.starts_with("paste"));
    assert!(transcript.is_some() && transcript < paste, "{calls:?}");
}

#[test]
fn a_sentinel_checks_the_task_off_and_the_next_task_goes_out() {
    let mut h = Harness::new(Setup::default());
    h.agent_done("a");
    h.advance(TURN);
    assert_eq!(h.status("a"), TaskStatus::Done);
    assert!(h.plan().contains(&done("First")), "{}", h.plan());
    // The agent got a fresh context before the next task.
    let pane = h.pane_of("b");
    assert!(h.mux.calls(&format!("text {pane} /clear")).len() == 1);
    assert_eq!(h.prompts_for("b"), 1);
    h.agent_done("b");
    h.advance(TURN);
    assert_eq!(h.flow, Flow::Finished);
    assert!(h.plan().contains(&done("Second")));
}

#[test]
fn sentinels_that_arrive_together_are_checked_off_in_one_write() {
    let mut h = Harness::new(Setup {
        plan: "- [ ] One {#a}\n- [ ] Two {#b}\n- [ ] Three {#c}\n",
        workers: 3,
        ..Setup::default()
    });
    let before = std::fs::metadata(&h.ws.plan).unwrap().modified().unwrap();
    h.agent_done("a");
    h.agent_done("b");
    h.on(Input::Tick);
    // Both marks land in the same turn of the loop: the plan's text has both, and no
    // state in between was ever written (the journal says both were done first).
    let plan = h.plan();
    assert!(
        plan.contains(&done("One")) && plan.contains(&done("Two")),
        "{plan}"
    );
    assert!(!plan.contains(&done("Three")));
    assert!(std::fs::metadata(&h.ws.plan).unwrap().modified().unwrap() >= before);
    let journal = h.journal();
    assert_eq!(journal.matches("\"done\"").count(), 2, "{journal}");
}

#[test]
fn a_plan_edit_is_read_only_after_the_file_has_been_quiet() {
    let mut h = Harness::new(Setup {
        workers: 2,
        plan: "- [ ] First {#a}\n",
        ..Setup::default()
    });
    h.edit_plan("- [ ] First {#a}\n- [ ] Added {#c}\n");
    h.advance(PLAN_QUIET / 2);
    assert!(
        h.lp().state().task(&TaskId("c".into())).is_none(),
        "read while the editor may still be writing"
    );
    h.advance(PLAN_QUIET);
    assert_eq!(h.status("c"), TaskStatus::Running, "the new task goes out");
    // A second save during the quiet time starts it again.
    h.edit_plan("- [ ] First {#a}\n- [ ] Added {#c}\n- [ ] More {#d}\n");
    h.advance(PLAN_QUIET / 2);
    h.edit_plan("- [ ] First {#a}\n- [ ] Added {#c}\n- [ ] More {#d}\n- [ ] Last {#e}\n");
    h.advance(PLAN_QUIET / 2 + STEP);
    assert!(h.lp().state().task(&TaskId("d".into())).is_none());
    h.advance(PLAN_QUIET);
    assert_eq!(h.status("d"), TaskStatus::Pending);
    assert_eq!(h.status("e"), TaskStatus::Pending);
}

#[test]
fn after_added_mid_run_holds_a_task_back_and_its_prompt_names_the_new_dependency() {
    let mut h = Harness::new(Setup {
        workers: 1,
        plan: "- [ ] First {#a}\n- [ ] Second {#b}\n- [ ] Third {#c out=notes.md}\n",
        ..Setup::default()
    });
    h.edit_plan("- [ ] First {#a}\n- [ ] Second {#b after=c}\n- [ ] Third {#c out=notes.md}\n");
    h.advance(PLAN_QUIET + STEP);
    h.agent_done("a");
    h.advance(TURN);
    assert_eq!(h.prompts_for("b"), 0, "b waits for c");
    assert_eq!(h.prompts_for("c"), 1);
    h.agent_done("c");
    h.advance(TURN);
    assert_eq!(h.prompts_for("b"), 1);
    let pane = h.pane_of("b");
    let prompt = h.mux.pane(&pane, |p| p.prompts.last().cloned().unwrap());
    assert!(
        prompt.contains("- Third (its result is in `notes.md`)"),
        "{prompt}"
    );
}

#[test]
fn a_resumed_run_adopts_live_panes_before_starting_new_agents() {
    let pane = PaneId("%1".into());
    let mut h = Harness::new(Setup {
        plan: "- [ ] First {#a}\n- [ ] Second {#b}\n- [ ] Third {#c}\n",
        workers: 2,
        live_panes: 1,
        earlier: vec![
            Record::Spawned {
                worker: 0,
                pane: pane.clone(),
            },
            Record::Assigned {
                task: TaskId("b".into()),
                worker: 0,
                pane: pane.clone(),
                attempt: 1,
            },
            Record::Delivered {
                task: TaskId("b".into()),
                worker: 0,
            },
        ],
        ..Setup::default()
    });
    // The adopted pane keeps its task: nothing is pasted into it again.
    assert_eq!(h.status("b"), TaskStatus::Running);
    assert!(h.mux.calls("paste %1").is_empty());
    // One new agent for the rest, given the first task in plan order.
    assert_eq!(
        h.mux.calls("spawn").len(),
        2,
        "the adopted pane and one new one"
    );
    assert_eq!(h.status("a"), TaskStatus::Running);
    assert_eq!(h.prompts_for("a"), 1);
    assert_eq!(
        h.attempts("b"),
        1,
        "the adopted attempt is not counted again"
    );
}

#[test]
fn a_dead_agent_is_replaced_after_a_backoff_and_its_task_retried() {
    let mut h = Harness::new(Setup::default());
    let pane = h.pane_of("a");
    h.mux.pane(&pane, |p| p.dead = true);
    h.on(Input::Msg(Msg::Event(Event::PaneDead {
        pane: pane.clone(),
        status: Some(1),
        signal: None,
    })));
    h.settle();
    assert_eq!(h.mux.calls(&format!("kill {pane}")).len(), 1);
    assert_eq!(
        h.mux.calls("spawn").len(),
        1,
        "no respawn before the backoff"
    );
    h.advance(Duration::from_millis(200));
    assert_eq!(h.mux.calls("spawn").len(), 1, "250 ms backoff");
    h.advance(Duration::from_millis(100));
    assert_eq!(h.mux.calls("spawn").len(), 2);
    h.advance(TURN);
    assert_ne!(h.pane_of("a"), pane, "the task went to the new agent");
    assert_eq!(h.status("a"), TaskStatus::Running);
}

#[test]
fn a_turn_past_the_timeout_is_interrupted_with_the_profiles_key_and_retried() {
    let mut h = Harness::new(Setup {
        interrupt: Some("C-c"),
        limits: Limits {
            task_timeout: Some(Duration::from_secs(5)),
            ..Limits::default()
        },
        ..Setup::default()
    });
    let pane = h.pane_of("a");
    h.advance(Duration::from_secs(4));
    assert!(h.mux.calls(&format!("key {pane} C-c")).is_empty());
    h.advance(Duration::from_millis(1100));
    assert_eq!(h.mux.calls(&format!("key {pane} C-c")).len(), 1);
    assert!(h.mux.calls(&format!("key {pane} Escape")).is_empty());
    h.advance(TURN);
    assert_eq!(h.prompts_for("a"), 2, "retried");
    assert_eq!(h.attempts("a"), 2);
}

#[test]
fn an_idle_agent_without_its_sentinel_is_nudged_then_its_task_fails() {
    let mut h = Harness::new(Setup::default());
    let pane = h.pane_of("a");
    for nudge in 1..=2 {
        h.mux.pane(&pane, |p| p.busy = false);
        h.advance(Duration::from_secs(6));
        let reminders = h.mux.pane(&pane, |p| {
            p.prompts
                .iter()
                .filter(|s| s.starts_with("Continue"))
                .count()
        });
        assert_eq!(reminders, nudge);
    }
    h.mux.pane(&pane, |p| p.busy = false);
    h.advance(Duration::from_secs(6));
    assert!(matches!(h.status("a"), TaskStatus::Failed(_)));
    assert!(
        h.plan()
            .contains("failed: the agent stopped without creating its sentinel")
    );
    // The worker goes on with the next task.
    assert_eq!(h.prompts_for("b"), 1);
}

#[test]
fn pause_holds_back_new_work_and_resume_lets_it_go() {
    let mut h = Harness::new(Setup::default());
    h.command(Command::Pause { worker: None });
    h.agent_done("a");
    h.advance(STEP * 4);
    assert_eq!(h.status("a"), TaskStatus::Done, "running work finishes");
    assert_eq!(h.prompts_for("b"), 0);
    h.command(Command::Resume { worker: None });
    h.advance(TURN);
    assert_eq!(h.prompts_for("b"), 1);
}

#[test]
fn a_rate_limited_agent_gets_no_work_until_the_limit_clears() {
    let mut h = Harness::new(Setup {
        slow_start: true,
        ..Setup::default()
    });
    let pane = h.first_comes_up(|p| p.rate_limited = true);
    h.advance(Duration::from_secs(30));
    assert_eq!(h.prompts_for("a"), 0);
    assert!(
        !h.mux
            .calls("alert swarm: w0 needs you: rate-limited until 21:20")
            .is_empty()
    );
    assert_eq!(h.status("a"), TaskStatus::Pending);
    h.mux.pane(&pane, |p| p.rate_limited = false);
    h.advance(Duration::from_secs(1));
    assert_eq!(h.prompts_for("a"), 1);
}

#[test]
fn a_rate_limit_parks_every_worker_and_resumes_at_the_reset_without_charging_the_task() {
    let mut h = Harness::new(Setup {
        plan: "- [ ] First {#a}\n- [ ] Second {#b}\n- [ ] Third {#c}\n",
        workers: 2,
        ..Setup::default()
    });
    let limited = h.pane_of("a");
    // The manual clock's day starts at 18:00 UTC: the limit lifts a minute in. The screen
    // keeps saying so after that, as Codex's does.
    h.mux.pane(&limited, |p| {
        p.busy = false;
        p.rate_limited = true;
        p.resets = "6:01pm".into();
    });
    h.advance(Duration::from_secs(2));
    // Whichever agent came up first took a.
    let worker = h.mux.pane(&limited, |p| p.worker.clone());
    assert!(
        !h.mux
            .calls(&format!(
                "alert swarm: {worker} needs you: rate-limited until 18:01"
            ))
            .is_empty()
    );
    // The other worker finishes b, and gets nothing while the limit holds.
    h.agent_done("b");
    h.advance(TURN * 3);
    assert_eq!(h.prompts_for("c"), 0, "no prompt goes into a limit");
    let names: Vec<&str> = h
        .lp()
        .state()
        .workers()
        .iter()
        .map(|w| w.state().name())
        .collect();
    assert_eq!(names, ["rate-limited", "rate-limited"]);
    h.advance(Duration::from_secs(55));
    assert_eq!(h.prompts_for("a"), 1, "not before the reset");
    // The reset plus its margin: the limit's screen is closed with Escape (never Enter),
    // the agent gets a fresh context, and a goes out again as the same attempt.
    h.advance(Duration::from_secs(10));
    assert_eq!(h.prompts_for("a"), 2);
    assert_eq!(h.attempts("a"), 1, "the limit cost no attempt");
    assert_eq!(h.prompts_for("c"), 1);
    let calls = h.mux.calls("");
    let escape = calls
        .iter()
        .position(|c| c == &format!("key {limited} Escape"));
    let clear = calls
        .iter()
        .position(|c| c == &format!("text {limited} /clear"));
    assert!(escape.is_some() && escape < clear, "{calls:?}");
    h.agent_done("a");
    h.agent_done("c");
    h.advance(TURN * 2);
    assert_eq!(h.status("a"), TaskStatus::Done);
    assert!(!h.plan().contains("failed"));
}

#[test]
fn an_api_error_the_agent_gave_up_on_is_waited_out_and_the_task_sent_again_uncharged() {
    let mut h = Harness::new(Setup::default());
    let pane = h.pane_of("a");
    h.mux.pane(&pane, |p| {
        p.busy = false;
        p.api_error = Some("500 Internal server error".into());
    });
    // Longer than the idle grace: an agent that gave up is not an idle one to nudge.
    h.advance(Duration::from_secs(20));
    assert_eq!(h.prompts_for("a"), 1);
    assert!(
        h.mux.pane(&pane, |p| p
            .prompts
            .iter()
            .all(|s| !s.starts_with("Continue"))),
        "no nudge into an API error"
    );
    assert!(
        !h.mux
            .calls("alert swarm: w0 needs you: API error: 500 Internal server error")
            .is_empty()
    );
    // After the backoff: a fresh context, and the task again, uncharged.
    h.advance(Duration::from_secs(12));
    assert_eq!(h.prompts_for("a"), 2);
    assert_eq!(h.attempts("a"), 1);
    h.agent_done("a");
    h.advance(TURN * 2);
    assert_eq!(h.status("a"), TaskStatus::Done);
    assert!(h.journal().contains("API error: 500 Internal server error"));
}

#[test]
fn a_dialog_at_startup_waits_for_a_person_without_a_deadline() {
    let mut h = Harness::new(Setup {
        slow_start: true,
        ..Setup::default()
    });
    let pane = h.first_comes_up(|p| p.dialog = true);
    // Far past the startup timeout: a person may be slow to answer.
    h.advance(Duration::from_secs(60));
    assert!(h.mux.calls("kill").is_empty());
    assert_eq!(h.prompts_for("a"), 0);
    h.mux.pane(&pane, |p| p.dialog = false);
    h.advance(Duration::from_secs(1));
    assert_eq!(h.prompts_for("a"), 1);
}

#[test]
fn an_agent_that_never_starts_is_asked_to_quit_then_replaced() {
    let mut h = Harness::new(Setup {
        slow_start: true,
        ..Setup::default()
    });
    let pane = h.mux.live()[0].clone();
    h.advance(Duration::from_secs(11));
    assert_eq!(h.mux.calls(&format!("text {pane} /exit")).len(), 1);
    h.advance(Duration::from_secs(4));
    assert_eq!(h.mux.calls(&format!("kill {pane}")).len(), 1);
    assert_eq!(h.mux.calls("spawn").len(), 2, "replaced");
    assert_eq!(h.status("a"), TaskStatus::Pending, "no task was charged");
    assert_eq!(h.attempts("a"), 0);
}

#[test]
fn a_persons_half_typed_text_is_never_erased_at_the_end_of_a_task() {
    let mut h = Harness::new(Setup::default());
    let pane = h.pane_of("a");
    h.write_sentinel("a");
    h.mux.pane(&pane, |p| {
        p.busy = false;
        p.input = "also check the".into();
    });
    h.advance(Duration::from_secs(5));
    assert_eq!(h.status("a"), TaskStatus::Done);
    assert_eq!(h.mux.pane(&pane, |p| p.input.clone()), "also check the");
    assert!(h.mux.calls(&format!("key {pane} C-c")).is_empty());
    assert!(h.mux.calls(&format!("text {pane} /clear")).is_empty());
    assert_eq!(h.prompts_for("b"), 0);
    // The person sends their text; then swarm goes on.
    h.mux.pane(&pane, |p| p.input.clear());
    h.advance(Duration::from_secs(2));
    assert_eq!(h.prompts_for("b"), 1);
}

#[test]
fn skip_interrupts_a_running_task_and_retry_brings_it_back() {
    let mut h = Harness::new(Setup::default());
    let pane = h.pane_of("a");
    h.command(Command::Skip {
        task: TaskId("a".into()),
    });
    assert_eq!(h.status("a"), TaskStatus::Skipped);
    assert_eq!(h.mux.calls(&format!("key {pane} Escape")).len(), 1);
    h.advance(TURN);
    assert_eq!(h.prompts_for("b"), 1);
    h.command(Command::Retry {
        task: TaskId("a".into()),
    });
    assert_eq!(h.status("a"), TaskStatus::Pending);
    h.agent_done("b");
    h.advance(TURN);
    assert_eq!(h.prompts_for("a"), 2);
}

#[test]
fn the_status_file_is_written_when_something_changed_and_not_otherwise() {
    let mut h = Harness::new(Setup::default());
    let state = h.ws.state_path();
    h.advance(STEP);
    let first = std::fs::read_to_string(&state).unwrap();
    assert!(first.contains("\"running\""), "{first}");
    std::fs::remove_file(&state).unwrap();
    h.advance(STEP * 4);
    assert!(!state.exists(), "nothing changed, nothing written");
    h.agent_done("a");
    h.advance(TURN);
    let after = std::fs::read_to_string(&state).unwrap();
    assert!(after.contains("\"done\""), "{after}");
}

#[test]
fn a_signal_ends_the_loop_as_interrupted_with_work_in_flight() {
    let mut h = Harness::new(Setup::default());
    h.on(Input::Msg(Msg::Signal));
    assert_eq!(h.flow, Flow::Interrupted);
    let summary = h.lp.take().unwrap().finish(true);
    assert!(summary.interrupted);
    assert_eq!((summary.done, summary.total), (0, 2));
}

#[test]
fn a_lost_tmux_server_stops_the_run_with_a_hint() {
    let mut h = Harness::new(Setup::default());
    let err = h
        .lp()
        .on(Input::Msg(Msg::ServerLost("gone".into())))
        .unwrap_err();
    assert!(err.to_string().contains("run `swarm run` again"), "{err}");
}

#[test]
fn a_finished_plan_counts_only_the_tasks_that_were_open() {
    let mut h = Harness::new(Setup {
        plan: "- [x] Earlier {#z}\n- [ ] Only {#a}\n",
        ..Setup::default()
    });
    h.agent_done("a");
    h.advance(TURN);
    assert_eq!(h.flow, Flow::Finished);
    let summary = h.lp.take().unwrap().finish(false);
    assert_eq!(
        (summary.done, summary.total, summary.already_checked),
        (1, 1, 1)
    );
    assert!(summary.failed.is_empty());
}

#[test]
fn a_dialog_in_the_middle_of_a_task_pauses_the_worker_and_keeps_its_task() {
    let mut h = Harness::new(Setup::default());
    let pane = h.pane_of("a");
    h.mux.pane(&pane, |p| p.dialog = true);
    h.advance(Duration::from_secs(2));
    assert!(
        !h.mux.calls("alert swarm: w0 needs you").is_empty(),
        "a person is told"
    );
    assert_eq!(h.status("a"), TaskStatus::Running);
    // Answered: the turn goes on, and nothing else is pasted into the pane meanwhile.
    h.mux.pane(&pane, |p| p.dialog = false);
    h.advance(Duration::from_secs(5));
    assert_eq!(h.status("a"), TaskStatus::Running);
    assert_eq!(
        h.mux.calls(&format!("paste {pane}")).len(),
        1,
        "no second prompt into a busy pane"
    );
    h.agent_done("a");
    h.advance(TURN);
    assert_eq!(h.status("a"), TaskStatus::Done);
    assert_eq!(h.attempts("a"), 1);
    assert_eq!(h.prompts_for("b"), 1);
}

#[test]
fn a_rate_limit_in_the_middle_of_a_task_is_waited_out_without_charging_it() {
    let mut h = Harness::new(Setup::default());
    let pane = h.pane_of("a");
    h.mux.pane(&pane, |p| {
        p.busy = false;
        p.rate_limited = true;
    });
    // Longer than the idle grace: a limited agent is not an idle one.
    h.advance(Duration::from_secs(20));
    assert!(
        !h.mux
            .calls("alert swarm: w0 needs you: rate-limited")
            .is_empty()
    );
    assert_eq!(h.status("a"), TaskStatus::Running);
    assert!(
        h.mux.pane(&pane, |p| p.prompts.len()) == 1,
        "no nudge into a limit"
    );
    h.mux.pane(&pane, |p| {
        p.rate_limited = false;
        p.busy = true;
    });
    h.agent_done("a");
    h.advance(TURN);
    assert_eq!(h.status("a"), TaskStatus::Done);
    assert_eq!(h.attempts("a"), 1);
}

#[test]
fn a_pane_scrolled_when_its_prompt_is_due_costs_no_attempt_and_another_worker_takes_it() {
    let mut h = Harness::new(Setup {
        workers: 2,
        slow_start: true,
        ..Setup::default()
    });
    // w0's agent comes up while a person scrolls it; w1's a moment later.
    let w1 = h.mux.live()[1].clone();
    let w0 = h.first_comes_up(|p| p.in_mode = true);
    h.advance(TURN);
    assert_eq!(h.mux.calls(&format!("paste {w0}")).len(), 1, "refused");
    assert_eq!(h.attempts("a"), 0, "a refusal is not an attempt");
    assert_eq!(h.status("a"), TaskStatus::Pending);
    h.mux.pane(&w1, |p| p.up = true);
    h.advance(TURN);
    assert_eq!(h.pane_of("a"), w1, "the first task, back in its place");
    assert_eq!(h.attempts("a"), 1);
    assert_eq!(h.status("b"), TaskStatus::Pending);
    // Nothing more goes into the scrolled pane, and nothing throws the person out.
    h.advance(Duration::from_secs(30));
    assert_eq!(h.mux.calls(&format!("paste {w0}")).len(), 1);
    assert!(h.mux.pane(&w0, |p| p.in_mode));
    assert!(!h.journal().contains("\"failed\""));
}

#[test]
fn a_pane_scrolled_through_the_end_of_a_task_gets_the_next_once_the_person_is_done() {
    let mut h = Harness::new(Setup::default());
    let pane = h.pane_of("a");
    h.mux.pane(&pane, |p| p.in_mode = true);
    h.agent_done("a");
    h.advance(Duration::from_secs(30));
    assert_eq!(h.status("a"), TaskStatus::Done);
    assert!(h.mux.pane(&pane, |p| p.in_mode), "the person still scrolls");
    assert!(
        h.mux.calls("alert swarm: w0 needs you").is_empty(),
        "no bell for a person who is right there: {:?}",
        h.mux.calls("alert")
    );
    assert!(h.mux.calls(&format!("text {pane} /clear")).is_empty());
    assert_eq!(h.prompts_for("b"), 0);
    h.mux.pane(&pane, |p| p.in_mode = false);
    h.advance(TURN);
    assert_eq!(h.mux.calls(&format!("text {pane} /clear")).len(), 1);
    assert_eq!(h.prompts_for("b"), 1);
    assert_eq!(h.attempts("b"), 1);
}

#[test]
fn a_timed_out_turn_in_a_scrolled_pane_is_interrupted_only_after_the_person_is_done() {
    let mut h = Harness::new(Setup {
        limits: Limits {
            task_timeout: Some(Duration::from_secs(2)),
            ..Limits::default()
        },
        ..Setup::default()
    });
    let pane = h.pane_of("a");
    h.mux.pane(&pane, |p| p.in_mode = true);
    h.advance(Duration::from_secs(10));
    assert!(
        h.mux
            .calls(&format!("key {pane}"))
            .iter()
            .all(|k| k.ends_with("Enter"))
    );
    assert!(h.mux.pane(&pane, |p| p.in_mode));
    h.mux.pane(&pane, |p| p.in_mode = false);
    h.advance(TURN);
    assert_eq!(h.mux.calls(&format!("key {pane} Escape")).len(), 1);
}

#[test]
fn check_offs_wait_for_the_inputs_queued_behind_them_and_share_one_write() {
    let mut h = Harness::new(Setup {
        plan: "- [ ] One {#a}\n- [ ] Two {#b}\n- [ ] Three {#c}\n- [ ] Four {#d}\n",
        workers: 3,
        ..Setup::default()
    });
    let before = h.plan();
    for task in ["a", "b"] {
        h.agent_done(task);
        let path = h.ws.root.join(&h.sentinels[&TaskId(task.into())]);
        let event = notify::Event::new(notify::EventKind::Any).add_path(path);
        // More input waits: the loop dispatches, but does not write PLAN.md yet.
        assert_eq!(h.lp().on(Input::Fs(event)).unwrap(), Flow::Go);
        assert_eq!(h.plan(), before, "no write while inputs wait");
    }
    assert_eq!(h.status("a"), TaskStatus::Done);
    h.lp().idle().unwrap();
    let plan = h.plan();
    assert!(
        plan.contains(&done("One")) && plan.contains(&done("Two")),
        "{plan}"
    );
    // Without a quiet moment, a check-off still goes out once it has waited a little.
    h.agent_done("c");
    let path = h.ws.root.join(&h.sentinels[&TaskId("c".into())]);
    let event = notify::Event::new(notify::EventKind::Any).add_path(path);
    h.lp().on(Input::Fs(event)).unwrap();
    assert!(!h.lp().checkoffs_due());
    h.clock.advance(Duration::from_millis(5));
    assert!(h.lp().checkoffs_due());
}

#[test]
fn a_running_task_edited_is_reported_and_its_mark_lands_on_the_edited_line() {
    let mut h = Harness::new(Setup {
        plan: "- [ ] Write the docs\n- [ ] Second task\n",
        ..Setup::default()
    });
    let id = h.lp().state().tasks()[0].id.0.clone();
    assert_eq!(h.status(&id), TaskStatus::Running);
    h.edit_plan("- [ ] Write the docs, in French\n- [ ] Second task\n");
    h.advance(PLAN_QUIET + STEP);
    assert_eq!(
        h.status(&id),
        TaskStatus::Running,
        "the same task, not a new one"
    );
    let status = std::fs::read_to_string(h.ws.state_path()).unwrap();
    assert!(
        status.contains("\"edited_after_dispatch\":true"),
        "{status}"
    );
    assert!(h.journal().contains("\"edited\""), "{}", h.journal());
    h.agent_done(&id);
    h.advance(TURN);
    assert!(
        h.plan().contains("[x] Write the docs, in French"),
        "{}",
        h.plan()
    );
    assert_eq!(h.prompts_for(&id), 1, "never run again");
}

#[test]
fn claude_hooks_say_when_a_turn_ended_on_a_limit_or_an_api_error_or_asks_a_person() {
    use super::executor::hook_condition;
    use crate::agent::hooks::HookState;
    use crate::waits::Blocked;
    let claude = crate::agent::builtin("claude").unwrap();
    let clock = ManualClock::new();
    let said = |event: &str, payload: serde_json::Value| {
        let state = HookState {
            event: event.into(),
            worker: "0".into(),
            at: 0,
            payload,
        };
        hook_condition(&state, &claude, &clock)
    };
    // What 2.1.331 passed to StopFailure at a subscription's limit; the manual clock's day
    // starts at 18:00 UTC.
    let limit = serde_json::json!({
        "hook_event_name": "StopFailure",
        "error": "rate_limit",
        "last_assistant_message": "You've hit your 5-hour limit · resets 9:20pm (UTC)"
    });
    assert_eq!(
        said("StopFailure", limit),
        Some(Blocked::RateLimited {
            until: Some("21:20".into()),
            resets_in: Some(Duration::from_secs(3 * 3600 + 20 * 60)),
        })
    );
    let error = serde_json::json!({
        "error": "server_error",
        "last_assistant_message": "API Error: 529 Overloaded"
    });
    assert_eq!(
        said("StopFailure", error),
        Some(Blocked::ApiError("API Error: 529 Overloaded".into()))
    );
    assert_eq!(
        said(
            "Notification",
            serde_json::json!({"message": "Claude needs your permission to use Write"})
        ),
        Some(Blocked::Question(
            "Claude needs your permission to use Write".into()
        ))
    );
    // An idle reminder, a turn's start or end: no condition.
    let idle = serde_json::json!({"message": "Claude is waiting for your input"});
    assert_eq!(said("Notification", idle), None);
    assert_eq!(said("Stop", serde_json::Value::Null), None);
    assert_eq!(said("UserPromptSubmit", serde_json::json!({})), None);
}

#[test]
fn an_isolated_task_is_checked_off_only_once_its_work_has_landed() {
    let mut h = Harness::new(Setup {
        isolated: true,
        ..Setup::default()
    });
    let git = h.git.clone().unwrap();
    assert!(
        git.world()
            .calls
            .iter()
            .any(|c| c == "prepare swarm/task/a"),
        "the branch is checked out before the prompt goes: {:?}",
        git.world().calls
    );
    h.agent_done("a");
    h.advance(TURN);
    assert_eq!(h.status("a"), TaskStatus::Done);
    assert!(h.plan().contains(&done("First")), "{}", h.plan());
    let calls = git.world().calls.clone();
    let order: Vec<&str> = ["commit a", "integrate swarm/task/a", "advance swarm/main"]
        .into_iter()
        .filter(|want| calls.iter().any(|c| c == want))
        .collect();
    assert_eq!(order.len(), 3, "{calls:?}");
    assert!(
        h.journal().contains("\"event\":\"landed\""),
        "{}",
        h.journal()
    );
    // The next task went out in the same worktree, on its own branch.
    assert_eq!(h.prompts_for("b"), 1);
    assert!(
        calls.iter().any(|c| c == "prepare swarm/task/b"),
        "{calls:?}"
    );
}

#[test]
fn a_task_that_conflicts_goes_back_with_the_files_and_the_rebase_asked_for() {
    let mut h = Harness::new(Setup {
        plan: "- [ ] First {#a}\n",
        isolated: true,
        ..Setup::default()
    });
    let git = h.git.clone().unwrap();
    git.world().conflicts.insert("swarm/task/a".into(), 1);
    h.agent_done("a");
    h.advance(TURN);
    assert_eq!(h.attempts("a"), 2);
    assert_eq!(h.prompts_for("a"), 2);
    let pane = h.pane_of("a");
    let prompt = h.mux.pane(&pane, |p| p.prompts.last().cloned().unwrap());
    assert!(
        prompt.contains("conflicts with `swarm/main` in `shared.txt`")
            && prompt.contains("`git rebase swarm/main`"),
        "{prompt}"
    );
    h.agent_done("a");
    h.advance(TURN);
    assert_eq!(h.status("a"), TaskStatus::Done);
    let integrations = git
        .world()
        .calls
        .iter()
        .filter(|c| *c == "integrate swarm/task/a")
        .count();
    assert_eq!(integrations, 2);
}

#[test]
fn routed_tasks_reach_only_their_pools_agents_and_an_edit_with_no_pool_is_refused() {
    let plan = "- [ ] A {#a}\n- [ ] X {#x agent=codex}\n- [ ] B {#b}\n- [ ] Y {#y agent=codex}\n";
    let mut h = Harness::new(Setup {
        plan,
        pools: vec![("claude", 1), ("codex", 1)],
        ..Setup::default()
    });
    let profile = |h: &Harness, task: &str| {
        let pane = h.pane_of(task);
        h.mux.world().panes[&pane].profile.clone()
    };
    assert_eq!(profile(&h, "a"), "claude");
    assert_eq!(profile(&h, "x"), "codex");
    h.agent_done("x");
    h.advance(TURN * 3);
    assert_eq!(profile(&h, "y"), "codex");
    assert_eq!(h.prompts_for("b"), 0, "b waits for the claude agent");
    // A task for a profile no pool runs: the edit is refused, the last good plan stays.
    h.edit_plan(&format!("{plan}- [ ] Z {{#z agent=gemini}}\n"));
    h.advance(PLAN_QUIET + STEP);
    assert!(h.lp().state().task(&TaskId("z".into())).is_none());
    h.agent_done("a");
    h.advance(TURN * 3);
    assert_eq!(profile(&h, "b"), "claude");
    // A task added for a pool goes to it.
    h.edit_plan(&format!("{plan}- [ ] W {{#w agent=codex}}\n"));
    h.advance(PLAN_QUIET + STEP);
    let (_, tasks) = crate::plan::load(&h.ws.plan).unwrap();
    let w = tasks
        .iter()
        .find(|t| t.id.0 == "w")
        .expect("the new task is taken");
    h.sentinels
        .insert(w.id.clone(), crate::prompt::sentinel_for(w).unwrap());
    h.agent_done("y");
    h.advance(TURN * 3);
    assert_eq!(profile(&h, "w"), "codex");
}

/// The prompts the agents on host `h1` took, in order.
fn h1_prompts(h: &Harness) -> Vec<String> {
    let world = h.h1.world();
    world
        .panes
        .values()
        .flat_map(|p| p.prompts.clone())
        .collect()
}

#[test]
fn a_remote_worker_is_told_a_sentinel_named_for_its_attempt_and_it_counts() {
    let mut h = Harness::new(Setup {
        plan: "- [ ] Here {#a}\n- [ ] There {#b}\n",
        workers: 1,
        remote: 1,
        ..Setup::default()
    });
    // Worker 1 is on h1: its pane, prompt and folder are there.
    let prompts = h1_prompts(&h);
    assert_eq!(prompts.len(), 1, "{prompts:?}");
    let id = ["a", "b"]
        .into_iter()
        .find(|t| prompts[0].contains(&format!("wt/{t}.1/")))
        .unwrap_or_else(|| panic!("no attempt-named sentinel in {}", prompts[0]));
    let task = TaskId(id.into());
    let prepared = h.ssh.calls.lock().unwrap().clone();
    assert!(
        prepared
            .iter()
            .any(|c| c.contains(&format!("/srv/h1/wt/{id}.1/"))),
        "{prepared:?}"
    );
    let worker = h.lp().state().holder(&task).unwrap();
    assert_eq!(h.lp().state().host_of(worker), Some("h1"));

    // A fenced attempt's sentinel counts for nothing; h1's watcher reports the current one.
    for attempt in [2, 1] {
        let finished = Event::AttemptDone {
            task: task.clone(),
            attempt,
        };
        h.on(Input::Msg(Msg::Event(finished)));
        h.settle();
    }
    assert_eq!(h.status(id), TaskStatus::Done);
    let text = if id == "a" { "Here" } else { "There" };
    assert_eq!(h.plan().matches(&done(text)).count(), 1, "{}", h.plan());
}

#[test]
fn a_silent_hosts_task_goes_elsewhere_after_the_grace_and_its_late_finish_is_stale() {
    let mut h = Harness::new(Setup {
        plan: "- [ ] Here {#a}\n- [ ] There {#b}\n",
        workers: 1,
        remote: 1,
        limits: Limits {
            max_attempts: 1,
            ..Limits::default()
        },
        ..Setup::default()
    });
    // Which task went to h1, and which stayed here.
    let on_h1 = |h: &mut Harness, t: &str| {
        let worker = h.lp().state().holder(&TaskId(t.into())).unwrap();
        h.lp().state().host_of(worker).is_some()
    };
    let (there, here) = match on_h1(&mut h, "b") {
        true => ("b", "a"),
        false => ("a", "b"),
    };
    let remote = TaskId(there.into());
    let text = |t: &str| if t == "a" { "Here" } else { "There" };
    h.ssh.cut.store(true, Ordering::SeqCst);
    h.on(Input::Msg(Msg::Event(Event::HostLost {
        host: "h1".into(),
    })));
    h.agent_done(here);
    h.advance(TURN);
    assert_eq!(h.status(here), TaskStatus::Done);
    // Within the grace, the remote task stays h1's.
    assert_eq!(h.status(there), TaskStatus::Running);
    h.advance(Duration::from_secs(2));
    // Past it, it goes to the local worker as attempt 2, though 1 is its limit: the
    // first attempt was lost with its host.
    assert_eq!(h.attempts(there), 2);
    assert_eq!(h.prompts_for(there), 1, "the local agent has it");
    let journal = h.journal();
    assert!(journal.contains("\"lease-expired\""), "{journal}");

    // Attempt 1 finishes on h1 after all: stale, nothing checked.
    let late = Event::AttemptDone {
        task: remote.clone(),
        attempt: 1,
    };
    h.on(Input::Msg(Msg::Event(late)));
    h.settle();
    assert_eq!(h.status(there), TaskStatus::Running);
    assert!(!h.plan().contains(&done(text(there))));
    assert!(h.journal().contains("\"stale\""));

    // h1 comes back: its pane, attempt 1's, is told to quit and a new agent starts there.
    h.ssh.cut.store(false, Ordering::SeqCst);
    let back = Event::HostBack {
        host: "h1".into(),
        rebooted: false,
    };
    h.on(Input::Msg(Msg::Event(back)));
    h.settle();
    let old = PaneId("%1".into());
    assert_eq!(h.h1.calls(&format!("text {old} /exit")).len(), 1);
    assert_eq!(h.h1.calls("spawn").len(), 2);

    h.agent_done(there);
    h.advance(TURN);
    assert_eq!(h.flow, Flow::Finished);
    assert_eq!(h.plan().matches(&done(text(there))).count(), 1);
    assert_eq!(h.journal().matches("\"done\"").count(), 2);
}

#[test]
fn a_prompt_that_cannot_reach_its_host_keeps_the_task_leased_and_uncharged() {
    let mut h = Harness::new(Setup {
        plan: "- [ ] There {#b}\n",
        workers: 0,
        remote: 1,
        slow_start: true,
        ..Setup::default()
    });
    // h1's agent comes up, and then the link goes.
    h.ssh.cut.store(true, Ordering::SeqCst);
    let pane = h.h1.live()[0].clone();
    h.h1.pane(&pane, |p| p.up = true);
    h.advance(TURN);
    assert_eq!(h.status("b"), TaskStatus::Running);
    assert_eq!(h.lp().state().workers()[0].state().name(), "host-lost");
    assert_eq!(h.attempts("b"), 1);
    assert!(h1_prompts(&h).is_empty(), "nothing was pasted");
}

#[test]
fn a_remote_attempts_transcript_is_recorded_on_its_host_and_pulled_here() {
    let mut h = Harness::new(Setup {
        plan: "- [ ] There {#b}\n",
        workers: 0,
        remote: 1,
        ..Setup::default()
    });
    let task = TaskId("b".into());
    // The pane pipes into a file on h1; the copy here starts with the pane's opening
    // and says where the rest comes from.
    let pane = h.h1.live()[0].clone();
    let piped = h.h1.world().panes[&pane].transcript.clone();
    assert_eq!(piped, Some(PathBuf::from("/srv/h1/logs/b.1.log")));
    let local = std::fs::read(h.ws.transcript(&task, 1)).unwrap();
    assert_eq!(crate::transcript::recorded_size(&local), Some((80, 24)));
    let origin = crate::remote::transcripts::read_origin(&h.ws.transcript_origin(&task, 1))
        .expect("the transcript's origin");
    assert_eq!(
        (origin.host.as_str(), origin.path.as_str()),
        ("h1", "/srv/h1/logs/b.1.log")
    );
    assert_eq!(origin.opening, local.len() as u64);
    // The logs show the attempt while it runs.
    assert_eq!(crate::cmd::logs::attempts(&h.ws.logs_dir(), &task), [1]);

    let pulls = |h: &Harness| {
        let calls = h.ssh.calls.lock().unwrap();
        calls
            .iter()
            .filter(|c| c.contains("tail -c") && c.contains("/srv/h1/logs/b.1.log"))
            .count()
    };
    assert_eq!(pulls(&h), 0);
    // Its sentinel on h1 brings it here; so does h1 coming back after a silence.
    let finished = Event::AttemptDone {
        task: task.clone(),
        attempt: 1,
    };
    h.on(Input::Msg(Msg::Event(finished)));
    h.settle();
    assert_eq!(pulls(&h), 1);
    let back = Event::HostBack {
        host: "h1".into(),
        rebooted: false,
    };
    h.on(Input::Msg(Msg::Event(back)));
    h.settle();
    assert_eq!(pulls(&h), 2);
}
