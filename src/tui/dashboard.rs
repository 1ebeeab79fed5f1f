//! The dashboard's state and its answers to keys, kept free of I/O so that tests can drive
//! it with fixed snapshots and a fixed clock.

use super::events::{self, EventLine};
use super::{Quit, UiAction};
use crate::orchestrator::snapshot::{Snapshot, TaskRow, WorkerRow};
use crate::plan::TaskId;
use crate::scheduler::Command;
use crate::tmux::PaneId;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::{HashMap, VecDeque};

/// Events kept for the "recent events" pane; older ones scroll away.
const EVENTS_KEPT: usize = 200;

/// Which list the arrow keys move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Tasks,
    Workers,
}

/// A worker's screen, as last captured, for the preview.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub worker: usize,
    pub lines: Vec<String>,
}

/// A task's change, as git showed it, for the diff tab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    pub task: String,
    pub lines: Vec<String>,
}

/// Everything the dashboard shows, and the person's place in it.
#[derive(Debug)]
pub struct Dashboard {
    pub(super) snapshot: Option<Snapshot>,
    /// Why the last snapshot could not be read, if it could not.
    pub(super) error: Option<String>,
    /// Unix time of the frame being drawn.
    pub(super) now: f64,
    /// An orchestrator holds the workspace; the snapshot is only rewritten when something
    /// changes, so its age says nothing about that.
    pub(super) alive: bool,
    pub(super) focus: Focus,
    pub(super) task_sel: usize,
    pub(super) worker_sel: usize,
    pub(super) events: VecDeque<EventLine>,
    /// Seconds each task took, for tasks seen finishing while the dashboard watched.
    pub(super) took: HashMap<String, f64>,
    /// `q` was pressed: the footer asks whether to leave the workers running.
    pub(super) confirm_quit: bool,
    /// A one-line answer to the last key (what was asked of the swarm, or why not).
    pub(super) flash: Option<String>,
    /// Colors are on unless `NO_COLOR` is set.
    pub(super) color: bool,
    /// The screen of the worker that Enter would show.
    pub(super) preview: Option<Preview>,
    /// Each pane's place in tmux, `window.pane` (`1.2`), by pane id.
    pub(super) places: HashMap<String, String>,
    /// `d`: the body shows the selected task's change instead of the lists.
    pub(super) diff_tab: bool,
    /// The change the diff tab shows, once read.
    pub(super) diff: Option<Diff>,
}

impl Dashboard {
    /// An empty dashboard; `color` is false when `NO_COLOR` is set.
    pub fn new(color: bool) -> Dashboard {
        Dashboard {
            snapshot: None,
            error: None,
            now: 0.0,
            alive: true,
            focus: Focus::Tasks,
            task_sel: 0,
            worker_sel: 0,
            events: VecDeque::new(),
            took: HashMap::new(),
            confirm_quit: false,
            flash: None,
            color,
            preview: None,
            places: HashMap::new(),
            diff_tab: false,
            diff: None,
        }
    }

    /// Takes the latest snapshot (`None`: the orchestrator has not written one yet), whether
    /// an orchestrator is `alive`, and the Unix time `now`; records what changed since the
    /// previous snapshot as events.
    pub fn update(&mut self, snapshot: Option<Snapshot>, alive: bool, now: f64) {
        self.now = now;
        self.alive = alive;
        self.error = None;
        if let (Some(old), Some(new)) = (&self.snapshot, &snapshot) {
            for (id, secs) in events::durations(old, new) {
                self.took.insert(id, secs);
            }
            self.events.extend(events::diff(old, new));
            while self.events.len() > EVENTS_KEPT {
                self.events.pop_front();
            }
        }
        self.snapshot = snapshot;
        self.clamp();
    }

    /// The snapshot could not be read; the last good one stays on screen.
    pub fn set_error(&mut self, error: String, now: f64) {
        self.now = now;
        self.error = Some(error);
    }

    /// Shows a one-line message in the footer until the next key.
    pub fn flash(&mut self, message: String) {
        self.flash = Some(message);
    }

