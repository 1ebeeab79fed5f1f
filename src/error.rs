//! How an error ends a command: each error kind declares its exit code, and [`render`]
//! writes the message, the causes that add something, and the hints last.
//!
//! A hint is written one way: the last line of an error's message, `hint: ` and what to
//! do. Ad hoc errors get it from [`BadInput::hint`] or [`Failure::hint`]; a typed error
//! (a `thiserror` enum) ends its `#[error]` text with it.

use crate::agent::ProfileError;
use crate::config::ConfigError;
use crate::deliver::DeliveryError;
use crate::git::GitError;
use crate::git::check::CheckError;
use crate::journal::JournalError;
use crate::plan::PlanError;
use crate::prompt::PromptError;
use crate::remote::WorkspaceError;
use crate::remote::transcripts::PullError;
use crate::ssh::SshError;
use crate::tmux::TmuxError;
use std::error::Error;
use std::fmt;

/// How a command that an error ends exits. The order is gravity: the chain's gravest wins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Exit {
    /// Something went wrong while swarm worked (exit 1).
    Failure,
    /// The user's to fix: a bad plan, config, flag or environment (exit 2). Nothing was
    /// modified.
    BadInput,
}

impl Exit {
    /// The process exit code.
    pub fn code(self) -> u8 {
        match self {
            Exit::Failure => 1,
            Exit::BadInput => 2,
        }
    }

    /// The exit of a command that `err` ends: the gravest one declared in its chain, so a
    /// bad plan under any amount of context still exits 2.
    pub fn of(err: &anyhow::Error) -> Exit {
        err.chain()
            .filter_map(declared)
            .max()
            .unwrap_or(Exit::Failure)
    }
}

/// An error kind of swarm's, which says how a command that it ends exits.
pub trait Classify {
    fn exit(&self) -> Exit;
}

/// Lists every error kind of the crate, so that [`Exit::of`] can find it in an anyhow
/// chain; the test `every_error_kind_declares_its_exit` fails on one left out.
macro_rules! kinds {
    ($($kind:ident),* $(,)?) => {
        fn declared(cause: &(dyn Error + 'static)) -> Option<Exit> {
            $(
                if let Some(kind) = cause.downcast_ref::<$kind>() {
                    return Some(kind.exit());
                }
            )*
            None
        }

        #[cfg(test)]
        const KINDS: &[&str] = &[$(stringify!($kind)),*];
    };
}

kinds![
    BadInput,
    Failure,
    PlanError,
    ConfigError,
    PromptError,
    JournalError,
    TmuxError,
    ProfileError,
    DeliveryError,
    GitError,
    CheckError,
    SshError,
    WorkspaceError,
    PullError,
];

/// Bad input: what happened and where, plus a hint on how to fix it (exit 2).
#[derive(Debug)]
pub struct BadInput {
    pub message: String,
    pub hint: Option<String>,
}

impl BadInput {
    pub fn new(message: impl Into<String>) -> Self {
        BadInput {
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for BadInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hinted(f, &self.message, self.hint.as_deref())
    }
}

impl Error for BadInput {}

impl Classify for BadInput {
    fn exit(&self) -> Exit {
        Exit::BadInput
    }
}

/// Something swarm could not do, with a hint on what to try next (exit 1).
#[derive(Debug)]
pub struct Failure {
    pub message: String,
    pub hint: Option<String>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            message: message.into(),
            hint: None,
        }
    }

    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_hinted(f, &self.message, self.hint.as_deref())
    }
}

impl Error for Failure {}

impl Classify for Failure {
    fn exit(&self) -> Exit {
        Exit::Failure
    }
}

fn write_hinted(f: &mut fmt::Formatter<'_>, message: &str, hint: Option<&str>) -> fmt::Result {
    f.write_str(message)?;
    if let Some(hint) = hint {
        write!(f, "\n{HINT}{hint}")?;
    }
    Ok(())
}

/// How a hint line starts.
const HINT: &str = "hint: ";

