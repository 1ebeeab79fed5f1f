//! The workers in swarm's tmux session, read live from tmux: their panes, their profiles,
//! and what their screens say. `swarm run` keeps its own account of its workers, but an
//! LLM orchestrator driving the primitives (`spawn`, `send`, `wait`, `workers`) keeps
//! none, so these commands ask the panes themselves.

use crate::agent::{Profile, ScreenState, hooks, launch};
use crate::error::BadInput;
use crate::scheduler::WorkerId;
use crate::tmux::{Mux, Tmux, WorkerPane};
use crate::workspace::Workspace;
use std::collections::BTreeMap;

/// One worker pane and the profile that reads its screen.
#[derive(Debug, Clone)]
pub struct Worker {
    pub id: WorkerId,
    pub pane: WorkerPane,
    pub profile: Profile,
}

/// What a worker is doing, as its pane shows it right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Activity {
    /// The agent waits for a prompt.
    Idle,
    Busy,
    /// A person must act in the pane first (a dialog, text someone typed, copy mode).
    NeedsHuman(String),
    /// The agent says it is rate-limited; when it ends, if the screen says so.
    RateLimited(Option<String>),
    /// The agent gave up on its provider's errors and ended its turn, saying this.
    ApiError(String),
    /// The pane's agent is gone, for the reason given; it will never take a prompt.
    Dead(String),
    /// The screen matches none of the profile's patterns: still starting, or unreadable.
    Unknown,
}

impl Activity {
    /// The `state` of `swarm workers --json`.
    pub fn state(&self) -> &'static str {
        match self {
            Activity::Idle => "idle",
            Activity::Busy => "busy",
            Activity::NeedsHuman(_) => "needs-human",
            Activity::RateLimited(_) => "rate-limited",
            Activity::ApiError(_) => "api-error",
            Activity::Dead(_) => "dead",
            Activity::Unknown => "unknown",
        }
    }

    /// The `needs` of `swarm workers --json`: what a person must do, or why it waits.
    pub fn needs(&self) -> Option<String> {
        match self {
            Activity::NeedsHuman(what) => Some(what.clone()),
            Activity::RateLimited(Some(until)) => Some(format!("rate-limited until {until}")),
            Activity::RateLimited(None) => Some("rate-limited".into()),
            Activity::ApiError(what) => Some(format!("API error: {what}")),
            _ => None,
        }
    }

    /// The state with its reason, for messages.
    pub fn describe(&self) -> String {
        match self {
            Activity::Dead(why) => format!("dead: {why}"),
            other => match other.needs() {
                Some(needs) => format!("{}: {needs}", other.state()),
                None => other.state().to_string(),
            },
        }
    }
}

/// The workers of the session, by id.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    pub workers: Vec<Worker>,
}

impl Roster {
    /// The session's worker panes. A pane names its profile (`@profile`, set by
    /// `swarm spawn`); an orchestrator's panes do not, and are read with `fallback`.
    pub fn load(ws: &Workspace, tmux: &Tmux, fallback: &Profile) -> anyhow::Result<Roster> {
        let user_profiles = crate::config::load(&ws.config_path())?
            .map(|config| config.profiles)
            .unwrap_or_default();
        let mut by_id: BTreeMap<WorkerId, Worker> = BTreeMap::new();
        for pane in tmux.worker_panes()? {
            let Some(id) = parse_name(&pane.worker) else {
                continue;
            };
            // An orchestrator replacing an agent may briefly show the dead pane beside
            // the new one: the live one is the worker.
            if by_id.get(&id).is_some_and(|w| !w.pane.info.dead) {
                continue;
            }
            let profile = match &pane.profile {
                Some(name) if *name != fallback.name => {
                    crate::agent::resolve_profile(name, &user_profiles).map_err(|err| {
                        BadInput::new(format!("worker {}: {err}", pane.worker)).hint(
                            "its agent was started with a profile swarm.toml no longer defines",
                        )
                    })?
                }
                _ => fallback.clone(),
            };
            by_id.insert(id, Worker { id, pane, profile });
        }
        Ok(Roster {
            workers: by_id.into_values().collect(),
        })
    }

    pub fn get(&self, id: WorkerId) -> Option<&Worker> {
        self.workers.iter().find(|w| w.id == id)
    }
}

impl Worker {
    /// `w2`: the name the commands take.
    pub fn name(&self) -> String {
        format!("w{}", self.id)
    }

    /// Reads the pane's screen, and Claude Code's hook state where there is one.
    pub fn activity(&self, tmux: &Tmux, ws: &Workspace) -> Activity {
        let info = &self.pane.info;
        if info.dead {
            return Activity::Dead(match info.dead_status {
                Some(status) => format!("its agent exited with status {status}"),
                None => "its agent exited".into(),
            });
        }
        if info.shell_in_front() {
            return Activity::Dead(format!(
                "its agent exited to a shell (`{}`)",
                info.current_command
            ));
        }
        if info.in_mode {
            return Activity::NeedsHuman("a person is scrolling its pane (copy mode)".into());
        }
        let Ok(screen) = tmux.capture(&info.id) else {
            return Activity::Dead("its pane is gone".into());
        };
        match self.profile.classify(&screen) {
            // The screen can look ready between two steps of a turn; the hook knows.
            ScreenState::Ready if self.turn_under_way(ws) => Activity::Busy,
            ScreenState::Ready => Activity::Idle,
            ScreenState::Busy => Activity::Busy,
            ScreenState::InputPending => {
                Activity::NeedsHuman("text waits in its input box, unsent".into())
            }
            ScreenState::Dialog => {
                Activity::NeedsHuman("a blocking dialog: answer it in the pane".into())
            }
            ScreenState::RateLimited => {
                Activity::RateLimited(self.profile.rate_limit_reset(&screen))
            }
            ScreenState::ApiError => Activity::ApiError(
                self.profile
                    .api_error(&screen)
                    .unwrap_or_else(|| "the agent gave up on API errors".into()),
            ),
            ScreenState::Unknown => Activity::Unknown,
        }
    }

    /// Claude Code's hooks say a turn began and has not stopped.
    fn turn_under_way(&self, ws: &Workspace) -> bool {
        launch::hooks_dir(&self.profile, ws)
            .and_then(|dir| hooks::read_state(&dir, &self.id.to_string()))
            .is_some_and(|state| state.event == "UserPromptSubmit")
    }
}

/// `w2` or `2`, as `swarm workers` shows workers.
pub fn parse_name(name: &str) -> Option<WorkerId> {
    name.strip_prefix('w').unwrap_or(name).parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_states_read_as_documented() {
        assert_eq!(parse_name("w12"), Some(12));
        assert_eq!(parse_name("3"), Some(3));
        assert_eq!(parse_name("x1"), None);
        let limited = Activity::RateLimited(Some("3pm".into()));
        assert_eq!(limited.state(), "rate-limited");
        assert_eq!(limited.needs().as_deref(), Some("rate-limited until 3pm"));
        assert_eq!(Activity::Idle.needs(), None);
        assert_eq!(
            Activity::Dead("its pane is gone".into()).describe(),
            "dead: its pane is gone"
        );
        assert_eq!(
            Activity::NeedsHuman("a dialog".into()).describe(),
            "needs-human: a dialog"
        );
    }
}
