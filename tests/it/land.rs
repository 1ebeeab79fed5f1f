//! Isolated runs on real git, real tmux and the simulated agent: each task in a worktree of
//! its own, its work committed, verified and landed through the merge queue, and the
//! person's own branch, index and working tree left alone.

use crate::common::*;
use std::collections::BTreeMap;
use std::process::{Command, Output};
use std::time::Duration;

const RUN: Duration = Duration::from_secs(180);

/// `git ARGS` in the workspace, as a person with an identity of their own.
pub(crate) fn git(env: &TestEnv, args: &[&str]) -> Output {
    Command::new("git")
        .arg("-C")
        .arg(env.ws())
        .args(["-c", "user.name=Pat", "-c", "user.email=pat@example.com"])
        .args(args)
        .env("HOME", env.dir.path().join("home"))
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap()
}

pub(crate) fn git_ok(env: &TestEnv, args: &[&str]) -> String {
    let out = git(env, args);
    assert!(out.status.success(), "git {args:?}: {}", stderr(&out));
    stdout(&out)
}

/// A repository on `main` holding `files` (PLAN.md among them), committed.
pub(crate) fn repo(env: &TestEnv, files: &[(&str, &str)]) {
    git_ok(env, &["init", "-q", "-b", "main"]);
    for (path, text) in files {
        env.write(path, text);
    }
    git_ok(env, &["add", "-A"]);
    git_ok(env, &["commit", "-q", "-m", "the start"]);
}

/// What a person would notice changing in their own checkout.
#[derive(Debug, PartialEq)]
struct Checkout {
    head: String,
    branch: String,
    /// `git status --porcelain`, PLAN.md left out.
    status: String,
    /// The index, as `git ls-files --stage` lists it.
    index: String,
}

fn checkout(env: &TestEnv) -> Checkout {
    let status = git_ok(env, &["status", "--porcelain", "--untracked-files=all"])
        .lines()
        .filter(|l| !l.ends_with("PLAN.md"))
        .collect::<Vec<_>>()
        .join("\n");
    Checkout {
        head: git_ok(env, &["rev-parse", "HEAD"]),
        branch: git_ok(env, &["branch", "--show-current"]),
        status,
        index: git_ok(env, &["ls-files", "--stage"]),
    }
}

/// No worktree of swarm's is left: git lists only the person's own checkout.
fn assert_only_the_persons_worktree(env: &TestEnv) {
    let worktrees = git_ok(env, &["worktree", "list", "--porcelain"]);
    let listed = worktrees
        .lines()
        .filter(|l| l.starts_with("worktree "))
        .count();
    assert_eq!(listed, 1, "{worktrees}");
}

/// Each task id on the landing branch (past `main`), with how many commits name it.
pub(crate) fn landed(env: &TestEnv, land: &str) -> BTreeMap<String, usize> {
    let mut count = BTreeMap::new();
    let log = git_ok(
        env,
        &[
            "log",
            "--format=%(trailers:key=Swarm-Task,valueonly)",
            &format!("main..{land}"),
        ],
    );
    for id in log.lines().map(str::trim).filter(|l| !l.is_empty()) {
        *count.entry(id.to_string()).or_default() += 1;
    }
    count
}

fn task_ids(env: &TestEnv) -> Vec<String> {
    swarm::plan::parse(&env.read("PLAN.md"), std::path::Path::new("PLAN.md"))
        .unwrap()
        .into_iter()
        .map(|t| t.id.0)
        .collect()
}

const PAIRS: &str = "\
- [ ] Log the login change: append a line to `CHANGES.md`
- [ ] Log the logout change: append a line to `CHANGES.md`
- [ ] Note the API: append a line to `NOTES.md`
- [ ] Note the CLI: append a line to `NOTES.md`
- [ ] Write the auth page {out=docs/auth.md}
- [ ] Write the login page {out=docs/login.md}
- [ ] Write the logout page {out=docs/logout.md}
- [ ] Write the session page {out=docs/session.md}
";

