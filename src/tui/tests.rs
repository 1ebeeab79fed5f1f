//! The dashboard on fixed snapshots and a fixed clock: what it draws, and what keys do.

use super::{Dashboard, Quit, UiAction};
use crate::orchestrator::snapshot::{Counts, Snapshot, TaskRow, WorkerRow};
use crate::plan::TaskId;
use crate::scheduler::Command;
use crate::tmux::PaneId;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

/// The run started at this Unix time; the frame is drawn 95 s later.
const T0: f64 = 1_700_000_000.0;
const NOW: f64 = T0 + 95.0;

fn task(id: &str, text: &str, state: &str, worker: Option<usize>, attempts: u32) -> TaskRow {
    TaskRow {
        id: id.into(),
        text: text.into(),
        state: state.into(),
        stage: None,
        commit: None,
        branch: None,
        reason: None,
        waiting: None,
        worker,
        attempts,
        started: None,
        edited_after_dispatch: false,
        receipt: None,
        spent: None,
    }
}

fn worker(id: usize, pane: &str, state: &str, task: Option<&str>) -> WorkerRow {
    WorkerRow {
        host: None,
        id,
        pane: Some(pane.into()),
        profile: String::new(),
        state: state.into(),
        task: task.map(Into::into),
        restarts: 0,
        paused: false,
        needs: None,
        retired: None,
    }
}

/// A swarm in mid-run: one task of each state, four workers in different conditions.
fn mid_run() -> Snapshot {
    let mut auth = task("auth", "Write docs/auth.md", "running", Some(0), 1);
    auth.started = Some(T0 + 80.0);
    auth.receipt = Some(crate::receipt::Latest {
        stage: "working".into(),
        attempt: 1,
        at: T0 + 81.0,
        took: Some(0.4),
    });
    let mut login = task("login", "Refactor src/login.ts", "running", Some(1), 2);
    login.started = Some(T0 + 30.0);
    let mut billing = task("billing", "Write docs/billing.md", "failed", None, 3);
    billing.reason = Some("idle without its sentinel after 2 reminders".into());
    let tasks = vec![
        task("intro", "Write the introduction", "done", None, 1),
        auth,
        login,
        task("api", "Document the API", "pending", None, 0),
        billing,
        task("extra", "Optional extras", "skipped", None, 0),
    ];
    let mut paused = worker(2, "%5", "idle", None);
    paused.paused = true;
    let mut stuck = worker(3, "%6", "needs-human", None);
    stuck.needs = Some("a blocking dialog on screen: answer it in the pane".into());
    stuck.restarts = 1;
    let mut limited = worker(4, "%7", "rate-limited", None);
    limited.needs = Some("rate-limited until 3pm".into());
    let mut dead = worker(5, "%2", "retired", None);
    dead.restarts = 5;
    Snapshot {
        hosts: Vec::new(),
        schema: 1,
        plan: "PLAN.md".into(),
        socket: "swarm-test".into(),
        session: "swarm".into(),
        pid: 42,
        started: T0,
        updated: NOW - 0.2,
        finished: false,
        paused: false,
        counts: Counts {
            total: 6,
            done: 1,
            running: 2,
            pending: 1,
            failed: 1,
            skipped: 1,
            blocked: 0,
            landing: 0,
        },
        tasks,
        workers: vec![
            worker(0, "%3", "busy", Some("auth")),
            worker(1, "%4", "busy", Some("login")),
            paused,
            stuck,
            limited,
            dead,
        ],
        land: None,
        spent: crate::orchestrator::snapshot::SpentRow {
            spent: crate::cost::Spent {
                tokens: crate::cost::Tokens {
                    input: 1200,
                    output: 300,
                    cache_read: 5000,
                    cache_write: 800,
                },
                cost: Some(0.42),
                models: Default::default(),
            },
            budget: Some(20.0),
            task_budget: Some(2.0),
            budget_reached: false,
        },
    }
}

fn draw(dashboard: &Dashboard) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(100, 28)).unwrap();
    terminal.draw(|frame| dashboard.render(frame)).unwrap();
    terminal
}

fn screen(dashboard: &Dashboard) -> String {
    draw(dashboard).backend().to_string()
}

fn key(code: KeyCode) -> KeyEvent {
    KeyEvent::new(code, KeyModifiers::NONE)
}

fn plain(snapshot: Option<Snapshot>) -> Dashboard {
    let mut dashboard = Dashboard::new(false);
    dashboard.update(snapshot, true, NOW);
    dashboard
}

