//! Every recorded screen under tests/fixtures/screens classifies to the state it was
//! recorded in: the built-in profiles are pinned to what the real CLIs showed.

use super::{ScreenState, builtin};
use ScreenState::*;

macro_rules! fixture {
    ($profile:literal, $name:literal) => {
        (
            concat!($profile, "/", $name),
            include_str!(concat!(
                "../../tests/fixtures/screens/",
                $profile,
                "/",
                $name,
                ".txt"
            )),
        )
    };
}

fn assert_screens(profile: &str, cases: &[((&str, &str), ScreenState)]) {
    let profile = builtin(profile).unwrap();
    for ((name, screen), want) in cases {
        assert_eq!(profile.classify(screen), *want, "{name}:\n{screen}");
    }
}

#[test]
fn claude_2_1_331_screens() {
    assert_screens(
        "claude",
        &[
            (fixture!("claude", "ready"), Ready),
            (fixture!("claude", "ready-after-turn"), Ready),
            (fixture!("claude", "ready-narrow"), Ready),
            (fixture!("claude", "ready-auto-mode-no-skip-flag"), Ready),
            (fixture!("claude", "paste-pending"), InputPending),
            // Esc on a busy turn puts its prompt back in the box.
            (fixture!("claude", "after-interrupt"), InputPending),
            (fixture!("claude", "busy"), Busy),
            (fixture!("claude", "busy-tool"), Busy),
            (fixture!("claude", "busy-hang"), Busy),
            (fixture!("claude", "busy-narrow"), Busy),
            (fixture!("claude", "queued"), Busy),
            (fixture!("claude", "dialog-trust"), Dialog),
            (fixture!("claude", "dialog-api-key"), Dialog),
            (fixture!("claude", "dialog-bypass-permissions"), Dialog),
            (fixture!("claude", "dialog-onboarding-offline"), Dialog),
            (fixture!("claude", "exited"), Unknown),
        ],
    );
}

#[test]
fn codex_0_169_0_screens() {
    assert_screens(
        "codex",
        &[
            (fixture!("codex", "ready"), Ready),
            (fixture!("codex", "ready-after-turn"), Ready),
            (fixture!("codex", "ready-narrow"), Ready),
            (fixture!("codex", "ready-narrow-after-turn"), Ready),
            (fixture!("codex", "after-interrupt"), Ready),
            (fixture!("codex", "paste-pending"), InputPending),
            (fixture!("codex", "busy"), Busy),
            (fixture!("codex", "busy-tool"), Busy),
            (fixture!("codex", "busy-hang"), Busy),
            (fixture!("codex", "busy-narrow"), Busy),
            (fixture!("codex", "queued"), Busy),
            (fixture!("codex", "dialog-trust"), Dialog),
            (fixture!("codex", "dialog-login"), Dialog),
            (fixture!("codex", "exited"), Unknown),
        ],
    );
}

#[test]
fn queued_prompts_are_seen() {
    for profile in ["claude", "codex"] {
        let p = builtin(profile).unwrap();
        let (queued, busy) = match profile {
            "claude" => (fixture!("claude", "queued"), fixture!("claude", "busy")),
            _ => (fixture!("codex", "queued"), fixture!("codex", "busy")),
        };
        assert!(p.is_queued(queued.1), "{}", queued.0);
        assert!(!p.is_queued(busy.1), "{}", busy.0);
    }
}

#[test]
fn codex_turn_is_open_while_its_answer_streams() {
    // Codex hides `Working` while the final answer streams: the submitted message has no
    // `Worked for` line after it yet.
    let codex = builtin("codex").unwrap();
    let streaming = "› write the intro\n\n• Writing the intro now, starting with\n\n› Ask Codex to \
                     do anything\n\n  gpt-5.5-codex default · /p\n";
    assert_eq!(codex.classify(streaming), Busy);
    let done = streaming.replace("\n\n› Ask", "\n  Worked for 2s • 13:40\n\n› Ask");
    assert_eq!(codex.classify(&done), Ready);
}

#[test]
fn a_dialog_wins_over_a_ready_box_and_a_rate_limit_over_busy() {
    let claude = builtin("claude").unwrap();
    let ready = fixture!("claude", "ready").1;
    let with_dialog = format!("{ready}\n Enter to confirm · Esc to cancel\n");
    assert_eq!(claude.classify(&with_dialog), Dialog);
    let busy = fixture!("claude", "busy").1;
    let limited =
        format!("  ⎿  You've hit your session limit · resets 5:10pm (Europe/Paris)\n{busy}");
    assert_eq!(claude.classify(&limited), RateLimited);
}

