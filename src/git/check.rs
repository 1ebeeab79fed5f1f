//! The bad-input checks of `isolation = "worktree"`, made before a run changes anything:
//! a repository to work in, a landing branch that can be moved, `{out=…}` paths git will
//! commit, and a `verify` program that exists. Each error says what, where, and how to
//! fix it, and exits 2.

use super::call::Call;
use super::listing;
use super::{GitError, Oid};
use std::fmt;
use std::path::{Path, PathBuf};

/// Where finished tasks land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Landing {
    /// The repository's top-level directory.
    pub repo: PathBuf,
    /// The landing branch's short name.
    pub branch: String,
    /// Whether the branch exists yet.
    pub exists: bool,
    /// Where to make it from if it does not: the commit HEAD is at.
    pub base: Oid,
}

/// An `{out=…}` path that git ignores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredOut {
    pub task: String,
    /// The task's line in PLAN.md.
    pub line: usize,
    pub path: PathBuf,
    /// The rule that ignores it: `<file>:<line>: <pattern>`.
    pub rule: String,
}

/// A reason `isolation = "worktree"` cannot run here.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(
        "git is not installed, and `isolation = \"worktree\"` needs it\nhint: install git, or set `isolation = \"none\"` in swarm.toml"
    )]
    NoGit,
    #[error(
        "{}: not inside a git repository, and `isolation = \"worktree\"` needs one\nhint: run swarm in a git repository (`git init` makes one), or set `isolation = \"none\"` in swarm.toml",
        dir.display()
    )]
    NotARepo { dir: PathBuf },
    #[error(
        "{}: a bare repository has no working tree for tasks to start from\nhint: run swarm in a clone with a working tree",
        dir.display()
    )]
    Bare { dir: PathBuf },
    #[error(
        "{}: the repository has no commits yet, so there is nothing to start tasks from\nhint: make a first commit, e.g. `git commit --allow-empty -m init`",
        repo.display()
    )]
    Unborn { repo: PathBuf },
    #[error(
        "{}: HEAD is detached, so there is no branch to name the landing branch after\nhint: set `land = \"…\"` in swarm.toml or check out a branch",
        repo.display()
    )]
    Detached { repo: PathBuf },
    #[error(
        "swarm.toml: `land = \"{branch}\"` is not a valid branch name\nhint: see `git check-ref-format --help` for what a branch name may hold"
    )]
    BadBranch { branch: String },
    #[error(
        "the landing branch `{branch}` is checked out in {}: moving it would leave that working tree's index stale\nhint: check out another branch there or set `land` to a branch nobody has checked out",
        worktree.display()
    )]
    CheckedOut { branch: String, worktree: PathBuf },
    #[error("{}", Ignored(.0))]
    OutIgnored(Vec<IgnoredOut>),
    #[error(
        "verify: `{program}` is not a program on PATH\nhint: install it, or fix `verify` in swarm.toml"
    )]
    NoProgram { program: String },
    #[error("verify: {reason}\nhint: fix `verify` in swarm.toml")]
    BadCommand { reason: String },
    #[error("checking the repository: {0}")]
    Git(#[from] GitError),
}

impl crate::error::Classify for CheckError {
    /// Each is the user's to fix, but a git command failing for another reason.
    fn exit(&self) -> crate::error::Exit {
        match self {
            CheckError::Git(_) => crate::error::Exit::Failure,
            _ => crate::error::Exit::BadInput,
        }
    }
}

/// The message of [`CheckError::OutIgnored`]: one line per path, one hint.
struct Ignored<'a>(&'a [IgnoredOut]);

impl fmt::Display for Ignored<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for out in self.0 {
            writeln!(
                f,
                "PLAN.md:{}: task `{}` writes `{}`, which git ignores ({}), so its work would not be committed",
                out.line,
                out.task,
                out.path.display(),
                out.rule
            )?;
        }
        write!(
            f,
            "hint: write to a path git does not ignore, or un-ignore it (a `!` line after the rule)"
        )
    }
}

/// What `git -C dir args` prints, or why it failed.
fn git(dir: &Path, args: &[&str]) -> Result<std::result::Result<String, String>, CheckError> {
    let out = Call::new(dir, &[]).args(args).output().map_err(|e| {
        if e.message.contains("No such file") || e.message.contains("not found") {
            CheckError::NoGit
        } else {
            CheckError::Git(e)
        }
    })?;
    Ok(if out.code == Some(0) {
        Ok(out.stdout.trim_end_matches('\n').to_string())
    } else {
        Err(out.stderr.trim().to_string())
    })
}

