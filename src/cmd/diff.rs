//! `swarm diff TASK`: one task's change, from an isolated run. While the task's branch is
//! there (running, failed, waiting to land) it is the branch against the landing branch;
//! once landed, the commits on the landing branch that carry its `Swarm-Task` trailer.
//! git prints it, with the person's own pager and colours.

use crate::Outcome;
use crate::cli::TaskArgs;
use crate::error::BadInput;
use crate::orchestrator::snapshot::Snapshot;
use anyhow::Context;
use std::path::Path;
use std::process::Command;

pub fn run(args: &TaskArgs) -> anyhow::Result<Outcome> {
    let (ws, _, settings) = super::target_with(&args.workspace, Default::default())?;
    let task = super::find_task(&ws, &args.task)?;
    let recorded = Snapshot::read(&ws.state_path())
        .ok()
        .flatten()
        .and_then(|s| s.land);
    let configured = settings.isolation.as_ref().and_then(|i| i.land.clone());
    let land = match recorded.or(configured) {
        Some(land) => land,
        None => crate::git::check::landing(&ws.root, None)?.branch,
    };
    let branch = format!("swarm/task/{}", task.id);
    if resolves(&ws.root, &branch) {
        // Three dots: what the branch changed since it left the landing branch.
        return git(&ws.root, &["diff", &format!("{land}...{branch}")]);
    }
    let grep = format!("^Swarm-Task: {}$", regex::escape(&task.id.0));
    let out = Command::new("git")
        .arg("-C")
        .arg(&ws.root)
        .args(["log", "--format=%H", "--grep", &grep, &land, "--"])
        .output()
        .context("running git")?;
    let commits: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    if !out.status.success() || commits.is_empty() {
        return Err(BadInput::new(format!(
            "task `{}` has no change to show: no branch `{branch}`, and no commit on `{land}` names it",
            task.id
        ))
        .hint("a task has a change once it ran with isolation = \"worktree\"; one that changed nothing has none")
        .into());
    }
    let mut show = vec!["show", "--format=fuller"];
    show.extend(commits.iter().rev().map(String::as_str));
    git(&ws.root, &show)
}

fn resolves(dir: &Path, rev: &str) -> bool {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{rev}"),
        ])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs git with the terminal, so that its pager and colours are the person's own.
fn git(dir: &Path, args: &[&str]) -> anyhow::Result<Outcome> {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .status()
        .context("running git")?;
    anyhow::ensure!(status.success(), "git {} failed ({status})", args.join(" "));
    Ok(Outcome::Success)
}
