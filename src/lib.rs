//! swarm turns a markdown checklist into finished work by driving a swarm of LLM agent
//! CLIs in tmux panes. docs/architecture.md draws the architecture: a pure scheduler in the
//! middle, thin edges (tmux, files, clock) around it, and the loop that joins them;
//! docs/tmux-facts.md has the tmux measurements that the edges rely on.

pub mod agent;
pub mod cli;
pub mod clock;
pub(crate) mod cmd;
pub(crate) mod commands;
pub(crate) mod config;
pub mod cost;
pub mod deliver;
pub mod duration;
pub(crate) mod error;
pub mod git;
pub(crate) mod isolate;
pub(crate) mod journal;
pub(crate) mod mcp;
pub(crate) mod orchestrator;
pub mod plan;
pub mod prompt;
pub mod receipt;
pub mod remote;
pub(crate) mod roster;
pub mod scheduler;
pub(crate) mod sentinel;
pub(crate) mod sim;
pub mod ssh;
pub mod tmux;
pub mod transcript;
pub(crate) mod tui;
pub mod verify;
pub(crate) mod waits;
pub(crate) mod workspace;

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
    /// `swarm wait` ran out of time before what it waited for happened.
    TimedOut,
}

/// Exit code of `swarm wait` when its `--timeout` passes, as `timeout(1)` uses.
pub const TIMED_OUT: u8 = 124;

pub use cmd::completions::answer_shell;

/// Runs one command line and maps its result to swarm's exit codes (0, 1, 2, 124, 130).
pub fn run(cli: cli::Cli) -> ExitCode {
    match cmd::dispatch(cli) {
        Ok(Outcome::Success) => ExitCode::SUCCESS,
        Ok(Outcome::TasksFailed) => ExitCode::from(1),
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Ok(Outcome::TimedOut) => ExitCode::from(TIMED_OUT),
        Err(err) => {
            eprintln!("swarm: {}", error::render(&err));
            ExitCode::from(error::Exit::of(&err).code())
        }
    }
}

/// Whether output may use colours: not when `NO_COLOR` is set to anything non-empty
/// (no-color.org). The dashboard and swarm's own tmux server both ask.
pub fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}
