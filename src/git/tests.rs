//! `Local` against real repositories: worktrees, commits, landing, and that nothing is
//! ever lost on the way.

use super::fixture::{Repo, append, write};
use super::*;
use crate::plan::TaskId;

fn trailers(task: &str, attempt: u32) -> Trailers {
    Trailers {
        task: TaskId(task.to_string()),
        attempt,
    }
}

/// A repository with the landing branch `swarm/main` at `main`, a landing worktree and
/// one worker worktree.
struct Run {
    repo: Repo,
    git: Local,
    land: PathBuf,
    w1: PathBuf,
}

const LAND: &str = "swarm/main";

impl Run {
    fn new() -> Run {
        let repo = Repo::new();
        repo.git(&repo.path, &["branch", LAND, "main"]);
        let git = repo.local();
        let land = repo.wt("land");
        let w1 = repo.wt("w1");
        git.ensure_worktree(&land, LAND).unwrap();
        git.ensure_worktree(&w1, LAND).unwrap();
        Run {
            repo,
            git,
            land,
            w1,
        }
    }

    /// The `swarm/salvage/…` branches, one per line.
    fn salvage_branches(&self) -> String {
        self.repo.git(
            &self.repo.path,
            &[
                "for-each-ref",
                "--format=%(refname:short)",
                "refs/heads/swarm/salvage/",
            ],
        )
    }

    /// Runs task `id` in `wt`: prepare, `work`, commit; the branch's head.
    fn task(&self, wt: &Path, id: &str, work: impl FnOnce(&Path)) -> Oid {
        let branch = format!("swarm/task/{id}");
        self.git.prepare(wt, &branch, LAND).unwrap();
        work(wt);
        match self
            .git
            .commit(wt, id, &trailers(id, 1), &[], LAND)
            .unwrap()
        {
            Committed::Changes { head } => head,
            Committed::Nothing => panic!("task {id} changed nothing"),
        }
    }

    fn integrate(&self, id: &str, strategy: Strategy) -> Integrated {
        self.git
            .integrate(
                &self.land,
                &format!("swarm/task/{id}"),
                LAND,
                strategy,
                &format!("land {id}"),
                &trailers(id, 1),
            )
            .unwrap()
    }

    /// Integrates and advances, the task's branch going with it; the new landing tip.
    fn land(&self, id: &str, strategy: Strategy) -> Oid {
        let branch = format!("swarm/task/{id}");
        match self.integrate(id, strategy) {
            Integrated::Ready { head, onto, from } => {
                let landed = [(branch.as_str(), &from)];
                let advanced = self.git.advance(LAND, &head, &onto, &landed).unwrap();
                assert_eq!(advanced, Advanced::Moved);
                head
            }
            other => panic!("{id}: {other:?}"),
        }
    }

    fn status(&self, wt: &Path) -> String {
        self.repo
            .git(wt, &["status", "--porcelain", "--untracked-files=all"])
    }

    fn is_detached(&self, wt: &Path) -> bool {
        self.repo.git_code(wt, &["symbolic-ref", "-q", "HEAD"]) == Some(1)
    }

    fn in_progress(&self, wt: &Path) -> bool {
        ["rebase-merge", "rebase-apply", "MERGE_HEAD"]
            .iter()
            .any(|state| {
                let path = self.repo.git(wt, &["rev-parse", "--git-path", state]);
                wt.join(path).exists()
            })
    }

    fn show(&self, rev: &str, path: &str) -> String {
        self.repo
            .git(&self.repo.path, &["show", &format!("{rev}:{path}")])
    }
}

#[test]
fn prepare_makes_a_fresh_branch_from_the_base_then_resumes_it() {
    let run = Run::new();
    let tip = run.repo.rev(LAND);
    let prepared = run.git.prepare(&run.w1, "swarm/task/a", LAND).unwrap();
    assert_eq!(prepared, Prepared::Fresh { base: tip.clone() });
    write(&run.w1, "a.txt", "a\n");
    let head = match run.git.commit(&run.w1, "A", &trailers("a", 1), &[], LAND) {
        Ok(Committed::Changes { head }) => head,
        other => panic!("{other:?}"),
    };
    assert!(run.is_detached(&run.w1));
    let prepared = run.git.prepare(&run.w1, "swarm/task/a", LAND).unwrap();
    assert_eq!(prepared, Prepared::Resumed { head });
    assert_eq!(
        run.repo.git(&run.w1, &["symbolic-ref", "HEAD"]),
        "refs/heads/swarm/task/a"
    );
}

