//! Noticing sentinel files: inotify (through notify) for speed, a periodic rescan for
//! certainty. Only the directories on the way to an expected sentinel are watched, so a
//! big repository costs nothing.

use crate::plan::TaskId;
use notify::{RecommendedWatcher, RecursiveMode, Watcher};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

/// The sentinels swarm waits for, and the watches that report them.
pub struct Sentinels {
    root: PathBuf,
    expected: HashMap<PathBuf, TaskId>,
    watched: HashSet<PathBuf>,
    watcher: RecommendedWatcher,
}

impl Sentinels {
    /// Watches `root` (non-recursively); file-system events go to `tx`.
    pub fn new(
        root: &Path,
        tx: crossbeam_channel::Sender<notify::Result<notify::Event>>,
    ) -> notify::Result<Sentinels> {
        let watcher = notify::recommended_watcher(move |ev: notify::Result<notify::Event>| {
            // Opening a watched directory is itself an event (IN_OPEN): the loop that
            // reads the commands directory on each event would wake itself forever.
            if !ev.as_ref().is_ok_and(|ev| ev.kind.is_access()) {
                let _ = tx.send(ev);
            }
        })?;
        let mut sentinels = Sentinels {
            root: root.to_path_buf(),
            expected: HashMap::new(),
            watched: HashSet::new(),
            watcher,
        };
        sentinels.watch(root.to_path_buf());
        Ok(sentinels)
    }

    /// Waits for `rel` (relative to the root) to mark `task` done. Returns the task at once
    /// if the file is already there.
    pub fn expect(&mut self, rel: &Path, task: TaskId) -> Option<TaskId> {
        let path = self.root.join(rel);
        self.watch_towards(&path);
        if path.exists() {
            return Some(task);
        }
        self.expected.insert(path, task);
        None
    }

    /// Stops waiting for `task`'s sentinel (it is done some other way, or failed).
    pub fn forget(&mut self, task: &TaskId) {
        self.expected.retain(|_, t| t != task);
    }

    /// Also watches `dir` (non-recursively), for events the caller handles itself.
    pub fn watch_dir(&mut self, dir: &Path) {
        self.watch(dir.to_path_buf());
    }

    /// Tasks whose sentinels a file-system event reports.
    pub fn on_event(&mut self, event: &notify::Event) -> Vec<TaskId> {
        if event.kind.is_access() {
            return Vec::new();
        }
        let mut found = Vec::new();
        for path in &event.paths {
            if self.expected.contains_key(path) {
                if path.exists() {
                    found.extend(self.expected.remove(path));
                }
            } else if path.is_dir() && self.is_ancestor_of_expected(path) {
                // A directory on the way appeared: watch it, and look inside at once,
                // since the sentinel may have been created before the watch was added.
                // It may be one that was watched, removed (a `git switch` in a worktree
                // empties and removes a folder) and made again: its watch went with it.
                self.watched.remove(path);
                let targets: Vec<PathBuf> = self
                    .expected
                    .keys()
                    .filter(|p| p.starts_with(path))
                    .cloned()
                    .collect();
                for target in targets {
                    self.watch_towards(&target);
                }
                found.extend(self.rescan());
            }
        }
        found
    }

    /// Tasks whose sentinels exist now; the safety net for missed events.
    pub fn rescan(&mut self) -> Vec<TaskId> {
        let present: Vec<PathBuf> = self
            .expected
            .keys()
            .filter(|p| p.exists())
            .cloned()
            .collect();
        present
            .into_iter()
            .filter_map(|p| self.expected.remove(&p))
            .collect()
    }

    fn is_ancestor_of_expected(&self, dir: &Path) -> bool {
        self.expected.keys().any(|p| p.starts_with(dir))
    }

    /// Watches every existing directory on the way to `path`, so that a folder on the way
    /// that is removed and made again (git does that in a worktree) is seen coming back.
    fn watch_towards(&mut self, path: &Path) {
        let mut dir = path.parent();
        while let Some(d) = dir {
            if !d.starts_with(&self.root) {
                return;
            }
            if d.is_dir() {
                self.watch(d.to_path_buf());
            }
            dir = d.parent();
        }
    }

    fn watch(&mut self, dir: PathBuf) {
        if self.watched.contains(&dir) {
            return;
        }
        // A failed watch only costs latency: the rescan still finds the file.
        if self
            .watcher
            .watch(&dir, RecursiveMode::NonRecursive)
            .is_ok()
        {
            self.watched.insert(dir);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn id(s: &str) -> TaskId {
        TaskId(s.into())
    }

    /// Regression: reading the watched commands directory raised an open event, which
    /// made the loop read the directory again: 70 % of a core with nothing to do.
    #[test]
    fn reading_a_watched_directory_raises_no_event() {
        let dir = tempfile::tempdir().unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        let _sentinels = Sentinels::new(dir.path(), tx).unwrap();
        let _ = std::fs::read_dir(dir.path()).unwrap().count();
        std::fs::write(dir.path().join("marker"), "").unwrap();
        // inotify keeps order: the first event is the write, unless the read made one.
        let first = rx.recv_timeout(Duration::from_secs(5)).unwrap().unwrap();
        assert!(!first.kind.is_access(), "{first:?}");
        assert!(
            first.paths.iter().any(|p| p.ends_with("marker")),
            "{first:?}"
        );
    }

    /// Feeds events to `sentinels` until `want` is seen or the deadline passes.
    fn seen_within(
        sentinels: &mut Sentinels,
        rx: &crossbeam_channel::Receiver<notify::Result<notify::Event>>,
        want: &TaskId,
    ) -> bool {
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while let Ok(ev) = rx.recv_deadline(deadline) {
            if sentinels.on_event(&ev.unwrap()).contains(want) {
                return true;
            }
        }
        false
    }

    #[test]
    fn a_sentinel_in_a_directory_created_later_is_reported_by_inotify() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let (tx, rx) = crossbeam_channel::unbounded();
        let mut sentinels = Sentinels::new(&root, tx).unwrap();
        assert_eq!(
            sentinels.expect(Path::new("docs/deep/auth.md.done"), id("auth")),
            None
        );
        std::fs::create_dir_all(root.join("docs/deep")).unwrap();
        std::fs::write(root.join("docs/deep/auth.md.done"), "").unwrap();
        assert!(seen_within(&mut sentinels, &rx, &id("auth")));
        assert!(sentinels.rescan().is_empty(), "reported once");
    }

    #[test]
    fn an_existing_sentinel_is_reported_at_once_and_rescan_finds_missed_ones() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        std::fs::write(root.join("a.done"), "").unwrap();
        let (tx, _rx) = crossbeam_channel::unbounded();
        let mut sentinels = Sentinels::new(&root, tx).unwrap();
        assert_eq!(
            sentinels.expect(Path::new("a.done"), id("a")),
            Some(id("a"))
        );
        assert_eq!(sentinels.expect(Path::new("b.done"), id("b")), None);
        assert!(sentinels.rescan().is_empty());
        std::fs::write(root.join("b.done"), "").unwrap();
        assert_eq!(sentinels.rescan(), vec![id("b")]);
    }

    #[test]
    fn forgotten_tasks_are_not_reported() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let (tx, _rx) = crossbeam_channel::unbounded();
        let mut sentinels = Sentinels::new(&root, tx).unwrap();
        sentinels.expect(Path::new("a.done"), id("a"));
        sentinels.forget(&id("a"));
        std::fs::write(root.join("a.done"), "").unwrap();
        assert!(sentinels.rescan().is_empty());
    }
}
