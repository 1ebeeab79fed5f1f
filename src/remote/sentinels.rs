//! One sentinel stream per host: `inotifywait -m -r` over `<dir>/wt` through one
//! long-lived ssh session, plus a rescan with `find` at connect, after every reconnect and
//! every 30 s (a 2 s poll where inotify-tools are missing). The file on the host is the
//! truth and an event only a hint, so a sentinel written while the link was down is found
//! by the rescan that follows. Each `.done` is reported with the attempt in its path, for
//! the coordinator to fence stale attempts.

use super::host_argv;
use super::paths::{Sentinel, parse_sentinel};
use crate::ssh::{Backoff, Host, Remote, SystemSsh};
use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, after, bounded, select, unbounded};
use std::collections::{BTreeSet, HashSet};
use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use wait_timeout::ChildExt;

/// How often the whole tree is scanned while inotify watches it.
pub const RESCAN_EVERY: Duration = Duration::from_secs(30);
/// How often it is scanned where inotify-tools are missing.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// A scan, or setting up the watches, that takes longer means the host is not answering.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(20);
/// How long after a new directory appears its scan waits, so that inotifywait has added
/// its watch on it by then.
const DIR_SETTLE: Duration = Duration::from_millis(200);
/// After a scan that failed while the stream stayed up (ssh backing off from the host a
/// moment ago), the next try.
const RESCAN_RETRY: Duration = Duration::from_secs(1);

/// What to watch on one host, and how often to look.
#[derive(Debug, Clone)]
pub struct Watch {
    pub host: Host,
    /// swarm.toml's `dir` for the host, as for [`super::Workspace`].
    pub dir: String,
    /// The full scan while inotify watches ([`RESCAN_EVERY`]).
    pub rescan_every: Duration,
    /// The scan where nothing watches ([`POLL_EVERY`]).
    pub poll_every: Duration,
    /// The longest a scan, or setting up the watches, may take ([`CALL_TIMEOUT`]).
    pub call_timeout: Duration,
    /// False: poll even where inotifywait is installed.
    pub inotify: bool,
}

impl Watch {
    /// `dir`'s worktrees on `host`, with the default intervals.
    pub fn new(host: Host, dir: &str) -> Watch {
        Watch {
            host,
            dir: dir.to_owned(),
            rescan_every: RESCAN_EVERY,
            poll_every: POLL_EVERY,
            call_timeout: CALL_TIMEOUT,
            inotify: true,
        }
    }
}

/// What a host's stream reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SentinelEvent {
    /// The stream is (again) connected, and a rescan follows; `watching` is false where it
    /// polls.
    HostUp { host: String, watching: bool },
    /// The stream's ssh ended or a poll failed: once per outage. Reconnects back off.
    HostLost { host: String, why: String },
    /// A `*.done` file in an attempt's worktree, reported once while it stays there.
    Done { host: String, sentinel: Sentinel },
}

/// A running stream; dropping it stops it (as does dropping the receiver).
pub struct SentinelStream {
    stop: Option<Sender<()>>,
}

impl SentinelStream {
    /// Starts watching on a thread of its own; events go to `events`.
    pub fn start(
        ssh: Arc<SystemSsh>,
        watch: Watch,
        events: Sender<SentinelEvent>,
    ) -> SentinelStream {
        let (stop, stopped) = bounded(0);
        let runner = Runner {
            ssh,
            watch,
            events,
            stopped,
            seen: HashSet::new(),
            root: None,
            watcher: None,
            backoff: Backoff::default(),
            up: None,
            last_scan: Instant::now(),
            closed: false,
        };
        std::thread::Builder::new()
            .name("swarm-sentinels".into())
            .spawn(move || runner.run())
            .expect("spawn the sentinel stream's thread");
        SentinelStream { stop: Some(stop) }
    }
}

impl Drop for SentinelStream {
    fn drop(&mut self) {
        // The thread sees its channel close, kills its ssh (the host's watcher ends with
        // the session) and returns; not waited for, since a scan may be in flight.
        self.stop.take();
    }
}

/// How one connection (or one poll loop) ended.
enum End {
    Stop,
    Lost(String),
    /// The watcher ended alone, the host still there: start another.
    Restart,
    /// No inotifywait on the host: poll instead.
    NoInotify,
}