#[test]
fn a_retry_on_another_worker_takes_the_branch_from_the_worktree_that_had_it() {
    let run = Run::new();
    run.git.prepare(&run.w1, "swarm/task/a", LAND).unwrap();
    write(&run.w1, "half.txt", "half done\n");
    // The attempt on w1 timed out; attempt 2 goes to w2.
    let w2 = run.repo.wt("w2");
    run.git.ensure_worktree(&w2, LAND).unwrap();
    let prepared = run.git.prepare(&w2, "swarm/task/a", LAND).unwrap();
    assert!(matches!(prepared, Prepared::Resumed { .. }), "{prepared:?}");
    assert_eq!(
        std::fs::read_to_string(w2.join("half.txt")).unwrap(),
        "half done\n"
    );
    assert!(run.is_detached(&run.w1));
    assert_eq!(run.status(&run.w1), "");
}

#[test]
fn prepare_commits_what_an_attempt_left_to_its_task_branch() {
    let run = Run::new();
    run.git.prepare(&run.w1, "swarm/task/a", LAND).unwrap();
    write(&run.w1, "half.txt", "half done\n");
    // The attempt never reached `commit` (a crash); the next task comes to the worker.
    run.git.prepare(&run.w1, "swarm/task/b", LAND).unwrap();
    assert_eq!(run.show("swarm/task/a", "half.txt"), "half done");
    assert_eq!(run.status(&run.w1), "");
}

#[test]
fn prepare_says_where_a_branch_is_checked_out_in_a_persons_worktree() {
    let run = Run::new();
    run.git.prepare(&run.w1, "swarm/task/a", LAND).unwrap();
    run.git
        .commit(&run.w1, "A", &trailers("a", 1), &[], LAND)
        .unwrap();
    // A person checks the task's branch out in a worktree of their own to look at it.
    let mine = run.repo.path.parent().unwrap().join("mine");
    let mine_arg = mine.display().to_string();
    run.repo.git(
        &run.repo.path,
        &["worktree", "add", "-q", &mine_arg, "swarm/task/a"],
    );
    let w2 = run.repo.wt("w2");
    run.git.ensure_worktree(&w2, LAND).unwrap();
    let err = run.git.prepare(&w2, "swarm/task/a", LAND).unwrap_err();
    assert!(err.message.contains("already used by worktree"), "{err}");
    assert!(err.message.contains("mine"), "{err}");
    assert_eq!(
        run.repo.git(&mine, &["symbolic-ref", "HEAD"]),
        "refs/heads/swarm/task/a",
        "their checkout is theirs"
    );
}

#[test]
fn salvage_branches_made_in_the_same_second_do_not_collide() {
    let run = Run::new();
    for text in ["one\n", "two\n"] {
        write(&run.w1, "stray.txt", text);
        run.git.ensure_worktree(&run.w1, LAND).unwrap();
    }
    let salvaged = run.salvage_branches();
    let texts: Vec<String> = salvaged
        .lines()
        .map(|branch| run.show(branch, "stray.txt"))
        .collect();
    assert_eq!(texts.len(), 2, "{salvaged}");
    assert!(texts.contains(&"one".to_string()) && texts.contains(&"two".to_string()));
}

#[test]
fn leftovers_in_a_detached_worktree_go_to_a_salvage_branch() {
    let run = Run::new();
    write(&run.w1, "stray.txt", "someone's work\n");
    run.git.prepare(&run.w1, "swarm/task/a", LAND).unwrap();
    let salvage = run.salvage_branches();
    assert!(salvage.starts_with("swarm/salvage/w1-"), "{salvage}");
    assert_eq!(run.show(&salvage, "stray.txt"), "someone's work");
    assert!(
        !run.w1.join("stray.txt").exists(),
        "the task branch starts clean"
    );
}

