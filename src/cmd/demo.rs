//! `swarm demo`: the whole loop on the embedded default — a temporary workspace, a 12-task
//! plan and 4 simulated agents — so that anyone can see swarm work without an LLM.

use crate::Outcome;
use crate::cli::{DemoArgs, RunArgs, Workspace};
use std::io::IsTerminal;

/// The demo's plan: documentation chores like the original blog post's, with a mix of
/// named outputs and default sentinels.
const DEMO_PLAN: &str = "\
# Docs for the legacy code (swarm demo)

Simulated agents work through these tasks; each writes its file and a `.done` sentinel.

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
    println!("swarm demo: workspace {}", dir.display());
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    let run = RunArgs {
        workspace: Workspace { plan, socket: None },
        workers: Some(4),
        agent: Some("sim".into()),
        agent_cmd: Some(format!("swarm sim-agent --think-ms {}", args.think_ms)),
        max_attempts: None,
        task_timeout: None,
        isolate: None,
        headless: args.headless || !interactive,
        in_window: false,
    };
    let outcome = super::run::run(&run)?;
    println!(
        "swarm demo: see {} (PLAN.md is checked off, docs/ written)",
        dir.display()
    );
    Ok(outcome)
}