#[test]
fn eight_tasks_land_with_their_conflicts_resolved_by_a_retry() {
    let env = TestEnv::new();
    repo(
        &env,
        &[
            ("PLAN.md", PAIRS),
            ("CHANGES.md", "# Changes\n"),
            ("NOTES.md", "# Notes\n"),
            (
                "swarm.toml",
                "isolation = \"worktree\"\nland = \"swarm/integration\"\n",
            ),
        ],
    );
    // The person has work of their own in progress: staged and not.
    env.write("CHANGES.md", "# Changes\n\nmine, not staged\n");
    env.write("scratch.txt", "mine, staged\n");
    git_ok(&env, &["add", "scratch.txt"]);
    let before = checkout(&env);
    let plan_before = env.read("PLAN.md");

    let out = finish(
        sim_run(&env, 4, "--think-ms 400", &[]),
        RUN,
        "an isolated run",
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(
        err.contains("8 done (8 landed on swarm/integration)"),
        "{err}"
    );
    assert!(err.contains("git merge swarm/integration"), "{err}");

    // One commit per task on the landing branch, each with its trailers.
    let ids = task_ids(&env);
    let want: BTreeMap<String, usize> = ids.iter().map(|id| (id.clone(), 1)).collect();
    assert_eq!(landed(&env, "swarm/integration"), want);
    let attempts = git_ok(
        &env,
        &[
            "log",
            "--format=%(trailers:key=Swarm-Attempt,valueonly)",
            "main..swarm/integration",
        ],
    );
    assert_eq!(attempts.lines().filter(|l| !l.trim().is_empty()).count(), 8);

    // Both sides of each conflicting pair are there.
    let changes = git_ok(&env, &["show", "swarm/integration:CHANGES.md"]);
    assert!(changes.contains("login change") && changes.contains("logout change"));
    let notes = git_ok(&env, &["show", "swarm/integration:NOTES.md"]);
    assert!(notes.contains("the API") && notes.contains("the CLI"));
    // At least one pair met on the landing branch and was rebased by its agent.
    let resolved = sim_log(&env)
        .iter()
        .filter(|e| e["event"] == "rebase" && e["result"] == "resolved")
        .count();
    assert!(
        resolved >= 1,
        "no conflict was resolved: {:?}",
        sim_log(&env)
    );

    // swarm's files are in no commit.
    let names = git_ok(&env, &["log", "--all", "--name-only", "--format="]);
    assert!(
        !names
            .lines()
            .any(|n| n.contains(".swarm") || n.ends_with(".done")),
        "{names}"
    );

    // The person's checkout is as they left it, but for PLAN.md's checkboxes.
    assert_eq!(checkout(&env), before);
    assert_only_checkboxes_flipped(&plan_before, &env.read("PLAN.md"));
    assert_eq!(env.read("CHANGES.md"), "# Changes\n\nmine, not staged\n");

    // The landed tasks' branches and every worktree are gone; nothing is half-done.
    let branches = git_ok(&env, &["branch", "--list", "swarm/task/*"]);
    assert_eq!(branches.trim(), "", "{branches}");
    assert_only_the_persons_worktree(&env);
}

#[test]
fn a_verify_that_fails_once_sends_its_output_to_the_next_attempt() {
    let env = TestEnv::new();
    let flag = env.dir.path().join("verified-once");
    let toml = format!(
        "isolation = \"worktree\"\nverify = \"test -e {0} || {{ touch {0}; echo 'BROKEN: the first verify fails'; exit 1; }}\"\n",
        flag.display()
    );
    repo(
        &env,
        &[
            ("PLAN.md", "- [ ] Write the auth page {out=docs/auth.md}\n"),
            ("swarm.toml", &toml),
        ],
    );
    let out = finish(
        sim_run(&env, 1, "--think-ms 50", &[]),
        RUN,
        "a verified run",
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    let prompts = received_prompts(&env);
    assert_eq!(prompts.len(), 2, "{prompts:?}");
    assert!(!prompts[0].contains("BROKEN"), "{}", prompts[0]);
    assert!(
        prompts[1].contains("failed verification")
            && prompts[1].contains("BROKEN: the first verify fails"),
        "{}",
        prompts[1]
    );
    let verify_log = env.read(".swarm/logs/write-the-auth-page.1.verify.log");
    assert!(verify_log.contains("BROKEN"), "{verify_log}");
    assert_eq!(landed(&env, "swarm/main").len(), 1);
    let page = git_ok(&env, &["show", "swarm/main:docs/auth.md"]);
    assert!(page.contains("Write the auth page"), "{page}");
}

#[test]
fn diff_shows_a_landed_task_and_status_its_commit() {
    let env = TestEnv::new();
    repo(
        &env,
        &[
            ("PLAN.md", "- [ ] Write the auth page {out=docs/auth.md}\n"),
            ("swarm.toml", "isolation = \"worktree\"\n"),
        ],
    );
    let out = finish(sim_run(&env, 1, "--think-ms 50", &[]), RUN, "a run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status = status(&env);
    let task = &status["state"]["tasks"][0];
    assert_eq!(task["stage"], "landed", "{status}");
    let commit = task["commit"].as_str().unwrap();
    assert_eq!(git_ok(&env, &["rev-parse", "swarm/main"]).trim(), commit);

    let diff = env
        .swarm()
        .args(["diff", "write-the-auth-page"])
        .output()
        .unwrap();
    assert!(diff.status.success(), "{}", stderr(&diff));
    let shown = stdout(&diff);
    assert!(shown.contains("+++ b/docs/auth.md"), "{shown}");
    assert!(shown.contains("Swarm-Task: write-the-auth-page"), "{shown}");
}

#[test]
fn without_isolation_swarms_files_stay_out_of_git_status() {
    let env = TestEnv::new();
    repo(
        &env,
        &[(
            "PLAN.md",
            "- [ ] Write the auth page {out=docs/auth.md}\n- [ ] Tidy up\n",
        )],
    );
    let out = finish(sim_run(&env, 2, "--think-ms 50", &[]), RUN, "a plain run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let status = git_ok(&env, &["status", "--porcelain", "--untracked-files=all"]);
    let mut lines: Vec<&str> = status.lines().collect();
    lines.sort();
    assert_eq!(lines, [" M PLAN.md", "?? docs/auth.md"], "{status}");
}

/// `swarm run` refuses, with exit 2, and touches nothing: not the plan, not a branch, not
/// git's exclude file, and no `.swarm` folder.
fn refused(env: &TestEnv, extra: &[&str], says: &str) {
    let plan = env.read("PLAN.md");
    let refs = git(env, &["for-each-ref"]);
    let exclude = std::fs::read(env.path(".git/info/exclude")).ok();
    let out = finish(sim_run(env, 1, "", extra), RUN, "a refused run");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(says), "wanted {says:?} in: {err}");
    assert_eq!(env.read("PLAN.md"), plan);
    assert_eq!(git(env, &["for-each-ref"]).stdout, refs.stdout);
    assert_eq!(std::fs::read(env.path(".git/info/exclude")).ok(), exclude);
    assert!(!env.path(".swarm/worktrees").exists());
}

#[test]
fn bad_input_for_an_isolated_run_is_refused_before_anything_is_touched() {
    // Outside a git repository.
    let env = TestEnv::new();
    env.write("PLAN.md", "- [ ] Tidy up\n");
    let out = finish(
        sim_run(&env, 1, "", &["--isolate", "worktree"]),
        RUN,
        "outside a repository",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("git"), "{}", stderr(&out));

    // The landing branch is the person's own checkout.
    let env = TestEnv::new();
    repo(
        &env,
        &[
            ("PLAN.md", "- [ ] Tidy up\n"),
            ("swarm.toml", "isolation = \"worktree\"\nland = \"main\"\n"),
        ],
    );
    refused(&env, &[], "main");

    // A verify program that does not exist.
    let env = TestEnv::new();
    repo(
        &env,
        &[
            ("PLAN.md", "- [ ] Tidy up\n"),
            (
                "swarm.toml",
                "isolation = \"worktree\"\nverify = \"cargo-tset -q\"\n",
            ),
        ],
    );
    refused(&env, &[], "cargo-tset");

    // An output path git ignores.
    let env = TestEnv::new();
    repo(
        &env,
        &[
            ("PLAN.md", "- [ ] Build it {out=build/out.txt}\n"),
            (".gitignore", "build/\n"),
            ("swarm.toml", "isolation = \"worktree\"\n"),
        ],
    );
    refused(&env, &[], "build/out.txt");

    // A detached HEAD, and no `land` to say where work goes.
    let env = TestEnv::new();
    repo(&env, &[("PLAN.md", "- [ ] Tidy up\n")]);
    git_ok(&env, &["checkout", "-q", "--detach"]);
    refused(&env, &["--isolate", "worktree"], "land");
}

#[test]
fn killing_the_orchestrator_ten_times_loses_nothing_and_lands_nothing_twice() {
    let env = TestEnv::new();
    let verified = env.dir.path().join("verified.log");
    // Verify passes, slowly, and notes each commit it passed: a kill lands mid-verify too.
    let toml = format!(
        "isolation = \"worktree\"\nverify = \"sleep 0.2; git rev-parse HEAD >> {}\"\n",
        verified.display()
    );
    repo(
        &env,
        &[
            ("PLAN.md", PAIRS),
            ("CHANGES.md", "# Changes\n"),
            ("NOTES.md", "# Notes\n"),
            ("swarm.toml", &toml),
        ],
    );
    let base = git_ok(&env, &["rev-parse", "main"]).trim().to_string();
    let journal = env.path(".swarm/journal.jsonl");
    let lines = || std::fs::read_to_string(&journal).map_or(0, |j| j.lines().count());
    let mut kills = 0;
    while kills < 10 {
        let before = lines();
        let mut child = sim_run(&env, 4, "--think-ms 300", &[]);
        let grown = before + 2 + kills % 4;
        let deadline = std::time::Instant::now() + RUN;
        while lines() < grown && child.try_wait().unwrap().is_none() {
            assert!(
                std::time::Instant::now() < deadline,
                "the run made no progress"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        // A run that has finished the plan is left to end by itself: killed while it
        // shuts its tmux server down, the next run would find the server going.
        let finished = std::fs::read_to_string(&journal).is_ok_and(|j| j.contains("\"finished\""));
        if finished || child.try_wait().unwrap().is_some() {
            let out = finish(child, RUN, "a run that finished");
            assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
            break;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        kills += 1;
        // The landing branch only ever points at a commit verify passed.
        if let Some(tip) = git(&env, &["rev-parse", "--verify", "-q", "swarm/main"])
            .status
            .success()
            .then(|| {
                git_ok(&env, &["rev-parse", "swarm/main"])
                    .trim()
                    .to_string()
            })
            && tip != base
        {
            let passed = std::fs::read_to_string(&verified).unwrap_or_default();
            assert!(
                passed.lines().any(|l| l == tip),
                "after kill {kills}, swarm/main is at {tip}, which verify never passed"
            );
        }
    }
    let out = finish(sim_run(&env, 4, "--think-ms 300", &[]), RUN, "the last run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    let want: BTreeMap<String, usize> = task_ids(&env).into_iter().map(|id| (id, 1)).collect();
    assert_eq!(landed(&env, "swarm/main"), want, "after {kills} kills");
    assert!(
        !env.read("PLAN.md").contains("- [ ]"),
        "{}",
        env.read("PLAN.md")
    );
    assert_only_the_persons_worktree(&env);
    let stray = std::fs::read_dir(env.path(".git/worktrees"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(stray, 0, "git still knows worktrees");
}

#[test]
fn a_failed_tasks_branch_stays_and_status_and_diff_show_it() {
    let env = TestEnv::new();
    repo(
        &env,
        &[
            ("PLAN.md", "- [ ] Write the auth page {out=docs/auth.md}\n"),
            (
                "swarm.toml",
                "isolation = \"worktree\"\nverify = \"echo 'never good enough'; exit 1\"\nmax_attempts = 1\n",
            ),
        ],
    );
    let out = finish(sim_run(&env, 1, "--think-ms 50", &[]), RUN, "a failing run");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("verify"), "{err}");
    let branch = "swarm/task/write-the-auth-page";
    git_ok(&env, &["rev-parse", "--verify", branch]);
    let status = status(&env);
    assert_eq!(status["state"]["tasks"][0]["branch"], branch, "{status}");
    let text = env
        .swarm()
        .args(["status", "--socket", &env.socket])
        .output()
        .unwrap();
    assert!(stdout(&text).contains(branch), "{}", stdout(&text));
    let diff = env.swarm().args(["diff", "1"]).output().unwrap();
    assert!(diff.status.success(), "{}", stderr(&diff));
    assert!(
        stdout(&diff).contains("+++ b/docs/auth.md"),
        "{}",
        stdout(&diff)
    );
    // Its work is in no landing: the landing branch is where it started.
    assert_eq!(
        git_ok(&env, &["rev-parse", "swarm/main"]),
        git_ok(&env, &["rev-parse", "main"])
    );
}

#[test]
fn a_persons_commit_to_the_landing_branch_mid_run_is_kept_and_squash_lands_one_commit_each() {
    let env = TestEnv::new();
    repo(
        &env,
        &[
            (
                "PLAN.md",
                "- [ ] Write the auth page {out=docs/auth.md}\n- [ ] Write the login page {out=docs/login.md}\n- [ ] Write the logout page {out=docs/logout.md}\n",
            ),
            (
                "swarm.toml",
                "isolation = \"worktree\"\nland_strategy = \"squash\"\n",
            ),
        ],
    );
    let child = sim_run(&env, 1, "--think-ms 700", &[]);
    // Once the landing branch exists, a person adds a commit of their own to it, as a
    // push from elsewhere would.
    wait_until("the landing branch", RUN, || {
        git(&env, &["rev-parse", "--verify", "-q", "swarm/main"])
            .status
            .success()
    });
    let tip = git_ok(&env, &["rev-parse", "swarm/main"])
        .trim()
        .to_string();
    let tree = git_ok(&env, &["rev-parse", "main^{tree}"])
        .trim()
        .to_string();
    let mine = git_ok(
        &env,
        &[
            "commit-tree",
            &tree,
            "-p",
            &tip,
            "-m",
            "A person's own commit",
        ],
    )
    .trim()
    .to_string();
    git_ok(&env, &["update-ref", "refs/heads/swarm/main", &mine, &tip]);
    let out = finish(child, RUN, "a squash run");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));

    git_ok(&env, &["merge-base", "--is-ancestor", &mine, "swarm/main"]);
    let want: BTreeMap<String, usize> = task_ids(&env).into_iter().map(|id| (id, 1)).collect();
    assert_eq!(landed(&env, "swarm/main"), want);
    // Squash: one commit per task, none of them a merge.
    let merges = git_ok(&env, &["rev-list", "--merges", "main..swarm/main"]);
    assert_eq!(merges.trim(), "");
    let count = git_ok(&env, &["rev-list", "--count", "main..swarm/main"]);
    assert_eq!(count.trim(), "4", "three tasks and the person's commit");
}

#[test]
fn a_worktree_a_person_removes_mid_run_is_made_again_and_the_run_goes_on() {
    let env = TestEnv::new();
    repo(
        &env,
        &[
            (
                "PLAN.md",
                "- [ ] First page {out=docs/a.md}\n- [ ] Second page {out=docs/b.md}\n- [ ] Third page {out=docs/c.md}\n",
            ),
            ("swarm.toml", "isolation = \"worktree\"\n"),
        ],
    );
    let child = sim_run(&env, 1, "--think-ms 1500", &["--task-timeout", "8"]);
    wait_until("the first prompt", RUN, || {
        !received_prompts(&env).is_empty()
    });
    std::fs::remove_dir_all(env.path(".swarm/worktrees/w0")).unwrap();
    let out = finish(child, RUN, "a run whose worktree was removed");
    let err = stderr(&out);
    assert!(out.status.code().is_some(), "{err}");
    let landed = landed(&env, "swarm/main");
    for id in ["second-page", "third-page"] {
        assert_eq!(landed.get(id), Some(&1), "{id}: {landed:?}\n{err}");
    }
    // The first task's agent lost its folder under it: it landed or failed, but the run
    // did not wait for it forever.
    let plan = env.read("PLAN.md");
    assert!(
        landed.contains_key("first-page") || plan.contains("failed:"),
        "{plan}\n{err}"
    );
}

#[test]
fn the_landing_branch_checked_out_by_a_person_mid_run_holds_the_queue_until_they_leave_it() {
    let env = TestEnv::new();
    repo(
        &env,
        &[
            (
                "PLAN.md",
                "- [ ] First page {out=docs/a.md}\n- [ ] Second page {out=docs/b.md}\n",
            ),
            ("swarm.toml", "isolation = \"worktree\"\n"),
        ],
    );
    let child = sim_run(&env, 1, "--think-ms 300", &[]);
    wait_until("the landing branch", RUN, || {
        git(&env, &["rev-parse", "--verify", "-q", "swarm/main"])
            .status
            .success()
    });
    // A person looks at the work so far in a working tree of their own.
    let mine = env.dir.path().join("mine");
    let mine_arg = mine.display().to_string();
    git_ok(&env, &["worktree", "add", "-q", &mine_arg, "swarm/main"]);
    let tip = git_ok(&env, &["rev-parse", "swarm/main"]);
    let held = |env: &TestEnv| {
        let status = status(env);
        status["state"]["tasks"]
            .as_array()
            .is_some_and(|tasks| tasks.iter().any(|t| t["stage"] == "held"))
    };
    wait_until("the merge queue held", RUN, || held(&env));
    assert_eq!(
        git_ok(&env, &["rev-parse", "swarm/main"]),
        tip,
        "moved under them"
    );
    // They move on; the queue goes on.
    let out = Command::new("git")
        .args(["-C", &mine_arg, "switch", "-q", "--detach"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let out = finish(child, RUN, "a run a person held up");
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("is checked out in"), "{err}");
    let want: BTreeMap<String, usize> = task_ids(&env).into_iter().map(|id| (id, 1)).collect();
    assert_eq!(landed(&env, "swarm/main"), want);
    let theirs = Command::new("git")
        .args(["-C", &mine_arg, "rev-parse", "HEAD"])
        .output()
        .unwrap();
    assert_eq!(stdout(&theirs), tip, "their checkout is where they left it");
}