#[test]
fn commit_excludes_swarm_files_and_sentinels_and_keeps_the_agents_commits() {
    let run = Run::new();
    let Prepared::Fresh { base } = run.git.prepare(&run.w1, "swarm/task/auth", LAND).unwrap()
    else {
        panic!("not fresh")
    };
    write(&run.w1, "own.txt", "committed by the agent\n");
    run.repo.git(&run.w1, &["add", "own.txt"]);
    run.repo
        .git(&run.w1, &["commit", "-q", "-m", "agent's own"]);
    write(&run.w1, "docs/auth.md", "the doc\n");
    write(&run.w1, "docs/auth.md.done", "");
    write(&run.w1, ".swarm/state.json", "{}");
    let committed = run
        .git
        .commit(
            &run.w1,
            "Write the auth doc",
            &trailers("auth", 2),
            &[PathBuf::from("docs/auth.md.done")],
            LAND,
        )
        .unwrap();
    let Committed::Changes { head } = committed else {
        panic!("{committed:?}")
    };
    let files = run.repo.git(
        &run.repo.path,
        &[
            "log",
            "--name-only",
            "--format=",
            &format!("{base}..{head}"),
        ],
    );
    let mut files: Vec<&str> = files.lines().filter(|l| !l.is_empty()).collect();
    files.sort();
    assert_eq!(files, ["docs/auth.md", "own.txt"]);
    let subjects = run.repo.git(
        &run.repo.path,
        &["log", "--format=%s", &format!("{base}..{head}")],
    );
    assert_eq!(subjects, "Write the auth doc\nagent's own");
    let task = run.repo.git(
        &run.repo.path,
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Swarm-Task,valueonly)",
            &head,
        ],
    );
    let attempt = run.repo.git(
        &run.repo.path,
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Swarm-Attempt,valueonly)",
            &head,
        ],
    );
    assert_eq!((task.trim(), attempt.trim()), ("auth", "2"));
    assert!(run.is_detached(&run.w1));
    assert!(
        run.w1.join("docs/auth.md.done").exists(),
        "left where it was"
    );
}

#[test]
fn a_task_that_changed_nothing_commits_nothing() {
    let run = Run::new();
    let Prepared::Fresh { base } = run.git.prepare(&run.w1, "swarm/task/a", LAND).unwrap() else {
        panic!("not fresh")
    };
    write(&run.w1, "a.md.done", "");
    let committed = run
        .git
        .commit(
            &run.w1,
            "A",
            &trailers("a", 1),
            &[PathBuf::from("a.md.done")],
            LAND,
        )
        .unwrap();
    assert_eq!(committed, Committed::Nothing);
    assert_eq!(run.repo.rev("swarm/task/a"), base);
}

#[test]
fn commit_repeated_after_a_crash_gives_the_same_answer() {
    let run = Run::new();
    run.git.prepare(&run.w1, "swarm/task/a", LAND).unwrap();
    write(&run.w1, "a.txt", "a\n");
    let first = run
        .git
        .commit(&run.w1, "A", &trailers("a", 1), &[], LAND)
        .unwrap();
    let again = run
        .git
        .commit(&run.w1, "A", &trailers("a", 1), &[], LAND)
        .unwrap();
    assert_eq!(first, again);
}

#[test]
fn commit_works_without_any_git_identity() {
    let repo = Repo::anonymous();
    let git = repo.local();
    let wt = repo.wt("w1");
    git.ensure_worktree(&wt, "main").unwrap();
    git.prepare(&wt, "swarm/task/a", "main").unwrap();
    write(&wt, "a.txt", "a\n");
    let Committed::Changes { head } = git
        .commit(&wt, "A", &trailers("a", 1), &[], "main")
        .unwrap()
    else {
        panic!("nothing committed")
    };
    let who = repo.git(&repo.path, &["log", "-1", "--format=%an <%ae>", &head]);
    assert_eq!(who, "swarm <swarm@localhost>");
}