/// The top level of the git repository `dir` is in, if it is in one.
pub fn toplevel(dir: &Path) -> Option<PathBuf> {
    match git(dir, &["rev-parse", "--show-toplevel"]) {
        Ok(Ok(top)) if !top.is_empty() => Some(PathBuf::from(top)),
        _ => None,
    }
}

/// Where finished tasks land for a run in `repo_dir`: `land`, or `swarm/<current
/// branch>` when unset. Modifies nothing.
pub fn landing(repo_dir: &Path, land: Option<&str>) -> Result<Landing, CheckError> {
    let repo = match git(repo_dir, &["rev-parse", "--show-toplevel"])? {
        Ok(top) => PathBuf::from(top),
        Err(said) if said.contains("not a git repository") || said.contains("cannot change to") => {
            return Err(CheckError::NotARepo {
                dir: repo_dir.to_path_buf(),
            });
        }
        Err(said) => {
            return Err(
                match git(repo_dir, &["rev-parse", "--is-bare-repository"])? {
                    Ok(bare) if bare == "true" => CheckError::Bare {
                        dir: repo_dir.to_path_buf(),
                    },
                    _ => CheckError::Git(GitError {
                        args: "rev-parse --show-toplevel".to_string(),
                        message: said,
                    }),
                },
            );
        }
    };
    let base = git(&repo, &["rev-parse", "--verify", "-q", "HEAD^{commit}"])?
        .map_err(|_| CheckError::Unborn { repo: repo.clone() })?;
    let branch = match land {
        Some(land) => land.strip_prefix("refs/heads/").unwrap_or(land).to_string(),
        None => {
            let current = git(&repo, &["symbolic-ref", "-q", "--short", "HEAD"])?
                .map_err(|_| CheckError::Detached { repo: repo.clone() })?;
            format!("swarm/{current}")
        }
    };
    let full = match git(&repo, &["check-ref-format", "--branch", &branch])? {
        Ok(name) if name == branch => format!("refs/heads/{branch}"),
        // `--branch` expands `@{-1}` and the like: not a name to create.
        _ => return Err(CheckError::BadBranch { branch }),
    };
    let exists = git(
        &repo,
        &["rev-parse", "--verify", "-q", &format!("{full}^{{commit}}")],
    )?
    .is_ok();
    let listed = git(&repo, &["worktree", "list", "--porcelain", "-z"])?.map_err(|said| {
        CheckError::Git(GitError {
            args: "worktree list --porcelain -z".to_string(),
            message: said,
        })
    })?;
    if let Some(entry) = listing::parse(&listed).into_iter().find(|entry| {
        entry.branch.as_deref() == Some(full.as_str()) && !listing::is_swarms(&entry.path)
    }) {
        return Err(CheckError::CheckedOut {
            branch,
            worktree: entry.path,
        });
    }
    Ok(Landing {
        repo,
        branch,
        exists,
        base,
    })
}

/// Checks that git ignores none of the `{out=…}` paths (task id, PLAN.md line, path
/// relative to `repo`): an ignored output would never be committed. One git command.
pub fn out_ignored(repo: &Path, outs: &[(String, usize, PathBuf)]) -> Result<(), CheckError> {
    if outs.is_empty() {
        return Ok(());
    }
    let mut input = Vec::new();
    for (_, _, path) in outs {
        input.extend_from_slice(path.as_os_str().as_encoded_bytes());
        input.push(0);
    }
    let out = Call::new(repo, &[])
        .args(["check-ignore", "-v", "-z", "--stdin"])
        .input(input)
        .output()?;
    if !matches!(out.code, Some(0 | 1)) {
        return Err(CheckError::Git(GitError {
            args: "check-ignore -v -z --stdin".to_string(),
            message: out.stderr.trim().to_string(),
        }));
    }
    // Records of four fields: source, line, pattern, path.
    let fields: Vec<&str> = out.stdout.split('\0').collect();
    let mut ignored = Vec::new();
    for record in fields.chunks_exact(4) {
        let [source, number, pattern, path] = [record[0], record[1], record[2], record[3]];
        if pattern.starts_with('!') {
            // A negated pattern matched: the path is not ignored.
            continue;
        }
        let Some((task, line, path)) = outs.iter().find(|(_, _, p)| p.as_os_str() == path) else {
            continue;
        };
        ignored.push(IgnoredOut {
            task: task.clone(),
            line: *line,
            path: path.clone(),
            rule: format!("{source}:{number}: `{pattern}`"),
        });
    }
    if ignored.is_empty() {
        Ok(())
    } else {
        ignored.sort_by_key(|out| out.line);
        Err(CheckError::OutIgnored(ignored))
    }
}

