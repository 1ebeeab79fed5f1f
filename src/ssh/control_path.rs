//! Where the ControlMaster sockets live: a short directory of swarm's own, because a Unix
//! socket path has room for 108 bytes on Linux (104 on macOS), and ssh adds to it.

use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The longest socket path swarm lets ssh make: macOS's 104 bytes, less the terminating NUL.
const MAX_SOCKET_PATH: usize = 103;

/// `cm-` and `%C` expanded: a 40-character hash of the local host, remote host, port and
/// user.
const SOCKET_NAME_LEN: usize = 3 + 40;

/// While it binds, ssh names the socket `<path>.<16 random characters>` and then renames it.
const TEMP_SUFFIX_LEN: usize = 17;

/// The directory of the ControlMaster sockets, as ssh's `ControlPath=<dir>/cm-%C`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPath {
    dir: PathBuf,
}

impl ControlPath {
    /// The directory at `dir`, as it is (for tests and for [`ControlPath::prepare`]).
    pub fn at(dir: &Path) -> ControlPath {
        ControlPath {
            dir: dir.to_owned(),
        }
    }

    /// `$XDG_RUNTIME_DIR/swarm` if it is short enough, else `/tmp/swarm-<uid>`: made with
    /// mode 0700 if missing, and refused if someone else owns it.
    pub fn prepare() -> io::Result<ControlPath> {
        let uid = rustix::process::getuid().as_raw();
        // As for swarm's plan locks: a runtime directory that is not there is not used.
        let runtime = std::env::var_os("XDG_RUNTIME_DIR")
            .map(PathBuf::from)
            .filter(|dir| dir.is_dir());
        let dir = choose(runtime.as_deref(), uid);
        ensure_private(&dir, uid)?;
        Ok(ControlPath { dir })
    }

    /// The value of ssh's `ControlPath` option.
    pub fn pattern(&self) -> String {
        format!("{}/cm-%C", self.dir.display())
    }
}

/// The directory to use: under the runtime directory if the socket path fits and ssh would
/// read the directory as it is, else `/tmp/swarm-<uid>`.
fn choose(runtime: Option<&Path>, uid: u32) -> PathBuf {
    runtime
        .filter(|dir| dir.is_absolute())
        .map(|dir| dir.join("swarm"))
        .filter(|dir| fits(dir))
        .unwrap_or_else(|| PathBuf::from(format!("/tmp/swarm-{uid}")))
}

/// Whether ssh can bind a socket in `dir`: short enough with its temporary suffix, and
/// free of `%` (which ssh expands) and of spaces (which split an `-o` value).
fn fits(dir: &Path) -> bool {
    let text = dir.to_string_lossy();
    let len = text.len() + 1 + SOCKET_NAME_LEN + TEMP_SUFFIX_LEN;
    len <= MAX_SOCKET_PATH && !text.contains(['%', ' ', '\t', '\n', '"', '\''])
}

/// Makes `dir` (mode 0700) or checks that it is this user's alone: a socket in a directory
/// another user controls could be swapped for theirs.
fn ensure_private(dir: &Path, uid: u32) -> io::Result<()> {
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => return Ok(()),
        Err(err) if err.kind() == io::ErrorKind::AlreadyExists => {}
        Err(err) => return Err(err),
    }
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() || meta.uid() != uid {
        return Err(io::Error::other(format!(
            "{} is not a directory of this user's",
            dir.display()
        )));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn socket_len(dir: &Path) -> usize {
        dir.to_string_lossy().len() + 1 + SOCKET_NAME_LEN + TEMP_SUFFIX_LEN
    }

    #[test]
    fn the_runtime_directory_is_used_when_the_socket_fits() {
        let dir = choose(Some(Path::new("/run/user/1000")), 1000);
        assert_eq!(dir, Path::new("/run/user/1000/swarm"));
        assert!(socket_len(&dir) <= MAX_SOCKET_PATH);
    }

    #[test]
    fn a_deep_or_odd_runtime_directory_falls_back_to_tmp() {
        let deep = format!("/home/someone/{}", "very-long-directory-name/".repeat(3));
        for runtime in [deep.as_str(), "/run/user/%d", "/run/my user", "relative"] {
            let dir = choose(Some(Path::new(runtime)), 1000);
            assert_eq!(dir, Path::new("/tmp/swarm-1000"), "{runtime}");
        }
        assert_eq!(choose(None, 0), Path::new("/tmp/swarm-0"));
        // The fallback fits even for the largest uid.
        assert!(socket_len(&choose(None, u32::MAX)) <= MAX_SOCKET_PATH);
    }

    #[test]
    fn the_directory_is_made_private_and_a_file_in_its_place_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let uid = rustix::process::getuid().as_raw();
        let dir = tmp.path().join("swarm");
        ensure_private(&dir, uid).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        ensure_private(&dir, uid).unwrap();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let file = tmp.path().join("file");
        std::fs::write(&file, "").unwrap();
        assert!(ensure_private(&file, uid).is_err());
        assert!(ensure_private(&dir, uid.wrapping_add(1)).is_err());
    }
}
