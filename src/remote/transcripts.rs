//! Transcripts of panes on other hosts. `pipe-pane` writes each attempt's there, under
//! `<dir>/logs/` (the durable copy: it grows through a partition); the coordinator keeps
//! the copy people read, `.swarm/logs/<task>.<attempt>.log`: the transcript's opening,
//! written here as the recording starts, then the host's bytes, pulled. A pull asks the
//! host for what follows the bytes already here, so that it is idempotent: pulled twice,
//! or again after a cut, nothing is doubled and nothing skipped (docs/multihost.md).

use crate::ssh::{Host, Remote, SshError};
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The most one ssh call brings back: a long transcript comes in several, each well
/// within its timeout on a slow link (a call that times out closes the host's master,
/// and with it the run's link there).
const CHUNK: u64 = 256 << 10;

/// Where a local transcript's bytes come from, kept beside it (`Workspace::
/// transcript_origin`): `swarm logs` pulls from there too, while the attempt runs or
/// after the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The host's name in swarm.toml.
    pub host: String,
    /// The transcript on the host, absolute.
    pub path: String,
    /// The bytes of the local copy that are its opening, not the host's.
    pub opening: u64,
}

/// The transcript of `task`'s `attempt` on a host whose directory is `dir`.
pub fn host_path(dir: &str, task: &crate::plan::TaskId, attempt: u32) -> String {
    format!(
        "{}/logs/{}.log",
        dir.trim_end_matches('/'),
        super::attempt_name(task, attempt)
    )
}

/// Starts the local copy of a transcript recorded on a host: `opening`, then (pulled
/// later) the host's bytes from `path` there. A copy begun already is left as it is: the
/// same attempt recorded again (its prompt sent again after the host came back) goes on
/// in the same file there.
pub fn begin(
    local: &Path,
    origin_path: &Path,
    (host, path): (&str, &str),
    opening: &str,
) -> io::Result<()> {
    if read_origin(origin_path).is_some_and(|o| o.host == host && o.path == path) {
        return Ok(());
    }
    let origin = Origin {
        host: host.to_owned(),
        path: path.to_owned(),
        opening: opening.len() as u64,
    };
    // A new recording: whatever the file held is not its opening.
    let file = private(local, true)?;
    file.lock()?;
    (&file).write_all(opening.as_bytes())?;
    let json = serde_json::to_vec(&origin).map_err(io::Error::other)?;
    // Written aside and renamed: a reader never sees half an origin.
    let tmp = origin_path.with_extension("tmp");
    private(&tmp, true)?.write_all(&json)?;
    std::fs::rename(&tmp, origin_path)
}

/// Where the local transcript beside `origin_path` comes from, if from a host.
pub fn read_origin(origin_path: &Path) -> Option<Origin> {
    serde_json::from_slice(&std::fs::read(origin_path).ok()?).ok()
}

/// What a pull found.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error(transparent)]
    Unreachable(#[from] SshError),
    /// The host's copy is shorter than what was pulled from it: it was replaced.
    #[error(
        "{host}: its transcript {path} holds {has} bytes, fewer than the {pulled} already pulled; the copy here is kept as it is"
    )]
    Shrunk {
        host: String,
        path: String,
        has: u64,
        pulled: u64,
    },
    #[error("{host}: reading {path} failed: {why}")]
    Failed {
        host: String,
        path: String,
        why: String,
    },
    #[error("{}: {source}", path.display())]
    Local { path: PathBuf, source: io::Error },
}

impl crate::error::Classify for PullError {
    fn exit(&self) -> crate::error::Exit {
        match self {
            PullError::Unreachable(err) => err.exit(),
            _ => crate::error::Exit::Failure,
        }
    }
}

