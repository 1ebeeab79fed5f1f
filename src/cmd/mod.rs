//! One file per subcommand; this module only routes.

mod attach;
mod demo;
mod init;
mod run;
mod status;
mod stop;

use crate::Outcome;
use crate::cli::{Cli, Command};

/// Runs the subcommand the user asked for.
pub fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Attach(ws) => attach::run(&ws),
        Command::Status(args) => status::run(&args),
        Command::Stop(ws) => stop::run(&ws),
        Command::Init(args) => init::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::SimAgent(args) => crate::sim::run(&args).map(|()| Outcome::Success),
    }
}
