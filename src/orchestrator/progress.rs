//! What a person watching the run sees: an indicatif bar with event lines on a terminal,
//! plain event lines otherwise (logs, CI). Each line carries the run's elapsed time; while
//! nothing happens, a heartbeat line every 30 s says where the run stands, with an ETA.

use super::joblog::JobLog;
use crate::plan::{Task, TaskId};
use crate::scheduler::{Action, Event, State, Tally};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::cell::Cell;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

/// How long the lines may stay silent before a heartbeat says the run is alive.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// Progress on stderr.
pub struct Progress {
    bar: Option<ProgressBar>,
    /// Nothing is printed: the dashboard owns the terminal.
    quiet: bool,
    started: Instant,
    /// When each running task was handed out, for the "done in Ns" lines.
    since: HashMap<TaskId, Instant>,
    /// `swarm stop` ended the run, rather than a signal.
    stopped: bool,
    /// When the last line was printed, for the heartbeat.
    last_line: Cell<Instant>,
    /// The tally last seen, and the tasks done when the run began (not this run's work).
    tally: Option<Tally>,
    done_before: Option<usize>,
    jobs: JobLog,
}

impl Progress {
    pub fn new() -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner} [{elapsed_precise}] {wide_bar} {pos}/{len} done · {msg}",
                )
                .expect("a valid template"),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            quiet: false,
            started: Instant::now(),
            since: HashMap::new(),
            stopped: false,
            last_line: Cell::new(Instant::now()),
            tally: None,
            done_before: None,
            jobs: JobLog::default(),
        }
    }

    /// Progress that prints nothing, for when the dashboard shows the run instead.
    pub fn quiet() -> Progress {
        Progress {
            bar: None,
            quiet: true,
            started: Instant::now(),
            since: HashMap::new(),
            stopped: false,
            last_line: Cell::new(Instant::now()),
            tally: None,
            done_before: None,
            jobs: JobLog::default(),
        }
    }

    fn line(&self, text: String) {
        if self.quiet {
            return;
        }
        self.last_line.set(Instant::now());
        let text = format!("[{}] {text}", clock(self.started.elapsed()));
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    /// Says something a person should know about PLAN.md.
    pub fn warn(&self, text: &str) {
        self.line(format!("⚠ {text}"));
    }

    /// Announces what the orchestrator is about to do, where a person cares.
    pub fn action(&mut self, action: &Action, tasks: &HashMap<TaskId, Task>) {
        match action {
            Action::Deliver {
                worker,
                task,
                attempt,
                ..
            } => {
                self.since.insert(task.clone(), Instant::now());
                let text = tasks.get(task).map_or("", |t| t.text.as_str());
                self.jobs
                    .delivered(task, *worker, *attempt, text, SystemTime::now());
                let retry = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                self.line(format!("→ w{worker} {task}{retry}: {text}"));
            }
            Action::CheckOff { task } => {
                self.jobs.ended(task, "done", SystemTime::now());
                let took = self
                    .since
                    .remove(task)
                    .map(|t| format!(" in {:.1}s", t.elapsed().as_secs_f64()))
                    .unwrap_or_default();
                self.line(format!("✓ {task}{took}"));
            }
            _ => {}
        }
    }

    /// Reports how far a finished task's work got towards the landing branch.
    pub fn stage(&mut self, task: &TaskId, stage: &str, commit: Option<&str>) {
        let commit = commit
            .map(|c| format!(" {}", &c[..c.len().min(10)]))
            .unwrap_or_default();
        self.line(format!("· {task}: {stage}{commit}"));
    }

    /// Reports trouble that the scheduler will deal with.
    pub fn event(&mut self, event: &Event) {
        match event {
            Event::DeliveryFailed {
                worker,
                task,
                failure,
                ..
            } => {
                self.line(format!("! w{worker} {task}: {failure}"));
            }
            Event::NotReady { worker, reason, .. } => {
                self.line(format!("! w{worker} not ready: {reason}"));
            }
            Event::PaneDead {
                pane,
                status,
                signal,
            } => {
                let status = match (status, signal) {
                    (_, Some(signal)) => format!(" (signal {signal})"),
                    (Some(status), None) => format!(" (status {status})"),
                    (None, None) => String::new(),
                };
                self.line(format!("! pane {pane} exited{status}"));
            }
            Event::LandFailed { task, reason } => {
                self.line(format!("! {task} did not land: {reason}"));
            }
            Event::HostLost { host } => {
                self.line(format!("! host {host} cannot be reached"));
            }
            Event::HostBack { host, rebooted } => {
                let how = if *rebooted {
                    " (restarted: its agents are new)"
                } else {
                    ""
                };
                self.line(format!("· host {host} is back{how}"));
            }
            Event::Checked {
                task,
                outcome: crate::scheduler::Checked::Failed(reason),
                ..
            } => {
                self.line(format!("! {task}: {reason}"));
            }
            _ => {}
        }
    }

    pub fn update(&mut self, state: &State) {
        let tally = state.tally();
        if self.tally != Some(tally) {
            self.tally = Some(tally);
            self.done_before.get_or_insert(tally.done);
            self.jobs.sync(state, SystemTime::now());
        }
        let eta = self.eta();
        if let Some(bar) = &self.bar {
            bar.set_length(state.tasks().len() as u64);
            bar.set_position(tally.done as u64);
            let eta = eta
                .map(|d| format!(" · ETA {}", short(d)))
                .unwrap_or_default();
            bar.set_message(format!(
                "{} running · {} failed{eta}",
                tally.running, tally.failed
            ));
        } else if self.last_line.get().elapsed() >= HEARTBEAT {
            let line = heartbeat(&tally, state.tasks().len(), eta);
            self.line(line);
        }
    }

    /// When the open tasks should be done, at the pace of this run's finished ones.
    fn eta(&self) -> Option<Duration> {
        let tally = self.tally?;
        let done = tally.done.checked_sub(self.done_before?)?;
        eta(self.started.elapsed(), done, tally.open())
    }

    /// Writes the per-task record to `path` (`.swarm/joblog.tsv`).
    pub fn write_joblog(&self, path: &Path) -> std::io::Result<()> {
        if self.jobs.is_empty() {
            return Ok(());
        }
        self.jobs.write(path, SystemTime::now())
    }

    /// The run ends because `swarm stop` ended it: the summary says so.
    pub fn stopped_by_command(&mut self) {
        self.stopped = true;
    }

    /// Clears the bar and prints the per-task table and the final summary.
    pub fn finish(&mut self, summary: &super::Summary) {
        self.quiet = false;
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
        let now = SystemTime::now();
        for (task, _) in &summary.failed {
            self.jobs.ended(task, "failed", now);
        }
        self.jobs.costs(&summary.cost);
        if !self.jobs.is_empty() {
            eprint!("{}", self.jobs.table(now));
        }
        for (task, reason) in &summary.failed {
            eprintln!("✗ {task}: {reason}");
        }
        let already = match summary.already_checked {
            0 => String::new(),
            n => format!("; {n} already checked"),
        };
        let skipped = match summary.skipped {
            0 => String::new(),
            n => format!(", {n} skipped"),
        };
        let landed = match &summary.landed {
            Some((branch, n)) => format!(" ({n} landed on {branch})"),
            None => String::new(),
        };
        eprintln!(
            "swarm: {} done{landed}, {} failed{skipped}, {} total in {:.1}s{already}{}",
            summary.done,
            summary.failed.len(),
            summary.total,
            self.started.elapsed().as_secs_f64(),
            if self.stopped {
                " (stopped by `swarm stop`)"
            } else if summary.interrupted {
                " (interrupted)"
            } else {
                ""
            }
        );
        if let Some(line) = cost_line(&summary.cost) {
            eprintln!("{line}");
        }
        if let Some((branch, n)) = &summary.landed
            && *n > 0
        {
            eprintln!("hint: git merge {branch}   # or open a pull request from it");
        }
    }
}

