//! `swarm status`.

use crate::Outcome;
use crate::cli::StatusArgs;

pub fn run(args: &StatusArgs) -> anyhow::Result<Outcome> {
    let _ = args;
    todo!("swarm status")
}
