//! The verify gate: a task's work lands only if swarm.toml's `verify` command passes in
//! its worktree. The command's output goes to a log, and its tail goes back to the agent
//! when it fails.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;
use wait_timeout::ChildExt;

/// How much of the log a failure carries: the last lines, and no more bytes than this,
/// so that a prompt stays readable.
const TAIL_LINES: usize = 40;
const TAIL_BYTES: usize = 4096;

/// How a verify run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Passed,
    /// It exited non-zero (`status` says how) and printed `tail` last.
    Failed {
        status: String,
        tail: String,
    },
    /// It ran longer than `after` and was killed, with everything it started.
    TimedOut {
        after: Duration,
        tail: String,
    },
}

/// Runs `sh -c command` in `dir`, its output (both streams) to `log`, killed with its
/// whole process group after `timeout`.
pub fn run(
    dir: &Path,
    command: &str,
    timeout: Option<Duration>,
    log: &Path,
) -> io::Result<Verdict> {
    if let Some(parent) = log.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let out = File::create(log)?;
    let err = out.try_clone()?;
    // Its own process group, so that a timeout kills what it started too (a test
    // runner's children, a `sleep &`), not only the shell. Without the caller's GIT_DIR
    // and the like, so that git inside it sees the worktree it runs in.
    let mut child = crate::git::scrub(&mut Command::new("sh"))
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()?;
    let group = rustix::process::Pid::from_child(&child);
    let status = match timeout {
        Some(after) => match child.wait_timeout(after)? {
            Some(status) => status,
            None => {
                kill_group(group)?;
                child.wait()?;
                return Ok(Verdict::TimedOut {
                    after,
                    tail: tail(log)?,
                });
            }
        },
        None => child.wait()?,
    };
    // What it left running in the background would hold the worktree (and its log)
    // past the verdict.
    kill_group(group)?;
    Ok(if status.success() {
        Verdict::Passed
    } else {
        Verdict::Failed {
            status: describe(status),
            tail: tail(log)?,
        }
    })
}

/// Sends SIGKILL to the process group `group`; one that is already gone is fine.
fn kill_group(group: rustix::process::Pid) -> io::Result<()> {
    match rustix::process::kill_process_group(group, rustix::process::Signal::KILL) {
        Ok(()) | Err(rustix::io::Errno::SRCH) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn describe(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit code {code}"),
        (None, Some(signal)) => format!("killed by signal {signal}"),
        (None, None) => status.to_string(),
    }
}

/// The last [`TAIL_LINES`] lines of `log`, at most [`TAIL_BYTES`] bytes, as text.
fn tail(log: &Path) -> io::Result<String> {
    let mut file = File::open(log)?;
    let len = file.metadata()?.len();
    let start = len.saturating_sub(TAIL_BYTES as u64);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    // Begun mid-file: drop the partial first line, if there is a whole one after it.
    if start > 0
        && let Some(newline) = bytes.iter().position(|b| *b == b'\n')
        && newline + 1 < bytes.len()
    {
        bytes.drain(..=newline);
    }
    let text = String::from_utf8_lossy(&bytes);
    let lines: Vec<&str> = text.lines().collect();
    let mut tail = lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n");
    // Invalid bytes become U+FFFD, three bytes each: cut from the front to fit again.
    while tail.len() > TAIL_BYTES {
        let cut = tail.char_indices().nth(1).map_or(tail.len(), |(i, _)| i);
        tail.drain(..cut);
    }
    Ok(tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    fn verify(command: &str, timeout: Option<Duration>) -> (Verdict, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("logs/t.1.verify.log");
        let verdict = run(dir.path(), command, timeout, &log).unwrap();
        (verdict, dir)
    }

    #[test]
    fn a_command_that_exits_zero_passes_in_the_directory_given() {
        let (verdict, dir) = verify("pwd; echo err >&2", None);
        assert_eq!(verdict, Verdict::Passed);
        let log = std::fs::read_to_string(dir.path().join("logs/t.1.verify.log")).unwrap();
        let here = dir.path().canonicalize().unwrap();
        assert_eq!(log, format!("{}\nerr\n", here.display()));
    }

    #[test]
    fn a_failure_carries_its_status_and_the_tail_of_both_streams() {
        let (verdict, _dir) = verify("echo one; echo two >&2; exit 3", None);
        assert_eq!(
            verdict,
            Verdict::Failed {
                status: "exit code 3".to_string(),
                tail: "one\ntwo".to_string()
            }
        );
    }

    #[test]
    fn the_tail_is_the_last_lines_and_bounded_in_bytes() {
        let (verdict, _dir) = verify("seq 1 1000; exit 1", None);
        let Verdict::Failed { tail, .. } = verdict else {
            panic!("{verdict:?}")
        };
        let expected: Vec<String> = (961..=1000).map(|n| n.to_string()).collect();
        assert_eq!(tail, expected.join("\n"));
        let (verdict, _dir) = verify("head -c 20000 /dev/urandom; exit 1", None);
        let Verdict::Failed { tail, .. } = verdict else {
            panic!("{verdict:?}")
        };
        assert!(tail.len() <= TAIL_BYTES, "{}", tail.len());
    }

    #[test]
    fn a_timeout_kills_the_whole_process_group() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("verify.log");
        let started = Instant::now();
        let verdict = run(
            dir.path(),
            "echo started; sleep 100 & echo $! > pid; wait",
            Some(Duration::from_millis(300)),
            &log,
        )
        .unwrap();
        assert!(started.elapsed() < Duration::from_secs(30));
        assert_eq!(
            verdict,
            Verdict::TimedOut {
                after: Duration::from_millis(300),
                tail: "started".to_string()
            }
        );
        let pid = std::fs::read_to_string(dir.path().join("pid")).unwrap();
        let proc = Path::new("/proc").join(pid.trim());
        // The killed `sleep` is reaped by init soon after: until then it is a zombie.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let state = std::fs::read_to_string(proc.join("stat")).ok();
            let gone = state.as_deref().is_none_or(|stat| {
                stat.rsplit(')')
                    .next()
                    .is_some_and(|rest| rest.trim_start().starts_with('Z'))
            });
            if gone {
                break;
            }
            assert!(Instant::now() < deadline, "sleep still runs: {state:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
