//! One git command, run the one way swarm runs them: in a given directory, with none of
//! the caller's repository-locating variables, in the C locale and never prompting.

use super::{GitError, Result};
use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

/// What `git rev-parse --local-env-vars` lists: variables that point git at a repository,
/// an index or objects. A swarm started from a git hook or alias inherits them, and they
/// would send every command to the caller's repository instead of the worktree given.
const LOCAL_ENV_VARS: &[&str] = &[
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_CONFIG",
    "GIT_CONFIG_PARAMETERS",
    "GIT_CONFIG_COUNT",
    "GIT_OBJECT_DIRECTORY",
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_IMPLICIT_WORK_TREE",
    "GIT_GRAFT_FILE",
    "GIT_INDEX_FILE",
    "GIT_NO_REPLACE_OBJECTS",
    "GIT_REPLACE_REF_BASE",
    "GIT_PREFIX",
    "GIT_SHALLOW_FILE",
    "GIT_COMMON_DIR",
];

/// Takes out of `cmd`'s environment the variables that point git at a repository, for
/// a command run in a worktree that may call git itself (the verify command).
pub(crate) fn scrub(cmd: &mut Command) -> &mut Command {
    for var in LOCAL_ENV_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// A git command being built: `git -C <dir> <args>`.
pub(crate) struct Call {
    cmd: Command,
    args: Vec<OsString>,
    stdin: Option<Vec<u8>>,
}

/// How a git command ended.
pub(crate) struct Out {
    /// The exit code; None if a signal ended it.
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Call {
    /// `git -C dir`, with a clean environment and `env` added (identity, test pinning).
    pub(crate) fn new(dir: &Path, env: &[(OsString, OsString)]) -> Call {
        let mut cmd = Command::new("git");
        scrub(cmd.arg("-C").arg(dir));
        // Messages are parsed (and shown) in English; nothing may wait for a person: a
        // credential prompt or an editor would hang a run that nobody watches.
        cmd.env("LC_ALL", "C")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_EDITOR", "true")
            .env("GIT_SEQUENCE_EDITOR", "true")
            .env("GIT_MERGE_AUTOEDIT", "no");
        cmd.envs(env.iter().map(|(k, v)| (k, v)));
        Call {
            cmd,
            args: Vec::new(),
            stdin: None,
        }
    }

    pub(crate) fn arg(mut self, arg: impl AsRef<OsStr>) -> Call {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    pub(crate) fn args<I, S>(mut self, args: I) -> Call
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Feeds `input` to the command's standard input.
    pub(crate) fn input(mut self, input: Vec<u8>) -> Call {
        self.stdin = Some(input);
        self
    }

    /// The arguments as a person would type them, for errors.
    fn line(&self) -> String {
        shell_words::join(self.args.iter().map(|a| a.to_string_lossy()))
    }

    /// Runs the command; an error only if git could not be run at all.
    pub(crate) fn output(mut self) -> Result<Out> {
        let line = self.line();
        let fail = |e: std::io::Error| GitError {
            args: line.clone(),
            message: format!("cannot run git: {e}"),
        };
        self.cmd
            .args(&self.args)
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.cmd.spawn().map_err(fail)?;
        // Written from another thread while this one reads: git may answer (check-ignore
        // does) before it has read all its input, and a full output pipe would then stop
        // it reading the rest.
        let writer = self.stdin.take().map(|input| {
            let mut stdin = child.stdin.take().expect("stdin is piped");
            std::thread::spawn(move || stdin.write_all(&input))
        });
        let out = child.wait_with_output().map_err(fail)?;
        if let Some(writer) = writer {
            // A write fails only when git stopped reading: its exit status says why.
            let _ = writer.join();
        }
        Ok(Out {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        })
    }

    /// Runs the command and returns its standard output, without the trailing newline;
    /// an error with what git said if it failed.
    pub(crate) fn ok(self) -> Result<String> {
        let line = self.line();
        let out = self.output()?;
        if out.code == Some(0) {
            Ok(out.stdout.trim_end_matches('\n').to_string())
        } else {
            Err(failed(line, &out))
        }
    }

    /// Runs a command that answers yes (0) or no (1); anything else is an error.
    pub(crate) fn test(self) -> Result<bool> {
        let line = self.line();
        let out = self.output()?;
        match out.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(failed(line, &out)),
        }
    }
}

/// The error for a command that exited non-zero: what git said on stderr (or stdout,
/// where commands such as `merge` report conflicts).
fn failed(args: String, out: &Out) -> GitError {
    let said = if out.stderr.trim().is_empty() {
        out.stdout.trim()
    } else {
        out.stderr.trim()
    };
    let message = match out.code {
        Some(code) if said.is_empty() => format!("exited with {code}"),
        None => format!("killed by a signal {said}").trim_end().to_string(),
        _ => said.to_string(),
    };
    GitError { args, message }
}