#[test]
fn draws_tasks_workers_progress_and_eta() {
    insta::assert_snapshot!(screen(&plain(Some(mid_run()))));
}

/// What w0's pane shows: an agent at work, with blank rows below.
const AGENT_SCREEN: &str = "╭──────────────╮\n│ > Write docs │\n╰──────────────╯\n\
                            ● Reading src/auth.rs\n● Writing docs/auth.md\n\
                            ✻ Working… (esc to interrupt)\n\n\n\n";

#[test]
fn the_preview_follows_the_focus() {
    let mut dashboard = plain(Some(mid_run()));
    // The first task is done: nobody runs it.
    assert_eq!(dashboard.preview_target(), None);
    dashboard.on_key(key(KeyCode::Down));
    assert_eq!(dashboard.preview_target(), Some((0, PaneId("%3".into()))));
    dashboard.on_key(key(KeyCode::Tab));
    dashboard.on_key(key(KeyCode::Down));
    assert_eq!(dashboard.preview_target(), Some((1, PaneId("%4".into()))));
    dashboard.set_preview(Some((1, AGENT_SCREEN)));
    let screen = screen_at(&dashboard, 200, 30);
    assert!(screen.contains("w1's screen"), "{screen}");
    assert!(screen.contains("✻ Working… (esc to interrupt)"), "{screen}");
    // Workers are named by their place in tmux, window.pane.
    let places = [("%3", "1.0"), ("%4", "1.1")];
    dashboard.set_places(
        places
            .iter()
            .map(|(p, at)| (PaneId(p.to_string()), at.to_string()))
            .collect(),
    );
    let screen = screen_at(&dashboard, 200, 30);
    assert!(screen.contains("›w1   1.1   busy"), "{screen}");
    assert!(
        screen.contains("w1 · busy · window 1, pane 1 (%4)"),
        "{screen}"
    );
    // Too narrow for it beside the lists: under the tasks, if they leave room.
    let screen = screen_at(&dashboard, 120, 35);
    let below = screen.lines().position(|l| l.contains("w1's screen"));
    let workers = screen.lines().position(|l| l.contains(" Workers "));
    assert!(below.is_some() && below < workers, "{screen}");
    assert!(screen.contains("✻ Working… (esc to interrupt)"), "{screen}");
    let screen = screen_at(&dashboard, 120, 24);
    assert!(!screen.contains("w1's screen"), "{screen}");
}

fn screen_at(dashboard: &Dashboard, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|frame| dashboard.render(frame)).unwrap();
    terminal.backend().to_string()
}

/// From a laptop's 80x24 up, every section has a place and the key bar is whole.
#[test]
fn fits_terminals_from_80x24_up() {
    let mut dashboard = plain(Some(mid_run()));
    dashboard.update(Some(mid_run()), true, NOW);
    // The running task `auth` is selected: its worker w0's screen is the preview.
    dashboard.on_key(key(KeyCode::Down));
    dashboard.set_preview(Some((0, AGENT_SCREEN)));
    for (width, height) in [(80, 24), (120, 35), (200, 50)] {
        let screen = screen_at(&dashboard, width, height);
        let last = screen.lines().last().unwrap_or_default().to_string();
        assert!(
            last.contains("q quit"),
            "{width}x{height}: the key bar is whole: {last}"
        );
        assert!(screen.contains("Workers"), "{width}x{height}: {screen}");
        insta::assert_snapshot!(format!("dashboard_{width}x{height}"), screen);
    }
    for (width, height) in [(300, 80), (60, 16)] {
        let screen = screen_at(&dashboard, width, height);
        let last = screen.lines().last().unwrap_or_default().to_string();
        assert!(last.contains("q quit"), "{width}x{height}: {last}");
    }
}

#[test]
fn says_it_waits_before_the_first_snapshot() {
    let screen = screen(&plain(None));
    assert!(screen.contains("waiting for the orchestrator…"), "{screen}");
}

#[test]
fn recent_events_come_from_what_changed_between_snapshots() {
    let before = mid_run();
    let mut after = mid_run();
    after.updated = T0 + 100.0;
    after.tasks[1].state = "done".into(); // auth finished after 20 s
    after.tasks[1].worker = None;
    after.tasks[3].state = "running".into(); // api went to w0
    after.tasks[3].worker = Some(0);
    after.tasks[3].attempts = 1;
    after.tasks[3].started = Some(T0 + 100.0);
    after.tasks[2].state = "pending".into(); // login was requeued
    after.tasks[2].worker = None;
    after.workers[1].state = "idle".into();
    after.workers[1].task = None;
    after.workers[3].restarts = 2;
    after.paused = true;
    let mut dashboard = plain(Some(before));
    dashboard.update(Some(after), true, T0 + 100.5);
    insta::assert_snapshot!(screen(&dashboard));
}

