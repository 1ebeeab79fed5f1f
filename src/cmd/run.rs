//! `swarm run`: check everything, start swarm's own tmux server, and drive the plan,
//! either here (`--headless`) or inside window 0 with this terminal attached.

use crate::Outcome;
use crate::cli::RunArgs;
use crate::config::{self, Overrides, Settings};
use crate::error::BadInput;
use crate::orchestrator::{self, Progress, Run, lock};
use crate::plan::TaskId;
use crate::scheduler::Limits;
use crate::tmux::Tmux;
use crate::workspace::Workspace;
use std::collections::BTreeMap;
use std::collections::HashMap;
use std::io::IsTerminal;

pub fn run(args: &RunArgs) -> anyhow::Result<Outcome> {
    let prepared = prepare(args)?;
    if prepared.open == 0 {
        println!(
            "nothing to do: every task in {} is checked",
            prepared.run.ws.plan_name()
        );
        return Ok(Outcome::Success);
    }
    let Prepared { mut run, .. } = prepared;
    if args.in_window {
        return drive_with_dashboard(run);
    }
    crate::tmux::check_version()?;
    crate::agent::preflight::check(&run.settings, &run.ws.root)?;
    crate::orchestrator::preflight_hosts(&run.settings)?;
    let interactive = std::io::stdin().is_terminal() && std::io::stdout().is_terminal();
    // One orchestrator per plan. The lock comes before anything touches tmux, so that the
    // loser of a race between two starts leaves the winner's server alone.
    let held = match lock::acquire(&run.ws)? {
        Ok(held) => held,
        Err(pid) => {
            let pid = pid.map(|p| format!("pid {p}, ")).unwrap_or_default();
            // A second `swarm run` in a terminal joins the running swarm.
            if interactive && !args.headless && run.tmux.has_session()? {
                eprintln!("swarm: a swarm is already running here ({pid}attaching)");
                run.tmux.attach()?;
                return Ok(Outcome::Success);
            }
            return Err(BadInput::new(format!(
                "a swarm is already running for {} ({pid}tmux socket `{}`)",
                run.ws.plan.display(),
                run.tmux.socket
            ))
            .hint("`swarm attach` to watch it, `swarm status` to see it, or `swarm stop` to end it")
            .into());
        }
    };
    // The session outlived its orchestrator: the new one adopts its workers.
    let resuming = run.tmux.has_session()?;
    if resuming && run.tmux.spawned_by_hand()? {
        return Err(BadInput::new(format!(
            "the workers on tmux socket `{}` were started with `swarm spawn`: a script or an \
             LLM orchestrator drives them, and `swarm run` would start its own beside them",
            run.tmux.socket
        ))
        .hint("`swarm stop` ends them first")
        .into());
    }
    if resuming {
        eprintln!(
            "swarm: resuming the swarm on tmux socket `{}`",
            run.tmux.socket
        );
    }
    if args.headless {
        if !resuming {
            // The same dashboard as an attached run's, for whoever attaches.
            let window0 = super::self_argv(&["dashboard"], &run.ws, &run.tmux);
            start_session(&run, &window0)?;
        }
        let tmux = run.tmux.clone();
        run.lock = Some(held);
        let outcome = drive(run);
        // A headless run cleans up after itself: its session exists only to be watched.
        let _ = tmux.kill_server();
        return outcome;
    }
    if !interactive {
        return Err(
            BadInput::new("`swarm run` attaches to tmux, but this is not a terminal")
                .hint("use `swarm run --headless` in scripts")
                .into(),
        );
    }
    let mut window0 = super::self_argv(&["run", "--in-window"], &run.ws, &run.tmux);
    forward_flags(args, &mut window0);
    if resuming {
        run.tmux
            .respawn_window0(&window0, &run.ws.root, &BTreeMap::new())?;
    } else {
        start_session(&run, &window0)?;
    }
    // The orchestrator in window 0 takes the lock over (it waits a moment for it).
    drop(held);
    run.tmux.attach()?;
    Ok(Outcome::Success)
}

/// The plan, config and workspace, all checked: nothing has been started yet.
struct Prepared {
    run: Run,
    open: usize,
}

fn prepare(args: &RunArgs) -> anyhow::Result<Prepared> {
    let ws = Workspace::locate(&args.workspace.plan)?;
    let (text, tasks) = crate::plan::load(&ws.plan)?;
    if !args.in_window {
        for lookalike in crate::plan::lookalikes(&text, &tasks, &ws.plan) {
            eprintln!("swarm: {lookalike}");
        }
    }
    let overrides = Overrides {
        workers: args.workers,
        agent: args.agent.clone(),
        agent_cmd: args.agent_cmd.clone(),
        socket: args.workspace.socket.clone(),
        max_attempts: args.max_attempts,
        task_timeout: args.task_timeout,
        isolate: args.isolate,
    };
    let settings: Settings =
        config::resolve(config::load(&ws.config_path())?, &overrides, &ws.root)?;
    settings.check_agents(&tasks, &ws.plan)?;
    let socket = ws.socket(settings.socket.as_deref());
    let mut sentinels = HashMap::<TaskId, _>::new();
    for task in &tasks {
        let sentinel = crate::prompt::sentinel_for(task)
            .map_err(|e| BadInput::new(format!("{}:{e}", ws.plan.display())))?;
        sentinels.insert(task.id.clone(), sentinel);
    }
    // A bad journal is the user's to sort out before anything starts.
    crate::journal::Journal::check(&ws.journal_path(), &ws.plan)?;
    let open = tasks.iter().filter(|t| !t.checked).count();
    let tmux = Tmux::new(&socket, &settings.session).with_conf(settings.tmux_conf.clone());
    let landing = match &settings.isolation {
        Some(isolation) => Some(crate::isolate::prepare(&ws, isolation, &tasks)?),
        None => {
            crate::isolate::exclude_own_files(&ws, &tasks);
            None
        }
    };
    let limits = Limits {
        max_attempts: settings.max_attempts,
        task_timeout: settings.task_timeout,
        ..Limits::default()
    };
    Ok(Prepared {
        run: Run {
            ws,
            settings,
            tasks,
            sentinels,
            tmux,
            limits,
            lock: None,
            landing,
        },
        open,
    })
}

