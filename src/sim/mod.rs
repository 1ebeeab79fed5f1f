//! `swarm sim-agent`: a simulated agent CLI for demos and tests. It is a real interactive
//! terminal program with an input box, bracketed paste, a spinner and the real agents'
//! Enter race, but no LLM.

mod git;
mod input;
mod log;
mod screen;
mod task;

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, select};
use regex::Regex;
use serde_json::json;

use input::{Draft, Key, Parser};
use log::EventLog;
use screen::{Terminal, View};

/// Options of `swarm sim-agent`.
#[derive(Debug, Clone, clap::Args)]
pub struct SimArgs {
    /// How long each task works, in milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 1000)]
    pub think_ms: u64,
    /// Append one JSON line per event (start, prompt, output, sentinel, ...) to FILE.
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// A prompt matching REGEX keeps the agent busy until it is interrupted.
    #[arg(long, value_name = "REGEX")]
    pub hang_on: Option<Regex>,
    /// A prompt matching REGEX makes the agent exit with status 3 at once.
    #[arg(long, value_name = "REGEX")]
    pub exit_on: Option<Regex>,
    /// Die with status 101 halfway through prompt N+1, without creating its sentinel.
    #[arg(long, value_name = "N")]
    pub crash_after: Option<u64>,
    /// Stay busy this long after creating the sentinel, as Claude does (about 750 ms).
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub tail_ms: u64,
    /// Show a starting screen this long before becoming ready.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub startup_ms: u64,
    /// Run CMD with `sh -c` at each paste, and wait for it, before the paste shows: a
    /// test's hook into the moment between a paste and its Enter.
    #[arg(long, value_name = "CMD")]
    pub on_paste: Option<String>,
}

/// Runs the simulator on the current terminal until it quits.
pub fn run(args: &SimArgs) -> anyhow::Result<()> {
    let mut log = EventLog::open(args.log.as_deref())?;
    log.write("start", json!({ "pid": std::process::id() }))?;
    let keyboard = input::read_stdin();
    let resizes = screen::watch_resizes()?;
    let mut terminal = Terminal::enter()?;
    let mut sim = Sim::new(args, log);
    let end = sim.run(&mut terminal, &keyboard, &resizes);
    drop(terminal);
    match end? {
        End::Exit(code) => {
            sim.log.write("exit", json!({ "code": code }))?;
            if code != 0 {
                std::process::exit(code);
            }
            Ok(())
        }
        End::Crash => {
            eprintln!("swarm sim-agent: simulated crash (--crash-after)");
            std::process::exit(101);
        }
    }
}

/// How long a lone ESC waits for the rest of an escape sequence before it counts as a key.
const ESCAPE_WAIT: Duration = Duration::from_millis(30);
const SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const SPINNER_FRAME: Duration = Duration::from_millis(100);
/// Enough history for any screen; older events are dropped.
const TRANSCRIPT_MAX: usize = 1000;

/// How the simulator ends.
enum End {
    /// A normal exit with this status: /quit, C-d, a closed terminal, or `--exit-on`.
    Exit(i32),
    /// `--crash-after`: status 101, no exit event.
    Crash,
}

enum Phase {
    Starting {
        until: Instant,
    },
    Ready,
    /// Simulating work; `until` is None for a prompt that hangs until interrupted.
    Working {
        prompt: String,
        until: Option<Instant>,
        crash: bool,
    },
    /// The sentinel exists but the agent is still busy, as Claude is for its final request.
    Tail {
        until: Instant,
    },
}

struct Sim<'a> {
    args: &'a SimArgs,
    log: EventLog,
    phase: Phase,
    draft: Draft,
    /// Messages submitted while busy, processed in order afterwards.
    queue: VecDeque<String>,
    transcript: Vec<String>,
    /// Prompts received so far (not commands), for `--crash-after`.
    prompts: u64,
    born: Instant,
}

