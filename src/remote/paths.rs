//! Where an attempt lives on a host, `<dir>/wt/<task>.<attempt>`, and the way back from a
//! path there to its task and attempt: the attempt is in the path, so that a stale
//! attempt's files (and sentinels) are never taken for the current one's.

use crate::plan::TaskId;

/// The worktree directory's name for `task`'s `attempt`.
pub fn attempt_name(task: &TaskId, attempt: u32) -> String {
    format!("{task}.{attempt}")
}

/// The task and attempt a worktree directory's name stands for. Task ids may hold dots
/// themselves; the attempt is what follows the last one.
pub fn parse_attempt_name(name: &str) -> Option<(TaskId, u32)> {
    let (task, attempt) = name.rsplit_once('.')?;
    if attempt.is_empty() || !attempt.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let attempt = attempt.parse().ok()?;
    is_task_id(task).then(|| (TaskId(task.to_owned()), attempt))
}

/// Whether `id` can name a directory and a branch on a host as it is: PLAN.md's ids
/// (letters, digits, `.`, `_` and `-`, starting with a letter or digit) always can.
pub fn is_task_id(id: &str) -> bool {
    id.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// A sentinel reported on a host: the task, the attempt, and the file's path inside the
/// attempt's worktree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sentinel {
    pub task: TaskId,
    pub attempt: u32,
    pub path: String,
}

/// The sentinel at `path` (absolute, as the host printed it), if it is a `*.done` file
/// inside an attempt's worktree under `wt_root` (`<dir>/wt`).
pub fn parse_sentinel(wt_root: &str, path: &str) -> Option<Sentinel> {
    let rel = path
        .strip_prefix(wt_root.trim_end_matches('/'))?
        .strip_prefix('/')?;
    let (name, inner) = rel.split_once('/')?;
    let file = inner.rsplit('/').next()?;
    if !file.ends_with(".done") || file == ".done" {
        return None;
    }
    let (task, attempt) = parse_attempt_name(name)?;
    Some(Sentinel {
        task,
        attempt,
        path: inner.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(s: &str) -> TaskId {
        TaskId(s.to_owned())
    }

    #[test]
    fn an_attempt_name_goes_both_ways_even_with_dots_in_the_id() {
        for (task, attempt) in [("login", 1), ("v1.2", 3), ("a_b-c", 12)] {
            let name = attempt_name(&id(task), attempt);
            assert_eq!(parse_attempt_name(&name), Some((id(task), attempt)));
        }
        assert_eq!(attempt_name(&id("v1.2"), 3), "v1.2.3");
    }

    #[test]
    fn names_that_are_no_attempt_are_refused() {
        for name in [
            "login",
            "login.",
            ".3",
            "login.x",
            "login.-1",
            "login.99999999999",
            "-x.1",
            "a/b.1",
            "a b.1",
        ] {
            assert_eq!(parse_attempt_name(name), None, "{name}");
        }
    }

    #[test]
    fn a_sentinel_path_gives_its_task_attempt_and_inner_path() {
        let root = "/root/ws/wt";
        assert_eq!(
            parse_sentinel(root, "/root/ws/wt/login.2/login.done"),
            Some(Sentinel {
                task: id("login"),
                attempt: 2,
                path: "login.done".into()
            })
        );
        assert_eq!(
            parse_sentinel("/root/ws/wt/", "/root/ws/wt/v1.2.7/docs/out/v1.2.done"),
            Some(Sentinel {
                task: id("v1.2"),
                attempt: 7,
                path: "docs/out/v1.2.done".into()
            })
        );
    }

    #[test]
    fn paths_that_are_no_sentinel_of_an_attempt_are_ignored() {
        let root = "/root/ws/wt";
        for path in [
            "/root/ws/wt/login.2/notes.txt",
            "/root/ws/wt/login.2/login.done.tmp",
            "/root/ws/wt/login.2/.done",
            "/root/ws/wt/login.2",
            "/root/ws/wt/login.done",
            "/root/ws/wt/login/login.done",
            "/root/ws/wtx/login.2/login.done",
            "/root/other/login.2/login.done",
            "Watches established.",
        ] {
            assert_eq!(parse_sentinel(root, path), None, "{path}");
        }
    }
}
