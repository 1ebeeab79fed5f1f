//! The `swarm` binary: parse the command line and hand over to the library.

use clap::Parser;

fn main() -> std::process::ExitCode {
    swarm::answer_shell();
    swarm::run(swarm::cli::Cli::parse())
}
