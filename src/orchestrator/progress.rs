//! What a person watching the run sees: an indicatif bar with event lines on a terminal,
//! plain event lines otherwise (logs, CI).

use crate::plan::{Task, TaskId};
use crate::scheduler::{Action, Event, State};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::io::IsTerminal;
use std::time::{Duration, Instant};

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
        }
    }

    fn line(&self, text: String) {
        if self.quiet {
            return;
        }
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
                let retry = if *attempt > 1 {
                    format!(" (attempt {attempt})")
                } else {
                    String::new()
                };
                self.line(format!("→ w{worker} {task}{retry}: {text}"));
            }
            Action::CheckOff { task } => {
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
            _ => {}
        }
    }

    pub fn update(&mut self, state: &State) {
        if let Some(bar) = &self.bar {
            let tally = state.tally();
            bar.set_length(state.tasks().len() as u64);
            bar.set_position(tally.done as u64);
            bar.set_message(format!(
                "{} running · {} failed",
                tally.running, tally.failed
            ));
        }
    }

    /// Clears the bar and prints the final summary.
    /// The run ends because `swarm stop` ended it: the summary says so.
    pub fn stopped_by_command(&mut self) {
        self.stopped = true;
    }

    pub fn finish(&mut self, summary: &super::Summary) {
        self.quiet = false;
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
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
        eprintln!(
            "swarm: {} done, {} failed{skipped}, {} total in {:.1}s{already}{}",
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
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress::new()
    }
}