#[test]
fn commit_uses_the_users_identity_where_there_is_one() {
    let run = Run::new();
    let head = run.task(&run.w1, "a", |wt| write(wt, "a.txt", "a\n"));
    let who = run
        .repo
        .git(&run.repo.path, &["log", "-1", "--format=%an <%ae>", &head]);
    assert_eq!(who, "Pat Person <pat@example.com>");
}

#[test]
fn rebase_puts_a_branch_on_the_moved_tip_and_lands_it() {
    let run = Run::new();
    let w2 = run.repo.wt("w2");
    run.git.ensure_worktree(&w2, LAND).unwrap();
    run.task(&run.w1, "a", |wt| write(wt, "a.txt", "a\n"));
    run.task(&w2, "b", |wt| write(wt, "b.txt", "b\n"));
    let a = run.land("a", Strategy::Rebase);
    let b = run.land("b", Strategy::Rebase);
    assert_eq!(run.repo.rev(LAND), b);
    assert_eq!(
        run.git.tip("swarm/task/b").unwrap(),
        None,
        "the branch went"
    );
    assert_eq!(run.repo.rev(&format!("{b}^")), a, "linear history");
    assert_eq!(run.show(LAND, "a.txt"), "a");
    assert!(run.is_detached(&run.land));
    assert_eq!(run.status(&run.land), "");
}

#[test]
fn a_conflict_is_named_and_aborted_cleanly() {
    let run = Run::new();
    let w2 = run.repo.wt("w2");
    run.git.ensure_worktree(&w2, LAND).unwrap();
    run.task(&run.w1, "a", |wt| append(wt, "shared.txt", "from a\n"));
    let b = run.task(&w2, "b", |wt| append(wt, "shared.txt", "from b\n"));
    let landed = run.land("a", Strategy::Rebase);
    for strategy in [Strategy::Rebase, Strategy::Merge, Strategy::Squash] {
        assert_eq!(
            run.integrate("b", strategy),
            Integrated::Conflict {
                files: vec!["shared.txt".to_string()]
            },
            "{strategy:?}"
        );
        assert_eq!(run.status(&run.land), "", "{strategy:?}");
        assert!(run.is_detached(&run.land), "{strategy:?}");
        assert!(!run.in_progress(&run.land), "{strategy:?}");
        assert_eq!(run.repo.rev("swarm/task/b"), b, "the branch is untouched");
        assert_eq!(run.repo.rev(LAND), landed);
    }
}

#[test]
fn a_change_already_on_the_tip_is_empty() {
    let run = Run::new();
    let w2 = run.repo.wt("w2");
    run.git.ensure_worktree(&w2, LAND).unwrap();
    run.task(&run.w1, "a", |wt| write(wt, "same.txt", "same\n"));
    let b = run.task(&w2, "b", |wt| write(wt, "same.txt", "same\n"));
    run.land("a", Strategy::Rebase);
    assert_eq!(run.integrate("a", Strategy::Rebase), Integrated::Gone);
    for strategy in [Strategy::Rebase, Strategy::Merge, Strategy::Squash] {
        assert_eq!(
            run.integrate("b", strategy),
            Integrated::Empty { from: b.clone() },
            "{strategy:?}"
        );
        assert_eq!(run.status(&run.land), "");
    }
}

#[test]
fn merge_makes_a_merge_commit_with_the_trailers() {
    let run = Run::new();
    // A shortlog after the message would hide the trailers.
    run.repo
        .git(&run.repo.path, &["config", "merge.log", "true"]);
    let w2 = run.repo.wt("w2");
    run.git.ensure_worktree(&w2, LAND).unwrap();
    let a = run.task(&run.w1, "a", |wt| write(wt, "a.txt", "a\n"));
    run.task(&w2, "b", |wt| write(wt, "b.txt", "b\n"));
    run.land("b", Strategy::Rebase);
    let tip = run.repo.rev(LAND);
    let merged = run.land("a", Strategy::Merge);
    let parents = run
        .repo
        .git(&run.repo.path, &["log", "-1", "--format=%P", &merged]);
    assert_eq!(parents, format!("{tip} {a}"));
    let task = run.repo.git(
        &run.repo.path,
        &[
            "log",
            "-1",
            "--format=%(trailers:key=Swarm-Task,valueonly)",
            &merged,
        ],
    );
    assert_eq!(task.trim(), "a");
    assert_eq!(run.show(LAND, "a.txt"), "a");
}