/// What the run cost, against its budgets: `swarm: spent 12345 tokens, $0.042 (budget
/// $20.00; per task $2.00)`, and a line when the budget stopped the run. None when
/// nothing was recorded and no budget was set.
pub fn cost_line(cost: &super::Costs) -> Option<String> {
    use crate::scheduler::budget::dollars;
    let budgets: Vec<String> = [
        cost.budget.map(|b| format!("budget {}", dollars(b))),
        cost.task_budget.map(|b| format!("per task {}", dollars(b))),
    ]
    .into_iter()
    .flatten()
    .collect();
    if cost.total.tokens.total() == 0 && budgets.is_empty() {
        return None;
    }
    let mut line = format!("swarm: spent {}", cost.total.describe());
    if !budgets.is_empty() {
        line.push_str(&format!(" ({})", budgets.join("; ")));
    }
    if cost.budget_reached {
        line.push_str(&format!(
            "\nswarm: the budget was reached: no more tasks went out; {} left open for the next run",
            cost.left
        ));
    }
    Some(line)
}

/// The heartbeat line: where the run stands.
fn heartbeat(tally: &Tally, total: usize, eta: Option<Duration>) -> String {
    let eta = eta
        .map(|d| format!(" · ETA {}", short(d)))
        .unwrap_or_default();
    format!(
        "· {}/{total} done · {} running · {} failed{eta}",
        tally.done, tally.running, tally.failed
    )
}