struct Runner {
    ssh: Arc<SystemSsh>,
    watch: Watch,
    events: Sender<SentinelEvent>,
    stopped: Receiver<()>,
    /// The sentinels reported and still there.
    seen: HashSet<String>,
    /// `<dir>/wt` as the host spells it.
    root: Option<String>,
    /// The host's pid of the last watcher, to end it if it outlived its session.
    watcher: Option<String>,
    backoff: Backoff,
    /// None before the first connection.
    up: Option<bool>,
    /// When the last scan started, to space those that new directories ask for.
    last_scan: Instant,
    /// The receiver is gone.
    closed: bool,
}

impl Runner {
    fn run(mut self) {
        loop {
            let end = match self.watch.inotify {
                true => self.stream(),
                false => self.poll(),
            };
            let wait = match end {
                End::Stop => return,
                End::NoInotify => {
                    self.watch.inotify = false;
                    continue;
                }
                End::Restart => self.backoff.failed(Instant::now()),
                End::Lost(why) => {
                    if self.up != Some(false) {
                        self.up = Some(false);
                        self.send(SentinelEvent::HostLost {
                            host: self.watch.host.name.clone(),
                            why,
                        });
                    }
                    self.backoff.failed(Instant::now())
                }
            };
            if self.closed
                || !matches!(
                    self.stopped.recv_timeout(wait),
                    Err(RecvTimeoutError::Timeout)
                )
            {
                return;
            }
        }
    }

