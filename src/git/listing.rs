//! What `git worktree list --porcelain -z` says: each working tree of a repository, its
//! path and what it has checked out; and how two spellings of a path are compared.

use std::path::{Path, PathBuf};

/// One working tree, as git lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    pub path: PathBuf,
    /// The branch checked out (`refs/heads/…`); None when detached (or bare).
    pub branch: Option<String>,
}

/// Whether `path` is one of swarm's own worktrees (`.swarm/worktrees/<name>`, beside the
/// plan, wherever in the repository the plan is), rather than a person's.
pub(crate) fn is_swarms(path: &Path) -> bool {
    real(path)
        .parent()
        .is_some_and(|dir| dir.ends_with(".swarm/worktrees"))
}

/// The entries of `git worktree list --porcelain -z`: attributes separated by NUL, an
/// empty attribute between entries.
pub(crate) fn parse(out: &str) -> Vec<Listed> {
    let mut all = Vec::new();
    let mut current: Option<Listed> = None;
    for attr in out.split('\0') {
        if let Some(path) = attr.strip_prefix("worktree ") {
            all.extend(current.take());
            current = Some(Listed {
                path: PathBuf::from(path),
                branch: None,
            });
        } else if let Some(entry) = current.as_mut()
            && let Some(branch) = attr.strip_prefix("branch ")
        {
            entry.branch = Some(branch.to_string());
        }
    }
    all.extend(current);
    all
}

/// `path` with symbolic links and `..` resolved, as far as it exists: git records a
/// worktree's real path, while callers may name it through a link (macOS's /tmp) or name
/// one that no longer exists.
pub(crate) fn real(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    match (path.parent(), path.file_name()) {
        (Some(dir), Some(name)) if !dir.as_os_str().is_empty() => real(dir).join(name),
        _ => path.to_path_buf(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_split_at_the_empty_attribute() {
        let out = "worktree /r\0HEAD 1111\0branch refs/heads/main\0\0\
                   worktree /r/.swarm/worktrees/w1\0HEAD 2222\0detached\0\0\
                   worktree /gone\0HEAD 3333\0detached\0prunable gitdir file points to non-existent location\0\0";
        let listed = parse(out);
        assert_eq!(listed.len(), 3);
        assert_eq!(listed[0].branch.as_deref(), Some("refs/heads/main"));
        assert_eq!(listed[1].path, PathBuf::from("/r/.swarm/worktrees/w1"));
        assert_eq!(listed[1].branch, None);
        assert_eq!(listed[2].path, PathBuf::from("/gone"));
    }

    #[test]
    fn a_path_that_does_not_exist_is_resolved_as_far_as_it_does() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().canonicalize().unwrap();
        assert_eq!(real(&dir.path().join("a/b")), real_dir.join("a").join("b"));
    }
}