/// What `sh` runs without looking for a program: its builtins and reserved words.
const SHELL_OWN: &[&str] = &[
    ":", ".", "[", "alias", "bg", "break", "cd", "command", "continue", "echo", "eval", "exec",
    "exit", "export", "false", "fg", "getopts", "hash", "jobs", "kill", "local", "printf", "pwd",
    "read", "readonly", "return", "set", "shift", "test", "times", "trap", "true", "type",
    "ulimit", "umask", "unalias", "unset", "wait", "if", "while", "until", "for", "case", "{", "(",
    "!", "time",
];

/// Checks that the program `command` (run by `sh -c` in `dir`) starts is there: a shell
/// builtin, an executable file at a path, or a program on PATH.
pub fn verify_program(command: &str, dir: &Path) -> Result<(), CheckError> {
    let words = shell_words::split(command).map_err(|e| CheckError::BadCommand {
        reason: format!("cannot split `{command}` into words: {e}"),
    })?;
    let Some(program) = words.into_iter().find(|word| !is_assignment(word)) else {
        return Ok(());
    };
    if SHELL_OWN.contains(&program.as_str())
        || program.starts_with('(')
        || program.contains(['$', '`', '*', '?', '['])
    {
        // The shell's own, or a word only the shell can expand: nothing to look for.
        return Ok(());
    }
    let expanded = match (program.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => PathBuf::from(&program),
    };
    if program.contains('/') {
        let path = dir.join(&expanded);
        return match std::fs::metadata(&path) {
            Ok(meta) if meta.is_file() && is_executable(&meta) => Ok(()),
            Ok(_) => Err(CheckError::BadCommand {
                reason: format!("`{program}` is not an executable file (`chmod +x {program}`?)"),
            }),
            Err(_) => Err(CheckError::BadCommand {
                reason: format!("`{program}` does not exist (in {})", dir.display()),
            }),
        };
    }
    match which::which_in(&program, std::env::var_os("PATH"), dir) {
        Ok(_) => Ok(()),
        Err(_) => Err(CheckError::NoProgram { program }),
    }
}

