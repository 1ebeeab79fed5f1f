//! A host that is this machine, for the remote workspace's unit tests: a stand-in `ssh`
//! runs the remote command with `sh` in a home directory of its own (git's own ssh calls
//! alike), or fails as ssh does while the host is "down".

use super::Workspace;
use crate::ssh::{ControlPath, Host, SystemSsh};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

pub struct FakeHost {
    root: PathBuf,
    _dir: tempfile::TempDir,
    pub ssh: Arc<SystemSsh>,
}

impl FakeHost {
    pub fn new() -> FakeHost {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::create_dir(root.join("home")).unwrap();
        let path = root.join("ssh");
        std::fs::write(
            &path,
            format!(
                "#!/bin/sh\ncase \"$*\" in *'-O exit'*) exit 0;; esac\n\
                 if [ -e {root}/down ]; then echo 'ssh: connect to host h1: Connection refused' >&2; exit 255; fi\n\
                 for a; do last=$a; done\n\
                 cd {root}/home && HOME={root}/home GIT_CONFIG_GLOBAL=/dev/null GIT_CONFIG_NOSYSTEM=1 exec sh -c \"$last\"\n",
                root = root.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let ssh = SystemSsh::with_program(path.into(), ControlPath::at(&root));
        FakeHost {
            root,
            _dir: dir,
            ssh: Arc::new(ssh),
        }
    }

    pub fn host(&self) -> Host {
        Host::new("h1", "h1", vec![]).unwrap()
    }

    /// The workspace `~/ws` on this host, for the repository at `repo`.
    pub fn workspace(&self, repo: &Path) -> Workspace {
        Workspace::new(self.ssh.clone(), self.host(), "~/ws", repo)
            .with_timeout(Duration::from_secs(20))
    }

    /// The host's home directory, as the coordinator sees it.
    pub fn home(&self) -> PathBuf {
        self.root.join("home")
    }

    /// Makes ssh fail (exit 255), or answer again.
    pub fn down(&self, down: bool) {
        let flag = self.root.join("down");
        match down {
            true => std::fs::write(flag, "").unwrap(),
            false => std::fs::remove_file(flag).unwrap(),
        }
    }
}