/// The error as swarm prints it: the message, then each cause that says something the
/// text above does not (`cannot read: Is a directory` needs no `caused by: Is a
/// directory` under it), then every hint, last, whichever layer wrote it.
pub fn render(err: &anyhow::Error) -> String {
    let mut text = String::new();
    let mut hints: Vec<&str> = Vec::new();
    let links: Vec<String> = err.chain().map(ToString::to_string).collect();
    for (i, link) in links.iter().enumerate() {
        let (body, hinted): (Vec<&str>, Vec<&str>) =
            link.lines().partition(|line| !line.starts_with(HINT));
        for hint in hinted {
            if !hints.contains(&hint) {
                hints.push(hint);
            }
        }
        let body = body.join("\n");
        if i == 0 {
            text = body;
        } else if !body.is_empty() && !text.contains(&body) {
            text.push_str("\n  caused by: ");
            text.push_str(&body);
        }
    }
    for hint in hints {
        text.push('\n');
        text.push_str(hint);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn is_a_directory() -> std::io::Error {
        std::io::Error::from_raw_os_error(21)
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let err = anyhow::Error::from(PlanError::Io {
            path: PathBuf::from("PLAN.md"),
            source: is_a_directory(),
        });
        assert_eq!(
            render(&err),
            "PLAN.md: cannot read: Is a directory (os error 21)"
        );
    }

    #[test]
    fn a_cause_that_adds_something_is_kept() {
        let err = anyhow::Error::from(is_a_directory()).context("reading .swarm/state.json");
        assert_eq!(
            render(&err),
            "reading .swarm/state.json\n  caused by: Is a directory (os error 21)"
        );
    }

    #[test]
    fn hints_come_last_whichever_layer_wrote_them() {
        let err = anyhow::Error::from(BadInput::new("w3: no such worker").hint("`swarm workers`"))
            .context("sending to w3");
        assert_eq!(
            render(&err),
            "sending to w3\n  caused by: w3: no such worker\nhint: `swarm workers`"
        );
        let err = anyhow::Error::from(PlanError::Missing {
            path: PathBuf::from("PLAN.md"),
        })
        .context("loading the plan")
        .context("starting the run");
        let text = render(&err);
        assert!(text.ends_with("\nhint: create it, or run `swarm init` to write a sample"));
        assert_eq!(text.matches("hint: ").count(), 1, "{text}");
    }

    #[test]
    fn the_gravest_exit_in_the_chain_wins() {
        let plain = anyhow::anyhow!("tmux went away");
        assert_eq!(Exit::of(&plain), Exit::Failure);
        let bad = anyhow::Error::from(PlanError::Missing {
            path: PathBuf::from("PLAN.md"),
        })
        .context("loading the plan");
        assert_eq!(Exit::of(&bad).code(), 2);
        let failed = anyhow::Error::from(Failure::new("waited in vain").hint("look"));
        assert_eq!(Exit::of(&failed).code(), 1);
        let journal = JournalError::Io {
            path: PathBuf::from("j"),
            source: is_a_directory(),
        };
        assert_eq!(Exit::of(&journal.into()), Exit::Failure);
        assert_eq!(Exit::of(&TmuxError::Missing.into()), Exit::BadInput);
    }

    /// `kinds!` lists exactly the error types defined in `src/`, so none silently exits 1.
    #[test]
    fn every_error_kind_declares_its_exit() {
        let mut defined = Vec::new();
        collect_error_types(
            &PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src"),
            &mut defined,
        );
        for kind in KINDS {
            assert!(
                defined.iter().any(|(_, name)| name == kind),
                "kinds! lists `{kind}`, which no file defines: {defined:?}"
            );
        }
        for (file, name) in defined {
            assert!(
                KINDS.contains(&name.as_str()),
                "{file}: `{name}` is an error type that is missing from kinds! in src/error.rs"
            );
        }
    }

    /// (file, type) for each `thiserror::Error` derive and `impl … Error for` in `dir`.
    fn collect_error_types(dir: &std::path::Path, out: &mut Vec<(String, String)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                collect_error_types(&path, out);
                continue;
            }
            if path.extension().is_none_or(|x| x != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let mut derived = false;
            for line in text.lines().map(str::trim) {
                if line.starts_with("#[derive(") && line.contains("thiserror::Error") {
                    derived = true;
                } else if derived && !line.starts_with('#') && !line.starts_with("//") {
                    let name = line
                        .split_whitespace()
                        .skip_while(|w| !matches!(*w, "enum" | "struct"))
                        .nth(1);
                    if let Some(name) = name {
                        let name = name.trim_end_matches(['{', '(', ';']);
                        out.push((path.display().to_string(), name.to_string()));
                    }
                    derived = false;
                }
                let implemented = line
                    .strip_prefix("impl std::error::Error for ")
                    .or_else(|| line.strip_prefix("impl Error for "));
                if let Some(name) = implemented {
                    let name = name.trim_end_matches([' ', '{', '}']);
                    out.push((path.display().to_string(), name.to_string()));
                }
            }
        }
    }
}