/// `NAME=value`, which sh takes as a variable for the command, not as the command.
fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        let mut chars = name.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn is_executable(meta: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o111 != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Classify, Exit};
    use crate::git::fixture::Repo;

    /// Everything a check could change: refs, HEAD, index, worktrees, config.
    fn snapshot(repo: &Repo) -> String {
        [
            repo.git(&repo.path, &["for-each-ref"]),
            repo.git(
                &repo.path,
                &["status", "--porcelain", "--untracked-files=all"],
            ),
            repo.git(&repo.path, &["worktree", "list", "--porcelain"]),
            std::fs::read_to_string(repo.path.join(".git/HEAD")).unwrap(),
            std::fs::read_to_string(repo.path.join(".git/config")).unwrap(),
        ]
        .join("\n")
    }

    fn bad(err: CheckError) -> String {
        assert_eq!(err.exit(), Exit::BadInput, "{err}");
        err.to_string()
    }

    #[test]
    fn the_landing_branch_defaults_to_swarm_slash_the_current_one() {
        let repo = Repo::new();
        repo.git(&repo.path, &["branch", "integration"]);
        let before = snapshot(&repo);
        let landing = super::landing(&repo.path, None).unwrap();
        assert_eq!(
            landing,
            Landing {
                repo: repo.path.clone(),
                branch: "swarm/main".to_string(),
                exists: false,
                base: repo.rev("HEAD"),
            }
        );
        let landing = super::landing(&repo.path, Some("integration")).unwrap();
        assert!(landing.exists);
        assert_eq!(snapshot(&repo), before);
    }

    #[test]
    fn a_bare_repository_is_bad_input() {
        let repo = Repo::new();
        let bare = repo.path.with_file_name("bare.git");
        repo.git(
            &repo.path,
            &["clone", "-q", "--bare", ".", bare.to_str().unwrap()],
        );
        let text = bad(landing(&bare, None).unwrap_err());
        assert!(text.contains("a bare repository"), "{text}");
    }

    #[test]
    fn outside_a_repository_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let text = bad(landing(dir.path(), None).unwrap_err());
        assert!(text.contains("not inside a git repository"), "{text}");
        assert!(text.contains("hint: "), "{text}");
    }

    #[test]
    fn a_repository_without_commits_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        Call::new(dir.path(), &[])
            .args(["init", "-q"])
            .ok()
            .unwrap();
        let text = bad(landing(dir.path(), Some("land")).unwrap_err());
        assert!(text.contains("no commits yet"), "{text}");
    }

    #[test]
    fn a_detached_head_without_land_is_bad_input() {
        let repo = Repo::new();
        repo.git(&repo.path, &["checkout", "-q", "--detach"]);
        let before = snapshot(&repo);
        let text = bad(landing(&repo.path, None).unwrap_err());
        assert!(
            text.contains("hint: set `land = \"…\"` in swarm.toml or check out a branch"),
            "{text}"
        );
        assert!(landing(&repo.path, Some("swarm/land")).is_ok());
        assert_eq!(snapshot(&repo), before);
    }

    #[test]
    fn a_landing_branch_the_user_has_checked_out_is_bad_input() {
        let repo = Repo::new();
        let before = snapshot(&repo);
        let text = bad(landing(&repo.path, Some("main")).unwrap_err());
        assert!(text.contains("`main` is checked out in"), "{text}");
        assert!(text.contains("index stale"), "{text}");
        assert_eq!(snapshot(&repo), before);
        // In swarm's own landing worktree, it is not in the user's way.
        repo.git(&repo.path, &["branch", "swarm/main"]);
        repo.git(
            &repo.path,
            &[
                "worktree",
                "add",
                "-q",
                ".swarm/worktrees/land",
                "swarm/main",
            ],
        );
        assert!(landing(&repo.path, None).is_ok());
    }

    #[test]
    fn an_invalid_branch_name_is_bad_input() {
        let repo = Repo::new();
        let text = bad(landing(&repo.path, Some("no..dots")).unwrap_err());
        assert!(
            text.contains("`land = \"no..dots\"` is not a valid branch name"),
            "{text}"
        );
    }

    #[test]
    fn an_ignored_out_path_names_the_plan_line_and_the_rule() {
        let repo = Repo::new();
        repo.write(".gitignore", "*.log\n!keep.log\n");
        let outs = [
            ("notes".to_string(), 3, PathBuf::from("docs/notes.md")),
            ("log".to_string(), 7, PathBuf::from("out/run.log")),
            ("kept".to_string(), 9, PathBuf::from("keep.log")),
        ];
        let before = snapshot(&repo);
        let text = bad(out_ignored(&repo.path, &outs).unwrap_err());
        assert_eq!(
            text,
            "PLAN.md:7: task `log` writes `out/run.log`, which git ignores (.gitignore:1: `*.log`), so its work would not be committed\n\
             hint: write to a path git does not ignore, or un-ignore it (a `!` line after the rule)"
        );
        assert!(out_ignored(&repo.path, &outs[..1]).is_ok());
        assert_eq!(snapshot(&repo), before);
    }

    #[test]
    fn a_verify_program_that_is_not_there_is_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let text = bad(verify_program("FOO=1 cargo-tset -q", dir.path()).unwrap_err());
        assert!(
            text.starts_with("verify: `cargo-tset` is not a program on PATH\nhint: "),
            "{text}"
        );
        let text = bad(verify_program("./ci/test.sh", dir.path()).unwrap_err());
        assert!(text.contains("`./ci/test.sh` does not exist"), "{text}");
        let script = dir.path().join("ci/test.sh");
        std::fs::create_dir(script.parent().unwrap()).unwrap();
        std::fs::write(&script, "#!/bin/sh\n").unwrap();
        let text = bad(verify_program("./ci/test.sh", dir.path()).unwrap_err());
        assert!(text.contains("chmod +x ./ci/test.sh"), "{text}");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(verify_program("./ci/test.sh --all", dir.path()).is_ok());
        for fine in [
            "sh -c 'exit 0'",
            "FOO=1 true",
            "cd sub && make",
            "$CC --version",
            "",
        ] {
            assert!(verify_program(fine, dir.path()).is_ok(), "{fine}");
        }
    }
}
