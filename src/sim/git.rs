//! The simulator's git: `git rebase REF` when a retry prompt asks for it, resolving each
//! conflict as an agent would for an append-only file (the REF side's version plus the lines
//! the replayed commit added), or aborting the rebase when it cannot.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// More stops than any task branch has commits: a rebase still stopping after this many
/// is not going anywhere.
const MAX_STOPS: usize = 100;

/// What became of `git rebase REF`.
#[derive(Debug, PartialEq, Eq)]
pub enum Rebase {
    /// It applied without conflicts (or there was nothing to do).
    Clean,
    /// It stopped on conflicts in these files (repository paths, each once), all resolved.
    Resolved(Vec<String>),
    /// The working directory is not in a git repository.
    NotARepo,
    /// It could not be done; any rebase it started was aborted. Says why.
    Failed(String),
}

/// Runs `git rebase REF` in `dir`, resolving conflicts until the rebase is done.
pub fn rebase_and_resolve(dir: &Path, reference: &str) -> Rebase {
    match try_rebase(dir, reference) {
        Ok(Some(rebase)) => rebase,
        Ok(None) => Rebase::NotARepo,
        Err(err) => Rebase::Failed(err.to_string()),
    }
}

/// None when `dir` is not in a repository; an error after aborting when the rebase fails.
fn try_rebase(dir: &Path, reference: &str) -> io::Result<Option<Rebase>> {
    let top = git(dir, &["rev-parse", "--show-toplevel"])?;
    if !top.status.success() {
        return Ok(None);
    }
    let top = PathBuf::from(String::from_utf8_lossy(&top.stdout).trim_end_matches('\n'));
    let mut step = git(&top, &["rebase", reference])?;
    if !in_progress(&top)? {
        return match step.status.success() {
            true => Ok(Some(Rebase::Clean)),
            false => Err(failure(&step)),
        };
    }
    let mut resolved: Vec<String> = Vec::new();
    for _ in 0..MAX_STOPS {
        let files = conflicted(&top)?;
        if files.is_empty() {
            return Err(abort(&top, failure(&step)));
        }
        for file in files {
            if let Err(err) = resolve(&top, &file) {
                return Err(abort(&top, io::Error::other(format!("{file}: {err}"))));
            }
            if !resolved.contains(&file) {
                resolved.push(file);
            }
        }
        // A resolution that leaves the commit empty (REF already had its lines) is skipped,
        // as `git rebase --continue` itself advises.
        let nothing_staged = git(&top, &["diff", "--cached", "--quiet"])?
            .status
            .success();
        let next = if nothing_staged {
            "--skip"
        } else {
            "--continue"
        };
        step = git(&top, &["rebase", next])?;
        if !in_progress(&top)? {
            return match step.status.success() {
                true => Ok(Some(Rebase::Resolved(resolved))),
                false => Err(failure(&step)),
            };
        }
    }
    Err(abort(
        &top,
        io::Error::other(format!("still conflicting after {MAX_STOPS} stops")),
    ))
}

/// Resolves one conflicted file: the REF side's version, then each line the replayed commit
/// added that it lacks, staged. During a rebase stage 2 ("ours") is the REF side, being
/// built on, and stage 3 ("theirs") is the commit being replayed; stage 1 is their base.
fn resolve(top: &Path, file: &str) -> io::Result<()> {
    let missing = |side: &str| io::Error::other(format!("deleted on the {side} side"));
    let base = stage(top, 1, file)?.unwrap_or_default();
    let upstream = stage(top, 2, file)?.ok_or_else(|| missing("upstream"))?;
    let replayed = stage(top, 3, file)?.ok_or_else(|| missing("task's"))?;
    let added = minus(lines(&replayed), &lines(&base));
    let mut merged = upstream.clone();
    if !merged.is_empty() && !merged.ends_with('\n') {
        merged.push('\n');
    }
    for line in minus(added, &lines(&upstream)) {
        merged.push_str(line);
        merged.push('\n');
    }
    std::fs::write(top.join(file), merged)?;
    let add = git(top, &["add", "--", file])?;
    match add.status.success() {
        true => Ok(()),
        false => Err(failure(&add)),
    }
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// `from` without the lines of `taken`, each taken line cancelling one equal line.
fn minus<'a>(from: Vec<&'a str>, taken: &[&str]) -> Vec<&'a str> {
    let mut taken = taken.to_vec();
    from.into_iter()
        .filter(|line| match taken.iter().position(|t| t == line) {
            Some(at) => {
                taken.swap_remove(at);
                false
            }
            None => true,
        })
        .collect()
}

/// A conflicted file's version at `stage` (1 base, 2 ours, 3 theirs); None if absent.
fn stage(top: &Path, stage: u8, file: &str) -> io::Result<Option<String>> {
    let out = git(top, &["show", &format!(":{stage}:{file}")])?;
    if !out.status.success() {
        return Ok(None);
    }
    String::from_utf8(out.stdout)
        .map(Some)
        .map_err(|_| io::Error::other("not a text file"))
}

