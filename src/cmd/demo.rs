//! `swarm demo`: the whole loop on the embedded default — a temporary git repository, a
//! 14-task plan and 4 simulated agents, each task in a worktree of its own and landed
//! through the merge queue — so that anyone can see swarm work without an LLM.

use crate::Outcome;
use crate::cli::{DemoArgs, RunArgs, Workspace};
use crate::config::IsolationKind;
use anyhow::Context;
use std::io::IsTerminal;
use std::path::Path;
use std::process::Command;

/// The demo's plan: documentation chores like the original blog post's, with a mix of
/// named outputs and default sentinels.
const DEMO_PLAN: &str = "\
# Docs for the legacy code (swarm demo)

Simulated agents work through these tasks, each in a git worktree of its own; each writes
its file and a `.done` sentinel, and swarm lands the work on the branch `swarm/main`. The
two changelog tasks edit the same file: whichever lands second conflicts, and goes back to
its agent to rebase.

- [ ] Write docs/auth.md describing src/auth.ts {out=docs/auth.md}
- [ ] Write docs/billing.md describing src/billing/ {out=docs/billing.md}
  Cover invoices, refunds and the retry queue.
- [ ] Write docs/login.md describing src/login.ts {out=docs/login.md}
- [ ] Write docs/logout.md describing src/logout.ts {out=docs/logout.md}
- [ ] Write docs/session.md describing src/session.ts {out=docs/session.md}
- [ ] Write docs/api.md describing src/api/ {out=docs/api.md}
  - one section per endpoint
  - note which ones need authentication
- [ ] Write docs/db.md describing src/db/ {out=docs/db.md}
- [ ] Write docs/cache.md describing src/cache.ts {out=docs/cache.md}
- [ ] Write docs/queue.md describing src/queue.ts {out=docs/queue.md}
- [ ] Write docs/config.md describing src/config.ts {out=docs/config.md}
- [ ] Note the new auth docs in the changelog: append a line to `CHANGELOG.md`
- [ ] Note the new billing docs in the changelog: append a line to `CHANGELOG.md`
- [ ] Review docs/ for broken links {#link-check}
- [ ] Summarise the open questions from all the docs {#open-questions}
";

pub fn run(args: &DemoArgs) -> anyhow::Result<Outcome> {
    let dir = tempfile::Builder::new()
        .prefix("swarm-demo-")
        .tempdir()?
        .keep();
    let plan = dir.join("PLAN.md");
    std::fs::write(&plan, DEMO_PLAN)?;
    std::fs::write(dir.join("CHANGELOG.md"), "# Changelog\n")?;
    // Without git, the demo still shows the loop, in the workspace itself.
    let isolate = repository(&dir).is_ok().then_some(IsolationKind::Worktree);
    println!("swarm demo: workspace {}", dir.display());
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let run = RunArgs {
        workspace: Workspace { plan, socket: None },
        workers: Some(4),
        agent: Some("sim".into()),
        agent_cmd: Some(format!("swarm sim-agent --think-ms {}", args.think_ms)),
        max_attempts: None,
        task_timeout: None,
        isolate,
        headless: args.headless || !interactive,
        in_window: false,
    };
    let outcome = super::run::run(&run)?;
    match isolate {
        Some(_) => println!(
            "swarm demo: see {0} (PLAN.md is checked off; the work is on the branch swarm/main: `git -C {0} log --stat main..swarm/main`)",
            dir.display()
        ),
        None => println!(
            "swarm demo: see {} (PLAN.md is checked off, docs/ written)",
            dir.display()
        ),
    }
    Ok(outcome)
}

/// Makes `dir` a git repository on `main` with its files committed.
fn repository(dir: &Path) -> anyhow::Result<()> {
    let git = |args: &[&str]| -> anyhow::Result<()> {
        // The demo's own commit: it must not need the person's git identity.
        let status = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args([
                "-c",
                "user.name=swarm demo",
                "-c",
                "user.email=demo@localhost",
            ])
            .args(args)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .context("running git")?;
        anyhow::ensure!(status.success(), "git {} failed", args.join(" "));
        Ok(())
    };
    git(&["init", "-q", "-b", "main"])?;
    git(&["add", "-A"])?;
    git(&["commit", "-q", "-m", "The demo's plan"])
}