#[test]
fn squash_makes_one_commit_of_the_whole_change() {
    let run = Run::new();
    let tip = run.repo.rev(LAND);
    run.task(&run.w1, "a", |wt| {
        write(wt, "one.txt", "1\n");
        run.repo.git(wt, &["add", "one.txt"]);
        run.repo.git(wt, &["commit", "-q", "-m", "one"]);
        write(wt, "two.txt", "2\n");
    });
    let squashed = run.land("a", Strategy::Squash);
    assert_eq!(
        run.repo
            .git(&run.repo.path, &["log", "-1", "--format=%P", &squashed]),
        tip
    );
    let body = run
        .repo
        .git(&run.repo.path, &["log", "-1", "--format=%B", &squashed]);
    assert_eq!(body, "land a\n\nSwarm-Task: a\nSwarm-Attempt: 1");
    assert_eq!(run.show(LAND, "two.txt"), "2");
}

#[test]
fn advance_refuses_when_the_landing_branch_moved() {
    let run = Run::new();
    run.task(&run.w1, "a", |wt| write(wt, "a.txt", "a\n"));
    let a = run.repo.rev("swarm/task/a");
    let Integrated::Ready { head, onto, from } = run.integrate("a", Strategy::Rebase) else {
        panic!("not ready")
    };
    // A person commits to the landing branch meanwhile.
    let theirs = run.repo.git(
        &run.repo.path,
        &[
            "commit-tree",
            "-p",
            &onto,
            "-m",
            "mine",
            &format!("{onto}^{{tree}}"),
        ],
    );
    run.repo.git(
        &run.repo.path,
        &["update-ref", &format!("refs/heads/{LAND}"), &theirs],
    );
    let landed = [("swarm/task/a", &from)];
    assert_eq!(
        run.git.advance(LAND, &head, &onto, &landed).unwrap(),
        Advanced::Raced
    );
    assert_eq!(run.repo.rev(LAND), theirs, "their commit is kept");
    assert_eq!(run.repo.rev("swarm/task/a"), a, "and the branch with it");
}

#[test]
fn tip_and_a_branch_in_the_landing_branch_already() {
    let run = Run::new();
    let main = run.repo.rev("main");
    assert_eq!(run.git.tip(LAND).unwrap(), Some(main.clone()));
    assert_eq!(run.git.tip("refs/heads/nothing").unwrap(), None);
    let a = run.task(&run.w1, "a", |wt| write(wt, "a.txt", "a\n"));
    // It landed as it is (a crash came before the journal heard).
    run.repo.git(
        &run.repo.path,
        &["update-ref", &format!("refs/heads/{LAND}"), &a],
    );
    for strategy in [Strategy::Rebase, Strategy::Merge, Strategy::Squash] {
        assert_eq!(
            run.integrate("a", strategy),
            Integrated::Contained { head: a.clone() },
            "{strategy:?}"
        );
    }
}

#[test]
fn advance_waits_for_a_person_with_the_landing_branch_checked_out_and_keeps_a_checked_out_branch() {
    let run = Run::new();
    run.task(&run.w1, "a", |wt| write(wt, "a.txt", "a\n"));
    let Integrated::Ready { head, onto, from } = run.integrate("a", Strategy::Rebase) else {
        panic!("not ready")
    };
    let mine = run.repo.path.with_file_name("mine");
    run.repo.git(
        &run.repo.path,
        &["worktree", "add", "-q", mine.to_str().unwrap(), LAND],
    );
    let landed = [("swarm/task/a", &from)];
    let held = run.git.advance(LAND, &head, &onto, &landed).unwrap();
    assert!(matches!(held, Advanced::Held(ref at) if listing::real(at) == listing::real(&mine)));
    assert_eq!(run.repo.rev(LAND), onto, "not moved");
    run.repo.git(&mine, &["switch", "-q", "swarm/task/a"]);
    let moved = run.git.advance(LAND, &head, &onto, &landed).unwrap();
    assert_eq!(moved, Advanced::Moved);
    assert_eq!(run.repo.rev(LAND), head);
    assert_eq!(run.repo.rev("swarm/task/a"), from, "checked out, so kept");
}