/// Files with unresolved conflicts, relative to the repository's top.
fn conflicted(top: &Path) -> io::Result<Vec<String>> {
    let out = git(top, &["diff", "--name-only", "--diff-filter=U", "-z"])?;
    if !out.status.success() {
        return Err(failure(&out));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split('\0')
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect())
}

/// Whether a rebase is stopped in this repository (either backend).
fn in_progress(top: &Path) -> io::Result<bool> {
    for dir in ["rebase-merge", "rebase-apply"] {
        let out = git(top, &["rev-parse", "--git-path", dir])?;
        let path = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && top.join(path.trim_end_matches('\n')).exists() {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Runs `git rebase --abort` and passes on `why`, saying if the abort failed too.
fn abort(top: &Path, why: io::Error) -> io::Error {
    match git(top, &["rebase", "--abort"]) {
        Ok(out) if out.status.success() => why,
        Ok(out) => io::Error::other(format!("{why}; git rebase --abort: {}", failure(&out))),
        Err(err) => io::Error::other(format!("{why}; git rebase --abort: {err}")),
    }
}

/// A failed git command's message: its stderr's first line, or its status.
fn failure(out: &Output) -> io::Error {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = [stderr, stdout]
        .into_iter()
        .flat_map(|text| {
            text.lines()
                .map(str::trim)
                .find(|l| !l.is_empty())
                .map(str::to_string)
        })
        .next();
    io::Error::other(line.unwrap_or_else(|| format!("git exited with {}", out.status)))
}

/// Runs git in `dir` with no terminal: the simulator owns the pane, so git may not prompt,
/// and a rebase's commit message is taken as it is.
fn git(dir: &Path, args: &[&str]) -> io::Result<Output> {
    let mut git = Command::new("git");
    git.args(args)
        .current_dir(dir)
        .env("GIT_EDITOR", "true")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null());
    // A rebase makes commits, and a machine without a git identity (CI) would refuse
    // them: the simulator then commits as itself, as swarm does.
    let known = Command::new("git")
        .args(["var", "GIT_COMMITTER_IDENT"])
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .is_ok_and(|out| out.status.success());
    if !known {
        for (key, value) in [
            ("GIT_AUTHOR_NAME", "swarm sim-agent"),
            ("GIT_AUTHOR_EMAIL", "sim-agent@localhost"),
            ("GIT_COMMITTER_NAME", "swarm sim-agent"),
            ("GIT_COMMITTER_EMAIL", "sim-agent@localhost"),
        ] {
            git.env(key, value);
        }
    }
    git.output()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A repository in a tempdir with an identity (CI has none) and a base commit.
    struct Repo {
        dir: tempfile::TempDir,
    }

    impl Repo {
        fn new() -> Repo {
            let repo = Repo {
                dir: tempfile::tempdir().unwrap(),
            };
            repo.git(&["init", "-q", "-b", "main"]);
            repo.git(&["config", "user.name", "Sim Test"]);
            repo.git(&["config", "user.email", "sim@example.invalid"]);
            repo.git(&["config", "commit.gpgsign", "false"]);
            repo.commit("shared.txt", "# shared\n", "base");
            repo
        }

        fn path(&self) -> &Path {
            self.dir.path()
        }

        fn git(&self, args: &[&str]) -> String {
            let out = git(self.path(), args).unwrap();
            assert!(out.status.success(), "git {args:?}: {}", failure(&out));
            String::from_utf8(out.stdout).unwrap()
        }

        fn read(&self, file: &str) -> String {
            std::fs::read_to_string(self.path().join(file)).unwrap()
        }

        fn commit(&self, file: &str, contents: &str, message: &str) {
            std::fs::write(self.path().join(file), contents).unwrap();
            self.git(&["add", "--", file]);
            self.git(&["commit", "-q", "-m", message]);
        }

        fn append(&self, file: &str, line: &str, message: &str) {
            let path = self.path().join(file);
            let old = std::fs::read_to_string(&path).unwrap_or_default();
            self.commit(file, &format!("{old}{line}\n"), message);
        }

        fn rev(&self, rev: &str) -> String {
            self.git(&["rev-parse", rev]).trim().to_string()
        }

        /// Branches `a` and `b` from the base, each appending its line to shared.txt, and
        /// `land` fast-forwarded to `a`; `b` checked out.
        fn two_appenders() -> Repo {
            let repo = Repo::new();
            repo.git(&["branch", "land"]);
            repo.git(&["checkout", "-q", "-b", "a"]);
            repo.append("shared.txt", "- a", "task a");
            repo.git(&["checkout", "-q", "-b", "b", "main"]);
            repo.append("shared.txt", "- b", "task b");
            repo.git(&["checkout", "-q", "land"]);
            repo.git(&["merge", "-q", "--ff-only", "a"]);
            repo.git(&["checkout", "-q", "b"]);
            repo
        }

        fn commits_since(&self, rev: &str) -> Vec<String> {
            let log = self.git(&["log", "--format=%s", &format!("{rev}..HEAD")]);
            log.lines().map(str::to_string).collect()
        }
    }

    #[test]
    fn conflicting_appends_keep_both_lines_land_first() {
        let repo = Repo::two_appenders();
        let outcome = rebase_and_resolve(repo.path(), "land");
        assert_eq!(outcome, Rebase::Resolved(vec!["shared.txt".into()]));
        assert!(!in_progress(repo.path()).unwrap());
        assert_eq!(repo.rev("HEAD^"), repo.rev("land"));
        assert_eq!(repo.commits_since("land"), ["task b"]);
        assert_eq!(repo.read("shared.txt"), "# shared\n- a\n- b\n");
        assert_eq!(repo.git(&["status", "--porcelain"]), "");
    }

    #[test]
    fn every_replayed_commit_is_resolved_in_turn() {
        let repo = Repo::two_appenders();
        repo.append("shared.txt", "- b2", "task b, more");
        repo.commit("other.txt", "untouched by land\n", "task b, another file");
        repo.git(&["checkout", "-q", "land"]);
        repo.append("shared.txt", "- c", "task c");
        repo.git(&["checkout", "-q", "b"]);
        let outcome = rebase_and_resolve(repo.path(), "land");
        assert_eq!(outcome, Rebase::Resolved(vec!["shared.txt".into()]));
        assert_eq!(
            repo.commits_since("land"),
            ["task b, another file", "task b, more", "task b"]
        );
        assert_eq!(repo.read("shared.txt"), "# shared\n- a\n- c\n- b\n- b2\n");
        assert_eq!(repo.read("other.txt"), "untouched by land\n");
    }

    #[test]
    fn a_commit_whose_lines_land_already_has_is_dropped() {
        let repo = Repo::two_appenders();
        repo.git(&["checkout", "-q", "land"]);
        repo.append("shared.txt", "- b", "task b, landed by someone else");
        repo.git(&["checkout", "-q", "b"]);
        let outcome = rebase_and_resolve(repo.path(), "land");
        assert_eq!(outcome, Rebase::Resolved(vec!["shared.txt".into()]));
        assert!(!in_progress(repo.path()).unwrap());
        assert_eq!(repo.rev("HEAD"), repo.rev("land"));
        assert_eq!(repo.read("shared.txt"), "# shared\n- a\n- b\n");
    }

    #[test]
    fn no_conflict_is_clean() {
        let repo = Repo::new();
        repo.git(&["checkout", "-q", "-b", "land"]);
        repo.commit("land.txt", "x\n", "landed");
        repo.git(&["checkout", "-q", "-b", "b", "main"]);
        repo.commit("b.txt", "y\n", "task b");
        assert_eq!(rebase_and_resolve(repo.path(), "land"), Rebase::Clean);
        assert_eq!(repo.rev("HEAD^"), repo.rev("land"));
    }

    #[test]
    fn a_deleted_file_cannot_be_resolved_and_the_rebase_is_aborted() {
        let repo = Repo::two_appenders();
        repo.git(&["checkout", "-q", "land"]);
        repo.git(&["rm", "-q", "shared.txt"]);
        repo.git(&["commit", "-q", "-m", "drop shared"]);
        repo.git(&["checkout", "-q", "b"]);
        let before = repo.rev("HEAD");
        let Rebase::Failed(why) = rebase_and_resolve(repo.path(), "land") else {
            panic!("the rebase should fail");
        };
        assert!(
            why.contains("shared.txt") && why.contains("deleted"),
            "{why}"
        );
        assert!(!in_progress(repo.path()).unwrap());
        assert_eq!(repo.rev("HEAD"), before);
        assert_eq!(repo.git(&["symbolic-ref", "--short", "HEAD"]).trim(), "b");
    }

    #[test]
    fn an_unknown_ref_fails_without_a_rebase() {
        let repo = Repo::new();
        let Rebase::Failed(why) = rebase_and_resolve(repo.path(), "nowhere") else {
            panic!("the rebase should fail");
        };
        assert!(why.contains("nowhere"), "{why}");
        assert!(!in_progress(repo.path()).unwrap());
    }

    #[test]
    fn outside_a_repository_nothing_is_run() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(rebase_and_resolve(dir.path(), "land"), Rebase::NotARepo);
    }

    #[test]
    fn a_subdirectory_works_from_the_top() {
        let repo = Repo::two_appenders();
        std::fs::create_dir(repo.path().join("sub")).unwrap();
        let outcome = rebase_and_resolve(&repo.path().join("sub"), "land");
        assert_eq!(outcome, Rebase::Resolved(vec!["shared.txt".into()]));
        assert_eq!(repo.read("shared.txt"), "# shared\n- a\n- b\n");
    }
}
