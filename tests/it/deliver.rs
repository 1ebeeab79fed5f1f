//! The tmux layer and prompt delivery against a real tmux on a private socket: spawns and
//! tiling, the paste guard (a paste into a dead pane crashes tmux 3.3a), byte-exact pastes.

use crate::common::{TestEnv, wait_until};
use regex::Regex;
use std::collections::BTreeMap;
use std::time::Duration;
use swarm::agent::{Profile, Reset};
use swarm::clock::SystemClock;
use swarm::deliver::{DeliveryError, deliver};
use swarm::tmux::{Mux, PaneId, PaneInfo, PasteOutcome, SpawnSpec, Spawned, Tmux, TmuxError};

const WAIT: Duration = Duration::from_secs(5);

/// A `Tmux` on the test's private server, and a session whose first pane runs `argv`.
fn start(env: &TestEnv, argv: &[&str]) -> (Tmux, Spawned) {
    let tmux = Tmux::new(&env.socket, "swarm").with_tmpdir(env.dir.path().join("tmux"));
    let spawned = tmux
        .start_session("orch", 200, 60, &strings(argv), &env.ws(), &BTreeMap::new())
        .expect("start_session");
    (tmux, spawned)
}

fn spawn(tmux: &Tmux, env: &TestEnv, window: Option<&str>, argv: &[&str]) -> Spawned {
    let spec = SpawnSpec {
        window: window.map(str::to_string),
        window_name: "workers".into(),
        label: "w1".into(),
        profile: "sim".into(),
        argv: strings(argv),
        cwd: env.ws(),
        env: BTreeMap::from([("SWARM_TEST".into(), "1;".into())]),
        host: None,
    };
    tmux.spawn(&spec).expect("spawn")
}

fn strings(argv: &[&str]) -> Vec<String> {
    argv.iter().map(|s| s.to_string()).collect()
}

fn pane_info(tmux: &Tmux, pane: &PaneId) -> PaneInfo {
    let panes = tmux.panes().expect("panes");
    panes
        .into_iter()
        .find(|p| &p.id == pane)
        .expect("pane listed")
}

fn wait_dead(tmux: &Tmux, pane: &PaneId) {
    wait_until("the pane to die", WAIT, || pane_info(tmux, pane).dead);
}

/// A pane whose own process is `tee FILE`: a cooked tty turns the paste's CRs into LFs,
/// so the file holds exactly what arrived.
fn tee(env: &TestEnv, tmux: &Tmux, file: &str) -> PaneId {
    let out = env.path(file);
    let pane = spawn(tmux, env, None, &["tee", out.to_str().unwrap()]).pane;
    wait_until("tee to start", WAIT, || {
        pane_info(tmux, &pane).current_command == "tee"
    });
    pane
}

fn wait_for_file(env: &TestEnv, file: &str, expected: &str) {
    wait_until(&format!("{file} to hold the text"), WAIT, || {
        std::fs::read_to_string(env.path(file)).is_ok_and(|got| got.len() >= expected.len())
    });
    assert!(
        env.read(file) == expected,
        "{file} differs from what was sent"
    );
}

#[test]
fn spawned_panes_tile_one_window() {
    let env = TestEnv::new();
    let (tmux, first) = start(&env, &["cat"]);
    assert!(first.pane.0.starts_with('%') && first.window.starts_with('@'));
    let workers = spawn(&tmux, &env, None, &["cat"]);
    assert_ne!(workers.window, first.window);
    let mut ids = vec![workers.pane.clone()];
    for _ in 0..3 {
        let split = spawn(&tmux, &env, Some(&workers.window), &["cat"]);
        assert_eq!(split.window, workers.window);
        ids.push(split.pane);
    }
    assert!(ids.iter().all(|id| id.0.starts_with('%')));
    // The grid reads in spawn order, left to right and top to bottom.
    let order = env.tmux_ok(&["list-panes", "-t", &workers.window, "-F", "#{pane_id}"]);
    let want: Vec<&str> = ids.iter().map(|id| id.0.as_str()).collect();
    assert_eq!(order.lines().collect::<Vec<_>>(), want);
    let sizes = env.tmux_ok(&[
        "list-panes",
        "-t",
        &workers.window,
        "-F",
        "#{pane_width}x#{pane_height}",
    ]);
    let sizes: Vec<&str> = sizes.lines().collect();
    assert_eq!(sizes.len(), 4, "{sizes:?}");
    // Tiled: four quarters of 200x60 (less the borders), not halves of halves.
    assert!(
        sizes
            .iter()
            .all(|s| s.starts_with("99x") || s.starts_with("100x")),
        "{sizes:?}"
    );
    // No window has a size of its own: they follow a person who attaches (the global
    // `window-size latest`), and keep the session's while nobody is.
    for window in [&first.window, &workers.window] {
        let size = env.tmux_ok(&["show-options", "-wv", "-t", window, "window-size"]);
        assert_eq!(size.trim(), "");
    }
    let global = env.tmux_ok(&["show-options", "-gwv", "window-size"]);
    assert_eq!(global.trim(), "latest");
    assert_eq!(tmux.display(&ids[3], "#{@worker}").unwrap(), "w1");
    assert_eq!(tmux.display(&ids[3], "#{history_limit}").unwrap(), "5000");
    assert!(tmux.has_session().unwrap());
}

