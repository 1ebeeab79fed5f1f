//! A git of refs in memory, for the run loop's tests: branches are counters, commits are
//! numbers, and a branch can be told to conflict a few times before it lands.

use super::{Advanced, Committed, Git, Integrated, Oid, Prepared, Result, Strategy, Trailers};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

#[derive(Default)]
pub struct FakeGit {
    world: Mutex<World>,
}

#[derive(Default)]
pub struct World {
    /// Every call, as `verb arg`, in order.
    pub calls: Vec<String>,
    tips: HashMap<String, Oid>,
    /// What each worktree has checked out.
    checked_out: HashMap<PathBuf, String>,
    next: u64,
    /// Branches whose next landings conflict, and how many more times.
    pub conflicts: HashMap<String, u32>,
}

impl World {
    fn commit(&mut self) -> Oid {
        self.next += 1;
        format!("{:040x}", self.next)
    }
}

/// `refs/heads/x` and `x` are one branch here.
fn short(name: &str) -> &str {
    name.strip_prefix("refs/heads/").unwrap_or(name)
}

impl FakeGit {
    /// A repository whose branch `land` has one commit.
    pub fn new(land: &str) -> FakeGit {
        let git = FakeGit::default();
        {
            let mut w = git.world();
            let base = w.commit();
            w.tips.insert(land.to_string(), base);
        }
        git
    }

    pub fn world(&self) -> std::sync::MutexGuard<'_, World> {
        self.world.lock().unwrap()
    }

    fn call(&self, what: String) -> std::sync::MutexGuard<'_, World> {
        let mut w = self.world();
        w.calls.push(what);
        w
    }
}

impl Git for FakeGit {
    fn ensure_worktree(&self, wt: &Path, base_ref: &str) -> Result<()> {
        let _w = self.call(format!("ensure {}", wt.display()));
        let _ = base_ref;
        std::fs::create_dir_all(wt).expect("a worktree directory");
        Ok(())
    }

    fn prepare(&self, wt: &Path, branch: &str, base_ref: &str) -> Result<Prepared> {
        let mut w = self.call(format!("prepare {branch}"));
        w.checked_out.insert(wt.to_path_buf(), branch.to_string());
        if let Some(head) = w.tips.get(branch) {
            return Ok(Prepared::Resumed { head: head.clone() });
        }
        let base = w.tips[short(base_ref)].clone();
        w.tips.insert(branch.to_string(), base.clone());
        Ok(Prepared::Fresh { base })
    }

    fn commit(
        &self,
        wt: &Path,
        _message: &str,
        trailers: &Trailers,
        _exclude: &[PathBuf],
        _base_ref: &str,
    ) -> Result<Committed> {
        let mut w = self.call(format!("commit {}", trailers.task));
        let branch = w.checked_out.remove(wt).expect("a branch checked out");
        let head = w.commit();
        w.tips.insert(branch, head.clone());
        Ok(Committed::Changes { head })
    }

    fn integrate(
        &self,
        _wt: &Path,
        branch: &str,
        onto: &str,
        _strategy: Strategy,
        _message: &str,
        _trailers: &Trailers,
    ) -> Result<Integrated> {
        let mut w = self.call(format!("integrate {branch}"));
        if let Some(n) = w.conflicts.get_mut(branch).filter(|n| **n > 0) {
            *n -= 1;
            return Ok(Integrated::Conflict {
                files: vec!["shared.txt".into()],
            });
        }
        let Some(from) = w.tips.get(branch).cloned() else {
            return Ok(Integrated::Gone);
        };
        // A branch's name, or a commit made earlier in the same turn.
        let onto = w
            .tips
            .get(short(onto))
            .cloned()
            .unwrap_or_else(|| onto.to_string());
        let head = w.commit();
        Ok(Integrated::Ready { head, onto, from })
    }

    fn move_branch(&self, branch: &str, new: &Oid, _old: &Oid) -> Result<()> {
        self.call(format!("move {branch}"))
            .tips
            .insert(branch.to_string(), new.clone());
        Ok(())
    }

    fn advance(
        &self,
        land_ref: &str,
        new: &Oid,
        old: &Oid,
        landed: &[(&str, &Oid)],
    ) -> Result<Advanced> {
        let mut w = self.call(format!("advance {}", short(land_ref)));
        if w.tips.get(short(land_ref)) != Some(old) {
            return Ok(Advanced::Raced);
        }
        w.tips.insert(short(land_ref).to_string(), new.clone());
        for (branch, _) in landed {
            w.tips.remove(*branch);
        }
        Ok(Advanced::Moved)
    }

    fn tip(&self, refname: &str) -> Result<Option<Oid>> {
        Ok(self.world().tips.get(short(refname)).cloned())
    }

    fn delete_branch(&self, branch: &str, _expected: &Oid) -> Result<()> {
        self.call(format!("delete {branch}")).tips.remove(branch);
        Ok(())
    }

    fn park(&self, wt: &Path, rev: &str) -> Result<bool> {
        let _w = self.call(format!("park {} {rev}", wt.display()));
        Ok(true)
    }

    fn remove_worktree(&self, wt: &Path) -> Result<bool> {
        let _w = self.call(format!("remove {}", wt.display()));
        Ok(true)
    }
}
