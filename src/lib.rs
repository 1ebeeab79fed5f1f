//! swarm turns a markdown checklist into finished work by driving a swarm of LLM agent
//! CLIs in tmux panes. See DESIGN.md for the architecture: a pure scheduler in the middle,
//! thin edges (tmux, files, clock) around it.

pub mod agent;
pub mod cli;
pub mod cmd;
pub mod commands;
pub mod config;
pub mod deliver;
pub mod error;
pub mod journal;
pub mod orchestrator;
pub mod plan;
pub mod prompt;
pub mod scheduler;
pub mod sentinel;
pub mod sim;
pub mod tmux;
pub mod tui;
pub mod workspace;

use std::process::ExitCode;

/// How a command ended, when it did not fail outright.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Everything asked for was done.
    Success,
    /// The run finished, but some tasks failed.
    TasksFailed,
    /// A signal ended the command.
    Interrupted,
}

/// Runs one command line and maps its result to swarm's exit codes (0, 1, 2, 130).
pub fn run(cli: cli::Cli) -> ExitCode {
    match cmd::dispatch(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::TasksFailed) => ExitCode::from(1),
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(err) => {
            eprintln!("swarm: {}", render_error(&err));
            ExitCode::from(if is_bad_input(&err) { 2 } else { 1 })
        }
    }
}

fn render_error(err: &anyhow::Error) -> String {
    let mut text = err.to_string();
    for cause in err.chain().skip(1) {
        text.push_str(&format!("\n  caused by: {cause}"));
    }
    text
}

/// Errors that are the user's to fix: a bad plan, config, flag or environment.
fn is_bad_input(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause.is::<error::BadInput>()
            || cause.is::<plan::PlanError>()
            || cause.is::<config::ConfigError>()
            || cause.is::<prompt::PromptError>()
            || matches!(
                cause.downcast_ref::<journal::JournalError>(),
                Some(
                    journal::JournalError::Corrupt { .. }
                        | journal::JournalError::ForeignPlan { .. }
                )
            )
            || matches!(
                cause.downcast_ref::<tmux::TmuxError>(),
                Some(tmux::TmuxError::Missing | tmux::TmuxError::TooOld { .. })
            )
    })
}