impl<'a> Sim<'a> {
    fn new(args: &'a SimArgs, log: EventLog) -> Sim<'a> {
        let born = Instant::now();
        let phase = if args.startup_ms > 0 {
            Phase::Starting {
                until: born + Duration::from_millis(args.startup_ms),
            }
        } else {
            Phase::Ready
        };
        Sim {
            args,
            log,
            phase,
            draft: Draft::default(),
            queue: VecDeque::new(),
            transcript: Vec::new(),
            prompts: 0,
            born,
        }
    }

    fn run(
        &mut self,
        terminal: &mut Terminal,
        keyboard: &Receiver<Vec<u8>>,
        resizes: &Receiver<()>,
    ) -> anyhow::Result<End> {
        let mut parser = Parser::default();
        let mut escape_deadline = None;
        loop {
            terminal.draw(&self.view(Instant::now()))?;
            let now = Instant::now();
            let wake = [self.next_change(now), escape_deadline]
                .into_iter()
                .flatten()
                .min()
                .map_or(Duration::from_secs(3600), |t| {
                    t.saturating_duration_since(now)
                });
            let mut keys = Vec::new();
            select! {
                recv(keyboard) -> bytes => match bytes {
                    Ok(bytes) => {
                        keys = parser.feed(&bytes);
                        escape_deadline = parser.is_waiting().then(|| Instant::now() + ESCAPE_WAIT);
                    }
                    // The terminal is gone (the pane was closed): nobody is left to type.
                    Err(_) => return Ok(End::Exit(0)),
                },
                recv(resizes) -> _ => terminal.invalidate()?,
                default(wake) => {}
            }
            if escape_deadline.is_some_and(|t| Instant::now() >= t) {
                keys.extend(parser.flush());
                escape_deadline = None;
            }
            for key in keys {
                if let Some(end) = self.key(key)? {
                    return Ok(end);
                }
            }
            if let Some(end) = self.advance(Instant::now())? {
                return Ok(end);
            }
        }
    }

    /// When the screen or the phase changes next without input: a spinner frame or a deadline.
    fn next_change(&self, now: Instant) -> Option<Instant> {
        let deadline = match &self.phase {
            Phase::Ready => return None,
            Phase::Starting { until } | Phase::Tail { until } => Some(*until),
            Phase::Working { until, .. } => *until,
        };
        let into_frame = now.duration_since(self.born).as_nanos() % SPINNER_FRAME.as_nanos();
        let frame = now + SPINNER_FRAME - Duration::from_nanos(into_frame as u64);
        Some(deadline.map_or(frame, |d| d.min(frame)))
    }

    fn view(&self, now: Instant) -> View<'_> {
        let frame = now.duration_since(self.born).as_millis() / SPINNER_FRAME.as_millis();
        let spinner = SPINNER[frame as usize % SPINNER.len()];
        let mut status = match self.phase {
            Phase::Starting { .. } => format!("[starting] {spinner} starting…"),
            Phase::Ready => "[ready] simulated agent · enter to submit".to_string(),
            Phase::Working { .. } | Phase::Tail { .. } => {
                format!("[working] {spinner} simulating… (esc to interrupt)")
            }
        };
        if !self.queue.is_empty() {
            status.push_str(&format!(" · {} queued", self.queue.len()));
        }
        View {
            transcript: &self.transcript,
            input: self.draft.display(),
            status,
        }
    }

    fn busy(&self) -> bool {
        matches!(self.phase, Phase::Working { .. } | Phase::Tail { .. })
    }

