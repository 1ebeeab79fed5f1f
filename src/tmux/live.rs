//! One control-mode client for a whole run. The orchestrator's small tmux calls (screens,
//! keys, labels, pane lists) go over it instead of a process each (about 0.2 ms instead of
//! 2.5 ms and a fork: docs/tmux-facts.md §1–2), and its `%output` tells waiting threads
//! when a pane has written something, so that nobody reads the screen of a quiet pane.
//! For a server on another host the client runs through ssh, and the link tells a host
//! that does not answer (it keeps trying, backing off) from a server that is gone.

use super::command::Argv;
use super::control::{Control, Message, Notification};
use super::{PaneId, PaneInfo, Tmux, TmuxError};
use crate::ssh::Backoff;
use crossbeam_channel::{Receiver, Sender};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, Weak};
use std::time::{Duration, Instant};

/// What the link learns about panes on its own, for the pane watcher.
#[derive(Debug, Clone)]
pub enum PaneNews {
    /// A pane's death or foreground command changed (a `refresh-client -B` subscription,
    /// which tmux checks about once a second).
    Changed(PaneInfo),
    /// The server is gone. Here the link has stopped. For a host (ssh works, tmux says
    /// there is no server or session) it keeps watching, and says `HostBack` once a
    /// session is there again (after `start_host_session`).
    ServerGone,
    /// The host does not answer over ssh (exit 255, or no reply in time): its panes may
    /// still run. The link keeps trying, backing off; it never says `ServerGone` for this.
    HostLost,
    /// Attached again after `HostLost` or `ServerGone`. `incarnation` is the server's
    /// `#{pid}:#{start_time}`: a different one than before means the host or its server
    /// restarted, and every earlier pane there is gone.
    HostBack { incarnation: String },
}

/// The subscription the pane watcher needs: death, exit status and what is in front.
const SUBSCRIPTION: &str = "refresh-client -B 'panes:%*:#{pane_dead} #{pane_dead_status} #{pane_dead_signal} #{pane_current_command}'";

/// How long a link coming back waits for the server to let go of the stale clients it
/// killed.
const STALE_GONE: Duration = Duration::from_secs(2);

/// How long to wait before attaching again after the client ended with the server alive.
const REATTACH: Duration = Duration::from_millis(200);

/// The format that tells one server from the next on the same socket.
pub(super) const INCARNATION: &str = "#{pid}:#{start_time}";

/// How a command's reply comes back to the thread that sent it.
type Reply = Sender<Result<Vec<String>, String>>;

/// One reply block: whether the command succeeded, and its lines.
pub(super) type Block = (bool, Vec<String>);

/// Who waits for the next reply blocks, in the order their lines went out.
enum Waiter {
    /// One command's block.
    One(Reply),
    /// Every block up to and including the one whose only line is `marker`: for lines
    /// whose commands insert further commands (`if-shell`), each with a block of its own.
    Until {
        marker: String,
        blocks: Vec<Block>,
        reply: Sender<Vec<Block>>,
    },
}

/// What became of a command sent over the link.
#[derive(Debug)]
pub(super) enum Answer {
    /// Its output, as `tmux` prints it.
    Out(String),
    /// tmux's error message.
    Failed(String),
    /// No reply in time; says how long it waited.
    NoReply(String),
    /// The client was down, or went down before the reply: run a process instead.
    Down,
}

/// What became of lines sent with [`Link::exchange`].
#[derive(Debug)]
pub(super) enum Exchange {
    /// The client was down: nothing was sent.
    Unsent,
    /// Every reply block, the marker's last.
    Replies(Vec<Block>),
    /// Sent (perhaps in part), but the replies did not all come: what ran is unknown.
    Lost,
}
/// The control client, shared by every handle cloned from the linked `Tmux`; it ends
/// with the last of them.
pub(super) struct Link {
    wire: Mutex<Wire>,
    /// Each pane's output count, with its own condvar so that one chatty pane does not
    /// wake the threads waiting on the others.
    output: Mutex<HashMap<PaneId, Arc<Counter>>>,
    /// A call found the host silent and hung the client up: until the link is attached
    /// again, the host counts as lost, so that its return is said (`HostBack`) to those
    /// who heard of the loss from that call.
    suspect: AtomicBool,
}

#[derive(Default)]
struct Wire {
    /// `None` while the client is (re)attaching: callers then run a process instead.
    control: Option<Control>,
    /// Who waits for the replies still to come, in the order the commands went out (tmux
    /// answers a client's commands in order).
    waiting: VecDeque<Waiter>,
}

