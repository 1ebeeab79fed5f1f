//! `swarm pause [WORKER|--all]`: stop handing out tasks, to one worker or to all.

use crate::Outcome;
use crate::cli::WorkerArgs;
use crate::scheduler::Command;

pub fn run(args: &WorkerArgs) -> anyhow::Result<Outcome> {
    let worker = args.worker.as_deref().map(super::worker_id).transpose()?;
    let who = worker.map_or("every worker".to_string(), |w| format!("worker w{w}"));
    super::steer(
        &args.workspace,
        Command::Pause { worker },
        &format!("asked the swarm to pause {who}"),
    )
}
