//! `swarm skip TASK`: leave a task undone (a running one is interrupted).

use crate::Outcome;
use crate::cli::TaskArgs;
use crate::scheduler::Command;

pub fn run(args: &TaskArgs) -> anyhow::Result<Outcome> {
    let task = super::task_id(&args.workspace, &args.task)?;
    let done = format!("asked the swarm to skip `{task}`");
    super::steer(&args.workspace, Command::Skip { task }, &done)
}
