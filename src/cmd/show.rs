//! `swarm show TASK [--json]`: one task's details in one place, from what swarm records:
//! the plan (its text, its box, its sentinel), the last run's snapshot (its state, why,
//! which worker), the receipts of its attempts from the run journal (each stage with its
//! time and how long it took), the transcripts, and what each attempt cost by the agents'
//! own records. The MCP tool `show` returns the same data (src/mcp/show.rs).

use crate::Outcome;
use crate::cli::{ShowArgs, Workspace};
use crate::cost::{Ledger, Sources, Spent};
use crate::journal::Record;
use crate::orchestrator::snapshot::{Snapshot, TaskRow};
use crate::plan::TaskId;
use crate::receipt::{Receipt, Stage};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};

/// A task as `swarm show` and the MCP tool `show` give it.
#[derive(Debug, Serialize)]
pub struct Shown {
    id: TaskId,
    text: String,
    line: usize,
    /// Checked off in PLAN.md.
    done: bool,
    /// The file its worker creates when it is done, relative to the plan's directory.
    sentinel: PathBuf,
    sentinel_exists: bool,
    /// As `swarm run` last saw it (`pending`, `running`, `done`, `failed`, `skipped`,
    /// `blocked`): `null` when no run has had it.
    state: Option<String>,
    /// Why it failed or is blocked, or what it waits for.
    reason: Option<String>,
    /// The worker on it now (`w2`).
    worker: Option<String>,
    /// Deliveries so far, as the run counts them; without a run, its transcripts.
    attempts: u32,
    /// The transcript of each recorded attempt, oldest first (`logs` prints them).
    transcripts: Vec<Transcript>,
    /// Each stage of each attempt, oldest first, from the run journal.
    receipts: Vec<Step>,
    /// What each attempt cost, by the agents' own records.
    spent: Vec<AttemptSpent>,
    /// What the task cost over its attempts.
    total: Option<Spent>,
}

#[derive(Debug, Serialize)]
struct Transcript {
    attempt: u32,
    path: PathBuf,
}

/// A receipt, with the seconds since the stage before it in the same attempt.
#[derive(Debug, Serialize)]
struct Step {
    #[serde(flatten)]
    receipt: Receipt,
    #[serde(skip_serializing_if = "Option::is_none")]
    took: Option<f64>,
}

#[derive(Debug, Serialize)]
struct AttemptSpent {
    attempt: u32,
    #[serde(flatten)]
    spent: Spent,
}

pub fn run(args: &ShowArgs) -> anyhow::Result<Outcome> {
    let shown = build(&args.workspace, &args.task)?;
    let text = if args.json {
        serde_json::to_string_pretty(&shown)? + "\n"
    } else {
        render(&shown)
    };
    std::io::stdout().lock().write_all(text.as_bytes())?;
    Ok(Outcome::Success)
}

/// Everything swarm knows about the task `typed` names.
pub fn build(workspace: &Workspace, typed: &str) -> anyhow::Result<Shown> {
    let (ws, _, settings) = super::target_with(workspace, Default::default())?;
    let task = super::find_task(&ws, typed)?;
    let sentinel = crate::prompt::sentinel_for(&task)?;
    let row: Option<TaskRow> = Snapshot::read(&ws.state_path())?
        .and_then(|s| s.tasks.into_iter().find(|t| t.id == task.id.0));
    let transcripts: Vec<Transcript> = super::logs::attempts(&ws.logs_dir(), &task.id)
        .into_iter()
        .map(|attempt| Transcript {
            attempt,
            path: ws.transcript(&task.id, attempt),
        })
        .collect();
    let receipts = receipts_of(&ws.journal_path(), &task.id);
    let spent = spent_of(&receipts, &task.id, &sentinel, &ws.hooks_dir(), &settings);
    let mut total: Option<Spent> = None;
    for a in &spent {
        total.get_or_insert_with(Spent::default).add(&a.spent);
    }
    Ok(Shown {
        attempts: row
            .as_ref()
            .map_or(transcripts.len() as u32, |r| r.attempts),
        state: row.as_ref().map(|r| r.state.clone()),
        reason: row.as_ref().and_then(|r| r.reason.clone()),
        worker: row.as_ref().and_then(|r| r.worker).map(|w| format!("w{w}")),
        sentinel_exists: ws.root.join(&sentinel).exists(),
        sentinel,
        transcripts,
        receipts: steps(receipts),
        spent,
        total,
        line: task.line,
        done: task.checked,
        text: task.text,
        id: task.id,
    })
}