/// Kills a second server when the test ends, even when it fails.
struct Outer(Tmux);

impl Drop for Outer {
    fn drop(&mut self) {
        let _ = self.0.kill_server();
    }
}

#[test]
fn a_window_spawned_while_a_person_is_attached_takes_their_terminal_size() {
    let env = TestEnv::new();
    let (tmux, _) = start(&env, &["cat"]);
    let tmpdir = env.dir.path().join("tmux");
    let outer = Outer(Tmux::new(format!("{}-outer", env.socket), "outer").with_tmpdir(&tmpdir));
    // An 80x24 terminal attached to swarm's session, as a person would be.
    let attach = [
        "env",
        "-u",
        "TMUX",
        "tmux",
        "-L",
        &env.socket,
        "attach-session",
        "-t",
        "=swarm",
    ];
    let tmpdir_env = BTreeMap::from([("TMUX_TMPDIR".into(), tmpdir.display().to_string())]);
    outer
        .0
        .start_session("viewer", 80, 24, &strings(&attach), &env.ws(), &tmpdir_env)
        .unwrap();
    wait_until("a client to attach", WAIT, || {
        !env.tmux_ok(&["list-clients"]).is_empty()
    });
    let workers = spawn(&tmux, &env, None, &["cat"]);
    let size = env.tmux_ok(&[
        "display",
        "-p",
        "-t",
        &workers.window,
        "#{window_width}x#{window_height}",
    ]);
    // 80x24, less the outer and the inner status lines: the grid fits their screen.
    assert_eq!(size.trim(), "80x22");
}

#[test]
fn panes_reports_death_mode_command_and_window() {
    let env = TestEnv::new();
    let (tmux, first) = start(&env, &["cat"]);
    let dying = spawn(&tmux, &env, Some(&first.window), &["sh", "-c", "exit 3"]);
    wait_dead(&tmux, &dying.pane);
    env.tmux_ok(&["copy-mode", "-t", &first.pane.0]);
    let live = pane_info(&tmux, &first.pane);
    assert!(!live.dead && live.in_mode, "{live:?}");
    assert_eq!(
        (live.current_command.as_str(), live.dead_status),
        ("cat", None)
    );
    assert!(live.pid > 1);
    assert_eq!(live.window, first.window);
    // tmux 3.3a sometimes misses the SIGCHLD (measured: about 1 pane in 64 under load), and
    // the status stays empty until the server reaps its next child: run-shell makes one.
    env.tmux_ok(&["run-shell", "true"]);
    wait_until("the exit status", WAIT, || {
        pane_info(&tmux, &dying.pane).dead_status == Some(3)
    });
    tmux.kill_pane(&dying.pane).unwrap();
    assert_eq!(tmux.panes().unwrap().len(), 1);
}

/// Regression: tmux 3.3a segfaults on a paste into a dead pane (tmux PR #3830).
#[test]
fn paste_into_a_dead_pane_is_refused_and_the_server_survives() {
    let env = TestEnv::new();
    // `true` exits at once: remain-on-exit must already hold when the session's pane starts.
    let (tmux, first) = start(&env, &["true"]);
    wait_dead(&tmux, &first.pane);
    let outcome = tmux.paste(&first.pane, "hello\n").unwrap();
    assert_eq!(outcome, PasteOutcome::Refused("dead".into()));
    assert!(env.server_alive());
    assert_eq!(
        env.tmux_ok(&["list-buffers"]),
        "",
        "the refused buffer is deleted"
    );
}

#[test]
fn paste_into_a_shell_is_refused() {
    let env = TestEnv::new();
    let (tmux, first) = start(&env, &["bash", "--norc", "--noprofile"]);
    let outcome = tmux.paste(&first.pane, "rm -rf ~\n").unwrap();
    assert_eq!(outcome, PasteOutcome::Refused("shell bash".into()));
}

#[test]
fn paste_into_copy_mode_is_refused() {
    let env = TestEnv::new();
    let (tmux, first) = start(&env, &["cat"]);
    env.tmux_ok(&["copy-mode", "-t", &first.pane.0]);
    let outcome = tmux.paste(&first.pane, "hello").unwrap();
    assert_eq!(outcome, PasteOutcome::Refused("copy mode".into()));
}