/// The host's side of a pull: the transcript's bytes from offset `$2` on, at most `$3`.
/// Exit 3: no transcript there yet; exit 4 with its size: shorter than `$2`.
const TAIL: &str = r#"[ -f "$1" ] || exit 3; size=$(($(wc -c < "$1"))); [ "$size" -ge "$2" ] || { echo "$size"; exit 4; }; tail -c +$(($2 + 1)) "$1" | head -c "$3""#;

/// Appends to `local` what the host's transcript holds beyond it; returns how many bytes
/// came. The local file is locked meanwhile, so that two pulls (the run's and a person's
/// `swarm logs`) never both append the same bytes.
pub fn pull(
    ssh: &dyn Remote,
    host: &Host,
    local: &Path,
    origin: &Origin,
    timeout: Duration,
) -> Result<u64, PullError> {
    let local_err = |source| PullError::Local {
        path: local.to_path_buf(),
        source,
    };
    let file = private(local, false).map_err(local_err)?;
    file.lock().map_err(local_err)?;
    let mut pulled = file
        .metadata()
        .map_err(local_err)?
        .len()
        .saturating_sub(origin.opening);
    let mut came = 0;
    loop {
        let (from, chunk) = (pulled.to_string(), CHUNK.to_string());
        let argv = ["sh", "-c", TAIL, "sh", &origin.path, &from, &chunk];
        let (status, bytes) = ssh.exec_bytes(host, &argv, timeout)?;
        match status {
            0 => {}
            3 => return Ok(came),
            4 => {
                return Err(PullError::Shrunk {
                    host: host.name.clone(),
                    path: origin.path.clone(),
                    has: String::from_utf8_lossy(&bytes).trim().parse().unwrap_or(0),
                    pulled,
                });
            }
            status => {
                return Err(PullError::Failed {
                    host: host.name.clone(),
                    path: origin.path.clone(),
                    why: format!("status {status}"),
                });
            }
        }
        (&file).write_all(&bytes).map_err(local_err)?;
        let n = bytes.len() as u64;
        (pulled, came) = (pulled + n, came + n);
        if n < CHUNK {
            return Ok(came);
        }
    }
}