    /// One watcher session, until it ends or the stream is stopped.
    fn stream(&mut self) -> End {
        let old = self.watcher.clone().unwrap_or_default();
        let argv = host_argv("watch", &self.watch.dir, &[&old]);
        let spawned = self
            .ssh
            .command(&self.watch.host, &argv, false)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(err) => return End::Lost(format!("cannot run ssh: {err}")),
        };
        let lines = read_lines(child.stdout.take());
        let stderr = read_all(child.stderr.take());
        let end = self.session(&lines);
        let end = match end {
            End::Lost(why) if why.is_empty() => {
                // Its output ended, so ssh is exiting; it is killed below if it is not.
                let status = match child.wait_timeout(Duration::from_secs(2)) {
                    Ok(Some(status)) => status.to_string(),
                    _ => "still running".to_owned(),
                };
                let said = stderr
                    .recv_timeout(Duration::from_secs(2))
                    .unwrap_or_default();
                let last = said.lines().rev().find(|l| !l.trim().is_empty());
                End::Lost(last.map_or_else(
                    || format!("the watcher's ssh ended ({status})"),
                    str::to_owned,
                ))
            }
            end => end,
        };
        end_child(&mut child);
        end
    }

    /// Reads a watcher's lines; `End::Lost("")` when they end (the caller asks ssh why).
    fn session(&mut self, lines: &Receiver<String>) -> End {
        let started = Instant::now();
        let mut next_scan: Option<Instant> = None;
        loop {
            let timer = match next_scan {
                Some(at) => after(at.saturating_duration_since(Instant::now())),
                None => after(
                    (started + self.watch.call_timeout).saturating_duration_since(Instant::now()),
                ),
            };
            select! {
                recv(self.stopped) -> _ => return End::Stop,
                recv(lines) -> line => {
                    let Ok(line) = line else { return End::Lost(String::new()) };
                    if let Some(rest) = line.strip_prefix("swarm-dir ") {
                        self.root = Some(format!("{rest}/wt"));
                    } else if let Some(pid) = line.strip_prefix("swarm-watcher ") {
                        self.watcher = Some(pid.to_owned());
                    } else if line == "swarm-watcher-ended" {
                        // Before its watches were set up, it cannot watch this tree (the
                        // host's inotify limit): polling finds the sentinels anyway.
                        return match next_scan {
                            Some(_) => End::Restart,
                            None => End::NoInotify,
                        };
                    } else if line == "swarm-no-inotify" {
                        return End::NoInotify;
                    } else if line == "Watches established." {
                        self.came_up(true);
                        next_scan = Some(self.rescan_now());
                    } else if let Some((events, path)) =
                        line.strip_prefix("ev ").and_then(|rest| rest.split_once(' '))
                    {
                        if events.contains("ISDIR") {
                            // A file made in a new directory before inotifywait watched it
                            // has no event of its own (`mkdir -p d && touch d/x.done`): a
                            // scan once the watch is surely there finds it, at most one
                            // per poll interval however many directories a build makes.
                            let due = (Instant::now() + DIR_SETTLE)
                                .max(self.last_scan + self.watch.poll_every);
                            next_scan = next_scan.map(|at| at.min(due));
                        } else {
                            self.report(path);
                        }
                    }
                }
                recv(timer) -> _ => match next_scan {
                    None => {
                        return End::Lost(format!(
                            "the watcher did not start within {}s",
                            self.watch.call_timeout.as_secs_f64()
                        ))
                    }
                    Some(_) => next_scan = Some(self.rescan_now()),
                },
            }
            if self.closed {
                return End::Stop;
            }
        }
    }

    /// A rescan while the stream is up; when the next is due.
    fn rescan_now(&mut self) -> Instant {
        self.last_scan = Instant::now();
        match self.scan() {
            Ok(found) => {
                self.apply(found);
                Instant::now() + self.watch.rescan_every
            }
            // The stream itself says when the host is gone; a scan that failed is tried
            // again soon.
            Err(_) => Instant::now() + RESCAN_RETRY,
        }
    }

    /// Scans every `poll_every`, until a scan fails or the stream is stopped.
    fn poll(&mut self) -> End {
        loop {
            match self.scan() {
                Ok(found) => {
                    self.came_up(false);
                    self.apply(found);
                }
                Err(why) => return End::Lost(why),
            }
            if self.closed {
                return End::Stop;
            }
            match self.stopped.recv_timeout(self.watch.poll_every) {
                Err(RecvTimeoutError::Timeout) => {}
                _ => return End::Stop,
            }
        }
    }

    /// Every `*.done` under `<dir>/wt` on the host.
    fn scan(&mut self) -> Result<BTreeSet<String>, String> {
        let argv = host_argv("scan", &self.watch.dir, &[]);
        let out = self
            .ssh
            .exec(&self.watch.host, &argv, self.watch.call_timeout)
            .map_err(|err| err.to_string())?;
        if out.status != 0 || !out.stdout.lines().any(|l| l == "swarm-scanned") {
            return Err(format!("the scan failed: {}", out.stderr.trim()));
        }
        let mut found = BTreeSet::new();
        for line in out.stdout.lines() {
            if let Some(dir) = line.strip_prefix("swarm-dir ") {
                self.root = Some(format!("{dir}/wt"));
            } else if line.starts_with('/') {
                found.insert(line.to_owned());
            }
        }
        Ok(found)
    }

    /// Reports what a scan found that was not reported yet; forgets what is gone, so
    /// that a sentinel removed and written again is reported again.
    fn apply(&mut self, found: BTreeSet<String>) {
        self.seen.retain(|path| found.contains(path));
        for path in &found {
            self.report(path);
        }
    }

    fn report(&mut self, path: &str) {
        if self.seen.contains(path) {
            return;
        }
        let Some(sentinel) = self
            .root
            .as_deref()
            .and_then(|root| parse_sentinel(root, path))
        else {
            return;
        };
        self.seen.insert(path.to_owned());
        self.send(SentinelEvent::Done {
            host: self.watch.host.name.clone(),
            sentinel,
        });
    }

    fn came_up(&mut self, watching: bool) {
        self.backoff.succeeded();
        if self.up != Some(true) {
            self.up = Some(true);
            self.send(SentinelEvent::HostUp {
                host: self.watch.host.name.clone(),
                watching,
            });
        }
    }

    fn send(&mut self, event: SentinelEvent) {
        if self.events.send(event).is_err() {
            self.closed = true;
        }
    }
}

/// A pipe's lines on a channel, which closes when the pipe does.
fn read_lines(pipe: Option<impl Read + Send + 'static>) -> Receiver<String> {
    let (tx, rx) = unbounded();
    if let Some(pipe) = pipe {
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// A pipe's whole text, once it ends.
fn read_all(pipe: Option<impl Read + Send + 'static>) -> Receiver<String> {
    let (tx, rx) = bounded(1);
    if let Some(mut pipe) = pipe {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            let _ = tx.send(text);
        });
    }
    rx
}

