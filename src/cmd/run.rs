//! `swarm run`.

use crate::Outcome;
use crate::cli::RunArgs;

pub fn run(args: &RunArgs) -> anyhow::Result<Outcome> {
    let _ = args;
    todo!("swarm run")
}
