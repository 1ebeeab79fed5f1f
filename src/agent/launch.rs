//! How a worker's agent is started: its argv and environment. `swarm spawn` starts its
//! workers exactly as the orchestrator does, so that a pane behaves the same either way.

use super::{Profile, hooks};
use crate::workspace::Workspace;
use anyhow::Context;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Where Claude Code's hooks write each worker's state, when the profile is Claude's.
pub fn hooks_dir(profile: &Profile, ws: &Workspace) -> Option<PathBuf> {
    (profile.name == "claude").then(|| ws.hooks_dir())
}

/// The agent's argv: the profile's command, with the program `swarm` meaning this very
/// executable (so `--agent-cmd "swarm sim-agent"` works without swarm on PATH), plus
/// swarm's hooks settings for Claude Code, passed with `--settings` so that the user's
/// own settings stay untouched.
pub fn argv(profile: &Profile, ws: &Workspace) -> anyhow::Result<Vec<String>> {
    let mut argv = profile.command.clone();
    anyhow::ensure!(!argv.is_empty(), "the agent command is empty");
    if argv[0] == "swarm" {
        argv[0] = std::env::current_exe()
            .context("finding the swarm executable")?
            .display()
            .to_string();
    }
    if let Some(dir) = hooks_dir(profile, ws) {
        let settings = hooks::write_claude_settings(&dir)
            .with_context(|| format!("writing the hooks settings in {}", dir.display()))?;
        argv.extend(["--settings".to_string(), settings.display().to_string()]);
    }
    Ok(argv)
}

/// The agent's environment: the profile's variables, then swarm's own, which win.
pub fn env(profile: &Profile, ws: &Workspace, worker: usize) -> BTreeMap<String, String> {
    env_in(profile, &ws.root.display().to_string(), worker)
}

/// The same, for an agent whose workspace is `workspace` (on another host, its folder
/// there).
pub fn env_in(profile: &Profile, workspace: &str, worker: usize) -> BTreeMap<String, String> {
    profile
        .env
        .clone()
        .into_iter()
        .chain([
            ("SWARM_WORKER".to_string(), worker.to_string()),
            ("SWARM_WORKSPACE".to_string(), workspace.to_string()),
        ])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swarm_means_this_executable_and_claude_gets_its_hooks() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Workspace::locate(&dir.path().join("PLAN.md")).unwrap();
        let sim = super::super::builtin("sim").unwrap();
        let sim_argv = argv(&sim, &ws).unwrap();
        assert_eq!(sim_argv[1..], ["sim-agent"]);
        assert_ne!(sim_argv[0], "swarm");
        assert!(hooks_dir(&sim, &ws).is_none());

        let claude = super::super::builtin("claude").unwrap();
        let claude_argv = argv(&claude, &ws).unwrap();
        assert_eq!(claude_argv[0], "claude");
        let settings = claude_argv.iter().position(|a| a == "--settings").unwrap();
        assert!(std::path::Path::new(&claude_argv[settings + 1]).exists());

        let mut profile = sim.clone();
        profile.env = BTreeMap::from([
            ("SWARM_WORKER".into(), "mine".into()),
            ("KEEP".into(), "1".into()),
        ]);
        let env = env(&profile, &ws, 3);
        assert_eq!(env["SWARM_WORKER"], "3");
        assert_eq!(env["KEEP"], "1");
        assert_eq!(env["SWARM_WORKSPACE"], ws.root.display().to_string());
    }
}