/// Runs the orchestrator in this process until the plan is done.
fn drive(run: Run) -> anyhow::Result<Outcome> {
    let ws = run.ws.clone();
    let mut progress = Progress::new();
    let summary = orchestrator::run(run, &mut progress)?;
    if summary.interrupted && orchestrator::stop::requested(&ws) {
        progress.stopped_by_command();
    }
    orchestrator::stop::clear(&ws);
    progress.finish(&summary);
    joblog(&progress, &ws);
    Ok(outcome(&summary))
}

/// Window 0 of an attached run: the orchestrator on a thread, the dashboard in front. A
/// finished run stays on screen until the person quits; quitting either stops the
/// workers or leaves the orchestrator going here with plain progress.
fn drive_with_dashboard(run: Run) -> anyhow::Result<Outcome> {
    let (ws, tmux) = (run.ws.clone(), run.tmux.clone());
    // A closed pane or `swarm stop` sends SIGHUP; whatever the dashboard is doing then, the
    // process must end (a finished orchestrator no longer listens).
    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGHUP,
        signal_hook::consts::SIGTERM,
    ])?;
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            ratatui::restore();
            std::process::exit(130);
        }
    });
    let orchestrator = std::thread::spawn(move || {
        let mut progress = Progress::quiet();
        let summary = orchestrator::run(run, &mut progress);
        // A signal (the pane closed, the server went) or an error ends the process here:
        // the dashboard may be blocked reading a terminal that is gone.
        match &summary {
            Ok(s) if !s.interrupted => {}
            _ => {
                ratatui::restore();
                let code = match &summary {
                    Ok(s) => {
                        progress.finish(s);
                        130
                    }
                    Err(e) => {
                        eprintln!("swarm: {e:#}");
                        1
                    }
                };
                std::process::exit(code);
            }
        }
        (summary, progress)
    });
    match crate::tui::run(&ws, &tmux, crate::tui::Place::InSession) {
        Ok(crate::tui::Quit::StopWorkers) => {
            // The orchestrator sees its server go, and ends the process.
            tmux.kill_server()?;
            let _ = orchestrator.join();
            return Ok(Outcome::Interrupted);
        }
        Ok(crate::tui::Quit::LeaveRunning) => {
            eprintln!(
                "swarm: dashboard closed; the orchestrator goes on, and prints its summary here when done"
            );
        }
        // Without a dashboard, the run goes on all the same.
        Err(e) => eprintln!("swarm: no dashboard: {e}"),
    }
    let (summary, mut progress) = orchestrator
        .join()
        .map_err(|_| anyhow::anyhow!("the orchestrator thread panicked"))?;
    let summary = summary?;
    progress.finish(&summary);
    joblog(&progress, &ws);
    Ok(outcome(&summary))
}

/// Writes `.swarm/joblog.tsv`; a run that did its work is not failed for want of it.
fn joblog(progress: &Progress, ws: &Workspace) {
    let path = ws.joblog_path();
    if let Err(e) = progress.write_joblog(&path) {
        eprintln!("swarm: could not write {}: {e}", path.display());
    }
}

fn outcome(summary: &orchestrator::Summary) -> Outcome {
    if summary.interrupted {
        Outcome::Interrupted
    } else if summary.failed.is_empty() && !(summary.cost.budget_reached && summary.cost.left > 0) {
        Outcome::Success
    } else {
        Outcome::TasksFailed
    }
}

fn start_session(run: &Run, window0: &[String]) -> anyhow::Result<()> {
    let s = &run.settings;
    run.tmux.start_session(
        "orchestrator",
        s.width,
        s.height,
        window0,
        &run.ws.root,
        &Default::default(),
    )?;
    // The status line shows the progress, `swarm 7/12 ✓ 1 ✗ · ETA 3m`.
    let line = super::self_argv(&["status", "--line"], &run.ws, &run.tmux);
    run.tmux.show_in_status(&line)?;
    Ok(())
}

fn forward_flags(args: &RunArgs, argv: &mut Vec<String>) {
    if let Some(n) = args.workers {
        argv.extend(["--workers".into(), n.to_string()]);
    }
    if let Some(agent) = &args.agent {
        argv.extend(["--agent".into(), agent.clone()]);
    }
    if let Some(cmd) = &args.agent_cmd {
        argv.extend(["--agent-cmd".into(), cmd.clone()]);
    }
    if let Some(n) = args.max_attempts {
        argv.extend(["--max-attempts".into(), n.to_string()]);
    }
    if let Some(timeout) = args.task_timeout {
        argv.extend(["--task-timeout".into(), timeout.to_string()]);
    }
    if let Some(how) = args.isolate {
        let how = clap::ValueEnum::to_possible_value(&how).expect("no variant is skipped");
        argv.extend(["--isolate".into(), how.get_name().to_string()]);
    }
}
