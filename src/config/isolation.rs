//! swarm.toml's worktree keys: `isolation`, `verify`, `verify_timeout`, `land` and
//! `land_strategy`, read into what an isolated run needs (docs/architecture.md,
//! "Worktrees and landing").

use super::{Config, ConfigError, TimeSpec};
use crate::git::Strategy;
use std::time::Duration;

/// How long a verify command may run unless swarm.toml says.
pub const DEFAULT_VERIFY_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Where tasks run: `isolation` in swarm.toml, `--isolate` on the command line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum IsolationKind {
    /// Every agent works in the workspace itself.
    #[default]
    None,
    /// Each task runs in a git worktree of its own and lands through a merge queue.
    Worktree,
}

/// What an isolated run needs to know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Isolation {
    /// The branch finished tasks land on; unset, `swarm/<current branch>`.
    pub land: Option<String>,
    pub strategy: Strategy,
    /// A shell command that must pass in the task's worktree before it lands.
    pub verify: Option<String>,
    pub verify_timeout: Option<Duration>,
}

impl Config {
    /// The worktree settings, if tasks are isolated (`over` is `--isolate`).
    pub(super) fn isolation(
        &self,
        over: Option<IsolationKind>,
    ) -> Result<Option<Isolation>, ConfigError> {
        let kind = match over {
            Some(kind) => kind,
            None => match &self.isolation {
                None => IsolationKind::None,
                Some(value) => match value.get_ref().as_str() {
                    "none" => IsolationKind::None,
                    "worktree" => IsolationKind::Worktree,
                    other => {
                        return Err(self.invalid(
                            value.span(),
                            format!(
                                "isolation = {other:?} is not a kind of isolation\nhint: use \"none\" (every agent in this directory) or \"worktree\" (a git worktree per task)"
                            ),
                        ));
                    }
                },
            },
        };
        let strategy = match &self.land_strategy {
            None => Strategy::default(),
            Some(value) => match value.get_ref().as_str() {
                "rebase" => Strategy::Rebase,
                "merge" => Strategy::Merge,
                "squash" => Strategy::Squash,
                other => {
                    return Err(self.invalid(
                        value.span(),
                        format!(
                            "land_strategy = {other:?} is not a way to land\nhint: use \"rebase\", \"merge\" or \"squash\""
                        ),
                    ));
                }
            },
        };
        let verify = match &self.verify {
            Some(value) if value.get_ref().trim().is_empty() => {
                return Err(self.invalid(
                    value.span(),
                    "verify is empty\nhint: give a command, such as verify = \"cargo test -q\", or remove the line",
                ));
            }
            value => value.as_ref().map(|v| v.get_ref().clone()),
        };
        let verify_timeout = match &self.verify_timeout {
            None => Some(DEFAULT_VERIFY_TIMEOUT),
            Some(spec) => match spec.get_ref() {
                TimeSpec::Text(text) if text.trim().eq_ignore_ascii_case("none") => None,
                TimeSpec::Seconds(n) if *n > 0 => Some(Duration::from_secs(*n as u64)),
                TimeSpec::Text(text) => Some(crate::duration::parse(text).map_err(|why| {
                    self.invalid(spec.span(), format!("verify_timeout: {why}"))
                })?),
                TimeSpec::Seconds(n) => {
                    return Err(self.invalid(
                        spec.span(),
                        format!("verify_timeout = {n} is not a duration\nhint: use seconds above 0, \"10m\", or \"none\""),
                    ));
                }
            },
        };
        if kind == IsolationKind::None {
            let stray = [
                ("verify", self.verify.as_ref().map(|v| v.span())),
                ("land", self.land.as_ref().map(|v| v.span())),
            ];
            if let Some((key, Some(span))) = stray.into_iter().find(|(_, s)| s.is_some()) {
                return Err(self.invalid(
                    span,
                    format!(
                        "{key} needs tasks in worktrees of their own\nhint: add isolation = \"worktree\" to swarm.toml, or pass --isolate worktree"
                    ),
                ));
            }
            return Ok(None);
        }
        Ok(Some(Isolation {
            land: self.land.as_ref().map(|v| v.get_ref().clone()),
            strategy,
            verify,
            verify_timeout,
        }))
    }
}
