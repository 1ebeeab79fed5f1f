//! Real git repositories in temporary directories for the git layer's tests, with the
//! configuration pinned: no test reads the user's ~/.gitconfig or /etc/gitconfig.

use super::Local;
use super::call::Call;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The variables every test git command runs with.
pub(crate) fn pinned_env() -> Vec<(OsString, OsString)> {
    vec![
        ("GIT_CONFIG_GLOBAL".into(), "/dev/null".into()),
        ("GIT_CONFIG_NOSYSTEM".into(), "1".into()),
    ]
}

/// A repository with one commit (`README`) on `main`.
pub(crate) struct Repo {
    _dir: tempfile::TempDir,
    pub path: PathBuf,
}

impl Repo {
    /// With an identity in the repository's config.
    pub(crate) fn new() -> Repo {
        Repo::init(true)
    }

    /// Without any identity: swarm must fall back to its own.
    pub(crate) fn anonymous() -> Repo {
        Repo::init(false)
    }

    fn init(identity: bool) -> Repo {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().canonicalize().unwrap().join("repo");
        std::fs::create_dir(&path).unwrap();
        let repo = Repo { _dir: dir, path };
        repo.git(&repo.path, &["init", "-q", "-b", "main"]);
        if identity {
            repo.git(&repo.path, &["config", "user.name", "Pat Person"]);
            repo.git(&repo.path, &["config", "user.email", "pat@example.com"]);
        }
        repo.write("README", "hello\n");
        repo.git(&repo.path, &["add", "README"]);
        let ident = [
            ("GIT_AUTHOR_NAME", "Init"),
            ("GIT_AUTHOR_EMAIL", "init@example.com"),
            ("GIT_COMMITTER_NAME", "Init"),
            ("GIT_COMMITTER_EMAIL", "init@example.com"),
        ];
        let mut env = pinned_env();
        env.extend(ident.iter().map(|(k, v)| ((*k).into(), (*v).into())));
        Call::new(&repo.path, &env)
            .args(["commit", "-q", "-m", "first"])
            .ok()
            .unwrap();
        repo
    }

    pub(crate) fn local(&self) -> Local {
        Local::with_env(&self.path, pinned_env())
    }

    /// Runs git in `dir`; panics if it fails.
    pub(crate) fn git(&self, dir: &Path, args: &[&str]) -> String {
        Call::new(dir, &pinned_env())
            .args(args)
            .ok()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    /// Runs git in `dir`; its exit code.
    pub(crate) fn git_code(&self, dir: &Path, args: &[&str]) -> Option<i32> {
        Call::new(dir, &pinned_env())
            .args(args)
            .output()
            .unwrap()
            .code
    }

    /// Writes `text` to `rel` under the repository's top level.
    pub(crate) fn write(&self, rel: &str, text: &str) {
        write(&self.path, rel, text);
    }

    /// The commit `rev` names.
    pub(crate) fn rev(&self, rev: &str) -> String {
        self.git(&self.path, &["rev-parse", rev])
    }

    /// A worktree path under `.swarm/worktrees/`.
    pub(crate) fn wt(&self, name: &str) -> PathBuf {
        self.path.join(".swarm/worktrees").join(name)
    }
}

/// Writes `text` to `rel` under `dir`, creating directories.
pub(crate) fn write(dir: &Path, rel: &str, text: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Appends `text` to `rel` under `dir`.
pub(crate) fn append(dir: &Path, rel: &str, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(dir.join(rel))
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}
