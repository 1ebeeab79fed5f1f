//! What a repository's files say without running git: where a worktree's HEAD points,
//! what a branch points at, which worktrees there are and what each has checked out,
//! and whether an index may hold a path. Between a sentinel and the next prompt a git
//! process costs 10 to 60 ms on a loaded machine, a file read well under one.
//!
//! Every answer is None ("ask git") wherever the files are not of the plain kind read
//! here: the reftable format, a symbolic ref other than HEAD, a worktree half added.

use super::listing::Listed;
use super::{Oid, is_oid};
use std::path::{Path, PathBuf};

/// The git directory of the working tree `wt`: its `.git` folder, or where its `.git`
/// file points (a linked worktree).
pub(crate) fn git_dir(wt: &Path) -> Option<PathBuf> {
    let dot_git = wt.join(".git");
    let meta = std::fs::symlink_metadata(&dot_git).ok()?;
    if meta.is_dir() {
        return Some(dot_git);
    }
    let text = std::fs::read_to_string(&dot_git).ok()?;
    let to = Path::new(
        text.strip_prefix("gitdir: ")?
            .trim_end_matches(['\n', '\r']),
    );
    Some(wt.join(to))
}

/// The directory a worktree's git directory shares with the others (refs, objects).
pub(crate) fn common_dir(git_dir: &Path) -> PathBuf {
    match std::fs::read_to_string(git_dir.join("commondir")) {
        Ok(text) => {
            let common = git_dir.join(text.trim_end_matches(['\n', '\r']));
            // `<common>/worktrees/<name>/../..`: its name must read `.git`.
            common.canonicalize().unwrap_or(common)
        }
        Err(_) => git_dir.to_path_buf(),
    }
}

/// What a HEAD file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Head {
    /// On this branch (`refs/heads/…`).
    Branch(String),
    Detached(Oid),
}

/// The HEAD of the worktree whose git directory is `git_dir`.
pub(crate) fn head(git_dir: &Path) -> Option<Head> {
    let text = std::fs::read_to_string(git_dir.join("HEAD")).ok()?;
    let text = text.trim_end_matches(['\n', '\r']);
    if let Some(target) = text.strip_prefix("ref: ") {
        return target
            .starts_with("refs/heads/")
            .then(|| Head::Branch(target.to_string()));
    }
    is_oid(text).then(|| Head::Detached(text.to_string()))
}

/// Detaches the worktree whose git directory is `git_dir` at `commit`, HEAD written the
/// way git writes it: to `HEAD.lock`, taken only if no git holds it, then renamed into
/// place. No reflog entry is added. False where git must do it (the reftable format, a
/// HEAD locked or not of the files kind); HEAD is then as it was.
pub(crate) fn detach(git_dir: &Path, commit: &str) -> bool {
    use std::io::Write;
    if !is_oid(commit) || common_dir(git_dir).join("reftable").exists() || head(git_dir).is_none() {
        return false;
    }
    let lock = git_dir.join("HEAD.lock");
    let Ok(mut file) = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&lock)
    else {
        return false;
    };
    let written = file.write_all(format!("{commit}\n").as_bytes()).is_ok()
        && std::fs::rename(&lock, git_dir.join("HEAD")).is_ok();
    if !written {
        let _ = std::fs::remove_file(&lock);
    }
    written
}

