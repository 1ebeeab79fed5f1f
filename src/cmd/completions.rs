//! `swarm completions SHELL`: a completion script for bash, zsh, fish, elvish or PowerShell.

use crate::Outcome;
use crate::cli::{Cli, CompletionsArgs};
use clap::CommandFactory;

pub fn run(args: &CompletionsArgs) -> anyhow::Result<Outcome> {
    clap_complete::generate(
        args.shell,
        &mut Cli::command(),
        "swarm",
        &mut std::io::stdout(),
    );
    Ok(Outcome::Success)
}