    fn key(&mut self, key: Key) -> anyhow::Result<Option<End>> {
        match key {
            Key::Text(text) => self.draft.type_text(&text),
            Key::Paste(text) => {
                // Every paste whole, as it came: tests check that none is cut or doubled.
                self.log.write("paste", json!({ "text": text.as_str() }))?;
                if let Some(cmd) = &self.args.on_paste {
                    std::process::Command::new("sh")
                        .args(["-c", cmd])
                        .status()?;
                }
                self.draft.paste(text);
            }
            Key::Enter if !self.draft.is_empty() => {
                let text = self.draft.take();
                return self.submit(text);
            }
            Key::Newline(burst) => {
                self.log
                    .write("enter-absorbed", json!({ "after": burst.as_str() }))?;
                self.draft.type_text("\n");
            }
            Key::Backspace => self.draft.backspace(),
            Key::CtrlC if !self.draft.is_empty() => self.draft.clear(),
            Key::CtrlC | Key::Escape if self.busy() => self.interrupt()?,
            Key::CtrlD if self.draft.is_empty() => return Ok(Some(End::Exit(0))),
            Key::Enter | Key::CtrlC | Key::CtrlD | Key::Escape => {}
        }
        Ok(None)
    }

    fn submit(&mut self, text: String) -> anyhow::Result<Option<End>> {
        if matches!(self.phase, Phase::Ready) {
            return self.start(text);
        }
        self.log.write("queued", json!({ "bytes": text.len() }))?;
        self.queue.push_back(text);
        Ok(None)
    }

    /// Takes on a submitted message: a command, or a prompt to work on.
    fn start(&mut self, text: String) -> anyhow::Result<Option<End>> {
        match text.trim() {
            "/quit" => return Ok(Some(End::Exit(0))),
            "/clear" => {
                self.log.write("clear", json!({}))?;
                self.transcript.clear();
                self.note("context cleared".into());
                return Ok(None);
            }
            _ => {}
        }
        self.prompts += 1;
        self.log
            .write("prompt", json!({ "text": text, "bytes": text.len() }))?;
        self.note(format!(
            "› task received ({} chars, {} lines)",
            text.chars().count(),
            text.lines().count()
        ));
        if let Some(lines) = task::verify_output_lines(&text) {
            self.log.write("verify-output", json!({ "lines": lines }))?;
            self.note(format!("sim: saw verify output ({lines} lines)"));
        }
        let matches = |re: &Option<Regex>| re.as_ref().is_some_and(|re| re.is_match(&text));
        if matches(&self.args.exit_on) {
            return Ok(Some(End::Exit(3)));
        }
        let think = Duration::from_millis(self.args.think_ms);
        let crash = self.args.crash_after.is_some_and(|n| self.prompts > n);
        let until = if crash {
            Some(Instant::now() + think / 2)
        } else if matches(&self.args.hang_on) {
            None
        } else {
            Some(Instant::now() + think)
        };
        self.phase = Phase::Working {
            prompt: text,
            until,
            crash,
        };
        Ok(None)
    }

    /// Moves the phase on when its time has come, and starts queued messages when ready.
    fn advance(&mut self, now: Instant) -> anyhow::Result<Option<End>> {
        match &self.phase {
            Phase::Starting { until } | Phase::Tail { until } if now >= *until => {
                self.phase = Phase::Ready;
            }
            Phase::Working {
                until: Some(until),
                crash,
                ..
            } if now >= *until => {
                if *crash {
                    return Ok(Some(End::Crash));
                }
                self.finish()?;
            }
            _ => {}
        }
        while matches!(self.phase, Phase::Ready) {
            let Some(text) = self.queue.pop_front() else {
                break;
            };
            if let Some(end) = self.start(text)? {
                return Ok(Some(end));
            }
        }
        Ok(None)
    }