/// Kills the watcher's ssh, which closes the session and so ends the host's watcher.
fn end_child(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::remote::fake_host::FakeHost;
    use std::path::Path;
    use std::process::Command;

    fn next(rx: &Receiver<SentinelEvent>, what: &str) -> SentinelEvent {
        rx.recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no event in time: wanted {what}"))
    }

    fn done(task: &str, attempt: u32, path: &str) -> SentinelEvent {
        SentinelEvent::Done {
            host: "h1".into(),
            sentinel: Sentinel {
                task: crate::plan::TaskId(task.into()),
                attempt,
                path: path.into(),
            },
        }
    }

    fn touch(home: &Path, rel: &str) {
        let path = home.join("ws/wt").join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, "").unwrap();
    }

    #[test]
    fn polling_reports_each_sentinel_once_and_again_after_the_host_comes_back() {
        let host = FakeHost::new();
        let home = host.home();
        let mut watch = Watch::new(host.host(), "~/ws");
        watch.inotify = false;
        watch.poll_every = Duration::from_millis(50);
        let (tx, rx) = unbounded();
        let _stream = SentinelStream::start(host.ssh.clone(), watch, tx);
        let up = SentinelEvent::HostUp {
            host: "h1".into(),
            watching: false,
        };
        assert_eq!(next(&rx, "up"), up);

        touch(&home, "a.1/a.done");
        assert_eq!(next(&rx, "a.1"), done("a", 1, "a.done"));
        // Later polls see a.done again, and say nothing of it: the next event is b's.
        touch(&home, "b.2/sub/b.done");
        touch(&home, "b.2/notes.txt");
        assert_eq!(next(&rx, "b.2"), done("b", 2, "sub/b.done"));
        // Removed (a poll notices: c's event comes after it) and written again: reported
        // again.
        std::fs::remove_file(home.join("ws/wt/a.1/a.done")).unwrap();
        touch(&home, "c.3/c.done");
        assert_eq!(next(&rx, "c.3"), done("c", 3, "c.done"));
        touch(&home, "a.1/a.done");
        assert_eq!(next(&rx, "a.1 again"), done("a", 1, "a.done"));

        host.down(true);
        let SentinelEvent::HostLost { why, .. } = next(&rx, "lost") else {
            panic!("want HostLost")
        };
        assert!(why.contains("Connection refused"), "{why}");
        touch(&home, "d.1/d.done");
        host.down(false);
        assert_eq!(next(&rx, "back"), up);
        assert_eq!(next(&rx, "d.1"), done("d", 1, "d.done"));
    }

    #[test]
    fn a_watched_sentinel_is_reported_and_dropping_the_stream_ends_the_watcher() {
        let host = FakeHost::new();
        let home = host.home();
        let (tx, rx) = unbounded();
        let stream = SentinelStream::start(host.ssh.clone(), Watch::new(host.host(), "~/ws"), tx);
        // inotifywait where this machine has it, else the 2 s poll: either reports.
        let SentinelEvent::HostUp { watching, .. } = next(&rx, "up") else {
            panic!("want HostUp")
        };
        touch(&home, "w.1/w.done");
        assert_eq!(next(&rx, "w.1"), done("w", 1, "w.done"));
        if !watching {
            return;
        }
        // This test's own watcher: its command line holds this test's directory.
        let watcher = || {
            Command::new("pgrep")
                .args(["-f", &format!("^inotifywait .*{}", home.display())])
                .output()
                .ok()
                .filter(|out| out.status.success())
                .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        };
        let wait = |what: &str, until: &dyn Fn() -> bool| {
            let deadline = Instant::now() + Duration::from_secs(20);
            while !until() {
                assert!(Instant::now() < deadline, "timed out waiting for {what}");
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        let first = watcher().expect("the watcher runs");

        // The watcher dies alone: another takes its place, and the host is not lost.
        Command::new("kill").arg(&first).status().unwrap();
        wait("a new watcher", &|| {
            watcher().is_some_and(|pid| pid != first)
        });
        touch(&home, "w.2/w.done");
        assert_eq!(next(&rx, "w.2"), done("w", 2, "w.done"));

        drop(stream);
        wait("the watcher to end with its stream", &|| {
            watcher().is_none()
        });
    }
}
