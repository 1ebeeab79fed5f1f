//! Carrying out the scheduler's actions. Quick tmux calls happen inline; anything that
//! waits on an agent (readiness, delivery, reset) runs on a thread of its own and reports
//! back as an event, so one slow agent never holds up the others.

use super::Msg;
use crate::agent::{Profile, Reset, ScreenState};
use crate::config::Settings;
use crate::plan::{Task, TaskId};
use crate::prompt::PromptTemplate;
use crate::scheduler::{Action, Event, WorkerId};
use crate::sentinel::Sentinels;
use crate::tmux::{Mux, PaneId, SpawnSpec, Tmux};
use crate::workspace::Workspace;
use anyhow::Context;
use crossbeam_channel::Sender;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How often a waiting thread looks at a pane's screen.
const POLL: Duration = Duration::from_millis(50);
/// How long an agent may take to finish its turn after writing its sentinel.
const TURN_END_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Executor {
    tmux: Arc<Tmux>,
    profile: Arc<Profile>,
    template: PromptTemplate,
    ws: Workspace,
    panes_per_window: usize,
    /// Worker windows (`@id`) by index; a window disappears with its last pane.
    windows: Vec<Option<String>>,
    tasks: HashMap<TaskId, Task>,
    sentinels: HashMap<TaskId, PathBuf>,
    tx: Sender<Msg>,
}

impl Executor {
    pub fn new(
        tmux: Arc<Tmux>,
        settings: &Settings,
        ws: Workspace,
        tasks: &[Task],
        sentinels: HashMap<TaskId, PathBuf>,
        tx: Sender<Msg>,
    ) -> Executor {
        Executor {
            tmux,
            profile: Arc::new(settings.profile.clone()),
            template: settings.template.clone(),
            ws,
            panes_per_window: settings.panes_per_window.max(1),
            windows: Vec::new(),
            tasks: tasks.iter().map(|t| (t.id.clone(), t.clone())).collect(),
            sentinels,
            tx,
        }
    }

    /// The tasks the executor knows, for labels and the status snapshot.
    pub fn tasks(&self) -> &HashMap<TaskId, Task> {
        &self.tasks
    }

    /// Learns tasks a person added to the plan during the run.
    pub fn learn(&mut self, task: Task, sentinel: PathBuf) {
        self.sentinels.insert(task.id.clone(), sentinel);
        self.tasks.insert(task.id.clone(), task);
    }

    /// Carries out one action; returns events that are already known (a sentinel that
    /// exists, a pane that was just spawned).
    pub fn execute(&mut self, action: Action, watch: &mut Sentinels) -> anyhow::Result<Vec<Event>> {
        match action {
            Action::Spawn { worker, delay } if delay.is_zero() => return self.spawn(worker),
            Action::Spawn { worker, delay } => {
                let tx = self.tx.clone();
                std::thread::spawn(move || {
                    std::thread::sleep(delay);
                    let _ = tx.send(Msg::SpawnNow(worker));
                });
            }
            Action::Deliver {
                worker,
                pane,
                task,
                attempt,
            } => return self.deliver(worker, pane, task, attempt, watch),
            Action::Reset { worker, pane } => return self.reset(worker, pane),
            Action::AwaitReady { worker, pane } => {
                let (tmux, profile) = (self.tmux.clone(), self.profile.clone());
                self.background(move || {
                    ready_event(worker, &pane, wait_ready(&*tmux, &pane, &profile, profile.startup_timeout))
                });
            }
            Action::Kill { pane } => {
                // Already gone is fine: the point is that it is gone.
                let _ = self.tmux.kill_pane(&pane);
            }
            Action::Label { pane, label } => {
                // A task's text says more to a person than its id.
                let text = match self.tasks.get(&TaskId(label.clone())) {
                    Some(task) => task.text.clone(),
                    None => label,
                };
                let _ = self.tmux.set_label(&pane, &text);
            }
            Action::CheckOff { task } => {
                watch.forget(&task);
                crate::plan::check_off(&self.ws.plan, &task)
                    .with_context(|| format!("checking off task `{task}`"))?;
            }
            Action::Finished => {}
        }
        Ok(Vec::new())
    }

    /// Starts worker `worker`'s agent in its window (made when missing).
    pub fn spawn(&mut self, worker: WorkerId) -> anyhow::Result<Vec<Event>> {
        let index = worker / self.panes_per_window;
        if self.windows.len() <= index {
            self.windows.resize(index + 1, None);
        }
        let mut spec = SpawnSpec {
            window: self.windows[index].clone(),
            window_name: format!("workers-{}", index + 1),
            label: format!("w{worker}"),
            argv: agent_argv(&self.profile.command)?,
            cwd: self.ws.root.clone(),
            env: BTreeMap::from([
                ("SWARM_WORKER".to_string(), worker.to_string()),
                ("SWARM_WORKSPACE".to_string(), self.ws.root.display().to_string()),
            ]),
        };
        let spawned = match self.tmux.spawn(&spec) {
            Ok(spawned) => spawned,
            // The window went away with its last pane: make a new one.
            Err(_) if spec.window.is_some() => {
                spec.window = None;
                self.tmux.spawn(&spec).context("starting an agent pane")?
            }
            Err(e) => return Err(e).context("starting an agent pane"),
        };
        self.windows[index] = Some(spawned.window.clone());
        let pane = spawned.pane;
        let (tmux, profile, waited) = (self.tmux.clone(), self.profile.clone(), pane.clone());
        self.background(move || {
            ready_event(worker, &waited, wait_ready(&*tmux, &waited, &profile, profile.startup_timeout))
        });
        Ok(vec![Event::Spawned { worker, pane }])
    }