#[derive(Debug, Default)]
struct Counter {
    count: Mutex<u64>,
    changed: Condvar,
}

impl Link {
    /// Attaches a control client to `tmux`'s session and keeps it attached (again after a
    /// drop) until the server is gone; pane news goes to the returned channel.
    pub(super) fn start(tmux: &Tmux) -> (Arc<Link>, Receiver<PaneNews>) {
        let link = Arc::new(Link {
            wire: Mutex::new(Wire::default()),
            output: Mutex::new(HashMap::new()),
            suspect: AtomicBool::new(false),
        });
        let (news_tx, news) = crossbeam_channel::unbounded();
        let (keeper, tmux) = (Arc::downgrade(&link), tmux.clone());
        std::thread::spawn(move || keep_attached(&keeper, &tmux, &news_tx));
        (link, news)
    }

    fn go_up(&self, control: Control) {
        self.wire.lock().expect("not poisoned").control = Some(control);
    }

    /// Ends the client; commands still waiting get no reply, which their callers see as
    /// a dropped link and retry as processes.
    fn go_down(&self) {
        let mut wire = self.wire.lock().expect("not poisoned");
        wire.control = None;
        wire.waiting.clear();
    }

    /// Handles one message; false when the client has ended.
    fn dispatch(&self, message: Message, news: &Sender<PaneNews>) -> bool {
        match message {
            Message::Reply { ok, lines, .. } => {
                let mut wire = self.wire.lock().expect("not poisoned");
                match wire.waiting.front_mut() {
                    Some(Waiter::Until { marker, blocks, .. }) => {
                        let last = lines.len() == 1 && lines[0] == *marker;
                        blocks.push((ok, lines));
                        if last
                            && let Some(Waiter::Until { blocks, reply, .. }) =
                                wire.waiting.pop_front()
                        {
                            let _ = reply.send(blocks);
                        }
                    }
                    Some(Waiter::One(_)) => {
                        if let Some(Waiter::One(waiter)) = wire.waiting.pop_front() {
                            let _ = waiter.send(if ok { Ok(lines) } else { Err(lines.join("\n")) });
                        }
                    }
                    None => {}
                }
            }
            Message::Notification(Notification::Output { pane, .. }) => self.bump(pane),
            Message::Notification(Notification::Subscription {
                pane: Some(pane),
                value,
                ..
            }) => {
                let mut fields = value.splitn(4, ' ');
                let info = PaneInfo {
                    id: pane,
                    dead: fields.next() == Some("1"),
                    dead_status: fields.next().and_then(|s| s.parse().ok()),
                    dead_signal: fields.next().and_then(|s| s.parse().ok()),
                    in_mode: false,
                    current_command: fields.next().unwrap_or_default().to_string(),
                    pid: 0,
                    window: String::new(),
                };
                let _ = news.send(PaneNews::Changed(info));
            }
            Message::Notification(Notification::Exit(_)) => return false,
            Message::Notification(_) => {}
        }
        true
    }

    fn counter(&self, pane: &PaneId) -> Arc<Counter> {
        let mut output = self.output.lock().expect("not poisoned");
        // Looked up before inserting: this runs for every `%output` line, and the key's
        // clone is only needed for a pane seen for the first time.
        if let Some(counter) = output.get(pane) {
            return counter.clone();
        }
        output.entry(pane.clone()).or_default().clone()
    }

    fn bump(&self, pane: PaneId) {
        let counter = self.counter(&pane);
        *counter.count.lock().expect("not poisoned") += 1;
        counter.changed.notify_all();
    }

    /// Sends one command line; its reply arrives on `reply`. Err when the client is down.
    fn send(&self, line: &str, reply: Reply) -> Result<(), ()> {
        let mut wire = self.wire.lock().expect("not poisoned");
        let Some(control) = wire.control.as_mut() else {
            return Err(());
        };
        // Queued before the line goes out, under the same lock: replies come in order.
        if control.send(line).is_err() {
            return Err(());
        }
        wire.waiting.push_back(Waiter::One(reply));
        Ok(())
    }

