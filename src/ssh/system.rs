//! [`Remote`] over the system `ssh`: one process per call, sharing the host's
//! ControlMaster, killed at the call's timeout, with the master closed after a timeout
//! (a master whose network went silent would queue every later call for seconds).

use super::argv::{master_argv, ssh_argv, ssh_terminal_argv};
use super::{Backoff, ControlPath, Host, Output, Remote, SshError};
use crossbeam_channel::{Receiver, bounded};
use std::collections::HashMap;
use std::ffi::OsString;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// ssh's own exit status: it, not the remote command, failed.
const SSH_FAILED: i32 = 255;

/// How long `ssh -O exit` may take; it only talks to the local master.
const MASTER_EXIT_TIMEOUT: Duration = Duration::from_secs(3);

/// The longest a finished call waits for its output to drain: the master holds the pipes
/// until the remote session closes, which follows the exit at once on a live link.
const DRAIN_GRACE: Duration = Duration::from_secs(2);

/// The system `ssh`, with a backoff per host.
#[derive(Debug)]
pub struct SystemSsh {
    program: OsString,
    control: ControlPath,
    backoff: Mutex<HashMap<String, Backoff>>,
}

impl SystemSsh {
    /// `ssh` from PATH, with sockets in swarm's own ControlPath directory.
    pub fn new() -> std::io::Result<SystemSsh> {
        Ok(SystemSsh::with_program(
            "ssh".into(),
            ControlPath::prepare()?,
        ))
    }

    /// Another program in ssh's place (tests), with sockets in `control`.
    pub fn with_program(program: OsString, control: ControlPath) -> SystemSsh {
        SystemSsh {
            program,
            control,
            backoff: Mutex::new(HashMap::new()),
        }
    }

    /// Closes the host's master, if one runs; a later call opens a new one.
    pub fn exit_master(&self, host: &Host) {
        let mut cmd = Command::new(&self.program);
        cmd.args(master_argv(host, &self.control, "exit"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Ok(mut child) = cmd.spawn()
            && !matches!(child.wait_timeout(MASTER_EXIT_TIMEOUT), Ok(Some(_)))
        {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// An `ssh` process that runs `remote` on `host` for as long as it likes (a control-mode
    /// client, a watcher), with a terminal on the host when `terminal` (a person attaching).
    /// The caller sets up its pipes; exit 255 means the host, not the command, failed.
    pub fn command(&self, host: &Host, remote: &[&str], terminal: bool) -> Command {
        let argv = if terminal {
            ssh_terminal_argv(host, &self.control, remote)
        } else {
            ssh_argv(host, &self.control, remote)
        };
        let mut cmd = Command::new(&self.program);
        cmd.args(argv);
        cmd
    }

    /// How long `host` is still left alone after failing to answer; `None` when it may be
    /// tried now.
    pub fn backing_off(&self, host: &Host) -> Option<Duration> {
        let backoffs = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        backoffs
            .get(&host.name)
            .and_then(|b| b.wait(Instant::now()))
    }

    /// `host` answered on another channel (a control link attached again): calls to it
    /// are no longer held back.
    pub fn reached(&self, host: &Host) {
        let mut backoffs = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(backoff) = backoffs.get_mut(&host.name) {
            backoff.succeeded();
        }
    }

    /// `GIT_SSH_COMMAND` for a `git push` or `git fetch` to `host`: this ssh, over the
    /// host's master, with swarm's options and the person's.
    pub fn git_ssh_command(&self, host: &Host) -> String {
        super::git_ssh_command(&self.program.to_string_lossy(), host, &self.control)
    }

    fn unreachable(&self, host: &Host, why: String) -> SshError {
        let mut backoffs = self.backoff.lock().unwrap_or_else(|e| e.into_inner());
        backoffs
            .entry(host.name.clone())
            .or_default()
            .failed(Instant::now());
        SshError::HostUnreachable {
            host: host.name.clone(),
            why,
        }
    }
}

impl Remote for SystemSsh {
    fn exec(&self, host: &Host, argv: &[&str], timeout: Duration) -> Result<Output, SshError> {
        let (status, stdout, stderr) = self.call(host, argv, timeout)?;
        Ok(Output {
            status,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr,
        })
    }

    fn exec_bytes(
        &self,
        host: &Host,
        argv: &[&str],
        timeout: Duration,
    ) -> Result<(i32, Vec<u8>), SshError> {
        let (status, stdout, _) = self.call(host, argv, timeout)?;
        Ok((status, stdout))
    }
}

impl SystemSsh {
    /// One call: the remote command's status, its stdout as it wrote it, and its stderr.
    fn call(
        &self,
        host: &Host,
        argv: &[&str],
        timeout: Duration,
    ) -> Result<(i32, Vec<u8>, String), SshError> {
        if let Some(left) = self.backing_off(host) {
            return Err(SshError::HostUnreachable {
                host: host.name.clone(),
                why: format!(
                    "it did not answer a moment ago; next try in {:.1}s",
                    left.as_secs_f64()
                ),
            });
        }
        let started = Instant::now();
        let mut child = Command::new(&self.program)
            .args(ssh_argv(host, &self.control, argv))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|source| SshError::Spawn {
                program: self.program.to_string_lossy().into_owned(),
                source,
            })?;
        let stdout = drain(child.stdout.take());
        let stderr = drain(child.stderr.take());
        let status = match child.wait_timeout(timeout) {
            Ok(Some(status)) => status,
            Ok(None) | Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                self.exit_master(host);
                return Err(
                    self.unreachable(host, format!("no answer within {}s", timeout.as_secs_f64()))
                );
            }
        };
        let grace = timeout.saturating_sub(started.elapsed()).max(DRAIN_GRACE);
        let deadline = Instant::now() + grace;
        let stdout = collect(&stdout, deadline);
        let stderr = String::from_utf8_lossy(&collect(&stderr, deadline)).into_owned();
        let code = status.code();
        if code == Some(SSH_FAILED) || code.is_none() {
            // Only stderr says why: the argv may hold a prompt that does not belong in a log.
            let why = stderr
                .lines()
                .rev()
                .find(|line| !line.trim().is_empty())
                .map_or_else(|| format!("ssh ended with {status}"), str::to_owned);
            return Err(self.unreachable(host, why));
        }
        if let Some(backoff) = self
            .backoff
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&host.name)
        {
            backoff.succeeded();
        }
        Ok((code.unwrap_or(SSH_FAILED), stdout, stderr))
    }
}

/// Reads a pipe to its end on a thread of its own: a call must not wait on a pipe that a
/// hung master keeps open, so the thread is left behind if it does not finish in time.
fn drain(pipe: Option<impl Read + Send + 'static>) -> Receiver<Vec<u8>> {
    let (tx, rx) = bounded(1);
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            let _ = tx.send(bytes);
        });
    }
    rx
}

