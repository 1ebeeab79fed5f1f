//! Claude Code hooks: a settings file, passed with `claude --settings FILE`, whose
//! `UserPromptSubmit`, `Stop`, `StopFailure` and `Notification` hooks write the worker's state to
//! `.swarm/hooks/<worker>.json`. A hook is told, where the screen is only a hint.
//!
//! `--settings` adds to the user's own settings (~/.claude/settings.json, the project's
//! .claude/) and changes none of them. Each hook names the worker from `SWARM_WORKER`,
//! which swarm sets in every agent pane.

use serde::Deserialize;
use std::io;
use std::path::{Path, PathBuf};

/// The hook events swarm listens to, and what each one means for a worker: a turn began,
/// it ended, it ended on an API error (Claude Code 2.1.331 fires no `Stop` then), the agent
/// waits for a person (a permission question) or has been idle a while.
pub const EVENTS: [&str; 4] = ["UserPromptSubmit", "Stop", "StopFailure", "Notification"];

/// The settings file's name inside the hooks directory.
const SETTINGS_FILE: &str = "claude-settings.json";

/// What the last hook of a worker wrote.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HookState {
    /// `UserPromptSubmit` (a turn began), `Stop` (it ended), `StopFailure` (it ended on an
    /// API error) or `Notification` (the agent waits for a person, or has been idle a
    /// while).
    pub event: String,
    /// The worker, from `SWARM_WORKER`.
    pub worker: String,
    /// Unix time in seconds when the hook ran.
    pub at: u64,
    /// What Claude Code passed to the hook on stdin (for `Notification`, its `message`).
    #[serde(default)]
    pub payload: serde_json::Value,
}

/// The shell command one hook runs: it writes `<hooks_dir>/$SWARM_WORKER.json` through a
/// temporary file and a rename, so that a reader never sees half a file.
fn hook_command(hooks_dir: &Path, event: &str) -> String {
    let dir = shell_words::quote(&hooks_dir.to_string_lossy()).into_owned();
    format!(
        "w=\"${{SWARM_WORKER:-unknown}}\"; mkdir -p {dir} && \
         {{ printf '{{\"event\":\"{event}\",\"worker\":\"%s\",\"at\":%s,\"payload\":' \"$w\" \"$(date +%s)\"; \
         p=$(cat); printf '%s}}\\n' \"${{p:-null}}\"; }} > {dir}/\"$w.json.tmp\" && \
         mv -f {dir}/\"$w.json.tmp\" {dir}/\"$w.json\""
    )
}

/// Claude Code settings whose hooks write state files under `hooks_dir`.
pub fn claude_settings(hooks_dir: &Path) -> serde_json::Value {
    let hooks: serde_json::Map<String, serde_json::Value> = EVENTS
        .iter()
        .map(|event| {
            let hook = serde_json::json!([{
                "hooks": [{ "type": "command", "command": hook_command(hooks_dir, event) }]
            }]);
            (event.to_string(), hook)
        })
        .collect();
    serde_json::json!({ "hooks": hooks })
}

/// Writes the settings file into `hooks_dir` (made if missing) and returns its path, to
/// pass as `claude --settings PATH`.
pub fn write_claude_settings(hooks_dir: &Path) -> io::Result<PathBuf> {
    std::fs::create_dir_all(hooks_dir)?;
    let path = hooks_dir.join(SETTINGS_FILE);
    let text = serde_json::to_string_pretty(&claude_settings(hooks_dir))?;
    std::fs::write(&path, text + "\n")?;
    Ok(path)
}

/// The state file of `worker` in `hooks_dir`.
pub fn state_path(hooks_dir: &Path, worker: &str) -> PathBuf {
    hooks_dir.join(format!("{worker}.json"))
}

/// The last state `worker`'s hooks wrote, if any (a file being replaced reads as none).
pub fn read_state(hooks_dir: &Path, worker: &str) -> Option<HookState> {
    let text = std::fs::read_to_string(state_path(hooks_dir, worker)).ok()?;
    serde_json::from_str(&text).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    /// Runs one hook's command the way Claude Code does: through a shell, with the event's
    /// JSON on stdin.
    fn run_hook(settings: &serde_json::Value, event: &str, worker: Option<&str>, stdin: &str) {
        let command = settings["hooks"][event][0]["hooks"][0]["command"]
            .as_str()
            .unwrap();
        let mut cmd = Command::new("sh");
        cmd.arg("-c").arg(command).stdin(Stdio::piped());
        match worker {
            Some(worker) => cmd.env("SWARM_WORKER", worker),
            None => cmd.env_remove("SWARM_WORKER"),
        };
        let mut child = cmd.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn settings_have_one_command_hook_per_event() {
        let settings = claude_settings(Path::new("/ws/.swarm/hooks"));
        let hooks = settings["hooks"].as_object().unwrap();
        assert_eq!(hooks.len(), 4);
        for event in EVENTS {
            let entry = &hooks[event][0]["hooks"][0];
            assert_eq!(entry["type"], "command");
            assert!(entry["command"].as_str().unwrap().contains("SWARM_WORKER"));
        }
    }

    #[test]
    fn each_hook_writes_its_workers_state() {
        let tmp = tempfile::tempdir().unwrap();
        // A space and a quote in the path: the command quotes it.
        let dir = tmp.path().join("it's a dir/.swarm/hooks");
        let path = write_claude_settings(&dir).unwrap();
        let settings: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();

        run_hook(
            &settings,
            "UserPromptSubmit",
            Some("3"),
            r#"{"prompt":"fix it"}"#,
        );
        let state = read_state(&dir, "3").unwrap();
        assert_eq!(
            (state.event.as_str(), state.worker.as_str()),
            ("UserPromptSubmit", "3")
        );
        assert_eq!(state.payload["prompt"], "fix it");
        assert!(state.at > 1_700_000_000);

        run_hook(
            &settings,
            "Notification",
            Some("3"),
            r#"{"message":"Claude needs your permission to use Bash"}"#,
        );
        let state = read_state(&dir, "3").unwrap();
        assert_eq!(state.event, "Notification");
        assert_eq!(
            state.payload["message"],
            "Claude needs your permission to use Bash"
        );

        run_hook(&settings, "Stop", Some("3"), "");
        let state = read_state(&dir, "3").unwrap();
        assert_eq!(state.event, "Stop");
        assert!(state.payload.is_null());
        assert!(read_state(&dir, "4").is_none());

        run_hook(&settings, "Stop", None, "{}");
        assert_eq!(read_state(&dir, "unknown").unwrap().worker, "unknown");
        let leftovers: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .filter(|n| n.ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
    }
}
