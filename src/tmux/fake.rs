//! A fake multiplexer for tests: panes that behave like a simple agent (an input box, a
//! turn that starts on Enter, an interrupt key, `/clear` and `/exit`), and that a test can
//! scroll, type into, kill, or put a dialog or a rate limit on, as a person or an agent
//! would. Every call is logged, so tests assert what swarm did to the panes.

use super::{Mux, PaneId, PaneInfo, PasteOutcome, SpawnSpec, Spawned, TmuxError};
use crate::agent::{Profile, Reset};
use regex::Regex;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

/// The program the fake agent runs as, in `#{pane_current_command}`.
pub const AGENT: &str = "agent";

/// One fake pane and the agent in it.
#[derive(Debug, Clone)]
pub struct FakePane {
    pub window: String,
    /// `@worker` and `@profile`, as the spawn set them.
    pub worker: String,
    pub profile: String,
    /// What sits in the input box.
    pub input: String,
    /// The agent shows its ready screen (false: still starting).
    pub up: bool,
    /// A turn is running.
    pub busy: bool,
    pub dead: bool,
    /// A person scrolls the pane (copy mode).
    pub in_mode: bool,
    /// `#{pane_current_command}`.
    pub front: String,
    pub dialog: bool,
    pub rate_limited: bool,
    /// When the rate limit resets, as the agent prints it.
    pub resets: String,
    /// The agent gave up on its provider's errors, saying this.
    pub api_error: Option<String>,
    /// The border label (`@task`).
    pub label: String,
    /// Prompts the agent took (submitted with Enter), in order.
    pub prompts: Vec<String>,
    /// Enters the agent misses before it takes one.
    pub missed_enters: u32,
    /// The agent exits at the first Enter.
    pub dies_on_enter: bool,
    /// The transcript file, while one is on.
    pub transcript: Option<std::path::PathBuf>,
    /// The last text pasted in, as a pane on another host remembers it
    /// (`Mux::pasted_last`).
    pub last_paste: Option<String>,
}

impl FakePane {
    fn new(window: String, spec: &SpawnSpec, up: bool) -> FakePane {
        FakePane {
            window,
            worker: spec.label.clone(),
            profile: spec.profile.clone(),
            input: String::new(),
            up,
            busy: false,
            dead: false,
            in_mode: false,
            front: AGENT.into(),
            dialog: false,
            rate_limited: false,
            resets: "9:20pm".into(),
            api_error: None,
            label: String::new(),
            prompts: Vec::new(),
            missed_enters: 0,
            dies_on_enter: false,
            transcript: None,
            last_paste: None,
        }
    }

    fn screen(&self) -> String {
        if !self.up {
            "loading the agent…\n".into()
        } else if self.dialog {
            "Do you trust the files in this folder?\n❯ 1. Yes, proceed\n".into()
        } else if self.rate_limited {
            format!(
                "You've hit your usage limit · resets {}\n> {}\n",
                self.resets, self.input
            )
        } else if let Some(what) = &self.api_error {
            format!("API Error: {what}\n> {}\n", self.input)
        } else if self.busy {
            format!("✻ Working… (esc to interrupt)\n> {}\n", self.input)
        } else {
            format!("> {}\n", self.input)
        }
    }
}

/// The fake's world: every pane, and every call made to it.
#[derive(Debug, Default)]
pub struct World {
    pub panes: BTreeMap<PaneId, FakePane>,
    pub calls: Vec<String>,
    /// New agents show their ready screen at once (false: a test brings them up).
    pub slow_start: bool,
    next_pane: u32,
    next_window: u32,
}

#[derive(Debug, Default)]
pub struct FakeMux {
    world: Mutex<World>,
}

impl FakeMux {
    pub fn new() -> FakeMux {
        FakeMux::default()
    }

    /// Starts an agent in a pane of its own, as a spawn by swarm would, with `label` as
    /// its worker's name.
    pub fn add_agent(&self, label: &str) -> PaneId {
        let spec = SpawnSpec {
            window: None,
            window_name: "workers-1".into(),
            label: label.into(),
            profile: "fake".into(),
            argv: vec![AGENT.into()],
            cwd: std::env::temp_dir(),
            host: None,
            env: BTreeMap::new(),
        };
        self.spawn(&spec).expect("a fake spawn").pane
    }