    pub(super) fn tasks(&self) -> &[TaskRow] {
        self.snapshot.as_ref().map_or(&[], |s| &s.tasks)
    }

    pub(super) fn workers(&self) -> &[WorkerRow] {
        self.snapshot.as_ref().map_or(&[], |s| &s.workers)
    }

    fn selected_task(&self) -> Option<&TaskRow> {
        self.tasks().get(self.task_sel)
    }

    fn selected_worker(&self) -> Option<&WorkerRow> {
        self.workers().get(self.worker_sel)
    }

    /// Keeps the selections inside lists that may have shrunk (a task removed from the plan).
    fn clamp(&mut self) {
        self.task_sel = self.task_sel.min(self.tasks().len().saturating_sub(1));
        self.worker_sel = self.worker_sel.min(self.workers().len().saturating_sub(1));
    }

    /// Answers one key press: moves the selection, or returns what the loop must do.
    pub fn on_key(&mut self, key: KeyEvent) -> Option<UiAction> {
        self.flash = None;
        if self.confirm_quit {
            return match key.code {
                KeyCode::Char('l') => Some(UiAction::Quit(Quit::LeaveRunning)),
                KeyCode::Char('s') => Some(UiAction::Quit(Quit::StopWorkers)),
                KeyCode::Esc | KeyCode::Char('n') => {
                    self.confirm_quit = false;
                    None
                }
                _ => None,
            };
        }
        let ctrl_c =
            key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL);
        match key.code {
            _ if ctrl_c => self.confirm_quit = true,
            KeyCode::Char('q') => self.confirm_quit = true,
            KeyCode::Tab | KeyCode::BackTab => {
                self.focus = match self.focus {
                    Focus::Tasks => Focus::Workers,
                    Focus::Workers => Focus::Tasks,
                }
            }
            KeyCode::Up | KeyCode::Char('k') => self.step(-1),
            KeyCode::Down | KeyCode::Char('j') => self.step(1),
            KeyCode::PageUp => self.step(-10),
            KeyCode::PageDown => self.step(10),
            KeyCode::Home | KeyCode::Char('g') => self.step(isize::MIN),
            KeyCode::End | KeyCode::Char('G') => self.step(isize::MAX),
            KeyCode::Enter => return self.jump(),
            KeyCode::Char('d') => self.toggle_diff(),
            KeyCode::Esc if self.diff_tab => self.diff_tab = false,
            KeyCode::Char('p') => return Some(self.pause(true)),
            KeyCode::Char('r') => return Some(self.pause(false)),
            KeyCode::Char('R') => return self.retry(),
            KeyCode::Char('s') => return self.skip(),
            _ => {}
        }
        None
    }

    fn step(&mut self, by: isize) {
        let (sel, len) = match self.focus {
            Focus::Tasks => (
                &mut self.task_sel,
                self.snapshot.as_ref().map_or(0, |s| s.tasks.len()),
            ),
            Focus::Workers => (
                &mut self.worker_sel,
                self.snapshot.as_ref().map_or(0, |s| s.workers.len()),
            ),
        };
        *sel = sel.saturating_add_signed(by).min(len.saturating_sub(1));
    }

    /// The selected worker, or the worker on the selected task (when it runs).
    fn focused_worker(&self) -> Option<&WorkerRow> {
        match self.focus {
            Focus::Workers => self.selected_worker(),
            Focus::Tasks => {
                let task = self.selected_task()?;
                let on = task.worker.filter(|_| task.state == "running");
                on.and_then(|id| self.workers().iter().find(|w| w.id == id))
            }
        }
    }

    /// Takes where each pane sits (`%3` → `1.2`), to name the workers' places.
    pub fn set_places(&mut self, places: HashMap<PaneId, String>) {
        self.places = places.into_iter().map(|(p, at)| (p.0, at)).collect();
    }

    /// Whose screen the preview shows, and its pane: the worker Enter would show.
    pub fn preview_target(&self) -> Option<(usize, PaneId)> {
        let worker = self.focused_worker()?;
        Some((worker.id, PaneId(worker.pane.clone()?)))
    }

    /// Takes `screen`, as captured from `worker`'s pane; `None`: nothing to preview.
    pub fn set_preview(&mut self, screen: Option<(usize, &str)>) {
        self.preview = screen.map(|(worker, text)| Preview {
            worker,
            lines: text.lines().map(|l| l.trim_end().to_string()).collect(),
        });
    }

    /// `d`: the selected task's change, in an isolated run; `d` or Esc again goes back.
    fn toggle_diff(&mut self) {
        if self.diff_tab {
            self.diff_tab = false;
        } else if self.snapshot.as_ref().is_some_and(|s| s.land.is_some()) {
            self.focus = Focus::Tasks;
            self.diff_tab = true;
        } else {
            self.flash =
                Some("a task's change is shown in isolated runs (isolation = \"worktree\")".into());
        }
    }

    /// The change the diff tab wants, when it is open: the landing branch, the selected
    /// task, and what says the change may have moved (its stage and commit).
    pub fn diff_target(&self) -> Option<(String, TaskId, String)> {
        let land = self
            .snapshot
            .as_ref()?
            .land
            .clone()
            .filter(|_| self.diff_tab)?;
        let task = self.selected_task()?;
        let version = format!(
            "{} {} {}",
            task.state,
            task.stage.as_deref().unwrap_or(""),
            task.commit.as_deref().unwrap_or("")
        );
        Some((land, TaskId(task.id.clone()), version))
    }

    /// Takes the change of `task` (`None`: it has none yet).
    pub fn set_diff(&mut self, task: &TaskId, text: Option<&str>) {
        self.diff = Some(Diff {
            task: task.0.clone(),
            lines: text.map_or_else(
                || vec!["no change yet: the task has not committed anything".to_string()],
                |t| t.lines().map(str::to_string).collect(),
            ),
        });
    }

    /// Enter: the selected worker's pane, or the pane of the worker on the selected task.
    fn jump(&mut self) -> Option<UiAction> {
        let Some(worker) = self.focused_worker() else {
            self.flash = Some("no worker runs this task".to_string());
            return None;
        };
        match &worker.pane {
            Some(pane) => Some(UiAction::Jump(PaneId(pane.clone()))),
            None => {
                self.flash = Some(format!("w{} has no pane right now", worker.id));
                None
            }
        }
    }

    /// `p`/`r`: the selected worker when the workers list has the focus, else everyone.
    fn pause(&mut self, pause: bool) -> UiAction {
        let worker = match self.focus {
            Focus::Workers => self.selected_worker().map(|w| w.id),
            Focus::Tasks => None,
        };
        let who = worker.map_or("every worker".to_string(), |w| format!("w{w}"));
        let verb = if pause { "pause" } else { "resume" };
        self.flash = Some(format!("asked the swarm to {verb} {who}"));
        UiAction::Send(if pause {
            Command::Pause { worker }
        } else {
            Command::Resume { worker }
        })
    }

    fn retry(&mut self) -> Option<UiAction> {
        let task = self.task_for("retry")?;
        if !matches!(task.state.as_str(), "failed" | "skipped") {
            self.flash = Some(format!(
                "`{}` is {}: only failed or skipped tasks can be retried",
                task.id, task.state
            ));
            return None;
        }
        let id = TaskId(task.id.clone());
        self.flash = Some(format!("asked the swarm to retry `{id}`"));
        Some(UiAction::Send(Command::Retry { task: id }))
    }

    fn skip(&mut self) -> Option<UiAction> {
        let task = self.task_for("skip")?;
        if !matches!(task.state.as_str(), "pending" | "running") {
            self.flash = Some(format!("`{}` is {}: nothing to skip", task.id, task.state));
            return None;
        }
        let id = TaskId(task.id.clone());
        self.flash = Some(format!("asked the swarm to skip `{id}`"));
        Some(UiAction::Send(Command::Skip { task: id }))
    }

    /// The selected task, when the tasks list has the focus.
    fn task_for(&mut self, verb: &str) -> Option<TaskRow> {
        if self.focus != Focus::Tasks {
            self.flash = Some(format!("select a task to {verb} (Tab to the tasks list)"));
            return None;
        }
        self.selected_task().cloned()
    }
}