#[test]
fn delete_branch_only_at_the_expected_commit() {
    let run = Run::new();
    let a = run.task(&run.w1, "a", |wt| write(wt, "a.txt", "a\n"));
    let main = run.repo.rev("main");
    assert!(run.git.delete_branch("swarm/task/a", &main).is_err());
    assert_eq!(run.git.tip("swarm/task/a").unwrap(), Some(a.clone()));
    run.git.delete_branch("swarm/task/a", &a).unwrap();
    assert_eq!(run.git.tip("swarm/task/a").unwrap(), None);
    run.git.delete_branch("swarm/task/a", &a).unwrap();
}

#[test]
fn ensure_worktree_aborts_a_half_done_rebase_and_saves_leftovers() {
    let run = Run::new();
    let w2 = run.repo.wt("w2");
    run.git.ensure_worktree(&w2, LAND).unwrap();
    run.task(&run.w1, "a", |wt| append(wt, "shared.txt", "from a\n"));
    let b = run.task(&w2, "b", |wt| append(wt, "shared.txt", "from b\n"));
    run.land("a", Strategy::Rebase);
    // A crash mid-rebase in the landing worktree.
    run.repo
        .git(&run.land, &["checkout", "-q", "--detach", "swarm/task/b"]);
    assert_eq!(
        run.repo.git_code(&run.land, &["rebase", "-q", LAND]),
        Some(1)
    );
    assert!(run.in_progress(&run.land));
    run.git.ensure_worktree(&run.land, LAND).unwrap();
    assert!(!run.in_progress(&run.land));
    assert!(run.is_detached(&run.land));
    assert_eq!(run.status(&run.land), "");
    assert_eq!(run.repo.rev("swarm/task/b"), b);
}

#[test]
fn ensure_worktree_clears_the_index_lock_a_killed_git_left() {
    let run = Run::new();
    let lock = run
        .repo
        .git(&run.w1, &["rev-parse", "--git-path", "index.lock"]);
    std::fs::write(run.w1.join(&lock), "").unwrap();
    run.git.ensure_worktree(&run.w1, LAND).unwrap();
    assert!(!run.w1.join(&lock).exists());
    run.task(&run.w1, "a", |wt| write(wt, "a.txt", "a\n"));
}

#[test]
fn ensure_worktree_remakes_a_deleted_directory() {
    let run = Run::new();
    std::fs::remove_dir_all(&run.w1).unwrap();
    run.git.ensure_worktree(&run.w1, LAND).unwrap();
    assert!(run.w1.join("README").exists());
    assert!(run.is_detached(&run.w1));
}

#[test]
fn ensure_worktree_adopts_a_directory_git_forgot_keeping_its_files() {
    let run = Run::new();
    write(&run.w1, "unsaved.txt", "work\n");
    // git forgets the worktree: its administrative directory is gone.
    let admin = run.repo.path.join(".git/worktrees/w1");
    std::fs::remove_dir_all(admin).unwrap();
    run.repo.git(&run.repo.path, &["worktree", "prune"]);
    run.git.ensure_worktree(&run.w1, LAND).unwrap();
    assert_eq!(run.status(&run.w1), "");
    let salvage = run.salvage_branches();
    assert_eq!(run.show(&salvage, "unsaved.txt"), "work");
    // And it works as a worktree again.
    run.task(&run.w1, "a", |wt| write(wt, "a.txt", "a\n"));
}

#[test]
fn remove_worktree_keeps_one_with_work_in_it() {
    let run = Run::new();
    write(&run.w1, "new.txt", "unsaved\n");
    assert!(!run.git.remove_worktree(&run.w1).unwrap());
    assert!(run.w1.join("new.txt").exists());
    std::fs::remove_file(run.w1.join("new.txt")).unwrap();
    assert!(run.git.remove_worktree(&run.w1).unwrap());
    assert!(!run.w1.exists());
}

