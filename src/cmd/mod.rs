//! One file per subcommand; this module only routes.

mod attach;
pub(crate) mod capture;
pub(crate) mod completions;
mod dashboard;
mod demo;
pub(crate) mod diff;
mod hosts;
mod init;
pub(crate) mod logs;
mod man;
mod mcp;
pub(crate) mod on_host;
mod pause;
mod profiles;
mod resume;
mod retry;
mod run;
pub(crate) mod send;
pub(crate) mod show;
mod skip;
pub(crate) mod spawn;
pub(crate) mod status;
mod stop;
pub(crate) mod wait;
pub(crate) mod workers;

use crate::Outcome;
use crate::cli::{Cli, Command, Workspace as WorkspaceArgs};
use crate::config::{self, Overrides, Settings};
use crate::error::BadInput;
use crate::orchestrator::snapshot::Snapshot;
use crate::plan::TaskId;
use crate::scheduler::{Command as Steer, WorkerId};
use crate::tmux::Tmux;
use crate::workspace::Workspace;

/// Runs the subcommand the user asked for.
pub fn dispatch(cli: Cli) -> anyhow::Result<Outcome> {
    if only_prints(&cli.command) {
        // `swarm status | head` should end quietly, as `cat` would, not panic in println!.
        // Only here: an orchestrator must hear of a closed pipe as an error, not die of it.
        sigpipe::reset();
    }
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Attach(ws) => attach::run(&ws),
        Command::Status(args) => status::run(&args),
        Command::Stop(ws) => stop::run(&ws),
        Command::Pause(args) => pause::run(&args),
        Command::Resume(args) => resume::run(&args),
        Command::Retry(args) => retry::run(&args),
        Command::Skip(args) => skip::run(&args),
        Command::Logs(args) => logs::run(&args),
        Command::Diff(args) => diff::run(&args),
        Command::Show(args) => show::run(&args),
        Command::Workers(args) => workers::run(&args),
        Command::Capture(args) => capture::run(&args),
        Command::Spawn(args) => spawn::run(&args),
        Command::Send(args) => send::run(&args),
        Command::Wait(args) => wait::run(&args),
        Command::Dashboard(ws) => dashboard::run(&ws),
        Command::Mcp(ws) => mcp::run(&ws),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => man::run(&args),
        Command::Init(args) => init::run(&args),
        Command::Demo(args) => demo::run(&args),
        Command::Profiles(args) => profiles::run(&args),
        Command::Hosts(args) => hosts::run(&args),
        Command::SimAgent(args) => crate::sim::run(&args).map(|()| Outcome::Success),
    }
}

/// Commands that read and print, which a closed stdout may simply end.
fn only_prints(command: &Command) -> bool {
    matches!(
        command,
        Command::Status(_)
            | Command::Logs(_)
            | Command::Diff(_)
            | Command::Show(_)
            | Command::Wait(_)
            | Command::Workers(_)
            | Command::Capture(_)
            | Command::Profiles(_)
            | Command::Hosts(_)
            | Command::Completions(_)
            | Command::Man(_)
    )
}

/// The workspace a command is about and its tmux server, as swarm.toml and the flags say.
pub(crate) fn target(args: &WorkspaceArgs) -> anyhow::Result<(Workspace, Tmux)> {
    let (ws, tmux, _) = target_with(args, Overrides::default())?;
    Ok((ws, tmux))
}

/// Like `target`, with the settings too, after `overrides` (the socket comes from `args`).
pub(crate) fn target_with(
    args: &WorkspaceArgs,
    overrides: Overrides,
) -> anyhow::Result<(Workspace, Tmux, Settings)> {
    let ws = Workspace::locate(&args.plan)?;
    let overrides = Overrides {
        socket: args.socket.clone(),
        ..overrides
    };
    let settings = config::resolve(config::load(&ws.config_path())?, &overrides, &ws.root)?;
    let socket = ws.socket(settings.socket.as_deref());
    let tmux = Tmux::new(&socket, &settings.session).with_conf(settings.tmux_conf.clone());
    Ok((ws, tmux, settings))
}

/// `swarm ARGS --plan PLAN --socket SOCKET` with this very executable: what swarm runs in
/// window 0.
fn self_argv(args: &[&str], ws: &Workspace, tmux: &Tmux) -> Vec<String> {
    let exe = std::env::current_exe()
        .map(|p| p.display().to_string())
        .unwrap_or_else(|_| "swarm".into());
    let mut argv = vec![exe];
    argv.extend(args.iter().map(|a| a.to_string()));
    argv.extend([
        "--plan".into(),
        ws.plan.display().to_string(),
        "--socket".into(),
        tmux.socket.clone(),
    ]);
    argv
}

/// Hands a command to the orchestrator running in the workspace.
fn steer(args: &WorkspaceArgs, command: Steer, done: &str) -> anyhow::Result<Outcome> {
    let (ws, _) = target(args)?;
    if crate::orchestrator::lock::holder(&ws).is_none() {
        return Err(
            BadInput::new(format!("no swarm is running for {}", ws.plan.display()))
                .hint("start one with `swarm run`")
                .into(),
        );
    }
    if let Steer::Pause { worker: Some(w) } | Steer::Resume { worker: Some(w) } = &command {
        known_worker(&ws, *w)?;
    }
    crate::commands::send(&ws, &command)?;
    println!("{done}");
    Ok(Outcome::Success)
}

/// `w2` or `2`, as `swarm status` shows workers.
fn worker_id(name: &str) -> Result<WorkerId, BadInput> {
    crate::roster::parse_name(name).ok_or_else(|| {
        BadInput::new(format!("`{name}` is not a worker"))
            .hint("name a worker as `swarm workers` shows it, like `w2`")
    })
}

/// Refuses a worker that the running swarm does not have, naming those it has.
fn known_worker(ws: &Workspace, id: WorkerId) -> anyhow::Result<()> {
    let Some(snapshot) = Snapshot::read(&ws.state_path())? else {
        return Ok(());
    };
    if snapshot.workers.iter().any(|w| w.id == id) {
        return Ok(());
    }
    let names: Vec<String> = snapshot
        .workers
        .iter()
        .map(|w| format!("w{}", w.id))
        .collect();
    Err(BadInput::new(format!(
        "no worker `w{id}`: this swarm has {}",
        if names.is_empty() {
            "no workers yet".to_string()
        } else {
            names.join(", ")
        }
    ))
    .hint("name a worker as `swarm workers` shows it")
    .into())
}

/// The task a person named: its id, a unique prefix of it, or its number in `swarm status`.
fn task_id(args: &WorkspaceArgs, typed: &str) -> anyhow::Result<TaskId> {
    let (ws, _) = target(args)?;
    Ok(find_task(&ws, typed)?.id)
}

/// The plan's task that `typed` names (see `task_id`).
pub(crate) fn find_task(ws: &Workspace, typed: &str) -> anyhow::Result<crate::plan::Task> {
    let (_, tasks) = crate::plan::load(&ws.plan)?;
    match crate::plan::lookup::find(&tasks, typed) {
        Ok(task) => Ok(task.clone()),
        Err(miss) => {
            let (message, hint) = miss.describe(typed);
            Err(BadInput::new(format!("{}: {message}", ws.plan.display()))
                .hint(hint)
                .into())
        }
    }
}
