//! `swarm init`: a commented swarm.toml to start from, or (`--llm-orchestrator`) the
//! protocol an LLM agent follows to drive the workers itself; and a sample plan if there
//! is none.

use crate::Outcome;
use crate::cli::InitArgs;
use crate::error::BadInput;
use crate::mcp::claude_config;
use anyhow::Context;
use std::io::Write;
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
    // Worked out before anything is written: a `.mcp.json` that cannot be merged into
    // stops the command with nothing changed.
    let mcp_config = if args.llm_orchestrator {
        Some(mcp_config()?)
    } else {
        None
    };
    std::fs::write(path, contents)?;
    println!("wrote {name}");
    if let Some(text) = mcp_config {
        write_atomically(Path::new(claude_config::FILE), &text)?;
        println!(
            "wrote {}: Claude Code in this directory gets swarm's tools (`swarm mcp`)",
            claude_config::FILE
        );
    }
    let plan = Path::new("PLAN.md");
    if !plan.exists() {
        std::fs::write(plan, SAMPLE_PLAN)?;
        println!("wrote PLAN.md (a sample plan)");
    }
    if args.llm_orchestrator {
        println!(
            "next: start an agent in this directory (for example `claude`) and tell it \
             \"Read ORCHESTRATOR.md and follow it\" (Claude Code also gets swarm's MCP tools \
             from .mcp.json); `swarm attach` shows the workers"
        );
    }
    Ok(Outcome::Success)
}

/// `.mcp.json` with swarm's server in it, on top of the file there is, if any.
fn mcp_config() -> anyhow::Result<String> {
    let file = claude_config::FILE;
    let existing = match std::fs::read_to_string(file) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(
                BadInput::new(format!("{file}: cannot read it: {e}; nothing was written"))
                    .hint(format!("make {file} a readable text file, or move it away"))
                    .into(),
            );
        }
    };
    // The absolute path of this very swarm: Claude Code starts the server with it,
    // whatever its PATH holds.
    let exe = std::env::current_exe().context("finding the path of this swarm")?;
    Ok(claude_config::merge(existing.as_deref(), &exe)?)
}

/// Replaces `path` whole or not at all: a person's `.mcp.json` is never left half written.
fn write_atomically(path: &Path, text: &str) -> anyhow::Result<()> {
    let mut tmp = tempfile::NamedTempFile::new_in(".")?;
    tmp.write_all(text.as_bytes())?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
