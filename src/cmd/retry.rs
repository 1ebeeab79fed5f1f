//! `swarm retry TASK`: try a failed or skipped task again, with fresh attempts.

use crate::Outcome;
use crate::cli::TaskArgs;
use crate::scheduler::Command;

pub fn run(args: &TaskArgs) -> anyhow::Result<Outcome> {
    let task = super::task_id(&args.workspace, &args.task)?;
    let done = format!("asked the swarm to retry `{task}`");
    super::steer(&args.workspace, Command::Retry { task }, &done)
}