fn collect(rx: &Receiver<Vec<u8>>, deadline: Instant) -> Vec<u8> {
    rx.recv_deadline(deadline).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::Path;

    /// A stand-in for ssh: `script` runs with ssh's argv; `-O exit` always succeeds.
    fn fake_ssh(dir: &Path, script: &str) -> SystemSsh {
        let path = dir.join("ssh");
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\ncase \"$*\" in *'-O exit'*) echo exit >> {}/exits; exit 0;; esac\n{script}\n",
                dir.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        SystemSsh::with_program(path.into(), ControlPath::at(dir))
    }

    fn host() -> Host {
        Host::new("h1", "h1.lan", vec![]).unwrap()
    }

    #[test]
    fn the_remote_status_and_output_come_back() {
        let dir = tempfile::tempdir().unwrap();
        let ssh = fake_ssh(
            dir.path(),
            "for a; do last=$a; done; echo \"ran: $last\"; echo warn >&2; exit 3",
        );
        let out = ssh
            .exec(&host(), &["echo", "it's"], Duration::from_secs(10))
            .unwrap();
        assert_eq!(out.status, 3);
        assert_eq!(out.stdout, "ran: echo 'it'\\''s'\n");
        assert_eq!(out.stderr, "warn\n");
    }

    #[test]
    fn exit_255_is_an_unreachable_host_and_backs_off() {
        let dir = tempfile::tempdir().unwrap();
        let ssh = fake_ssh(
            dir.path(),
            "echo 'ssh: connect to host h1.lan port 22: Connection refused' >&2; exit 255",
        );
        let err = ssh
            .exec(&host(), &["true"], Duration::from_secs(10))
            .unwrap_err();
        assert!(err.is_unreachable());
        assert!(err.to_string().contains("Connection refused"), "{err}");
        // Right after, the host is left alone: no second ssh, an answer at once.
        let started = Instant::now();
        let err = ssh
            .exec(&host(), &["true"], Duration::from_secs(10))
            .unwrap_err();
        assert!(err.to_string().contains("next try in"), "{err}");
        assert!(started.elapsed() < Duration::from_millis(100));
        // Reached on another channel (a control link attached again): tried at once.
        assert!(ssh.backing_off(&host()).is_some());
        ssh.reached(&host());
        assert_eq!(ssh.backing_off(&host()), None);
    }

    #[test]
    fn a_call_that_does_not_answer_ends_at_its_timeout_and_closes_the_master() {
        let dir = tempfile::tempdir().unwrap();
        let ssh = fake_ssh(dir.path(), "exec sleep 30");
        let started = Instant::now();
        let err = ssh
            .exec(&host(), &["true"], Duration::from_millis(300))
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{:?}",
            started.elapsed()
        );
        assert!(err.is_unreachable());
        assert!(err.to_string().contains("no answer within 0.3s"), "{err}");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("exits")).unwrap(),
            "exit\n"
        );
    }

    #[test]
    fn a_missing_ssh_is_the_users_to_fix() {
        let dir = tempfile::tempdir().unwrap();
        let ssh = SystemSsh::with_program(
            dir.path().join("no-ssh").into(),
            ControlPath::at(dir.path()),
        );
        let err = ssh
            .exec(&host(), &["true"], Duration::from_secs(1))
            .unwrap_err();
        assert!(matches!(err, SshError::Spawn { .. }));
        use crate::error::Classify;
        assert_eq!(err.exit(), crate::error::Exit::BadInput);
    }
}
