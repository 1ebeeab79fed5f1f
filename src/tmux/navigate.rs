//! Moving an attached person's view to a pane, for the dashboard's "jump to this worker".

use super::command::Argv;
use super::{PaneId, Tmux, TmuxError};

impl Tmux {
    /// Makes `pane` the active pane of its window, and that window the session's current
    /// one, so that every attached client now shows it.
    pub fn jump_to(&self, pane: &PaneId) -> Result<(), TmuxError> {
        // A pane id is a valid window target too: tmux resolves it to the pane's window.
        // `-Z`: a grid zoomed for a small terminal stays zoomed, on this pane.
        let line = Argv::new("select-window")
            .args(["-t", &pane.0])
            .then("select-pane")
            .args(["-Z", "-t", &pane.0]);
        self.run(&line)?;
        Ok(())
    }

    /// Where each pane of the session sits, as `window.pane` indexes (`1.2`: window 1,
    /// its third pane): the names people use to reach a pane in tmux (`prefix 1`,
    /// `prefix q 2`).
    pub fn places(&self) -> Result<std::collections::HashMap<PaneId, String>, TmuxError> {
        let line = Argv::new("list-panes").args([
            "-s",
            "-t",
            &self.target(),
            "-F",
            "#{pane_id} #{window_index}.#{pane_index}",
        ]);
        Ok(self
            .run(&line)?
            .lines()
            .filter_map(|row| {
                let (pane, place) = row.split_once(' ')?;
                Some((PaneId(pane.to_string()), place.to_string()))
            })
            .collect())
    }
}