/// The task's receipts in the journal, oldest first. The journal is read, never opened
/// for writing: a run may hold it.
fn receipts_of(journal: &Path, task: &TaskId) -> Vec<Receipt> {
    let text = std::fs::read_to_string(journal).unwrap_or_default();
    text.lines()
        .filter_map(|line| match serde_json::from_str::<Record>(line) {
            Ok(Record::Receipt(r)) if &r.task == task => Some(r),
            _ => None,
        })
        .collect()
}

fn steps(receipts: Vec<Receipt>) -> Vec<Step> {
    let mut out: Vec<Step> = Vec::with_capacity(receipts.len());
    for receipt in receipts {
        let took = out
            .last()
            .filter(|s| s.receipt.attempt == receipt.attempt)
            .map(|s| (receipt.at - s.receipt.at) as f64 / 1000.0);
        out.push(Step { receipt, took });
    }
    out
}

/// What each attempt cost, read now from the agents' records in the folders its
/// attempts ran in, since the first was handed out.
fn spent_of(
    receipts: &[Receipt],
    task: &TaskId,
    sentinel: &Path,
    hooks: &Path,
    settings: &crate::config::Settings,
) -> Vec<AttemptSpent> {
    let mut cwds = Vec::new();
    let mut starts = Vec::new();
    for r in receipts {
        if let Stage::Queued { cwd, .. } = &r.stage {
            if !cwds.contains(cwd) {
                cwds.push(cwd.clone());
            }
            starts.push((r.attempt, r.at));
        }
    }
    let Some(since) = starts.iter().map(|s| s.1).min() else {
        return Vec::new();
    };
    let sources = Sources::new(cwds, Some(hooks.to_path_buf()), since);
    let names = HashMap::from([(sentinel.display().to_string(), task.clone())]);
    let ledger = Ledger::build(
        &sources.read(),
        &names,
        &HashMap::from([(task.clone(), starts)]),
    );
    let prices = &settings.costing.prices;
    ledger
        .attempts
        .keys()
        .filter_map(|(_, attempt)| {
            Some(AttemptSpent {
                attempt: *attempt,
                spent: ledger.attempt(task, *attempt, prices)?,
            })
        })
        .collect()
}

/// `swarm show` for people.
fn render(shown: &Shown) -> String {
    let mut out = format!("{} (line {}): {}\n", shown.id, shown.line, shown.text);
    let state = shown
        .state
        .as_deref()
        .unwrap_or(if shown.done { "done" } else { "not run" });
    let _ = write!(out, "state: {state}");
    if let Some(reason) = &shown.reason {
        let _ = write!(out, " ({reason})");
    }
    if let Some(worker) = &shown.worker {
        let _ = write!(out, " on {worker}");
    }
    let _ = writeln!(
        out,
        "; {} attempt{}; sentinel {}{}",
        shown.attempts,
        if shown.attempts == 1 { "" } else { "s" },
        shown.sentinel.display(),
        if shown.sentinel_exists {
            " (exists)"
        } else {
            ""
        }
    );
    let mut attempt = None;
    for step in &shown.receipts {
        let r = &step.receipt;
        if attempt != Some(r.attempt) {
            attempt = Some(r.attempt);
            let _ = writeln!(out, "attempt {}:", r.attempt);
        }
        let took = step.took.map(|t| format!("+{t:.1}s")).unwrap_or_default();
        let line = format!(
            "  {}  {:<10} {:>8}  {}",
            clock(r.at),
            r.stage.name(),
            took,
            r.stage.detail()
        );
        let _ = writeln!(out, "{}", line.trim_end());
        if let Some(a) = shown
            .spent
            .iter()
            .find(|a| a.attempt == r.attempt)
            .filter(|_| is_last_of_attempt(&shown.receipts, step))
        {
            let _ = writeln!(out, "  spent: {} ({})", a.spent.describe(), a.spent.tokens);
        }
    }
    if shown.receipts.is_empty() {
        out.push_str("no receipts: no run has handed it out since the journal began\n");
    }
    if let Some(total) = &shown.total {
        let _ = writeln!(out, "total: {}", total.describe());
        if total.cost.is_some() {
            let _ = writeln!(
                out,
                "(prices: swarm.toml's [prices], else the shipped ones of {})",
                crate::cost::prices::PRICES_TAKEN
            );
        }
    }
    for t in &shown.transcripts {
        let _ = writeln!(out, "transcript {}: {}", t.attempt, t.path.display());
    }
    out
}

fn is_last_of_attempt(steps: &[Step], step: &Step) -> bool {
    let attempt = step.receipt.attempt;
    steps
        .iter()
        .rev()
        .find(|s| s.receipt.attempt == attempt)
        .is_some_and(|last| std::ptr::eq(last, step))
}

/// `14:03:07.123`, local time.
fn clock(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned_datetime(jiff::tz::TimeZone::system())
                .strftime("%H:%M:%S%.3f")
                .to_string()
        })
        .unwrap_or_default()
}
