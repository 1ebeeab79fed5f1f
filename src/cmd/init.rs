//! `swarm init`.

use crate::Outcome;
use crate::cli::InitArgs;

pub fn run(args: &InitArgs) -> anyhow::Result<Outcome> {
    let _ = args;
    todo!("swarm init")
}
