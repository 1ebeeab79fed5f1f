//! Finding worker panes by their `@worker` tag, straight from tmux: with no orchestrator
//! running (an LLM orchestrator drives the swarm) there is no snapshot to ask.

use super::command::Argv;
use super::mux::{PANE_FORMAT, parse_pane_fields};
use super::{PaneInfo, Tmux, TmuxError};

/// A pane that carries a worker's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerPane {
    pub info: PaneInfo,
    /// The `@worker` pane option, such as `w2`.
    pub worker: String,
    /// The `@profile` pane option: the profile the agent was started with (by `swarm
    /// spawn` or an orchestrator); none on panes of older runs.
    pub profile: Option<String>,
    /// Its window's name, such as `workers-1`.
    pub window_name: String,
}

impl Tmux {
    /// Every pane of the session that has a `@worker` tag; none without a session.
    pub fn worker_panes(&self) -> Result<Vec<WorkerPane>, TmuxError> {
        if !self.has_session()? {
            return Ok(Vec::new());
        }
        let format = format!("{PANE_FORMAT}\t#{{window_name}}\t#{{@worker}}\t#{{@profile}}");
        let line = Argv::new("list-panes").args(["-s", "-t", &self.target(), "-F", &format]);
        let mut panes = Vec::new();
        for row in self.run(&line)?.lines() {
            let pane = parse_worker_row(row).ok_or_else(|| TmuxError::Failed {
                args: line.to_string(),
                stderr: format!("unexpected list-panes row {row:?}"),
            })?;
            if !pane.worker.is_empty() {
                panes.push(pane);
            }
        }
        Ok(panes)
    }

    /// Marks the session as driven by `swarm spawn`'s caller (a script or an LLM), whose
    /// workers `swarm run` must not adopt as its own.
    pub fn mark_spawned_by_hand(&self) -> Result<(), TmuxError> {
        let session = format!("{}:", self.target());
        let line = Argv::new("set-option").args(["-t", &session, "@spawned-by-hand", "1"]);
        self.run(&line)?;
        Ok(())
    }

    /// Whether `mark_spawned_by_hand` marked the session.
    pub fn spawned_by_hand(&self) -> Result<bool, TmuxError> {
        let session = format!("{}:", self.target());
        let line = Argv::new("show-options").args(["-v", "-q", "-t", &session, "@spawned-by-hand"]);
        Ok(self.run(&line)?.trim() == "1")
    }
}

fn parse_worker_row(row: &str) -> Option<WorkerPane> {
    let mut fields = row.split('\t');
    let info = parse_pane_fields(&mut fields)?;
    let window_name = fields.next()?.to_string();
    let worker = fields.next()?.to_string();
    let profile = Some(fields.next()?.to_string()).filter(|p| !p.is_empty());
    Some(WorkerPane {
        info,
        worker,
        profile,
        window_name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tmux::PaneId;

    #[test]
    fn reads_tagged_and_untagged_rows() {
        let row = "%5\t0\t\t\t0\tswarm\t77\t@2\tworkers-1\tw3\tsim";
        let pane = parse_worker_row(row).unwrap();
        assert_eq!(pane.info.id, PaneId("%5".into()));
        assert_eq!(
            (pane.worker.as_str(), pane.profile.as_deref()),
            ("w3", Some("sim"))
        );
        assert_eq!(pane.window_name, "workers-1");
        let window0 = parse_worker_row("%0\t0\t\t\t0\tswarm\t70\t@0\toverview\t\t").unwrap();
        assert!(window0.worker.is_empty() && window0.profile.is_none());
        assert_eq!(parse_worker_row("%0\t0\t\t\t0\tswarm\t70\t@0"), None);
    }
}
