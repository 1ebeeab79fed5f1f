//! Moving an attached person's view to a pane, for the dashboard's "jump to this worker".

use super::command::Argv;
use super::{PaneId, Tmux, TmuxError};

impl Tmux {
    /// Makes `pane` the active pane of its window, and that window the session's current
    /// one, so that every attached client now shows it.
    pub fn jump_to(&self, pane: &PaneId) -> Result<(), TmuxError> {
        // A pane id is a valid window target too: tmux resolves it to the pane's window.
        let line = Argv::new("select-window")
            .args(["-t", &pane.0])
            .then("select-pane")
            .args(["-t", &pane.0]);
        self.run(&line)?;
        Ok(())
    }
}
