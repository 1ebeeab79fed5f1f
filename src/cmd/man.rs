//! `swarm man [COMMAND]`: the man page of swarm or of one of its commands, generated from
//! the same clap definitions as `--help`, with EXIT STATUS and FILES sections, so that
//! packagers can install them (`swarm man > swarm.1`, `swarm man run > swarm-run.1`).

use crate::Outcome;
use crate::cli::{Cli, ManArgs};
use crate::error::BadInput;
use clap::CommandFactory;
use std::io::Write;

/// The exit codes (docs/cli.md).
const EXIT_STATUS: &[(&str, &str)] = &[
    (
        "0",
        "Everything asked for was done (for swarm run: every task is done).",
    ),
    (
        "1",
        "The run finished but tasks failed, or a runtime error (tmux died, a file could not be written).",
    ),
    (
        "2",
        "Bad input: the plan, swarm.toml, a flag, an unknown task or worker, tmux missing or too old. Nothing was modified.",
    ),
    ("124", "swarm wait only: its --timeout passed first."),
    (
        "130",
        "Interrupted (Ctrl+C, SIGTERM), or stopped by swarm stop.",
    ),
    (
        "141",
        "A printing command whose reader closed the pipe: it ends quietly by SIGPIPE, as cat does.",
    ),
];

/// The files swarm reads and keeps (docs/architecture.md, "Files").
const FILES: &[(&str, &str)] = &[
    (
        "PLAN.md",
        "The plan: a markdown checklist, looked for in the current directory and upward (--plan names another).",
    ),
    ("swarm.toml", "Settings, beside the plan."),
    (
        ".swarm/state.json",
        "The run's status snapshot, for swarm status, workers and the dashboard.",
    ),
    (
        ".swarm/journal.jsonl",
        "The run journal, replayed when an orchestrator restarts.",
    ),
    (
        ".swarm/logs/TASK.ATTEMPT.log",
        "Each attempt's transcript, as the pane recorded it.",
    ),
    (".swarm/joblog.tsv", "The per-task record of the last run."),
    (
        ".swarm/done/",
        "Default sentinel files, one per finished task.",
    ),
    (
        ".swarm/commands/",
        "The queue of steering commands (pause, resume, retry, skip).",
    ),
];

pub fn run(args: &ManArgs) -> anyhow::Result<Outcome> {
    let cli = Cli::command();
    let (title, cmd) = match &args.command {
        None => ("swarm".to_string(), cli),
        Some(name) => {
            let Some(sub) = cli.find_subcommand(name).filter(|c| !c.is_hide_set()) else {
                return Err(unknown(&cli, name).into());
            };
            let title = format!("swarm-{}", sub.get_name());
            let cmd = sub
                .clone()
                .display_name(title.clone())
                .bin_name(format!("swarm {}", sub.get_name()));
            (title, cmd)
        }
    };
    let mut page = Vec::new();
    clap_mangen::Man::new(cmd)
        .title(title)
        .source(format!("swarm {}", env!("CARGO_PKG_VERSION")))
        .render(&mut page)?;
    section(&mut page, "\"EXIT STATUS\"", EXIT_STATUS)?;
    section(&mut page, "FILES", FILES)?;
    std::io::stdout().write_all(&page)?;
    Ok(Outcome::Success)
}

/// A roff section of tagged paragraphs.
fn section(out: &mut Vec<u8>, title: &str, items: &[(&str, &str)]) -> std::io::Result<()> {
    writeln!(out, ".SH {title}")?;
    for (tag, text) in items {
        writeln!(out, ".TP\n\\fB{}\\fR\n{}", roff(tag), roff(text))?;
    }
    Ok(())
}

/// Text made safe for roff: backslashes doubled, `-` a real minus, and no line starting
/// with a control character.
fn roff(text: &str) -> String {
    let text = text.replace('\\', "\\\\").replace('-', "\\-");
    if text.starts_with(['.', '\'']) {
        format!("\\&{text}")
    } else {
        text
    }
}

/// A command swarm does not have, with the closest ones it has.
fn unknown(cli: &clap::Command, name: &str) -> BadInput {
    let names: Vec<&str> = cli
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name())
        .collect();
    // Edits, transpositions counting as one: short names are one slip away.
    let mut close: Vec<(usize, &str)> = names
        .iter()
        .map(|n| (strsim::damerau_levenshtein(name, n), *n))
        .filter(|(edits, _)| *edits <= 2)
        .collect();
    close.sort();
    let message = match close.first() {
        Some((_, best)) => format!("no command `{name}`; did you mean `{best}`?"),
        None => format!("no command `{name}`"),
    };
    BadInput::new(message).hint(format!("the commands are {}", names.join(", ")))
}