/// `open` tasks at the pace of `done` in `elapsed`; none before the first is done.
pub fn eta(elapsed: Duration, done: usize, open: usize) -> Option<Duration> {
    if done == 0 || open == 0 {
        return None;
    }
    Some(elapsed.mul_f64(open as f64 / done as f64))
}

/// `45s`, `3m`, `1m35s`, `2h05m`: a duration at a glance.
pub fn short(d: Duration) -> String {
    let secs = d.as_secs();
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 if secs.is_multiple_of(60) => format!("{}m", secs / 60),
        60..3600 => format!("{}m{:02}s", secs / 60, secs % 60),
        _ => format!("{}h{:02}m", secs / 3600, secs % 3600 / 60),
    }
}

/// `01:05` or `1:02:05`: elapsed time, for the start of each line.
fn clock(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 3600 {
        format!("{}:{:02}:{:02}", secs / 3600, secs % 3600 / 60, secs % 60)
    } else {
        format!("{:02}:{:02}", secs / 60, secs % 60)
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(short(Duration::from_secs(45)), "45s");
        assert_eq!(short(Duration::from_secs(180)), "3m");
        assert_eq!(short(Duration::from_secs(95)), "1m35s");
        assert_eq!(short(Duration::from_secs(7500)), "2h05m");
        assert_eq!(clock(Duration::from_secs(65)), "01:05");
        assert_eq!(clock(Duration::from_secs(3725)), "1:02:05");
    }

    #[test]
    fn the_eta_follows_the_pace_of_finished_tasks() {
        let minute = Duration::from_secs(60);
        assert_eq!(eta(minute, 0, 4), None, "no pace before the first is done");
        assert_eq!(eta(minute, 2, 0), None, "nothing left");
        assert_eq!(eta(minute * 3, 3, 9), Some(minute * 9));
        let tally = Tally {
            pending: 4,
            running: 2,
            done: 6,
            failed: 1,
            skipped: 0,
            blocked: 0,
            landing: 0,
        };
        assert_eq!(
            heartbeat(&tally, 13, Some(minute * 3)),
            "· 6/13 done · 2 running · 1 failed · ETA 3m"
        );
    }
}
