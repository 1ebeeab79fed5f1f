//! The dashboard in window 0: tasks, workers, progress and recent events from the run's
//! snapshot, with keys to jump to a worker's pane and to steer the swarm.
//!
//! The state and its rendering (`Dashboard`) do no I/O; `run` is the thin loop around them
//! that reads the snapshot, the keyboard and the clock, and carries out `UiAction`s.

mod dashboard;
mod events;
mod render;
#[cfg(test)]
mod tests;

pub use dashboard::Dashboard;

use crate::orchestrator::snapshot::{self, Snapshot};
use crate::plan::TaskId;
use crate::scheduler::Command;
use crate::tmux::{PaneId, Tmux};
use crate::workspace::Workspace;
use crossterm::event::{self, Event, KeyEventKind};
use std::time::{Duration, Instant};

/// How often the snapshot is read again (the orchestrator writes it every 250 ms).
const REFRESH: Duration = Duration::from_millis(250);
/// How often the focused worker's screen and the panes' places are read from tmux: two
/// tmux processes each time, in every run's window 0, watched or not.
const PEEK: Duration = Duration::from_secs(1);

/// How the person left the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quit {
    /// Close the dashboard; the swarm goes on working.
    LeaveRunning,
    /// Stop the swarm's workers too.
    StopWorkers,
}

/// What a key asks the loop around the dashboard to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UiAction {
    /// Show this pane to the attached clients.
    Jump(PaneId),
    /// Hand this command to the orchestrator.
    Send(Command),
    Quit(Quit),
}

/// Where the dashboard runs, which decides what Enter does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// In swarm's own tmux session (window 0): Enter switches the session's window.
    InSession,
    /// On a terminal of its own: Enter attaches this terminal to swarm's session, on the
    /// pane, until the person detaches and comes back.
    Outside,
}

/// Runs the dashboard on this terminal until the person quits, and says how they quit.
///
/// It ends by itself when the swarm's tmux server is gone.
pub fn run(ws: &Workspace, tmux: &Tmux, place: Place) -> anyhow::Result<Quit> {
    // `init` switches to the alternate screen and raw mode, and restores the terminal on
    // a panic too.
    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, ws, tmux, place);
    ratatui::restore();
    result
}

fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    ws: &Workspace,
    tmux: &Tmux,
    place: Place,
) -> anyhow::Result<Quit> {
    let mut dashboard = Dashboard::new(crate::color_enabled());
    let mut next_read = Instant::now();
    let mut next_peek = Instant::now();
    // The change the diff tab last read, and for which task and version.
    let mut shown = None;
    loop {
        if Instant::now() >= next_read {
            // Nothing left to show (or to show it on): leave instead of drawing forever.
            if !tmux.server_alive() {
                return Ok(Quit::LeaveRunning);
            }
            refresh(&mut dashboard, ws);
            next_read = Instant::now() + REFRESH;
        }
        if Instant::now() >= next_peek {
            preview(&mut dashboard, tmux);
            diff(&mut dashboard, ws, &mut shown);
            if let Ok(places) = tmux.places() {
                dashboard.set_places(places);
            }
            next_peek = Instant::now() + PEEK;
        }
        terminal.draw(|frame| dashboard.render(frame))?;
        if !event::poll(next_read.saturating_duration_since(Instant::now()))? {
            continue;
        }
        let Event::Key(key) = event::read()? else {
            // A resize or a focus change: the next draw takes care of it.
            continue;
        };
        if key.kind != KeyEventKind::Press {
            continue;
        }
        match dashboard.on_key(key) {
            // A new selection, or the diff tab: its screen or its change now, not in a second.
            None => next_peek = Instant::now(),
            Some(UiAction::Quit(quit)) => return Ok(quit),
            Some(UiAction::Jump(pane)) => {
                if let Err(err) = tmux.jump_to(&pane) {
                    dashboard.flash(format!("cannot show {pane}: {err}"));
                } else if place == Place::Outside {
                    // This terminal shows the pane until the person detaches.
                    ratatui::restore();
                    let attached = tmux.attach();
                    *terminal = ratatui::try_init()?;
                    dashboard.flash(match attached {
                        Ok(_) => format!("back from {pane}"),
                        Err(err) => format!("cannot attach to swarm's session: {err}"),
                    });
                }
            }
            Some(UiAction::Send(command)) => {
                if let Err(err) = crate::commands::send(ws, &command) {
                    dashboard.flash(format!("could not queue the command: {err}"));
                }
                // Show the orchestrator's answer as soon as it is in the snapshot.
                next_read = Instant::now();
            }
        }
    }
}

/// Reads the selected task's change for the diff tab, when it is open and the change may
/// have moved since `shown` was read.
fn diff(dashboard: &mut Dashboard, ws: &Workspace, shown: &mut Option<(String, TaskId, String)>) {
    let Some(target) = dashboard.diff_target() else {
        return;
    };
    if shown.as_ref() == Some(&target) {
        return;
    }
    let (land, task, _) = &target;
    match crate::cmd::diff::change(&ws.root, land, task) {
        Ok(text) => dashboard.set_diff(task, text.as_deref()),
        Err(err) => dashboard.flash(format!("cannot show the change: {err}")),
    }
    *shown = Some(target);
}

/// Captures the focused worker's screen for the preview; a pane that is gone shows none.
fn preview(dashboard: &mut Dashboard, tmux: &Tmux) {
    use crate::tmux::Mux;
    let screen = dashboard
        .preview_target()
        .and_then(|(worker, pane)| Some((worker, tmux.capture(&pane).ok()?)));
    dashboard.set_preview(screen.as_ref().map(|(w, text)| (*w, text.as_str())));
}

fn refresh(dashboard: &mut Dashboard, ws: &Workspace) {
    let now = snapshot::now();
    match Snapshot::read(&ws.state_path()) {
        Ok(snapshot) => {
            let alive = crate::orchestrator::lock::holder(ws).is_some();
            dashboard.update(snapshot, alive, now);
        }
        Err(err) => dashboard.set_error(err.to_string(), now),
    }
}
