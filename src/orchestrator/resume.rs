//! Picking up after an orchestrator that died while tmux lived on (kill -9, a closed
//! terminal): the journal says which pane had which task, tmux says which panes live, and
//! the screen settles what the journal could not know. Nothing is sent twice blindly.

use super::profiles::Profiles;
use crate::agent::{Profile, ScreenState};
use crate::journal::Replay;
use crate::plan::TaskId;
use crate::scheduler::WorkerId;
use crate::tmux::{Mux, PaneId};

/// A live worker pane to take over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Adoption {
    pub worker: WorkerId,
    pub pane: PaneId,
    pub window: String,
    /// The task the pane is known to be working on.
    pub task: Option<TaskId>,
}

/// Finds the journal's worker panes that still live, and what each is doing. A pane whose
/// worker runs another profile now (swarm.toml changed its pools), as far as its program
/// tells, is not taken over.
pub fn reconcile(mux: &dyn Mux, profiles: &Profiles, replay: &Replay) -> Vec<Adoption> {
    let Ok(panes) = mux.panes() else {
        return Vec::new();
    };
    let mut adopted = Vec::new();
    for (&worker, pane) in &replay.workers {
        let Some(info) = panes.iter().find(|p| &p.id == pane) else {
            continue;
        };
        let profile = match profiles.get(worker) {
            Some(profile) if !info.dead && !profile.agent_gone(&info.current_command, info.pid) => {
                profile
            }
            _ => {
                let _ = mux.kill_pane(pane);
                continue;
            }
        };
        let flight = replay.tasks.iter().find_map(|(id, history)| {
            history
                .running
                .as_ref()
                .filter(|f| f.worker == worker && &f.pane == pane)
                .map(|f| (id.clone(), f.delivered))
        });
        let task = match flight {
            Some((id, true)) => Some(id),
            Some((id, false)) => settle(mux, &profile, pane).then_some(id),
            None => None,
        };
        adopted.push(Adoption {
            worker,
            pane: pane.clone(),
            window: info.window.clone(),
            task,
        });
    }
    adopted
}

/// Whether a prompt whose delivery was under way when the orchestrator died reached the
/// agent. Busy: it did. Sitting in the input box: the Enter was lost, so press it now.
/// Anything else: it did not, and the task is handed out again (its attempt counted).
fn settle(mux: &dyn Mux, profile: &Profile, pane: &PaneId) -> bool {
    let Ok(screen) = mux.capture(pane) else {
        return false;
    };
    match profile.classify(&screen) {
        ScreenState::Busy => true,
        ScreenState::InputPending => mux.send_key(pane, "Enter").is_ok(),
        _ => false,
    }
}
