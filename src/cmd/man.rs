//! `swarm man`: the man page, generated from the same clap definitions as `--help`, so
//! that packagers can install it (`swarm man > swarm.1`).

use crate::Outcome;
use crate::cli::Cli;
use clap::CommandFactory;

pub fn run() -> anyhow::Result<Outcome> {
    clap_mangen::Man::new(Cli::command()).render(&mut std::io::stdout())?;
    Ok(Outcome::Success)
}