#[test]
fn says_when_no_orchestrator_runs() {
    let mut dashboard = plain(Some(mid_run()));
    dashboard.update(Some(mid_run()), false, NOW + 60.0);
    let screen = screen(&dashboard);
    assert!(
        screen.contains("the orchestrator is not running (`swarm run` resumes)"),
        "{screen}"
    );
}

#[test]
fn no_color_means_no_colors_at_all() {
    let colored = |dashboard: &Dashboard| {
        let terminal = draw(dashboard);
        let buffer = terminal.backend().buffer().clone();
        buffer
            .content()
            .iter()
            .any(|cell| cell.fg != Color::Reset || cell.bg != Color::Reset)
    };
    assert!(!colored(&plain(Some(mid_run()))));
    let mut dashboard = Dashboard::new(true);
    dashboard.update(Some(mid_run()), true, NOW);
    assert!(colored(&dashboard));
}

#[test]
fn enter_jumps_to_the_selected_worker_or_the_selected_task_s_worker() {
    let mut d = plain(Some(mid_run()));
    // The first task is done: no worker to show.
    assert_eq!(d.on_key(key(KeyCode::Enter)), None);
    d.on_key(key(KeyCode::Down));
    assert_eq!(
        d.on_key(key(KeyCode::Enter)),
        Some(UiAction::Jump(PaneId("%3".into())))
    );
    d.on_key(key(KeyCode::Tab));
    d.on_key(key(KeyCode::Char('j')));
    assert_eq!(
        d.on_key(key(KeyCode::Enter)),
        Some(UiAction::Jump(PaneId("%4".into())))
    );
}

#[test]
fn selection_stays_inside_the_lists() {
    let mut d = plain(Some(mid_run()));
    d.on_key(key(KeyCode::Up));
    d.on_key(key(KeyCode::Char('G')));
    d.on_key(key(KeyCode::Down));
    // The last task, `extra`, is skipped: retrying it is allowed.
    assert_eq!(
        d.on_key(key(KeyCode::Char('R'))),
        Some(UiAction::Send(Command::Retry {
            task: TaskId("extra".into())
        }))
    );
    let mut shrunk = mid_run();
    shrunk.tasks.truncate(2);
    d.update(Some(shrunk), true, NOW);
    assert_eq!(
        d.on_key(key(KeyCode::Char('s'))),
        Some(UiAction::Send(Command::Skip {
            task: TaskId("auth".into())
        }))
    );
}

#[test]
fn retry_and_skip_act_only_where_they_make_sense() {
    let mut d = plain(Some(mid_run()));
    for _ in 0..4 {
        d.on_key(key(KeyCode::Char('j')));
    }
    assert_eq!(
        d.on_key(key(KeyCode::Char('R'))),
        Some(UiAction::Send(Command::Retry {
            task: TaskId("billing".into())
        }))
    );
    assert_eq!(d.on_key(key(KeyCode::Char('s'))), None);
    assert!(screen(&d).contains("`billing` is failed: nothing to skip"));
    d.on_key(key(KeyCode::Char('k')));
    assert_eq!(d.on_key(key(KeyCode::Char('R'))), None);
    assert!(screen(&d).contains("only failed or skipped tasks can be retried"));
}

#[test]
fn pause_and_resume_act_on_all_or_on_the_selected_worker() {
    let mut d = plain(Some(mid_run()));
    assert_eq!(
        d.on_key(key(KeyCode::Char('p'))),
        Some(UiAction::Send(Command::Pause { worker: None }))
    );
    d.on_key(key(KeyCode::Tab));
    d.on_key(key(KeyCode::Down));
    d.on_key(key(KeyCode::Down));
    assert_eq!(
        d.on_key(key(KeyCode::Char('r'))),
        Some(UiAction::Send(Command::Resume { worker: Some(2) }))
    );
    assert!(screen(&d).contains("asked the swarm to resume w2"));
}

