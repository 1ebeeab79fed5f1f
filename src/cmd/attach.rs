//! `swarm attach`.

use crate::Outcome;
use crate::cli::Workspace;

pub fn run(ws: &Workspace) -> anyhow::Result<Outcome> {
    let _ = ws;
    todo!("swarm attach")
}