#[test]
fn paste_is_byte_exact_for_a_nasty_text() {
    let env = TestEnv::new();
    let (tmux, _) = start(&env, &["cat"]);
    let pane = tee(&env, &tmux, "nasty.txt");
    let text = "naïve ünïcödé ✓ 日本語\n\ttab\tand 'single' \"double\" `back`\n\
                $(rm -rf /) ${HOME} #{pane_id} %1 \\ \\\\\nEnter\nC-c\n;\n\\;\n-x\n--\nend;\n";
    assert_eq!(tmux.paste(&pane, text).unwrap(), PasteOutcome::Pasted);
    wait_for_file(&env, "nasty.txt", text);
}

#[test]
fn paste_is_byte_exact_at_100_kb() {
    let env = TestEnv::new();
    let (tmux, _) = start(&env, &["cat"]);
    let pane = tee(&env, &tmux, "big.txt");
    // Many lines: a cooked tty cuts lines at 4095 bytes (docs/tmux-facts.md §1).
    let text: String = (0..1000)
        .map(|i| format!("{i:04} {}\n", "abcdefghij;".repeat(9)))
        .collect();
    assert!(text.len() > 100_000);
    assert_eq!(tmux.paste(&pane, &text).unwrap(), PasteOutcome::Pasted);
    wait_for_file(&env, "big.txt", &text);
}

#[test]
fn send_text_keeps_a_trailing_semicolon_and_a_leading_dash() {
    let env = TestEnv::new();
    let (tmux, _) = start(&env, &["cat"]);
    let pane = tee(&env, &tmux, "typed.txt");
    tmux.send_text(&pane, "-x Enter a;").unwrap();
    tmux.send_key(&pane, "Enter").unwrap();
    wait_for_file(&env, "typed.txt", "-x Enter a;\n");
}

#[test]
fn send_text_and_send_key_reject_what_is_not_theirs() {
    let env = TestEnv::new();
    let (tmux, first) = start(&env, &["cat"]);
    for text in ["two\nlines", "esc\x1b", &"x".repeat(2000)] {
        let err = tmux.send_text(&first.pane, text).unwrap_err();
        assert!(matches!(err, TmuxError::Invalid(_)), "{err}");
    }
    let err = tmux.send_key(&first.pane, "Enter Enter").unwrap_err();
    assert!(matches!(err, TmuxError::Invalid(_)), "{err}");
}

#[test]
fn set_label_shows_in_the_task_option() {
    let env = TestEnv::new();
    let (tmux, first) = start(&env, &["cat"]);
    tmux.set_label(&first.pane, "-T-017 fix; the parser;")
        .unwrap();
    // Posted without waiting for tmux's reply: it shows a moment later.
    wait_until("the label", Duration::from_secs(5), || {
        tmux.display(&first.pane, "#{@task}").unwrap() == "-T-017 fix; the parser;"
    });
}

#[test]
fn deliver_submits_a_prompt_with_one_enter() {
    let env = TestEnv::new();
    let (tmux, _) = start(&env, &["cat"]);
    let pane = tee(&env, &tmux, "prompt.txt");
    let profile = Profile {
        name: "tee".into(),
        description: String::new(),
        command: vec!["tee".into()],
        ready: Regex::new("").unwrap(),
        input_pending: None,
        busy: None,
        reset: Reset::Restart,
        reset_queues: false,
        settle: Duration::from_millis(150),
        enter_retries: 1,
        startup_timeout: Duration::from_secs(1),
        dialog: None,
        rate_limited: None,
        rate_limit_reset: None,
        api_error: None,
        queued: None,
        interrupt: None,
        quit: None,
        foreground: Vec::new(),
        verified: None,
        env: Default::default(),
    };
    let delivered = deliver(
        &tmux,
        &SystemClock::new(),
        &pane,
        "line one\nline two",
        &profile,
    )
    .unwrap();
    assert_eq!(delivered.enter_presses, 1);
    assert!(delivered.paste_to_enter >= Duration::from_millis(150));
    wait_for_file(&env, "prompt.txt", "line one\nline two\n");

    // No such pane: nothing reached an agent, which is what the scheduler must know.
    let err = deliver(
        &tmux,
        &SystemClock::new(),
        &PaneId("%999".into()),
        "hi",
        &profile,
    )
    .unwrap_err();
    assert!(matches!(err, DeliveryError::PaneDied), "{err}");
}

#[test]
fn a_missing_server_is_reported_as_gone() {
    let env = TestEnv::new();
    let tmux = Tmux::new(&env.socket, "swarm").with_tmpdir(env.dir.path().join("tmux"));
    assert!(!tmux.server_alive());
    assert!(!tmux.has_session().unwrap());
    let err = tmux.capture(&PaneId("%0".into())).unwrap_err();
    assert!(matches!(err, TmuxError::ServerGone { .. }), "{err}");
    tmux.kill_server().unwrap();
}