    /// The world, to look at or to change as a person would.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().expect("not poisoned")
    }

    /// Changes one pane; panics if there is no such pane.
    pub fn pane<T>(&self, pane: &PaneId, change: impl FnOnce(&mut FakePane) -> T) -> T {
        let mut world = self.world();
        change(world.panes.get_mut(pane).expect("a fake pane"))
    }

    /// The live panes, in the order they were made.
    pub fn live(&self) -> Vec<PaneId> {
        let world = self.world();
        let mut live: Vec<_> = world
            .panes
            .iter()
            .filter(|(_, p)| !p.dead)
            .map(|(id, _)| id.clone())
            .collect();
        live.sort_by_key(|id| id.0[1..].parse::<u32>().unwrap_or(0));
        live
    }

    /// The calls so far that start with `prefix`.
    pub fn calls(&self, prefix: &str) -> Vec<String> {
        let world = self.world();
        world
            .calls
            .iter()
            .filter(|c| c.starts_with(prefix))
            .cloned()
            .collect()
    }

    fn log(&self, call: String) -> MutexGuard<'_, World> {
        let mut world = self.world();
        world.calls.push(call);
        world
    }
}

fn gone(pane: &PaneId) -> TmuxError {
    TmuxError::Failed {
        args: format!("-t {pane}"),
        stderr: format!("can't find pane: {pane}"),
    }
}

impl Mux for FakeMux {
    fn spawn(&self, spec: &SpawnSpec) -> Result<Spawned, TmuxError> {
        let mut world = self.world();
        world.next_pane += 1;
        let pane = PaneId(format!("%{}", world.next_pane));
        let window = match &spec.window {
            Some(window) if world.panes.values().any(|p| &p.window == window && !p.dead) => {
                window.clone()
            }
            Some(window) => {
                return Err(TmuxError::Failed {
                    args: "split-window".into(),
                    stderr: format!("can't find window: {window}"),
                });
            }
            None => {
                world.next_window += 1;
                format!("@{}", world.next_window)
            }
        };
        let up = !world.slow_start;
        world
            .panes
            .insert(pane.clone(), FakePane::new(window.clone(), spec, up));
        world.calls.push(format!("spawn {pane} {}", spec.label));
        Ok(Spawned { pane, window })
    }

    fn paste(&self, pane: &PaneId, text: &str) -> Result<PasteOutcome, TmuxError> {
        let mut world = self.log(format!("paste {pane}"));
        let p = world.panes.get_mut(pane).ok_or_else(|| gone(pane))?;
        let refusal = if p.dead {
            Some("dead".to_string())
        } else if p.in_mode {
            Some("copy mode".to_string())
        } else if p.front.ends_with("sh") {
            Some(format!("shell {}", p.front))
        } else {
            None
        };
        if let Some(reason) = refusal {
            return Ok(PasteOutcome::Refused(reason));
        }
        p.input.push_str(text);
        p.last_paste = Some(text.to_owned());
        Ok(PasteOutcome::Pasted)
    }

    fn pasted_last(&self, pane: &PaneId, text: &str) -> Result<bool, TmuxError> {
        let world = self.world();
        let p = world.panes.get(pane).ok_or_else(|| gone(pane))?;
        Ok(p.last_paste.as_deref() == Some(text))
    }

    fn send_key(&self, pane: &PaneId, key: &str) -> Result<(), TmuxError> {
        let mut world = self.log(format!("key {pane} {key}"));
        let p = world.panes.get_mut(pane).ok_or_else(|| gone(pane))?;
        if p.dead {
            return Ok(());
        }
        // As in tmux: a pane in copy mode takes keys as copy-mode commands.
        if p.in_mode {
            if matches!(key, "Escape" | "q" | "C-c") {
                p.in_mode = false;
            }
            return Ok(());
        }
        match key {
            "Enter" if p.dies_on_enter => p.dead = true,
            "Enter" if p.missed_enters > 0 => p.missed_enters -= 1,
            "Enter" => match p.input.trim() {
                "" => {}
                // A fresh context clears the screen, and what it said about the last turn.
                "/clear" => {
                    p.input.clear();
                    p.rate_limited = false;
                    p.api_error = None;
                }
                "/exit" => {
                    p.input.clear();
                    p.dead = true;
                }
                _ => {
                    p.prompts.push(std::mem::take(&mut p.input));
                    p.busy = true;
                }
            },
            "Escape" => p.busy = false,
            "C-c" => {
                p.busy = false;
                p.input.clear();
            }
            _ => {}
        }
        Ok(())
    }

