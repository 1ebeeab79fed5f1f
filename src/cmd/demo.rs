//! `swarm demo`.

use crate::Outcome;
use crate::cli::DemoArgs;

pub fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let _ = args;
    todo!("swarm demo")
}