    /// Ends the work on a prompt: writes its output and sentinel, then idles (after the tail).
    fn finish(&mut self) -> anyhow::Result<()> {
        let tail = Duration::from_millis(self.args.tail_ms);
        let next = if tail.is_zero() {
            Phase::Ready
        } else {
            Phase::Tail {
                until: Instant::now() + tail,
            }
        };
        let Phase::Working { prompt, .. } = std::mem::replace(&mut self.phase, next) else {
            unreachable!("finish() is only called while working");
        };
        if let Some(reference) = task::rebase_onto(&prompt) {
            self.rebase(&reference)?;
        }
        let wanted = task::deliverables(&prompt);
        let line = task::append_line(&prompt, wanted.as_ref().map(|w| w.sentinel.as_str()));
        let mut done = true;
        for path in task::appends(&prompt) {
            done &= self.append(&path, &line)?;
        }
        let Some(wanted) = wanted else {
            self.note("· no sentinel named in the prompt".into());
            return Ok(());
        };
        // A failed append or output write leaves no sentinel: the task did not get done.
        if let Some(output) = &wanted.output
            && done
        {
            done = self.create(output, &task::output_contents(&prompt), "output", "wrote")?;
        }
        if done {
            self.create(&wanted.sentinel, "", "sentinel", "created")?;
        }
        Ok(())
    }

    /// Writes one file, logging `event` on success; returns whether it worked.
    fn create(
        &mut self,
        path: &str,
        contents: &str,
        event: &str,
        verb: &str,
    ) -> anyhow::Result<bool> {
        match task::write_file(path, contents) {
            Ok(()) => {
                self.log.write(event, json!({ "path": path }))?;
                self.note(format!("✓ {verb} {path}"));
                Ok(true)
            }
            Err(err) => {
                self.log
                    .write("error", json!({ "path": path, "message": err.to_string() }))?;
                self.note(format!("✗ cannot write {path}: {err}"));
                Ok(false)
            }
        }
    }

    /// `git rebase REF` in the working directory, conflicts resolved or the rebase aborted;
    /// either way the task goes on, as an agent's would.
    fn rebase(&mut self, reference: &str) -> anyhow::Result<()> {
        let (record, note) = match git::rebase_and_resolve(Path::new("."), reference) {
            git::Rebase::Clean => (
                json!({ "ref": reference, "result": "clean" }),
                format!("✓ rebased onto {reference}"),
            ),
            git::Rebase::Resolved(files) => (
                json!({ "ref": reference, "result": "resolved", "files": files }),
                format!("✓ rebased onto {reference}, resolved {}", files.join(", ")),
            ),
            git::Rebase::NotARepo => (
                json!({ "ref": reference, "result": "not-a-repo" }),
                format!("sim: not in a git repository, skipped `git rebase {reference}`"),
            ),
            git::Rebase::Failed(why) => (
                json!({ "ref": reference, "result": "aborted", "message": why }),
                format!("✗ git rebase {reference} failed, aborted: {why}"),
            ),
        };
        self.log.write("rebase", record)?;
        self.note(note);
        Ok(())
    }

    /// Appends the task's line to `path` unless it is there already; returns whether the
    /// file holds it now.
    fn append(&mut self, path: &str, line: &str) -> anyhow::Result<bool> {
        match task::append_once(path, line) {
            Ok(appended) => {
                let fields = json!({ "path": path, "line": line, "appended": appended });
                self.log.write("append", fields)?;
                self.note(match appended {
                    true => format!("✓ appended a line to {path}"),
                    false => format!("· {path} already has this task's line"),
                });
                Ok(true)
            }
            Err(err) => {
                self.log
                    .write("error", json!({ "path": path, "message": err.to_string() }))?;
                self.note(format!("✗ cannot append to {path}: {err}"));
                Ok(false)
            }
        }
    }

    fn interrupt(&mut self) -> anyhow::Result<()> {
        self.log.write("interrupted", json!({}))?;
        self.phase = Phase::Ready;
        // Dropped rather than started: whoever interrupts wants the agent idle.
        let dropped = std::mem::take(&mut self.queue).len();
        self.note(match dropped {
            0 => "■ interrupted".to_string(),
            n => format!("■ interrupted ({n} queued dropped)"),
        });
        Ok(())
    }

    fn note(&mut self, line: String) {
        self.transcript.push(line);
        let excess = self.transcript.len().saturating_sub(TRANSCRIPT_MAX);
        self.transcript.drain(..excess);
    }
}
