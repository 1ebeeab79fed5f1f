//! `swarm diff TASK`: one task's change, from an isolated run. While the task's branch is
//! there (running, failed, waiting to land) it is the branch against the landing branch;
//! once landed, the commits on the landing branch that carry its `Swarm-Task` trailer.
//! git prints it, with the person's own pager and colours; the dashboard's diff tab shows
//! the same change (`change`).

use crate::Outcome;
use crate::cli::TaskArgs;
use crate::error::BadInput;
use crate::git::Git;
use crate::orchestrator::snapshot::Snapshot;
use crate::plan::TaskId;
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
    let Some(args) = git_args(&ws.root, &land, &task.id)? else {
        let branch = crate::orchestrator::task_branch(&task.id);
        return Err(BadInput::new(format!(
            "task `{}` has no change to show: no branch `{branch}`, and no commit on `{land}` names it",
            task.id
        ))
        .hint("a task has a change once it ran with isolation = \"worktree\"; one that changed nothing has none")
        .into());
    };
    let status = Command::new("git")
        .arg("-C")
        .arg(&ws.root)
        .args(&args)
        .status()
        .context("running git")?;
    anyhow::ensure!(status.success(), "git {} failed ({status})", args.join(" "));
    Ok(Outcome::Success)
}

/// `task`'s change as text, for the dashboard: None if it has none (yet).
pub fn change(root: &Path, land: &str, task: &TaskId) -> anyhow::Result<Option<String>> {
    let Some(args) = git_args(root, land, task)? else {
        return Ok(None);
    };
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["--no-pager", "-c", "color.ui=never"])
        .args(&args)
        .output()
        .context("running git")?;
    anyhow::ensure!(out.status.success(), "git {} failed", args.join(" "));
    Ok(Some(String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// The git command that shows `task`'s change: its branch's, else its landed commits'.
fn git_args(root: &Path, land: &str, task: &TaskId) -> anyhow::Result<Option<Vec<String>>> {
    let branch = crate::orchestrator::task_branch(task);
    let local = crate::git::Local::new(root);
    if local.tip(&format!("refs/heads/{branch}"))?.is_some() {
        // Three dots: what the branch changed since it left the landing branch.
        return Ok(Some(vec!["diff".into(), format!("{land}...{branch}")]));
    }
    let grep = format!("^Swarm-Task: {}$", regex::escape(&task.0));
    let out = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(["log", "--format=%H", "--grep", &grep, land, "--"])
        .output()
        .context("running git")?;
    let commits: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    if !out.status.success() || commits.is_empty() {
        return Ok(None);
    }
    let mut show = vec!["show".to_string(), "--format=fuller".to_string()];
    show.extend(commits.into_iter().rev());
    Ok(Some(show))
}
