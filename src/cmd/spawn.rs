//! `swarm spawn [N]`: add worker agents to swarm's tmux session, starting the session if
//! need be, for scripts and LLM orchestrators (no `swarm run`). Each agent starts exactly
//! as the orchestrator starts its own, and the command returns once they are all ready.

use crate::Outcome;
use crate::agent::{Profile, hooks, launch};
use crate::cli::SpawnArgs;
use crate::config::Overrides;
use crate::error::{BadInput, Failure};
use crate::roster::{Roster, parse_name};
use crate::scheduler::WorkerId;
use crate::tmux::{Mux, SpawnSpec};
use crate::workspace::Workspace;
use anyhow::Context;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Instant;

pub fn run(args: &SpawnArgs) -> anyhow::Result<Outcome> {
    super::workers::print(&spawn(args)?, args.json)?;
    Ok(Outcome::Success)
}

/// Starts the workers and returns them once ready: what `swarm spawn` prints and the MCP
/// tool `spawn` returns.
pub(crate) fn spawn(args: &SpawnArgs) -> anyhow::Result<super::workers::Listing> {
    let overrides = Overrides {
        agent: args.agent.clone(),
        agent_cmd: args.agent_cmd.clone(),
        ..Overrides::default()
    };
    let (ws, tmux, settings) = super::target_with(&args.workspace, overrides)?;
    if let Some(pid) = crate::orchestrator::lock::holder(&ws) {
        return Err(BadInput::new(format!(
            "`swarm run` (pid {pid}) is driving {}, and its workers are its own; nothing was started",
            ws.plan.display()
        ))
        .hint("it runs as many workers as `swarm run --workers N` says; `swarm stop` ends it")
        .into());
    }
    crate::tmux::check_version()?;
    crate::agent::preflight::check(&settings, &ws.root)?;
    let profile = &settings.profile;
    let argv = launch::argv(profile, &ws)?;
    let orchestrator = args
        .orchestrator
        .as_deref()
        .map(|line| crate::config::split_flag("--orchestrator", line))
        .transpose()?;
    if let Some(program) = orchestrator.as_ref().and_then(|argv| argv.first()) {
        let other = "or name another program with --orchestrator";
        crate::agent::preflight::check_program(program, "--orchestrator", other, &ws.root)?;
    }
    if !tmux.has_session()? {
        // Window 0 shows the workers until an orchestrator takes it (below).
        let window0 = super::self_argv(&["workers", "--watch"], &ws, &tmux);
        tmux.start_session(
            "workers-list",
            settings.width,
            settings.height,
            &window0,
            &ws.root,
            &BTreeMap::new(),
        )?;
        tmux.mark_spawned_by_hand()?;
    } else if let Some(argv) = &orchestrator {
        return Err(BadInput::new(format!(
            "swarm's session on tmux socket `{}` is running already; `{}` was not started",
            tmux.socket,
            argv.join(" ")
        ))
        .hint("window 0 is set when the session starts: `swarm stop` first, or leave out --orchestrator")
        .into());
    }
    let existing = tmux.worker_panes()?;
    let taken: HashSet<WorkerId> = existing
        .iter()
        .filter_map(|p| parse_name(&p.worker))
        .collect();
    // Worker N sits in window `workers-<N / panes + 1>`, as in `swarm run`.
    let mut windows: HashMap<String, String> = existing
        .into_iter()
        .map(|p| (p.window_name, p.info.window))
        .collect();
    let ids: Vec<WorkerId> = (0..)
        .filter(|id| !taken.contains(id))
        .take(args.count as usize)
        .collect();
    for &id in &ids {
        let window_name = format!("workers-{}", id / settings.panes_per_window.max(1) + 1);
        let spec = SpawnSpec {
            window: windows.get(&window_name).cloned(),
            window_name: window_name.clone(),
            label: format!("w{id}"),
            profile: profile.name.clone(),
            argv: argv.clone(),
            cwd: ws.root.clone(),
            env: launch::env(profile, &ws, id),
            host: None,
        };
        forget_hook_state(profile, &ws, id)?;
        let spawned = tmux
            .spawn(&spec)
            .with_context(|| format!("starting w{id}'s agent"))?;
        windows.insert(window_name, spawned.window);
    }
    let deadline = Instant::now() + profile.startup_timeout;
    let ready = super::wait::idle(&ws, &tmux, profile, &ids, false, Some(deadline))?;
    if let Some(trouble) = ready.trouble() {
        return Err(
            Failure::new(format!("not every new worker is ready: {trouble}"))
                .hint(
                    "`swarm capture WORKER` shows its screen (a dialog only a person can \
                     answer?); the workers stay in the session",
                )
                .into(),
        );
    }
    if let Some(argv) = &orchestrator {
        // Window 0 is the orchestrator's, as in the original post. It starts once the
        // workers are ready, so that it finds them and never spawns its own beside them.
        tmux.respawn_window0(&with_this_swarm(argv), &ws.root, &BTreeMap::new())?;
        tmux.rename_window0("orchestrator")?;
    }
    let roster = Roster::load(&ws, &tmux, profile)?;
    let new = roster.workers.iter().filter(|w| ids.contains(&w.id));
    Ok(super::workers::live(&ws, &tmux, new))
}

/// `argv` with this very swarm first on its PATH, so that the primitives the orchestrator
/// calls are this build's, installed or not. Through `env`, which execs the program:
/// tmux sets a new pane's PATH from the client's after applying `-e` (measured on 3.3a).
fn with_this_swarm(argv: &[String]) -> Vec<String> {
    let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(|dir| dir.display().to_string()))
    else {
        return argv.to_vec();
    };
    let path = std::env::var("PATH").unwrap_or_default();
    ["env".to_string(), format!("PATH={dir}:{path}")]
        .into_iter()
        .chain(argv.iter().cloned())
        .collect()
}

/// A new agent starts with no turn under way, whatever its predecessor's hooks last said.
fn forget_hook_state(profile: &Profile, ws: &Workspace, id: WorkerId) -> anyhow::Result<()> {
    let Some(dir) = launch::hooks_dir(profile, ws) else {
        return Ok(());
    };
    let path = hooks::state_path(&dir, &id.to_string());
    match std::fs::remove_file(&path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", path.display()))
        }
        _ => Ok(()),
    }
}