    fn deliver(
        &mut self,
        worker: WorkerId,
        pane: PaneId,
        id: TaskId,
        attempt: u32,
        watch: &mut Sentinels,
    ) -> anyhow::Result<Vec<Event>> {
        let task = self.tasks.get(&id).context("delivering an unknown task")?;
        let sentinel = self.sentinels[&id].clone();
        // Expect the sentinel before the prompt goes out: a fast agent may beat us to it.
        if let Some(done) = watch.expect(&sentinel, id.clone()) {
            return Ok(vec![Event::Sentinel { task: done }]);
        }
        let prompt = self
            .template
            .render(task, &sentinel, attempt, &self.ws.plan_name())
            .with_context(|| format!("rendering the prompt of task `{id}`"))?;
        let (tmux, profile) = (self.tmux.clone(), self.profile.clone());
        self.background(move || match crate::deliver::deliver(&*tmux, &pane, &prompt, &profile) {
            Ok(_) => Event::Delivered { worker, pane, task: id },
            Err(e) => Event::DeliveryFailed {
                worker,
                pane,
                task: id,
                reason: e.to_string(),
            },
        });
        Ok(Vec::new())
    }

    fn reset(&mut self, worker: WorkerId, pane: PaneId) -> anyhow::Result<Vec<Event>> {
        match self.profile.reset.clone() {
            Reset::Restart => {
                let _ = self.tmux.kill_pane(&pane);
                self.spawn(worker)
            }
            Reset::Command(command) => {
                let (tmux, profile) = (self.tmux.clone(), self.profile.clone());
                self.background(move || {
                    let result = wait_ready(&*tmux, &pane, &profile, TURN_END_TIMEOUT)
                        .and_then(|()| type_command(&*tmux, &pane, &profile, &command))
                        .and_then(|()| wait_ready(&*tmux, &pane, &profile, profile.startup_timeout));
                    ready_event(worker, &pane, result)
                });
                Ok(Vec::new())
            }
        }
    }

    fn background(&self, job: impl FnOnce() -> Event + Send + 'static) {
        let tx = self.tx.clone();
        std::thread::spawn(move || {
            let _ = tx.send(Msg::Event(job()));
        });
    }
}

/// The profile's argv, with the program `swarm` meaning this very executable, so that
/// `--agent-cmd "swarm sim-agent"` works without swarm on PATH.
fn agent_argv(command: &[String]) -> anyhow::Result<Vec<String>> {
    let mut argv = command.to_vec();
    if argv.first().map(String::as_str) == Some("swarm") {
        argv[0] = std::env::current_exe()
            .context("finding the swarm executable")?
            .display()
            .to_string();
    }
    anyhow::ensure!(!argv.is_empty(), "the agent command is empty");
    Ok(argv)
}

fn ready_event(worker: WorkerId, pane: &PaneId, result: Result<(), String>) -> Event {
    match result {
        Ok(()) => Event::Ready {
            worker,
            pane: pane.clone(),
        },
        Err(reason) => Event::NotReady {
            worker,
            pane: pane.clone(),
            reason,
        },
    }
}

/// Waits until the pane shows the profile's ready screen.
fn wait_ready(mux: &dyn Mux, pane: &PaneId, profile: &Profile, timeout: Duration) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    loop {
        match mux.capture(pane) {
            Ok(screen) if profile.classify(&screen) == ScreenState::Ready => return Ok(()),
            Ok(_) => {}
            Err(e) => return Err(format!("cannot read the pane: {e}")),
        }
        if Instant::now() >= deadline {
            return Err(format!("no ready screen after {}s", timeout.as_secs()));
        }
        std::thread::sleep(POLL);
    }
}

/// Types a short command such as `/clear` and submits it once it shows.
fn type_command(mux: &dyn Mux, pane: &PaneId, profile: &Profile, command: &str) -> Result<(), String> {
    mux.send_text(pane, command).map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs(2);
    while Instant::now() < deadline {
        let screen = mux.capture(pane).map_err(|e| e.to_string())?;
        if profile.classify(&screen) != ScreenState::Ready {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(profile.settle);
    mux.send_key(pane, "Enter").map_err(|e| e.to_string())
}