/// `path` opened to append (or made), readable by the user only: what agents print can
/// hold secrets. With `fresh`, emptied first.
fn private(path: &Path, fresh: bool) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut options = std::fs::OpenOptions::new();
    options.create(true).mode(0o600);
    match fresh {
        true => options.write(true).truncate(true),
        false => options.append(true),
    };
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::TaskId;
    use crate::remote::fake_host::FakeHost;

    /// A transcript on the fake host, and the local copy's paths.
    struct Setup {
        host: FakeHost,
        _dir: tempfile::TempDir,
        local: PathBuf,
        origin: PathBuf,
        remote: PathBuf,
    }

    fn setup() -> Setup {
        let host = FakeHost::new();
        let dir = tempfile::tempdir().unwrap();
        let remote = host.home().join("ws/logs/t1.1.log");
        std::fs::create_dir_all(remote.parent().unwrap()).unwrap();
        Setup {
            local: dir.path().join("t1.1.log"),
            origin: dir.path().join("t1.1.origin.json"),
            remote,
            host,
            _dir: dir,
        }
    }

    fn append(path: &Path, bytes: &[u8]) {
        private(path, false).unwrap().write_all(bytes).unwrap();
    }

    #[test]
    fn the_host_path_names_the_attempt() {
        let task = TaskId("v1.2".into());
        assert_eq!(
            host_path("/root/work/", &task, 3),
            "/root/work/logs/v1.2.3.log"
        );
    }

    #[test]
    fn pulls_append_only_what_is_new_byte_for_byte() {
        let s = setup();
        let (host, ssh) = (s.host.host(), &*s.host.ssh);
        let path = s.remote.display().to_string();
        begin(&s.local, &s.origin, ("h1", &path), "OPENING").unwrap();
        let origin = read_origin(&s.origin).unwrap();
        assert_eq!(origin.opening, 7);
        let wait = Duration::from_secs(10);
        // Nothing on the host yet: nothing comes, and that is no error.
        assert_eq!(pull(ssh, &host, &s.local, &origin, wait).unwrap(), 0);
        // Bytes that are not UTF-8, and a character cut in two between pulls.
        let first = b"\x1b[1mhello\xff\xfe \xe2\x9c";
        append(&s.remote, first);
        assert_eq!(pull(ssh, &host, &s.local, &origin, wait).unwrap(), 14);
        assert_eq!(pull(ssh, &host, &s.local, &origin, wait).unwrap(), 0);
        append(&s.remote, b"\x93 done\r\n");
        assert_eq!(pull(ssh, &host, &s.local, &origin, wait).unwrap(), 8);
        let mut want = b"OPENING".to_vec();
        want.extend_from_slice(&std::fs::read(&s.remote).unwrap());
        assert_eq!(std::fs::read(&s.local).unwrap(), want);
        // Begun again (the prompt sent again): the copy goes on as it was.
        begin(&s.local, &s.origin, ("h1", &path), "OTHER OPENING").unwrap();
        assert_eq!(std::fs::read(&s.local).unwrap(), want);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&s.local).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    #[test]
    fn a_host_that_does_not_answer_leaves_the_copy_to_the_next_pull() {
        let s = setup();
        let (host, ssh) = (s.host.host(), &*s.host.ssh);
        let path = s.remote.display().to_string();
        begin(&s.local, &s.origin, ("h1", &path), "").unwrap();
        let origin = read_origin(&s.origin).unwrap();
        append(&s.remote, b"one ");
        pull(ssh, &host, &s.local, &origin, Duration::from_secs(10)).unwrap();
        append(&s.remote, b"two ");
        s.host.down(true);
        let err = pull(ssh, &host, &s.local, &origin, Duration::from_secs(10)).unwrap_err();
        assert!(matches!(err, PullError::Unreachable(_)), "{err}");
        append(&s.remote, b"three");
        s.host.down(false);
        // The transport backs off after a failure (0.5 s); the pull after it gets all
        // the rest.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while pull(ssh, &host, &s.local, &origin, Duration::from_secs(10)).is_err() {
            assert!(
                std::time::Instant::now() < deadline,
                "the host never answered"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        assert_eq!(std::fs::read(&s.local).unwrap(), b"one two three");
    }

    #[test]
    fn a_host_copy_shorter_than_what_came_is_refused() {
        let s = setup();
        let (host, ssh) = (s.host.host(), &*s.host.ssh);
        let path = s.remote.display().to_string();
        begin(&s.local, &s.origin, ("h1", &path), "").unwrap();
        let origin = read_origin(&s.origin).unwrap();
        append(&s.remote, b"0123456789");
        pull(ssh, &host, &s.local, &origin, Duration::from_secs(10)).unwrap();
        std::fs::write(&s.remote, b"new").unwrap();
        let err = pull(ssh, &host, &s.local, &origin, Duration::from_secs(10)).unwrap_err();
        assert!(
            matches!(
                err,
                PullError::Shrunk {
                    has: 3,
                    pulled: 10,
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(std::fs::read(&s.local).unwrap(), b"0123456789");
    }

    #[test]
    fn pulls_at_once_never_double_a_byte() {
        // More than one call brings back (`CHUNK`), four pulls at once.
        let s = setup();
        let path = s.remote.display().to_string();
        begin(&s.local, &s.origin, ("h1", &path), "").unwrap();
        let origin = read_origin(&s.origin).unwrap();
        let body: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        append(&s.remote, &body);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                scope.spawn(|| {
                    let (host, ssh) = (s.host.host(), &*s.host.ssh);
                    pull(ssh, &host, &s.local, &origin, Duration::from_secs(20)).unwrap();
                });
            }
        });
        assert_eq!(std::fs::read(&s.local).unwrap(), body);
    }
}
