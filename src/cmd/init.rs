//! `swarm init`: a commented swarm.toml to start from, or (`--llm-orchestrator`) the
//! protocol an LLM agent follows to drive the workers itself; and a sample plan if there
//! is none.

use crate::Outcome;
use crate::cli::InitArgs;
use crate::error::BadInput;
use std::path::Path;

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

/// What `swarm init --llm-orchestrator` writes: the original post's ORCHESTRATOR.md, made
/// safe by going through swarm's primitives only. Its `sh` blocks are run by the tests.
const ORCHESTRATOR: &str = include_str!("../../docs/ORCHESTRATOR.md");

pub fn run(args: &InitArgs) -> anyhow::Result<Outcome> {
    let (name, contents) = if args.llm_orchestrator {
        ("ORCHESTRATOR.md", ORCHESTRATOR)
    } else {
        ("swarm.toml", crate::config::SAMPLE)
    };
    let path = Path::new(name);
    if path.exists() && !args.force {
        return Err(
            BadInput::new(format!("{name} already exists; nothing was written"))
                .hint("pass `--force` to overwrite it")
                .into(),
        );
    }
    std::fs::write(path, contents)?;
    println!("wrote {name}");
    let plan = Path::new("PLAN.md");
    if !plan.exists() {
        std::fs::write(plan, SAMPLE_PLAN)?;
        println!("wrote PLAN.md (a sample plan)");
    }
    if args.llm_orchestrator {
        println!(
            "next: start an agent in this directory (for example `claude`) and tell it \
             \"Read ORCHESTRATOR.md and follow it\"; `swarm attach` shows the workers"
        );
    }
    Ok(Outcome::Success)
}