    fn send_text(&self, pane: &PaneId, text: &str) -> Result<(), TmuxError> {
        let mut world = self.log(format!("text {pane} {text}"));
        let p = world.panes.get_mut(pane).ok_or_else(|| gone(pane))?;
        if !p.in_mode {
            p.input.push_str(text);
        }
        Ok(())
    }

    fn capture(&self, pane: &PaneId) -> Result<String, TmuxError> {
        let world = self.world();
        let p = world.panes.get(pane).ok_or_else(|| gone(pane))?;
        Ok(p.screen())
    }

    fn panes(&self) -> Result<Vec<PaneInfo>, TmuxError> {
        let world = self.world();
        Ok(world
            .panes
            .iter()
            .map(|(id, p)| PaneInfo {
                id: id.clone(),
                dead: p.dead,
                dead_status: p.dead.then_some(0),
                dead_signal: None,
                in_mode: p.in_mode,
                current_command: p.front.clone(),
                pid: 1,
                window: p.window.clone(),
            })
            .collect())
    }

    fn set_label(&self, pane: &PaneId, label: &str) -> Result<(), TmuxError> {
        let mut world = self.log(format!("label {pane} {label}"));
        let p = world.panes.get_mut(pane).ok_or_else(|| gone(pane))?;
        p.label = label.to_string();
        Ok(())
    }

    fn kill_pane(&self, pane: &PaneId) -> Result<(), TmuxError> {
        let mut world = self.log(format!("kill {pane}"));
        world.panes.remove(pane).ok_or_else(|| gone(pane))?;
        Ok(())
    }

    fn alert(&self, text: &str) -> Result<(), TmuxError> {
        drop(self.log(format!("alert {text}")));
        Ok(())
    }

    fn transcript(&self, pane: &PaneId, log: Option<&std::path::Path>) -> Result<(), TmuxError> {
        let mut world = self.log(format!("transcript {pane}"));
        let p = world.panes.get_mut(pane).ok_or_else(|| gone(pane))?;
        p.transcript = log.map(std::path::Path::to_path_buf);
        Ok(())
    }

    fn opening(&self, pane: &PaneId) -> Result<String, TmuxError> {
        let screen = self.capture(pane)?;
        Ok(crate::transcript::opening((80, 24), &screen, (0, 0), false))
    }
}

/// The profile that reads the fake agent's screens, with `interrupt` as its interrupt key.
pub fn profile(interrupt: Option<&str>) -> Profile {
    Profile {
        name: "fake".into(),
        description: "the fake agent of the tests".into(),
        command: vec![AGENT.into()],
        ready: Regex::new(r"(?m)^> $").expect("a regex"),
        input_pending: Some(Regex::new(r"(?m)^> \S").expect("a regex")),
        busy: Some(Regex::new("esc to interrupt").expect("a regex")),
        reset: Reset::Command("/clear".into()),
        reset_queues: false,
        settle: Duration::from_millis(10),
        enter_retries: 2,
        startup_timeout: Duration::from_secs(10),
        dialog: Some(Regex::new("Do you trust").expect("a regex")),
        rate_limited: Some(Regex::new("usage limit").expect("a regex")),
        rate_limit_reset: Some(Regex::new(r"resets (?<reset>\S+)").expect("a regex")),
        api_error: Some(Regex::new(r"API Error: (?<what>[^\n]*)").expect("a regex")),
        queued: None,
        interrupt: interrupt.map(str::to_string),
        quit: Some("/exit".into()),
        foreground: vec![AGENT.into()],
        verified: None,
        env: Default::default(),
    }
}
