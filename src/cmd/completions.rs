//! `swarm completions SHELL`: shell completion that also knows the workspace's task ids,
//! workers, profiles and hosts (clap_complete's dynamic completion: the shell asks swarm itself
//! at each Tab), or with `--static` a script that knows only the commands and flags.

use crate::Outcome;
use crate::cli::{Cli, CompletionsArgs};
use crate::orchestrator::snapshot::Snapshot;
use crate::workspace::Workspace;
use clap::CommandFactory;
use clap_complete::env::Shells;
use clap_complete::{ArgValueCandidates, CompleteEnv, CompletionCandidate};
use std::path::Path;

/// The environment variable with which a shell asks for completions (clap's default).
const VAR: &str = "COMPLETE";

pub fn run(args: &CompletionsArgs) -> anyhow::Result<Outcome> {
    let mut out = std::io::stdout();
    if args.r#static {
        clap_complete::generate(args.shell, &mut Cli::command(), "swarm", &mut out);
        return Ok(Outcome::Success);
    }
    // What `COMPLETE=SHELL swarm` prints: a script that calls this executable back, with
    // `COMPLETE` set, for each completion.
    let name = args.shell.to_string();
    let shells = Shells::builtins();
    let shell = shells
        .completer(&name)
        .ok_or_else(|| anyhow::anyhow!("no dynamic completion for {name}"))?;
    let exe = std::env::current_exe()?;
    shell.write_registration(VAR, "swarm", "swarm", &exe.display().to_string(), &mut out)?;
    Ok(Outcome::Success)
}

/// When a shell asks for completions (`COMPLETE` is set), prints them and exits; otherwise
/// returns, and swarm runs as asked. Called first thing, before anything is printed.
pub fn answer_shell() {
    CompleteEnv::with_factory(command).var(VAR).complete();
}

/// The command line, with the arguments that name tasks, workers and profiles completed
/// from the workspace of the current directory (the plan found upward, as every command
/// finds it; a `--plan` on the line being completed is not seen).
fn command() -> clap::Command {
    let mut cli = Cli::command();
    for name in ["retry", "skip", "logs", "diff", "show"] {
        cli = cli.mut_subcommand(name, completing("task", tasks));
    }
    for name in ["pause", "resume", "send", "capture"] {
        cli = cli.mut_subcommand(name, completing("worker", workers));
    }
    for name in ["run", "spawn"] {
        cli = cli.mut_subcommand(name, completing("agent", profiles));
    }
    cli = cli.mut_subcommand("attach", completing("host", hosts));
    cli.mut_subcommand("profiles", |c| {
        c.mut_subcommand("show", completing("name", profiles))
    })
}

/// Completes a (sub)command's argument `id` with `values`. With `mut_args`: `mut_arg`
/// would move the argument last, and with it a positional's place on the line.
fn completing(
    id: &'static str,
    values: fn() -> Vec<CompletionCandidate>,
) -> impl FnOnce(clap::Command) -> clap::Command {
    move |c| {
        c.mut_args(|a| match a.get_id() == id {
            true => a.add(ArgValueCandidates::new(values)),
            false => a,
        })
    }
}

fn here() -> Option<Workspace> {
    Workspace::locate(Path::new("PLAN.md")).ok()
}

/// Each task's id, with its text as the help some shells show beside it.
fn tasks() -> Vec<CompletionCandidate> {
    let Some(Ok((_, tasks))) = here().map(|ws| crate::plan::load(&ws.plan)) else {
        return Vec::new();
    };
    tasks
        .into_iter()
        .map(|t| CompletionCandidate::new(t.id.0).help(Some(t.text.into())))
        .collect()
}

/// The workers of the workspace's swarm, as `swarm workers` names them, from its last
/// snapshot.
fn workers() -> Vec<CompletionCandidate> {
    let Some(Ok(Some(snapshot))) = here().map(|ws| Snapshot::read(&ws.state_path())) else {
        return Vec::new();
    };
    snapshot
        .workers
        .into_iter()
        .map(|w| {
            let doing = w
                .task
                .map(|t| format!("{}: {t}", w.state))
                .unwrap_or(w.state);
            CompletionCandidate::new(format!("w{}", w.id)).help(Some(doing.into()))
        })
        .collect()
}

/// The `[[hosts]]` of the workspace's swarm.toml, with where ssh reaches each.
fn hosts() -> Vec<CompletionCandidate> {
    let Some(Ok(Some(config))) = here().map(|ws| crate::config::load(&ws.config_path())) else {
        return Vec::new();
    };
    let Ok(remote) = config.remote() else {
        return Vec::new();
    };
    remote
        .hosts
        .into_iter()
        .map(|h| CompletionCandidate::new(h.host.name).help(Some(h.host.dest.into())))
        .collect()
}

/// The built-in profiles and those of the workspace's swarm.toml, as `swarm profiles`
/// lists them.
fn profiles() -> Vec<CompletionCandidate> {
    let user = here()
        .and_then(|ws| crate::config::load(&ws.config_path()).ok().flatten())
        .map(|config| config.profiles)
        .unwrap_or_default();
    super::profiles::names(&user)
        .into_iter()
        .map(CompletionCandidate::new)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_completing_command_line_is_still_a_valid_one() {
        // clap's own checks: the arguments keep their places (`send WORKER TEXT`).
        super::command().debug_assert();
    }
}
