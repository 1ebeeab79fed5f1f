//! Before anything starts, every program swarm would start must be found: a missing agent
//! would otherwise show only as panes that die and tasks that fail one after another.

use crate::config::Settings;
use crate::error::BadInput;
use std::path::Path;

/// How to install the agent CLIs of the built-in profiles, by program name.
const INSTALL: &[(&str, &str)] = &[
    ("claude", "npm install -g @anthropic-ai/claude-code"),
    ("codex", "npm install -g @openai/codex"),
    ("gemini", "npm install -g @google/gemini-cli"),
    ("qwen", "npm install -g @qwen-code/qwen-code"),
    ("opencode", "npm install -g opencode-ai"),
    ("aider", "python3 -m pip install aider-chat"),
    ("ollama", "see https://ollama.com/download"),
];

/// Checks the agent's program and the `on_done`/`on_fail` programs of `settings`; they
/// run in `workspace`, which a relative program path is taken from.
pub fn check(settings: &Settings, workspace: &Path) -> Result<(), BadInput> {
    // Only the agents that start here: those on other hosts are theirs to have (`swarm
    // hosts check` asks them).
    let here = settings.pools.iter().filter(|pool| pool.workers > 0);
    for profile in here.map(|pool| &pool.profile) {
        let Some(program) = profile.command.first() else {
            continue;
        };
        let source = format!("the `{}` agent's command", profile.name);
        let other = if settings.pools.len() == 1 {
            "or pick another agent with --agent, or name its program with \
             --agent-cmd 'PROGRAM ARGS' (agent_cmd in swarm.toml)"
                .to_string()
        } else {
            format!(
                "or give the `{}` pool another command in a [profiles.{}] table of swarm.toml",
                profile.name, profile.name
            )
        };
        check_program(program, &source, &other, workspace)?;
    }
    let hooks = [
        ("on_done", &settings.notify.on_done),
        ("on_fail", &settings.notify.on_fail),
    ];
    for (key, argv) in hooks {
        if let Some(program) = argv.as_ref().and_then(|argv| argv.first()) {
            let source = format!("swarm.toml's `{key}`");
            let other = format!("or fix `{key}` in swarm.toml");
            check_program(program, &source, &other, workspace)?;
        }
    }
    Ok(())
}

/// Checks that `program` (from `source`, such as "--orchestrator") can be started from
/// `workspace`; `other` is the hint's way out besides installing it. The program `swarm`
/// means this very executable, which is there.
pub fn check_program(
    program: &str,
    source: &str,
    other: &str,
    workspace: &Path,
) -> Result<(), BadInput> {
    if program == "swarm" || which::which_in(program, std::env::var_os("PATH"), workspace).is_ok() {
        return Ok(());
    }
    let (what, install) = if program.contains('/') {
        let message = format!(
            "`{program}` ({source}) is not an executable file (relative to {})",
            workspace.display()
        );
        (
            message,
            "check the path and its execute permission".to_string(),
        )
    } else {
        let install = INSTALL
            .iter()
            .find(|(name, _)| *name == program)
            .map_or_else(
                || format!("install `{program}` so that it is on PATH"),
                |(_, how)| format!("install it ({how})"),
            );
        (format!("`{program}` not found on PATH ({source})"), install)
    };
    Err(BadInput::new(format!("{what}; nothing was started")).hint(format!("{install}, {other}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_program_is_named_with_how_to_install_it() {
        let dir = tempfile::tempdir().unwrap();
        let err = check_program(
            "claude-not-here",
            "the `x` agent's command",
            "or not",
            dir.path(),
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "`claude-not-here` not found on PATH (the `x` agent's command); nothing was started\n\
             hint: install `claude-not-here` so that it is on PATH, or not"
        );
        assert!(check_program("sh", "s", "o", dir.path()).is_ok());
        assert!(check_program("swarm", "s", "o", dir.path()).is_ok());
        let err = check_program("./agent.sh", "s", "o", dir.path()).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("`./agent.sh` (s) is not an executable file")
        );
    }

    #[test]
    fn only_the_agents_that_start_here_are_looked_for_here() {
        let dir = tempfile::tempdir().unwrap();
        let toml = "workers = 0\nagent_cmd = \"/opt/only-on-the-host/agent\"\n\n[[hosts]]\nname = \"gpu1\"\n";
        let config = toml::from_str(toml).unwrap();
        let overrides = crate::config::Overrides::default();
        let settings = crate::config::resolve(Some(config), &overrides, dir.path()).unwrap();
        // Every agent runs on the host: its program is the host's to have.
        assert!(check(&settings, dir.path()).is_ok());
        // One here, and the same program is looked for here.
        let toml = toml.replace("workers = 0", "workers = 1");
        let config = toml::from_str(&toml).unwrap();
        let settings = crate::config::resolve(Some(config), &overrides, dir.path()).unwrap();
        let err = check(&settings, dir.path()).unwrap_err();
        assert!(
            err.to_string().contains("/opt/only-on-the-host/agent"),
            "{err}"
        );
    }
}