    /// Runs one command over the client and returns what became of it.
    pub(super) fn run(&self, line: &str, timeout: Duration) -> Answer {
        let (tx, rx) = crossbeam_channel::bounded(1);
        if self.send(line, tx).is_err() {
            return Answer::Down;
        }
        match rx.recv_timeout(timeout) {
            Ok(Ok(lines)) => Answer::Out(lines.iter().map(|l| format!("{l}\n")).collect()),
            Ok(Err(stderr)) => Answer::Failed(stderr),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                Answer::NoReply(format!("no reply within {}s", timeout.as_secs()))
            }
            // The client went down before the reply came.
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => Answer::Down,
        }
    }

    /// Sends `lines` in one write, then `display-message -p MARKER`, and returns every reply
    /// block up to the marker's: a line such as `if-shell` answers with a varying number
    /// of blocks, which a count could not follow.
    pub(super) fn exchange(&self, lines: &[String], marker: &str, timeout: Duration) -> Exchange {
        let (tx, rx) = crossbeam_channel::bounded(1);
        {
            let mut wire = self.wire.lock().expect("not poisoned");
            let Some(control) = wire.control.as_mut() else {
                return Exchange::Unsent;
            };
            let mut all: Vec<&str> = lines.iter().map(String::as_str).collect();
            let sync = format!("display-message -p {marker}");
            all.push(&sync);
            if control.send_lines(&all).is_err() {
                // Whatever part went out may have run.
                drop(wire);
                self.hang_up();
                return Exchange::Lost;
            }
            wire.waiting.push_back(Waiter::Until {
                marker: marker.to_owned(),
                blocks: Vec::new(),
                reply: tx,
            });
        }
        match rx.recv_timeout(timeout) {
            Ok(blocks) => Exchange::Replies(blocks),
            Err(_) => Exchange::Lost,
        }
    }

    /// Ends swarm's other control clients of the server: after a partition, the client
    /// of the link's last connection can stay registered on the host until its sshd
    /// notices the dead connection, and one whose sshd is already gone was seen to
    /// outlive a `detach-client` (docs/multihost.md). swarm's are the control clients
    /// attached with `ignore-size`; a person's terminal, or their own control client, is
    /// left alone.
    fn detach_stale_clients(&self, timeout: Duration) {
        let Answer::Out(me) = self.run("display-message -p '#{client_name}'", timeout) else {
            return;
        };
        let me = me.trim().to_owned();
        let mut killed = Vec::new();
        for (name, pid) in self.swarms_clients(timeout) {
            if name == me {
                continue;
            }
            // The client runs on the server's host, so the server's shell can end it (and
            // `run-shell` answers once `kill` has); the server drops it as its socket
            // closes.
            let kill = Argv::new("run-shell").arg(format!("kill -KILL {pid}"));
            if let Some(line) = kill.control_line() {
                let _ = self.run(&line, timeout);
                killed.push(name);
            }
        }
        // Said back only once the server has let them go, so that whoever hears
        // `HostBack` finds one client of swarm's: a few turns of the server's loop.
        let deadline = std::time::Instant::now() + STALE_GONE;
        while !killed.is_empty() && std::time::Instant::now() < deadline {
            let left = self.swarms_clients(timeout);
            if !left.iter().any(|(name, _)| killed.contains(name)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// swarm's control clients of the server (those attached with `ignore-size`): their
    /// names and pids.
    fn swarms_clients(&self, timeout: Duration) -> Vec<(String, u32)> {
        let format =
            "list-clients -F '#{client_control_mode} #{client_name} #{client_pid} #{client_flags}'";
        let Answer::Out(clients) = self.run(format, timeout) else {
            return Vec::new();
        };
        clients
            .lines()
            .filter_map(|client| {
                let mut words = client.split(' ');
                let (Some("1"), Some(name), Some(pid), Some(flags)) =
                    (words.next(), words.next(), words.next(), words.next())
                else {
                    return None;
                };
                let ours = flags.split(',').any(|f| f == "ignore-size");
                let pid = pid.parse::<u32>().ok()?;
                ours.then(|| (name.to_owned(), pid))
            })
            .collect()
    }

    /// Ends the client now (a host that went silent); the keeper attaches again when it
    /// can, and for a host says `HostLost`, then `HostBack`. Commands still waiting get no
    /// reply.
    pub(super) fn hang_up(&self) {
        self.suspect.store(true, Ordering::SeqCst);
        self.go_down();
    }

    /// Whether a call found `tmux`'s host silent and hung the client up since this was
    /// last asked: its caller took the host for lost, so the keeper says `HostLost`, and
    /// `HostBack` once attached again.
    fn suspected(&self, tmux: &Tmux) -> bool {
        self.suspect.swap(false, Ordering::SeqCst) && tmux.via().is_some()
    }

    /// How many `%output` notifications `pane` has sent since the link started.
    pub(super) fn output_count(&self, pane: &PaneId) -> u64 {
        *self.counter(pane).count.lock().expect("not poisoned")
    }

    /// Waits until `pane`'s output count differs from `seen`, or `timeout` passes, and
    /// returns the count then.
    pub(super) fn await_output(&self, pane: &PaneId, seen: u64, timeout: Duration) -> u64 {
        let counter = self.counter(pane);
        let deadline = Instant::now() + timeout;
        let mut count = counter.count.lock().expect("not poisoned");
        while *count == seen {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            count = counter
                .changed
                .wait_timeout(count, left)
                .expect("not poisoned")
                .0;
        }
        *count
    }
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Link")
    }
}

/// The link's own thread: holds it only weakly, so that dropping the last handle ends
/// the client, its reader, and then this loop.
fn keep_attached(link: &Weak<Link>, tmux: &Tmux, news: &Sender<PaneNews>) {
    // For a host: whether `HostLost` or `ServerGone` was said since the last attach, and
    // the backoff between tries while it is not attached.
    let mut lost = false;
    let mut gone = false;
    let mut backoff = Backoff::default();
    loop {
        // The handler owns `ended_tx`; the reader thread drops it when the client ends.
        let (ended_tx, ended) = crossbeam_channel::bounded::<()>(0);
        let handler = {
            let (link, news) = (link.clone(), news.clone());
            move |message| {
                let _ended = &ended_tx;
                link.upgrade()
                    .is_some_and(|link| link.dispatch(message, &news))
            }
        };
        if let Ok(control) = Control::attach_with(tmux, "ignore-size", false, handler) {
            let Some(strong) = link.upgrade() else { return };
            strong.go_up(control);
            let (ignored, _) = crossbeam_channel::bounded(1);
            let _ = strong.send(SUBSCRIPTION, ignored);
            if strong.suspected(tmux) && !(lost || gone) {
                lost = true;
                let _ = news.send(PaneNews::HostLost);
            }
            // Back after a loss only once the incarnation is known: if it cannot be read,
            // the client is dropped and tried again, so that `HostBack` is never missed.
            let back = !(lost || gone) || {
                let line = format!("display-message -p '{INCARNATION}'");
                match strong.run(&line, tmux.timeout()) {
                    Answer::Out(out) => {
                        let incarnation = out.trim().to_owned();
                        // ssh reaches the host again: its calls need not wait out the
                        // backoff of the outage.
                        if let Some(via) = tmux.via() {
                            via.ssh().reached(via.host());
                        }
                        strong.detach_stale_clients(tmux.timeout());
                        let _ = news.send(PaneNews::HostBack { incarnation });
                        (lost, gone) = (false, false);
                        true
                    }
                    _ => false,
                }
            };
            if back {
                backoff.succeeded();
                drop(strong);
                let _ = ended.recv();
            } else {
                drop(strong);
            }
            match link.upgrade() {
                Some(strong) => strong.go_down(),
                None => return,
            }
        }
        if link.upgrade().is_some_and(|l| l.suspected(tmux)) && !(lost || gone) {
            lost = true;
            let _ = news.send(PaneNews::HostLost);
        }
        let Some(via) = tmux.via() else {
            if !tmux.server_alive() {
                let _ = news.send(PaneNews::ServerGone);
                return;
            }
            if link.strong_count() == 0 {
                return;
            }
            std::thread::sleep(REATTACH);
            continue;
        };
        match tmux.has_session() {
            Ok(true) => {}
            Ok(false) if !gone => {
                gone = true;
                let _ = news.send(PaneNews::ServerGone);
            }
            Err(TmuxError::HostUnreachable { .. }) if !lost => {
                lost = true;
                let _ = news.send(PaneNews::HostLost);
            }
            _ => {}
        }
        let now = Instant::now();
        let wait = backoff
            .failed(now)
            .max(via.ssh().backing_off(via.host()).unwrap_or_default())
            .max(REATTACH);
        let until = now + wait;
        // In slices, so that dropping the last handle ends this thread soon.
        while Instant::now() < until {
            if link.strong_count() == 0 {
                return;
            }
            std::thread::sleep(REATTACH.min(until.saturating_duration_since(Instant::now())));
        }
    }
}