/// What branch `full` (`refs/heads/…`) points at: Some(None) when there is no such
/// branch, None when the files cannot tell.
pub(crate) fn branch(common: &Path, full: &str) -> Option<Option<Oid>> {
    if !full.starts_with("refs/heads/") || common.join("reftable").exists() {
        return None;
    }
    match std::fs::read_to_string(common.join(full)) {
        // git writes a ref to a lock file and renames it into place: a read sees the old
        // value or the new, never half of one.
        Ok(text) => {
            let text = text.trim_end_matches(['\n', '\r']);
            return is_oid(text).then(|| Some(text.to_string()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(_) => return None,
    }
    // Not loose: packed, or not there. `pack-refs` writes packed-refs before it deletes
    // the loose file, so a ref being packed is found in one or the other.
    let packed = match std::fs::read_to_string(common.join("packed-refs")) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(None),
        Err(_) => return None,
    };
    for line in packed.lines() {
        if line.starts_with('#') || line.starts_with('^') {
            continue;
        }
        let (oid, name) = line.split_once(' ')?;
        if name == full {
            return is_oid(oid).then(|| Some(oid.to_string()));
        }
    }
    Some(None)
}

/// Every working tree of the repository whose common directory is `common`, the main
/// one first, as `git worktree list` gives them.
pub(crate) fn worktrees(common: &Path) -> Option<Vec<Listed>> {
    // A repository whose main working tree is not the folder around its `.git` (bare,
    // or `core.worktree` set) is git's to list.
    if common.file_name()? != ".git" || std::fs::metadata(common.join("config.worktree")).is_ok() {
        return None;
    }
    let mut all = vec![Listed {
        path: common.parent()?.to_path_buf(),
        branch: branch_of(common)?,
    }];
    let linked = match std::fs::read_dir(common.join("worktrees")) {
        Ok(dir) => dir,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Some(all),
        Err(_) => return None,
    };
    for entry in linked {
        let admin = entry.ok()?.path();
        // As git lists them: a worktree being added or removed, its `gitdir` not (or no
        // longer) there, is left out; one whose HEAD is not there has no branch.
        let Ok(gitdir) = std::fs::read_to_string(admin.join("gitdir")) else {
            continue;
        };
        let dot_git = admin.join(gitdir.trim_end_matches(['\n', '\r']));
        all.push(Listed {
            path: dot_git.parent()?.to_path_buf(),
            branch: branch_of(&admin).flatten(),
        });
    }
    Some(all)
}

/// The branch the worktree whose git directory is `git_dir` has checked out.
fn branch_of(git_dir: &Path) -> Option<Option<String>> {
    Some(match head(git_dir)? {
        Head::Branch(branch) => Some(branch),
        Head::Detached(_) => None,
    })
}

/// Whether the index file at `index` may have an entry at one of `paths` (relative,
/// `/`-separated; one ending in `/` stands for everything under it). False only when
/// it surely has none: a version 2 or 3 index, not split, with none of them in it.
pub(crate) fn index_may_hold(index: &Path, paths: &[String]) -> bool {
    let Ok(bytes) = std::fs::read(index) else {
        return true;
    };
    let plain = bytes.len() >= 12
        && &bytes[..4] == b"DIRC"
        && matches!(bytes[4..8], [0, 0, 0, 2] | [0, 0, 0, 3]);
    // A split index keeps most entries in a shared file; its extension is `link`.
    if !plain || contains(&bytes, b"link") {
        return true;
    }
    paths.iter().any(|path| {
        // Entries hold their whole path, ended by NUL; a folder's entries start with it.
        let mut needle = path.as_bytes().to_vec();
        if !path.ends_with('/') {
            needle.push(0);
        }
        contains(&bytes, &needle)
    })
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    memchr::memmem::find(hay, needle).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::fixture::{Repo, write};

    #[test]
    fn heads_branches_and_worktrees_read_from_files_agree_with_git() {
        let repo = Repo::new();
        repo.git(&repo.path, &["branch", "side", "main"]);
        let wt = repo.wt("w1");
        repo.git(
            &repo.path,
            &["worktree", "add", "-q", wt.to_str().unwrap(), "side"],
        );
        let dir = git_dir(&wt).unwrap();
        let common = common_dir(&dir);
        assert_eq!(
            common.canonicalize().unwrap(),
            repo.path.join(".git").canonicalize().unwrap()
        );
        assert_eq!(head(&dir), Some(Head::Branch("refs/heads/side".into())));
        assert_eq!(
            branch(&common, "refs/heads/side"),
            Some(Some(repo.rev("side")))
        );
        assert_eq!(branch(&common, "refs/heads/none"), Some(None));
        repo.git(&repo.path, &["pack-refs", "--all"]);
        assert_eq!(
            branch(&common, "refs/heads/main"),
            Some(Some(repo.rev("main")))
        );
        let listed = worktrees(&common).unwrap();
        let branches: Vec<Option<&str>> = listed.iter().map(|l| l.branch.as_deref()).collect();
        assert_eq!(branches, [Some("refs/heads/main"), Some("refs/heads/side")]);
        assert_eq!(
            listed[1].path.canonicalize().unwrap(),
            wt.canonicalize().unwrap()
        );
    }

    #[test]
    fn detach_writes_head_as_git_does_and_leaves_a_locked_head_to_git() {
        let repo = Repo::new();
        let wt = repo.wt("w1");
        repo.git(
            &repo.path,
            &["worktree", "add", "-q", "-b", "side", wt.to_str().unwrap()],
        );
        let dir = git_dir(&wt).unwrap();
        let main = repo.rev("main");
        std::fs::write(dir.join("HEAD.lock"), "").unwrap();
        assert!(!detach(&dir, &main), "a git holds HEAD");
        assert_eq!(head(&dir), Some(Head::Branch("refs/heads/side".into())));
        std::fs::remove_file(dir.join("HEAD.lock")).unwrap();
        assert!(detach(&dir, &main));
        assert_eq!(repo.git(&wt, &["rev-parse", "HEAD"]), main);
        assert_eq!(repo.git_code(&wt, &["symbolic-ref", "-q", "HEAD"]), Some(1));
        assert!(!dir.join("HEAD.lock").exists());
    }

    #[test]
    fn an_index_is_known_not_to_hold_a_path_only_when_it_surely_does_not() {
        let repo = Repo::new();
        write(&repo.path, "docs/a.md", "a\n");
        repo.git(&repo.path, &["add", "docs/a.md"]);
        let index = repo.path.join(".git/index");
        let paths = |p: &[&str]| p.iter().map(|p| p.to_string()).collect::<Vec<_>>();
        assert!(index_may_hold(&index, &paths(&["docs/a.md"])));
        assert!(!index_may_hold(
            &index,
            &paths(&["docs/a.md.done", ".swarm/"])
        ));
        write(&repo.path, ".swarm/state.json", "{}");
        repo.git(&repo.path, &["add", "-f", ".swarm/state.json"]);
        assert!(index_may_hold(&index, &paths(&[".swarm/"])));
        assert!(index_may_hold(&repo.path.join(".git/none"), &[]));
    }
}
