//! One file per subcommand; this module only routes.

mod attach;
mod demo;
mod init;
mod profiles;
mod run;
mod status;
mod stop;

use crate::Outcome;
use crate::cli::{Cli, Command, Workspace as WorkspaceArgs};
use crate::config::{self, Overrides};
use crate::tmux::Tmux;
use crate::workspace::Workspace;

/// Runs the subcommand the user asked for.
pub fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Attach(ws) => attach::run(&ws),
        Command::Status(args) => status::run(&args),
        Command::Stop(ws) => stop::run(&ws),
        Command::Init(args) => init::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Profiles(args) => profiles::run(&args),
        Command::SimAgent(args) => crate::sim::run(&args).map(|()| Outcome::Success),
    }
}

/// The workspace a command is about and its tmux server, as swarm.toml and the flags say.
fn target(args: &WorkspaceArgs) -> anyhow::Result<(Workspace, Tmux)> {
    let ws = Workspace::locate(&args.plan)?;
    let overrides = Overrides {
        socket: args.socket.clone(),
        ..Overrides::default()
    };
    let settings = config::resolve(config::load(&ws.config_path())?, &overrides, &ws.root)?;
    let socket = ws.socket(settings.socket.as_deref());
    Ok((ws, Tmux::new(&socket, &settings.session)))
}
