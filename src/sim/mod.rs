//! `swarm sim-agent`: a simulated agent CLI for demos and tests. It is a real interactive
//! terminal program with an input box, bracketed paste and a spinner, but no LLM.

/// Options of `swarm sim-agent`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {}

/// Runs the simulator on the current terminal until it quits.
pub fn run(args: &SimArgs) -> anyhow::Result<()> {
    let _ = args;
    todo!("sim::run")
}
