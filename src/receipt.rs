//! Receipts: what happened to each attempt of a task, stage by stage, with the time:
//! queued, pasted (where, how many bytes, the prompt's sha256), submitted (and how swarm
//! knew), working, sentinel, and verified, landed or failed. They go in the run journal as
//! notes that replay ignores; `swarm show` prints them, `status --json` carries the latest.

use crate::plan::TaskId;
use crate::tmux::PaneId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// One stage of an attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "kebab-case")]
pub enum Stage {
    /// Handed to a worker, whose agent works in `cwd`: its prompt is on its way.
    Queued {
        worker: usize,
        pane: PaneId,
        cwd: std::path::PathBuf,
    },
    /// The prompt went into the pane whole.
    Pasted {
        pane: PaneId,
        bytes: usize,
        sha256: String,
    },
    /// The agent took the prompt: `how` says how swarm saw it.
    Submitted {
        how: Submitted,
    },
    /// The agent's turn is under way (its hook said so, or its screen is busy).
    Working,
    /// The task's sentinel file appeared.
    Sentinel,
    /// Its work was committed and passed verify (isolated runs).
    Verified,
    /// Its work is on the landing branch (isolated runs).
    Landed {
        #[serde(skip_serializing_if = "Option::is_none", default)]
        commit: Option<String>,
    },
    /// The attempt ended without the task done, and why: it goes again, or it failed.
    Requeued {
        reason: String,
    },
    Failed {
        reason: String,
    },
}

/// How swarm saw the agent take a prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Submitted {
    /// The agent's screen turned busy.
    Busy,
    /// The input box no longer held the prompt.
    BoxCleared,
    /// The agent queued it behind its current turn.
    Queued,
    /// The screen changed after Enter (a profile that cannot see its input box).
    ScreenMoved,
}

impl Stage {
    /// The stage's name, as `status --json` and the dashboard show it.
    pub fn name(&self) -> &'static str {
        match self {
            Stage::Queued { .. } => "queued",
            Stage::Pasted { .. } => "pasted",
            Stage::Submitted { .. } => "submitted",
            Stage::Working => "working",
            Stage::Sentinel => "sentinel",
            Stage::Verified => "verified",
            Stage::Landed { .. } => "landed",
            Stage::Requeued { .. } => "requeued",
            Stage::Failed { .. } => "failed",
        }
    }

    /// What else the stage says, in words (empty when nothing).
    pub fn detail(&self) -> String {
        match self {
            Stage::Queued { worker, pane, .. } => format!("worker w{worker}, pane {pane}"),
            Stage::Pasted {
                pane,
                bytes,
                sha256,
            } => format!(
                "{bytes} bytes into {pane}, sha256 {}",
                &sha256[..sha256.len().min(16)]
            ),
            Stage::Submitted { how } => match how {
                Submitted::Busy => "confirmed: the agent turned busy".into(),
                Submitted::BoxCleared => "confirmed: the input box cleared".into(),
                Submitted::Queued => "confirmed: queued behind the agent's turn".into(),
                Submitted::ScreenMoved => "confirmed: the screen changed".into(),
            },
            Stage::Landed { commit: Some(c) } => format!("as {}", &c[..c.len().min(10)]),
            Stage::Requeued { reason } | Stage::Failed { reason } => reason.clone(),
            Stage::Landed { commit: None } | Stage::Working | Stage::Sentinel | Stage::Verified => {
                String::new()
            }
        }
    }
}

/// One receipt: a stage of attempt `attempt` of `task`, at `at` (Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub task: TaskId,
    pub attempt: u32,
    pub at: i64,
    #[serde(flatten)]
    pub stage: Stage,
}

/// The sha256 of a prompt, in hex.
pub fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The latest stage of a task, and how long it took: from the stage before it (of the
/// same attempt) to it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Latest {
    pub stage: String,
    pub attempt: u32,
    /// When it was reached, Unix seconds.
    pub at: f64,
    /// Seconds from the stage before it to this one; none for the first.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub took: Option<f64>,
}

impl Latest {
    /// The latest of `receipts` (one task's, oldest first).
    pub fn of(receipts: &[Receipt]) -> Option<Latest> {
        let last = receipts.last()?;
        let before = receipts
            .iter()
            .rev()
            .nth(1)
            .filter(|r| r.attempt == last.attempt);
        Some(Latest {
            stage: last.stage.name().to_string(),
            attempt: last.attempt,
            at: last.at as f64 / 1000.0,
            took: before.map(|b| (last.at - b.at) as f64 / 1000.0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_receipt_is_one_flat_json_object() {
        let r = Receipt {
            task: TaskId("a".into()),
            attempt: 2,
            at: 1_700_000_000_123,
            stage: Stage::Pasted {
                pane: PaneId("%3".into()),
                bytes: 5,
                sha256: sha256("hello"),
            },
        };
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["stage"], "pasted");
        assert_eq!(json["bytes"], 5);
        assert_eq!(
            json["sha256"],
            "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
        );
        let back: Receipt = serde_json::from_value(json).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn the_latest_stage_took_the_time_since_the_one_before_it() {
        let at = |at, stage| Receipt {
            task: TaskId("a".into()),
            attempt: 1,
            at,
            stage,
        };
        let list = [at(1000, Stage::Working), at(4500, Stage::Sentinel)];
        let latest = Latest::of(&list).unwrap();
        assert_eq!(latest.stage, "sentinel");
        assert_eq!(latest.took, Some(3.5));
        assert_eq!(Latest::of(&list[..1]).unwrap().took, None);
    }
}
