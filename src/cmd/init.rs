//! `swarm init`: a commented swarm.toml to start from, and a sample plan if there is none.

use crate::Outcome;
use crate::cli::InitArgs;
use crate::error::BadInput;

/// The sample plan `swarm init` writes when the directory has no PLAN.md.
const SAMPLE_PLAN: &str = "\
# Plan

Each `- [ ]` item is a task for one agent. swarm checks it off when the agent is done.
Indented lines under a task are extra context for its prompt. End a task with
`{#an-id}` to name it, or `{out=path}` to say which file it writes.

- [ ] Write docs/overview.md: a one-page overview of this repository {out=docs/overview.md}
- [ ] List the TODO comments in src/ and group them by theme in docs/todo.md {out=docs/todo.md}
  Keep each entry to one line, with its file and line number.
";

pub fn run(args: &InitArgs) -> anyhow::Result<Outcome> {
    let config = std::path::Path::new("swarm.toml");
    if config.exists() && !args.force {
        return Err(
            BadInput::new("swarm.toml already exists; nothing was written")
                .hint("pass `--force` to overwrite it")
                .into(),
        );
    }
    std::fs::write(config, crate::config::SAMPLE)?;
    println!("wrote swarm.toml");
    let plan = std::path::Path::new("PLAN.md");
    if !plan.exists() {
        std::fs::write(plan, SAMPLE_PLAN)?;
        println!("wrote PLAN.md (a sample plan)");
    }
    Ok(Outcome::Success)
}