#[test]
fn rate_limit_reset_times_are_read() {
    let claude = builtin("claude").unwrap();
    let cases = [
        (
            "You've hit your session limit · resets 5:10pm (Europe/Paris)",
            "5:10pm (Europe/Paris)",
        ),
        (
            "  ⎿  Claude usage limit reached. Your limit will reset at 9am (America/Chicago).",
            "9am (America/Chicago)",
        ),
    ];
    for (screen, want) in cases {
        assert_eq!(claude.classify(screen), RateLimited, "{screen}");
        assert_eq!(claude.rate_limit_reset(screen).as_deref(), Some(want));
    }
    let codex = builtin("codex").unwrap();
    let screen = "■ You've hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro) \
                  or try again at 2:51 PM.";
    assert_eq!(codex.classify(screen), RateLimited);
    assert_eq!(codex.rate_limit_reset(screen).as_deref(), Some("2:51 PM"));
    assert_eq!(codex.rate_limit_reset(fixture!("codex", "busy").1), None);
}

#[test]
fn handwritten_screens_of_unverified_profiles() {
    assert_screens(
        "gemini",
        &[
            (fixture!("gemini", "handwritten-ready"), Ready),
            (fixture!("gemini", "handwritten-busy"), Busy),
            (fixture!("gemini", "handwritten-dialog-trust"), Dialog),
        ],
    );
    assert_screens(
        "aider",
        &[
            (fixture!("aider", "handwritten-ready"), Ready),
            (fixture!("aider", "handwritten-busy"), Busy),
        ],
    );
    assert_screens(
        "ollama",
        &[
            (fixture!("ollama", "handwritten-ready"), Ready),
            (fixture!("ollama", "handwritten-busy"), Busy),
        ],
    );
}

#[test]
fn foreground_names_and_keys() {
    let claude = builtin("claude").unwrap();
    assert!(claude.runs_as("claude", 0) && !claude.runs_as("bash", 0));
    assert_eq!(claude.interrupt.as_deref(), Some("Escape"));
    assert_eq!(claude.quit.as_deref(), Some("/exit"));
    let codex = builtin("codex").unwrap();
    assert!(codex.runs_as("node", 0) && codex.runs_as("codex", 0) && !codex.runs_as("zsh", 0));
    assert_eq!(codex.command[..2], ["codex", "--no-daemon"]);
    assert!(
        codex
            .verified
            .as_deref()
            .unwrap()
            .starts_with("codex-cli 0.169.0")
    );
    assert!(builtin("gemini").unwrap().verified.is_none());
    // Without a command or a process to go by, nothing says what the agent is.
    assert!(builtin("generic").unwrap().runs_as("anything", 0));
}

#[test]
fn generic_and_sim_accept_only_the_program_they_started() {
    let mut generic = builtin("generic").unwrap();
    generic.command = vec!["/opt/bin/my-agent".into(), "--fast".into()];
    assert!(generic.runs_as("my-agent", 0));
    for other in ["python3", "bash", "less", "vim"] {
        assert!(!generic.runs_as(other, 0), "{other}");
    }
    generic.command = ["env", "-u", "X", "KEY=1", "aider", "--yes"]
        .map(String::from)
        .to_vec();
    assert_eq!(generic.programs(0), ["aider"]);
    generic.command = ["sh", "-c", "exec KEY=1 my-agent --fast"]
        .map(String::from)
        .to_vec();
    assert_eq!(generic.programs(0), ["my-agent", "sh"]);
    // A script shows its interpreter in front.
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("repl.py");
    std::fs::write(&script, "#!/usr/bin/env -S python3 -u\nprint()\n").unwrap();
    generic.command = vec![script.display().to_string()];
    assert_eq!(generic.programs(0), ["python3", "repl.py"]);
    // Without a command, the pane's own first process says: this test's binary.
    generic.command.clear();
    let me = std::env::current_exe().unwrap();
    let me = me.file_name().unwrap().to_str().unwrap();
    assert_eq!(generic.programs(std::process::id()), [me]);
    assert!(!generic.runs_as("python3", std::process::id()));
    let sim = builtin("sim").unwrap();
    assert!(sim.runs_as("swarm", 0));
    assert!(!sim.runs_as("python3", 0) && !sim.runs_as("sh", 0));
}

#[test]
fn an_agent_is_gone_only_when_the_panes_own_process_is_no_longer_it() {
    let mut claude = builtin("claude").unwrap();
    let me = std::env::current_exe().unwrap();
    let me = me.file_name().unwrap().to_str().unwrap().to_string();
    // The pane's process is the agent (this test's binary stands in for it): an editor
    // the agent opened in front is a person's for a while, not a gone agent.
    claude.command = vec![me.clone()];
    claude.foreground = vec![me];
    assert!(!claude.agent_gone("vim", std::process::id()));
    assert!(!claude.agent_gone("claude", 0));
    // The pane's process is something else now (the agent exec'd a REPL, or a wrapper
    // went on to its next command): the agent is gone.
    claude.command = vec!["claude".into()];
    claude.foreground = vec!["claude".into()];
    assert!(claude.agent_gone("python3", std::process::id()));
    assert!(!claude.agent_gone("claude", std::process::id()));
    // Without a pid (the control-mode subscription has none), nothing says it is gone.
    assert!(!claude.agent_gone("python3", 0));
}