#[test]
fn quitting_asks_whether_to_leave_the_workers_running() {
    let mut d = plain(Some(mid_run()));
    assert_eq!(d.on_key(key(KeyCode::Char('q'))), None);
    let screen_text = screen(&d);
    assert!(
        screen_text.contains("leave the workers running or stop them? [l/s/esc]"),
        "{screen_text}"
    );
    // Keys other than the answers do nothing while asking.
    assert_eq!(d.on_key(key(KeyCode::Char('p'))), None);
    assert_eq!(d.on_key(key(KeyCode::Esc)), None);
    assert!(!screen(&d).contains("[l/s/esc]"));
    d.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert_eq!(
        d.on_key(key(KeyCode::Char('s'))),
        Some(UiAction::Quit(Quit::StopWorkers))
    );
    d.on_key(key(KeyCode::Char('q')));
    assert_eq!(
        d.on_key(key(KeyCode::Char('l'))),
        Some(UiAction::Quit(Quit::LeaveRunning))
    );
}

#[test]
fn pools_of_several_profiles_get_a_profile_column() {
    let mut snapshot = mid_run();
    for (w, profile) in snapshot
        .workers
        .iter_mut()
        .zip(["claude", "claude", "codex"])
    {
        w.profile = profile.into();
    }
    let drawn = screen(&plain(Some(snapshot)));
    let header = drawn.lines().find(|l| l.contains("WKR  PANE")).unwrap();
    assert!(header.contains("PROFILE"), "{drawn}");
    let w2 = drawn.lines().find(|l| l.contains(" w2 ")).unwrap();
    assert!(w2.contains("codex"), "{drawn}");
    // One profile for all: no column to tell them apart.
    let mut one = mid_run();
    for w in &mut one.workers {
        w.profile = "claude".into();
    }
    let single = screen(&plain(Some(one)));
    assert!(!single.contains("PROFILE"), "{single}");
}

#[test]
fn workers_on_other_hosts_get_a_host_column() {
    let mut snapshot = mid_run();
    snapshot.workers[2].host = Some("gpu1".into());
    let drawn = screen(&plain(Some(snapshot)));
    let header = drawn.lines().find(|l| l.contains("WKR  PANE")).unwrap();
    assert!(header.contains("HOST"), "{drawn}");
    // A worker's row is the one with its pane.
    let row = |w: &str| {
        let pane = if w == "w0" { "%3" } else { "%5" };
        drawn
            .lines()
            .find(|l| l.contains(w) && l.contains(pane))
            .unwrap()
    };
    assert!(row("w2").contains("gpu1"), "{drawn}");
    assert!(row("w0").contains("local"), "{drawn}");
    // All on this machine: no column.
    let here = screen(&plain(Some(mid_run())));
    assert!(!here.contains("HOST"), "{here}");
}

#[test]
fn the_diff_tab_shows_the_selected_tasks_change_in_an_isolated_run() {
    // Not isolated: there is no change to show, and the dashboard says so.
    let mut dashboard = plain(Some(mid_run()));
    dashboard.on_key(key(KeyCode::Char('d')));
    assert_eq!(dashboard.diff_target(), None);
    assert!(
        screen(&dashboard).contains("isolation"),
        "{}",
        screen(&dashboard)
    );

    let mut isolated = mid_run();
    isolated.land = Some("swarm/main".into());
    let mut dashboard = plain(Some(isolated));
    dashboard.on_key(key(KeyCode::Down));
    dashboard.on_key(key(KeyCode::Char('d')));
    let (land, task, _) = dashboard.diff_target().expect("the tab wants a change");
    assert_eq!(land, "swarm/main");
    assert_eq!(task.0, "auth");
    assert!(screen(&dashboard).contains("reading the change"));
    let change = "diff --git a/docs/auth.md b/docs/auth.md\n@@ -0,0 +1 @@\n+# Auth\n";
    dashboard.set_diff(&task, Some(change));
    let shown = screen(&dashboard);
    assert!(shown.contains("Diff · auth"), "{shown}");
    assert!(shown.contains("+# Auth"), "{shown}");
    assert!(shown.contains("d/esc back"), "{shown}");
    // Another task: its change is read anew; Esc goes back to the lists.
    dashboard.on_key(key(KeyCode::Down));
    assert_eq!(dashboard.diff_target().unwrap().1.0, "login");
    assert!(!screen(&dashboard).contains("+# Auth"));
    dashboard.on_key(key(KeyCode::Esc));
    assert_eq!(dashboard.diff_target(), None);
    assert!(screen(&dashboard).contains("Tasks"));
}
