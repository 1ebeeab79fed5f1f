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
            // `/clear` typed while the turn after a sentinel runs: its suggestion list
            // hides the busy footer, and the box holds it; Enter queues it, and it runs
            // as the turn ends.
            (fixture!("claude", "reset-typed-during-turn"), InputPending),
            (fixture!("claude", "reset-queued"), Busy),
            (fixture!("claude", "reset-cleared"), Ready),
            (fixture!("claude", "dialog-trust"), Dialog),
            (fixture!("claude", "dialog-api-key"), Dialog),
            (fixture!("claude", "dialog-bypass-permissions"), Dialog),
            (fixture!("claude", "dialog-onboarding-offline"), Dialog),
            // `--permission-mode default`: Claude asks before each tool.
            (fixture!("claude", "dialog-permission-create"), Dialog),
            (fixture!("claude", "dialog-permission-bash"), Dialog),
            (fixture!("claude", "exited"), Unknown),
            // A subscription's usage limit: an empty box and no busy footer, yet no prompt
            // may go in.
            (fixture!("claude", "rate-limited-5-hour"), RateLimited),
            (fixture!("claude", "rate-limited-weekly"), RateLimited),
            (
                fixture!("claude", "rate-limited-continuing-shortly"),
                RateLimited,
            ),
            // Once Claude goes on by itself, the old limit text is history.
            (fixture!("claude", "rate-limit-cleared-busy"), Busy),
            (fixture!("claude", "rate-limit-cleared-ready"), Ready),
            // Retrying is work under way; giving up ends the turn with a placeholder that
            // is nobody's typing.
            (fixture!("claude", "api-retrying"), Busy),
            (fixture!("claude", "api-error-429-resend"), ApiError),
            (fixture!("claude", "api-error-500-resend"), ApiError),
            (fixture!("claude", "api-error-reset-resend"), ApiError),
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
            // The model-switch popup belongs to the limit: Enter there would pick
            // "Switch to gpt-6-luna", so it is never a screen to confirm.
            (fixture!("codex", "usage-limit-popup"), RateLimited),
            (fixture!("codex", "usage-limit"), RateLimited),
            (fixture!("codex", "usage-limit-cleared"), Ready),
            (fixture!("codex", "reconnecting"), Busy),
            (fixture!("codex", "api-error-retry-limit"), ApiError),
            (fixture!("codex", "api-error-529"), ApiError),
            // Captured live: a 500 with Codex's retries off.
            (fixture!("codex", "api-error-500-high-demand"), ApiError),
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

/// Claude holds a `/clear` typed during a turn: the queue shows it, and the screen after
/// it ran is ready with nothing queued.
#[test]
fn claude_queues_its_reset_during_a_turn() {
    let p = builtin("claude").unwrap();
    assert!(p.reset_queues);
    let (name, queued) = fixture!("claude", "reset-queued");
    assert!(p.is_queued(queued), "{name}");
    let (name, cleared) = fixture!("claude", "reset-cleared");
    assert!(!p.is_queued(cleared), "{name}");
    assert!(
        !builtin("codex").unwrap().reset_queues,
        "not tried on Codex"
    );
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
    let limited = format!("{busy}  ⚠ Usage limit reached · limit resets 5:10pm\n");
    assert_eq!(claude.classify(&limited), RateLimited);
}

#[test]
fn rate_limit_reset_times_are_read() {
    let claude = builtin("claude").unwrap();
    for (name, screen) in [
        fixture!("claude", "rate-limited-5-hour"),
        fixture!("claude", "rate-limited-continuing-shortly"),
    ] {
        // The time that names its zone wins over the footer's bare one.
        assert_eq!(
            claude.rate_limit_reset(screen).as_deref(),
            Some("9:20pm (UTC)"),
            "{name}"
        );
    }
    let weekly = fixture!("claude", "rate-limited-weekly").1;
    assert_eq!(
        claude.rate_limit_reset(weekly).as_deref(),
        Some("9:23pm (UTC)")
    );
    let codex = builtin("codex").unwrap();
    for (name, screen) in [
        fixture!("codex", "usage-limit-popup"),
        fixture!("codex", "usage-limit"),
    ] {
        assert_eq!(
            codex.rate_limit_reset(screen).as_deref(),
            Some("9:23 PM"),
            "{name}"
        );
    }
    assert_eq!(codex.rate_limit_reset(fixture!("codex", "busy").1), None);
}

#[test]
fn parsed_reset_times_are_absolute() {
    use jiff::{Timestamp, tz::TimeZone};
    let now: Timestamp = "2026-11-30T18:05:00Z".parse().unwrap();
    let utc = TimeZone::UTC;
    let claude = builtin("claude").unwrap();
    let text = claude
        .rate_limit_reset(fixture!("claude", "rate-limited-5-hour").1)
        .unwrap();
    let at = super::reset_time::reset_at(&text, now, &utc).unwrap();
    assert_eq!(at.to_string(), "2026-11-30T21:20:00Z");
    let codex = builtin("codex").unwrap();
    let text = codex
        .rate_limit_reset(fixture!("codex", "usage-limit-popup").1)
        .unwrap();
    let at = super::reset_time::reset_at(&text, now, &utc).unwrap();
    assert_eq!(at.to_string(), "2026-11-30T21:23:00Z");
}

#[test]
fn a_permission_dialog_says_its_question() {
    let claude = builtin("claude").unwrap();
    assert_eq!(
        claude
            .dialog_question(fixture!("claude", "dialog-permission-create").1)
            .as_deref(),
        Some("Do you want to create p.md?")
    );
    assert_eq!(
        claude
            .dialog_question(fixture!("claude", "dialog-permission-bash").1)
            .as_deref(),
        Some("Do you want to proceed?")
    );
    // The trust dialog asks nothing the pattern caught: it is a dialog all the same.
    assert_eq!(
        claude.dialog_question(fixture!("claude", "dialog-trust").1),
        None
    );
}

#[test]
fn api_errors_say_what_the_agent_said() {
    let claude = builtin("claude").unwrap();
    let cases = [
        (
            fixture!("claude", "api-error-429-resend"),
            "API Error: Request rejected (429) · This request would exceed the rate limit for your",
        ),
        (
            fixture!("claude", "api-error-reset-resend"),
            "API Error: Connection dropped (ECONNRESET). Check the gateway set in \
             ANTHROPIC_BASE_URL, then try again.",
        ),
    ];
    for ((name, screen), want) in cases {
        assert_eq!(claude.api_error(screen).as_deref(), Some(want), "{name}");
    }
    assert_eq!(claude.api_error(fixture!("claude", "ready").1), None);
    let codex = builtin("codex").unwrap();
    assert_eq!(
        codex
            .api_error(fixture!("codex", "api-error-retry-limit").1)
            .as_deref(),
        Some(
            "exceeded retry limit, last status: 429 Too Many Requests, request id: req_fake_5c1e0b"
        )
    );
    assert_eq!(
        codex.api_error(fixture!("codex", "after-interrupt").1),
        None
    );
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
