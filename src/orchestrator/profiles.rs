//! Which profile reads each worker's screen: a worker runs its pool's profile. The pane
//! watcher hears of panes, not workers, so the panes are kept here too, as they start.

use crate::agent::Profile;
use crate::config::Settings;
use crate::scheduler::WorkerId;
use crate::tmux::{PaneId, PaneInfo};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The profile of each worker, and the worker of each pane; shared by the executor and the
/// pane watcher.
#[derive(Debug, Clone)]
pub struct Profiles {
    by_worker: Arc<Vec<Arc<Profile>>>,
    panes: Arc<Mutex<HashMap<PaneId, WorkerId>>>,
}

impl Profiles {
    pub fn new(settings: &Settings) -> Profiles {
        Profiles::of(settings.worker_profiles().into_iter().cloned().collect())
    }

    /// Workers running `profiles`, by worker id.
    pub fn of(profiles: Vec<Profile>) -> Profiles {
        Profiles {
            by_worker: Arc::new(profiles.into_iter().map(Arc::new).collect()),
            panes: Arc::default(),
        }
    }

    /// The profile worker `worker` runs; `None` for a worker the run does not have.
    pub fn get(&self, worker: WorkerId) -> Option<Arc<Profile>> {
        self.by_worker.get(worker).cloned()
    }

    /// The profile worker `worker` runs (one the scheduler named, so one there is).
    pub fn worker(&self, worker: WorkerId) -> Arc<Profile> {
        self.by_worker[worker].clone()
    }

    /// `pane` is worker `worker`'s now.
    pub fn started(&self, worker: WorkerId, pane: &PaneId) {
        self.panes
            .lock()
            .expect("not poisoned")
            .insert(pane.clone(), worker);
    }

    /// The profile of the agent in `pane`, if it is a worker's.
    pub fn pane(&self, pane: &PaneId) -> Option<Arc<Profile>> {
        let worker = *self.panes.lock().expect("not poisoned").get(pane)?;
        Some(self.worker(worker))
    }

    /// Whether the agent has left `info`'s pane for good (see [`Profile::agent_gone`]). A
    /// pane that is not known yet (its spawn has not returned) is judged by every profile
    /// of the run: gone only if none of them runs there.
    pub fn agent_gone(&self, info: &PaneInfo) -> bool {
        let gone = |p: &Profile| p.agent_gone(&info.current_command, info.pid);
        match self.pane(&info.id) {
            Some(profile) => gone(&profile),
            None => self.by_worker.iter().all(|p| gone(p)),
        }
    }
}