#[test]
fn commit_never_commits_to_a_branch_the_agent_switched_to() {
    let run = Run::new();
    let Prepared::Fresh { base } = run.git.prepare(&run.w1, "swarm/task/a", LAND).unwrap() else {
        panic!("not fresh")
    };
    run.repo.git(&run.w1, &["switch", "-q", LAND]);
    write(&run.w1, "a.txt", "a\n");
    let err = run
        .git
        .commit(&run.w1, "A", &trailers("a", 1), &[], LAND)
        .unwrap_err();
    assert!(
        err.message
            .contains("on `swarm/main`, not on `swarm/task/a`"),
        "{err}"
    );
    assert_eq!(run.repo.rev(LAND), base, "the landing branch did not move");
    let salvage = run.salvage_branches();
    assert!(err.message.contains(&salvage), "{err}");
    assert_eq!(run.show(&salvage, "a.txt"), "a");
}

#[test]
fn commit_keeps_commits_an_agent_made_on_a_detached_head() {
    let run = Run::new();
    run.git.prepare(&run.w1, "swarm/task/a", LAND).unwrap();
    run.repo.git(&run.w1, &["checkout", "-q", "--detach"]);
    write(&run.w1, "a.txt", "a\n");
    run.repo.git(&run.w1, &["add", "a.txt"]);
    run.repo
        .git(&run.w1, &["commit", "-q", "-m", "on no branch"]);
    let err = run
        .git
        .commit(&run.w1, "A", &trailers("a", 1), &[], LAND)
        .unwrap_err();
    assert!(err.message.contains("a detached HEAD"), "{err}");
    let salvage = run.salvage_branches();
    assert!(err.message.contains(&salvage), "{err}");
    assert_eq!(run.show(&salvage, "a.txt"), "a");
}

#[test]
fn work_left_detached_at_the_branch_tip_is_committed_to_the_branch() {
    let run = Run::new();
    run.git.prepare(&run.w1, "swarm/task/a", LAND).unwrap();
    run.repo.git(&run.w1, &["checkout", "-q", "--detach"]);
    write(&run.w1, "a.txt", "a\n");
    let committed = run
        .git
        .commit(&run.w1, "A", &trailers("a", 1), &[], LAND)
        .unwrap();
    assert_eq!(
        committed,
        Committed::Changes {
            head: run.repo.rev("swarm/task/a")
        }
    );
    assert_eq!(run.show("swarm/task/a", "a.txt"), "a");
}

#[test]
fn swarm_files_left_out_even_where_ignored_or_staged_by_hand() {
    let run = Run::new();
    crate::git::exclude::install(&run.repo.path, &[".swarm/".into(), "/a.md.done".into()]).unwrap();
    let sentinels = [
        PathBuf::from("a.md.done"),
        PathBuf::from(".swarm/done/a.done"),
        PathBuf::from("[x]*.done"),
    ];
    let Prepared::Fresh { base } = run.git.prepare(&run.w1, "swarm/task/a", LAND).unwrap() else {
        panic!("not fresh")
    };
    write(&run.w1, "a.md", "a\n");
    // What the sentinel `[x]*.done` would match as a pattern: the agent's, committed.
    write(&run.w1, "xy.done", "");
    write(&run.w1, ".swarm/state.json", "{}");
    write(&run.w1, ".swarm/forced.json", "{}");
    for sentinel in &sentinels {
        write(&run.w1, sentinel.to_str().unwrap(), "");
    }
    run.repo.git(&run.w1, &["add", "-f", ".swarm/forced.json"]);
    let committed = run
        .git
        .commit(&run.w1, "A", &trailers("a", 1), &sentinels, LAND)
        .unwrap();
    let Committed::Changes { head } = committed else {
        panic!("{committed:?}")
    };
    let files = run.repo.git(
        &run.repo.path,
        &["diff", "--name-only", &format!("{base}..{head}")],
    );
    assert_eq!(files, "a.md\nxy.done");
}
