//! Keeps swarm's own files (`.swarm/`, sentinels) out of `git status`: a block swarm
//! manages in the repository's `info/exclude`. Not the user's `.gitignore`, which is
//! theirs and committed; `info/exclude` is local, and shared by every worktree.

use super::call::Call;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// The lines that open and close swarm's block.
const BEGIN: &str = "# >>> swarm: its own files (managed by swarm; edit outside this block)";
const END: &str = "# <<< swarm";

/// Makes the swarm block of `repo`'s `info/exclude` hold `patterns` (gitignore patterns,
/// one a line; none removes the block). Every other line stays as it was, byte for byte;
/// the file is replaced atomically, and not written at all when nothing changes.
pub fn install(repo: &Path, patterns: &[String]) -> io::Result<()> {
    if let Some(bad) = patterns.iter().find(|p| p.contains(['\n', '\r'])) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("an ignore pattern cannot hold a line break: {bad:?}"),
        ));
    }
    let path = exclude_file(repo)?;
    let old = match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(e),
    };
    let new = rewrite(&old, patterns);
    if new == old {
        return Ok(());
    }
    let dir = path.parent().expect("info/exclude has a parent");
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::NamedTempFile::new_in(dir)?;
    temp.write_all(&new)?;
    temp.as_file().sync_all()?;
    temp.persist(&path).map_err(|e| e.error)?;
    Ok(())
}

/// `info/exclude` of the repository `repo` belongs to: in the common git directory, so
/// that a linked worktree finds the main repository's file.
fn exclude_file(repo: &Path) -> io::Result<PathBuf> {
    let common = Call::new(repo, &[])
        .args(["rev-parse", "--git-common-dir"])
        .ok()
        .map_err(io::Error::other)?;
    Ok(repo.join(common).join("info").join("exclude"))
}

/// `old` with swarm's block replaced (in place), added (at the end) or removed.
fn rewrite(old: &[u8], patterns: &[String]) -> Vec<u8> {
    let lines: Vec<&[u8]> = old.split_inclusive(|b| *b == b'\n').collect();
    let is = |line: &[u8], marker: &str| line.trim_ascii_end() == marker.as_bytes();
    let begin = lines.iter().position(|line| is(line, BEGIN));
    // Without its closing line (a hand edit), the block is the opening line alone, so
    // no line of the person's is taken for swarm's.
    let end = begin.map(|b| {
        lines[b + 1..]
            .iter()
            .position(|line| is(line, END))
            .map_or(b, |e| b + 1 + e)
    });
    let mut block = Vec::new();
    if !patterns.is_empty() {
        block.extend_from_slice(BEGIN.as_bytes());
        block.push(b'\n');
        for pattern in patterns {
            block.extend_from_slice(pattern.as_bytes());
            block.push(b'\n');
        }
        block.extend_from_slice(END.as_bytes());
        block.push(b'\n');
    }
    match (begin, end) {
        (Some(begin), Some(end)) => {
            let mut new = lines[..begin].concat();
            new.extend(block);
            new.extend(lines[end + 1..].concat());
            new
        }
        _ if block.is_empty() => old.to_vec(),
        _ => {
            let mut new = old.to_vec();
            if !new.is_empty() && !new.ends_with(b"\n") {
                new.push(b'\n');
            }
            new.extend(block);
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::git::Git;
    use crate::git::fixture::{Repo, write};
    use std::os::unix::fs::MetadataExt;

    fn patterns() -> Vec<String> {
        vec!["/.swarm/".to_string(), "/docs/auth.md.done".to_string()]
    }

    #[test]
    fn the_block_is_added_replaced_and_removed_and_the_persons_lines_kept() {
        let mine = b"# mine\n*.log\r\nbuild/";
        let added = rewrite(mine, &patterns());
        assert_eq!(
            String::from_utf8(added.clone()).unwrap(),
            format!("# mine\n*.log\r\nbuild/\n{BEGIN}\n/.swarm/\n/docs/auth.md.done\n{END}\n")
        );
        let mut around = added.clone();
        around.extend_from_slice(b"after\n");
        let replaced = rewrite(&around, &["/.swarm/".to_string()]);
        assert_eq!(
            String::from_utf8(replaced).unwrap(),
            format!("# mine\n*.log\r\nbuild/\n{BEGIN}\n/.swarm/\n{END}\nafter\n")
        );
        assert_eq!(rewrite(&around, &[]), b"# mine\n*.log\r\nbuild/\nafter\n");
        assert_eq!(rewrite(&added, &patterns()), added);
    }

    #[test]
    fn a_block_without_its_end_takes_none_of_the_persons_lines() {
        let old = format!("{BEGIN}\nmine\n");
        let new = rewrite(old.as_bytes(), &["/.swarm/".to_string()]);
        assert_eq!(
            String::from_utf8(new).unwrap(),
            format!("{BEGIN}\n/.swarm/\n{END}\nmine\n")
        );
    }

    #[test]
    fn install_is_idempotent_and_keeps_swarm_out_of_a_linked_worktrees_status() {
        let repo = Repo::new();
        let exclude = repo.path.join(".git/info/exclude");
        std::fs::write(&exclude, "# the person's\n*.tmp\n").unwrap();
        let git = repo.local();
        let wt = repo.wt("w1");
        git.ensure_worktree(&wt, "main").unwrap();
        install(&wt, &patterns()).unwrap();
        let text = std::fs::read_to_string(&exclude).unwrap();
        assert!(text.starts_with("# the person's\n*.tmp\n"), "{text}");
        assert!(text.contains("/docs/auth.md.done\n"), "{text}");
        let inode = std::fs::metadata(&exclude).unwrap().ino();
        install(&repo.path, &patterns()).unwrap();
        assert_eq!(
            std::fs::metadata(&exclude).unwrap().ino(),
            inode,
            "unchanged, so not rewritten"
        );
        write(&wt, ".swarm/state.json", "{}");
        write(&wt, "docs/auth.md.done", "");
        write(&wt, "docs/auth.md", "doc\n");
        let status = repo.git(&wt, &["status", "--porcelain", "--untracked-files=all"]);
        assert_eq!(status, "?? docs/auth.md");
    }
}
