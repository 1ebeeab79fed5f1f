//! Running tmux commands on swarm's private server, each with a timeout.

use super::TmuxError;
use super::live::{Answer, Link, PaneNews};
use super::remote::Via;
use crate::ssh::{Host, Remote, SshError, SystemSsh};
use crossbeam_channel::{Receiver, Sender};
use std::ffi::OsStr;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Weak};
use std::thread;
use std::time::Duration;
use wait_timeout::ChildExt;

/// The config file a server that swarm starts reads first (`tmux -f`); only the command
/// that starts the server reads it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TmuxConf {
    /// None (`-f /dev/null`).
    #[default]
    None,
    /// The person's own, where tmux looks for it (no `-f`).
    Default,
    /// This file.
    File(PathBuf),
}

/// A handle on one tmux server (`tmux -L socket`) and one session on it.
#[derive(Debug, Clone)]
pub struct Tmux {
    pub socket: String,
    pub session: String,
    tmpdir: Option<PathBuf>,
    conf: TmuxConf,
    timeout: Duration,
    /// A control client that single commands go over, once `linked`.
    link: Option<Arc<Link>>,
    /// Commands sent without waiting for them (`post`), in order, by one thread.
    poster: Option<Sender<Argv>>,
    /// The host whose server this is, for a server on another host; `None` for this one.
    via: Option<Arc<Via>>,
}

impl Tmux {
    /// A handle on session `session` of the server behind `tmux -L socket`.
    pub fn new(socket: impl Into<String>, session: impl Into<String>) -> Tmux {
        Tmux {
            socket: socket.into(),
            session: session.into(),
            tmpdir: None,
            conf: TmuxConf::None,
            timeout: Duration::from_secs(5),
            link: None,
            poster: None,
            via: None,
        }
    }

    /// This handle, for the server of the same socket and session on `host`: every tmux
    /// process becomes `ssh … -T -- host 'tmux -L socket …'` over the host's master,
    /// the control link runs through ssh too, and pastes go over that link only.
    pub fn over_ssh(mut self, ssh: Arc<SystemSsh>, host: Host) -> Tmux {
        self.via = Some(Arc::new(Via::new(ssh, host)));
        self
    }

    /// The host this handle reaches, when it is another one.
    pub fn host(&self) -> Option<&Host> {
        self.via.as_deref().map(Via::host)
    }

    pub(super) fn via(&self) -> Option<&Via> {
        self.via.as_deref()
    }

    /// This handle, with its single commands carried by one control-mode client from now
    /// on (and pane output counted for `Mux::await_output`), plus the news the client
    /// hears about panes. Clones share the client; it ends with the last of them.
    pub fn linked(mut self) -> (Tmux, Receiver<PaneNews>) {
        self.link = None;
        self.poster = None;
        let (link, news) = Link::start(&self);
        self.poster = Some(start_poster(self.clone(), Arc::downgrade(&link)));
        self.link = Some(link);
        (self, news)
    }

    pub(super) fn link(&self) -> Option<&Link> {
        self.link.as_deref()
    }

    /// Looks for the socket under `dir` (as `TMUX_TMPDIR` would) instead of the default.
    pub fn with_tmpdir(mut self, dir: impl Into<PathBuf>) -> Tmux {
        self.tmpdir = Some(dir.into());
        self
    }

    /// Starts a server with this config read first (`swarm.toml`'s `tmux_conf`).
    pub fn with_conf(mut self, conf: TmuxConf) -> Tmux {
        self.conf = conf;
        self
    }

    /// Kills any tmux command that runs longer than `timeout` (5 s by default).
    pub fn with_timeout(mut self, timeout: Duration) -> Tmux {
        self.timeout = timeout;
        self
    }

    pub(super) fn timeout(&self) -> Duration {
        self.timeout
    }

    /// `=SESSION`: the exact session, never a prefix match on another one.
    pub(super) fn target(&self) -> String {
        format!("={}", self.session)
    }

    /// A process running tmux with `args` for our socket: here, or through ssh on the
    /// host (with a terminal there when `terminal`, for a person attaching).
    pub(super) fn process(&self, args: &[&str], terminal: bool) -> Command {
        let Some(via) = &self.via else {
            let mut cmd = self.command();
            cmd.args(args);
            return cmd;
        };
        let words = self.remote_words(args);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        via.ssh().command(via.host(), &words, terminal)
    }

    /// The words the host's shell runs for `tmux args` on our socket: what `command` does
    /// here, with `TMUX_TMPDIR` passed through `env` (ssh carries no environment).
    pub(super) fn remote_words(&self, args: &[&str]) -> Vec<String> {
        let mut words = Vec::with_capacity(args.len() + 6);
        if let Some(dir) = &self.tmpdir {
            words.push("env".to_owned());
            words.push(format!("TMUX_TMPDIR={}", dir.display()));
        }
        // `-u`: ssh passes no locale, and a client that does not know UTF-8 prints
        // tabs (list-panes' field separator) and non-ASCII as `_`.
        words.extend(["tmux", "-u", "-L"].map(str::to_owned));
        words.push(self.socket.clone());
        match &self.conf {
            TmuxConf::None => words.extend(["-f".to_owned(), "/dev/null".to_owned()]),
            TmuxConf::Default => {}
            TmuxConf::File(path) => {
                words.extend(["-f".to_owned(), path.display().to_string()]);
            }
        }
        words.extend(args.iter().map(|a| (*a).to_owned()));
        words
    }

    /// A `tmux` process for our socket, with the environment that decides which server it reaches.
    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.arg("-L").arg(&self.socket);
        match &self.conf {
            TmuxConf::None => {
                cmd.arg("-f").arg("/dev/null");
            }
            TmuxConf::Default => {}
            TmuxConf::File(path) => {
                cmd.arg("-f").arg(path);
            }
        }
        // Inside another tmux, TMUX would make some commands default to that server's client.
        cmd.env_remove("TMUX").env_remove("TMUX_PANE");
        if let Some(dir) = &self.tmpdir {
            cmd.env("TMUX_TMPDIR", dir);
        }
        cmd
    }

    /// Runs one (possibly chained) command line and returns its stdout: over the control
    /// client when linked and the line is one command, else as a process.
    pub(super) fn run(&self, argv: &Argv) -> Result<String, TmuxError> {
        if let (Some(link), Some(line)) = (&self.link, argv.control_line()) {
            match link.run(&line, self.timeout) {
                Answer::Out(out) => return Ok(out),
                Answer::Failed(stderr) => return Err(self.failure(argv, stderr)),
                Answer::NoReply(why) => return Err(self.no_reply(link, argv, why)),
                // The client is (re)attaching: a process does the same.
                Answer::Down => {}
            }
        }
        // On another host a process is an ssh exec: a chain goes over the link too.
        if let (Some(link), Some(via)) = (&self.link, &self.via)
            && let Some(result) = super::remote::run_chain(self, via, link, argv)
        {
            return result;
        }
        self.run_with_input(argv, None)
    }

    /// The link did not answer in time. Here that is a failed command; for a host it
    /// means the host went silent: the client is hung up (its keeper then finds out
    /// whether the host is there) and the master closed, as a hung master would queue
    /// every later call.
    fn no_reply(&self, link: &Link, argv: &Argv, why: String) -> TmuxError {
        let Some(via) = &self.via else {
            return self.failure(argv, why);
        };
        // The master first: a keeper that probed while it was closing would fail on it.
        via.ssh().exit_master(via.host());
        link.hang_up();
        TmuxError::HostUnreachable {
            host: via.host().name.clone(),
            why,
        }
    }

    /// Sends one command without waiting for its reply, for what only people look at (a
    /// border label): the caller never queues behind every busy pane's `%output`. One
    /// thread carries them in order, over the control client when it is up and as a
    /// process when it is not (or went down before it answered).
    pub(super) fn post(&self, argv: Argv) {
        match &self.poster {
            Some(poster) => {
                let _ = poster.send(argv);
            }
            None => {
                let _ = self.run(&argv);
            }
        }
    }

    /// Like `run`, with `input` on tmux's stdin (for `load-buffer -`; never on a host).
    pub(super) fn run_with_input(
        &self,
        argv: &Argv,
        input: Option<&[u8]>,
    ) -> Result<String, TmuxError> {
        if let Some(via) = &self.via {
            return self.run_remote(via, argv, input);
        }
        let mut cmd = self.command();
        cmd.args(&argv.0);
        let out = run_with_timeout(cmd, input, self.timeout)
            .map_err(|err| match err.kind() {
                io::ErrorKind::NotFound => TmuxError::Missing,
                _ => TmuxError::Io(err),
            })?
            .ok_or_else(|| TmuxError::Timeout {
                args: argv.to_string(),
                secs: self.timeout.as_secs(),
            })?;
        let stderr = String::from_utf8_lossy(&out.stderr).trim().to_string();
        if !out.status.success() {
            return Err(self.failure(argv, stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Runs one command line on the host, over its master. Never with input: an ssh drop
    /// while tmux reads stdin was measured to paste the part that arrived
    /// (docs/multihost.md), so payloads go over the control link.
    fn run_remote(
        &self,
        via: &Via,
        argv: &Argv,
        input: Option<&[u8]>,
    ) -> Result<String, TmuxError> {
        if input.is_some() {
            return Err(TmuxError::Invalid(
                "no input is sent to tmux on another host over an exec channel".into(),
            ));
        }
        let args: Vec<&str> = argv.0.iter().map(String::as_str).collect();
        let words = self.remote_words(&args);
        let words: Vec<&str> = words.iter().map(String::as_str).collect();
        let out = via
            .ssh()
            .exec(via.host(), &words, self.timeout)
            .map_err(|err| match err {
                SshError::HostUnreachable { host, why } => TmuxError::HostUnreachable { host, why },
                SshError::Spawn { source, .. } => TmuxError::Io(source),
            })?;
        if out.status != 0 {
            return Err(self.failure(argv, out.stderr.trim().to_string()));
        }
        Ok(out.stdout)
    }

    pub(super) fn failure(&self, argv: &Argv, stderr: String) -> TmuxError {
        let gone = [
            "no server running",
            "error connecting",
            "server exited unexpectedly",
        ];
        if gone.iter().any(|g| stderr.contains(g)) {
            TmuxError::ServerGone {
                socket: self.socket.clone(),
            }
        } else {
            TmuxError::Failed {
                args: argv.to_string(),
                stderr,
            }
        }
    }
}

/// The thread behind `post`: `tmux` is the unlinked handle it falls back on, and it holds
/// the link only weakly, so that the link still ends with the last handle.
fn start_poster(tmux: Tmux, link: Weak<Link>) -> Sender<Argv> {
    let (tx, rx) = crossbeam_channel::unbounded::<Argv>();
    thread::spawn(move || {
        for argv in rx {
            let over_link = match (link.upgrade(), argv.control_line()) {
                (Some(link), Some(line)) => link.run(&line, tmux.timeout),
                _ => Answer::Down,
            };
            // No reply means the client went away with the command: a process does it.
            if matches!(over_link, Answer::Down) {
                let _ = tmux.run_with_input(&argv, None);
            }
        }
    });
    tx
}

/// One tmux command line: commands chained with `;` arguments, run in one server round trip.
#[derive(Debug, Clone)]
pub(super) struct Argv(Vec<String>);

impl Argv {
    /// The words, `;` between chained commands.
    pub(super) fn words(&self) -> &[String] {
        &self.0
    }

    /// Starts a command line with the command `name`.
    pub(super) fn new(name: &str) -> Argv {
        Argv(vec![name.to_string()])
    }

    /// Appends one argument, passed through literally.
    pub(super) fn arg(mut self, arg: impl AsRef<OsStr>) -> Argv {
        let mut arg = arg.as_ref().to_string_lossy().into_owned();
        // tmux takes an argument ending in `;` as the end of a command, even after `--`
        // and with `send-keys -l`, and eats the `;`. `X\;` becomes the literal `X;`
        // (docs/tmux-facts.md §1; tmux #1849, #4350).
        if arg.ends_with(';') {
            arg.insert(arg.len() - 1, '\\');
        }
        self.0.push(arg);
        self
    }

    /// Appends an argument that tmux expands as a format (a `-c` start directory, a
    /// window or session name), escaped so that it arrives as written: a `#(cmd)` in a
    /// workspace path would otherwise run `cmd` (docs/tmux-facts.md §7).
    pub(super) fn literal(self, arg: impl AsRef<OsStr>) -> Argv {
        self.arg(escape_format(&arg.as_ref().to_string_lossy()))
    }

    /// Appends each argument, as `arg` does.
    pub(super) fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(self, args: I) -> Argv {
        args.into_iter().fold(self, Argv::arg)
    }

    /// Chains the next command `name` into the same invocation.
    pub(super) fn then(mut self, name: &str) -> Argv {
        self.0.push(";".to_string());
        self.0.push(name.to_string());
        self
    }

    /// The line as a control client sends it, quoted for tmux's own parser; `None` for a
    /// chain (a parse error answers a chain with one reply instead of one per command,
    /// which would put replies out of step) or an argument with a line break.
    pub(super) fn control_line(&self) -> Option<String> {
        match self.0.iter().any(|arg| arg == ";") {
            true => None,
            false => command_line(&self.0),
        }
    }

    /// The whole chain as one control line, its commands separated by ` ; `, for a caller
    /// that reads the replies up to a marker (one block per command that ran: tmux stops
    /// a chain at a failed command, and answers a parse error with one block); `None` for
    /// an argument with a line break.
    pub(super) fn chain_line(&self) -> Option<String> {
        let commands: Option<Vec<String>> =
            self.0.split(|arg| arg == ";").map(command_line).collect();
        Some(commands?.join(" ; "))
    }
}

/// One command's words as a control client sends them, quoted for tmux's own parser;
/// `None` for an argument with a line break.
fn command_line(words: &[String]) -> Option<String> {
    let mut line = String::new();
    for arg in words {
        if arg.contains(['\n', '\r']) {
            return None;
        }
        // Inside quotes a `;` is plain text, so `arg`'s escape for the command line
        // comes off again.
        let raw = match arg.strip_suffix("\\;") {
            Some(head) => format!("{head};"),
            None => arg.clone(),
        };
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&quote(&raw));
    }
    Some(line)
}

/// `text` escaped for tmux's format expander, which turns `##` back into `#`. A `%` needs
/// no escape here: only formats that tmux also runs through strftime expand it (see
/// `escape_time_format`).
pub(super) fn escape_format(text: &str) -> String {
    text.replace('#', "##")
}

/// `text` escaped for the formats that tmux also runs through strftime first, such as
/// `pipe-pane`'s command: `%%` comes out as `%`, where `%d` would become the day.
pub(super) fn escape_time_format(text: &str) -> String {
    escape_format(text).replace('%', "%%")
}

/// One argument in tmux's command syntax: bare when it is plainly a word, else in single
/// quotes, where tmux expands nothing (a `'` itself goes in double quotes).
fn quote(arg: &str) -> String {
    let bare = |c: char| c.is_ascii_alphanumeric() || "%@_./:=+,-".contains(c);
    if !arg.is_empty() && arg.chars().all(bare) {
        return arg.to_string();
    }
    format!("'{}'", arg.replace('\'', "'\"'\"'"))
}

impl std::fmt::Display for Argv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&shell_words::join(&self.0))
    }
}

/// Runs `cmd` to completion, or kills it after `timeout` and returns `None`.
///
/// stdin, stdout and stderr each get a thread, so a large input or a chatty output
/// cannot deadlock against a full pipe.
pub(super) fn run_with_timeout(
    mut cmd: Command,
    input: Option<&[u8]>,
    timeout: Duration,
) -> io::Result<Option<Output>> {
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd.spawn()?;
    thread::scope(|scope| {
        if let (Some(mut stdin), Some(input)) = (child.stdin.take(), input) {
            // A write error means tmux exited early; its status and stderr tell why.
            scope.spawn(move || stdin.write_all(input));
        }
        let stdout = child.stdout.take().map(|out| scope.spawn(|| drain(out)));
        let stderr = child.stderr.take().map(|err| scope.spawn(|| drain(err)));
        let status: Option<ExitStatus> = match child.wait_timeout(timeout)? {
            Some(status) => Some(status),
            None => {
                child.kill()?;
                child.wait()?;
                None
            }
        };
        let collect = |handle: Option<thread::ScopedJoinHandle<'_, Vec<u8>>>| {
            handle
                .map(|h| h.join().unwrap_or_default())
                .unwrap_or_default()
        };
        let (stdout, stderr) = (collect(stdout), collect(stderr));
        Ok(status.map(|status| Output {
            status,
            stdout,
            stderr,
        }))
    })
}

fn drain(mut from: impl Read) -> Vec<u8> {
    let mut buf = Vec::new();
    // A read error only cuts the output short; the exit status still tells the outcome.
    let _ = from.read_to_end(&mut buf);
    buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn trailing_semicolons_are_escaped_and_separators_are_not() {
        let argv = Argv::new("send-keys")
            .args(["-l", "a;", ";", "a\\;", "x"])
            .then("display");
        assert_eq!(
            argv.0,
            [
                "send-keys",
                "-l",
                "a\\;",
                "\\;",
                "a\\\\;",
                "x",
                ";",
                "display"
            ]
        );
    }

    #[test]
    fn a_chain_is_one_control_line_with_its_own_semicolons_kept_as_text() {
        let argv = Argv::new("set-option")
            .args(["-p", "@label", "a;b;"])
            .then("display-message")
            .args(["-p", "it's"]);
        assert_eq!(argv.control_line(), None);
        assert_eq!(
            argv.chain_line().as_deref(),
            Some("set-option -p @label 'a;b;' ; display-message -p 'it'\"'\"'s'")
        );
        let broken = Argv::new("display-message").arg("a\nb").then("list-panes");
        assert_eq!(broken.chain_line(), None);
    }

    #[test]
    fn literal_arguments_escape_format_characters() {
        let argv = Argv::new("new-window")
            .arg("-c")
            .literal("/w/a#(touch X)#{pane_id}%d")
            .arg("-n")
            .literal("plain");
        assert_eq!(
            argv.0,
            [
                "new-window",
                "-c",
                "/w/a##(touch X)##{pane_id}%d",
                "-n",
                "plain"
            ]
        );
        assert_eq!(escape_time_format("/w/#%d%%"), "/w/##%%d%%%%");
    }

    fn args(cmd: &Command) -> Vec<String> {
        cmd.get_args()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn a_remote_tmux_runs_through_ssh_with_each_word_quoted_for_the_host() {
        let local = Tmux::new("swarm-x", "s");
        let here = local.process(&["list-panes", "-F", "#{pane_id}\t#{pane_dead}"], false);
        assert_eq!(here.get_program(), "tmux");
        assert_eq!(
            args(&here),
            [
                "-L",
                "swarm-x",
                "-f",
                "/dev/null",
                "list-panes",
                "-F",
                "#{pane_id}\t#{pane_dead}"
            ]
        );

        let control = crate::ssh::ControlPath::at(std::path::Path::new("/run/swarm"));
        let ssh = Arc::new(SystemSsh::with_program("my-ssh".into(), control));
        let host = Host::new("gpu1", "alice@gpu1", vec!["-F".into(), "/cfg".into()]).unwrap();
        let remote = Tmux::new("swarm-x", "s")
            .with_tmpdir("/var/run/t x")
            .over_ssh(ssh, host.clone());
        assert_eq!(remote.host(), Some(&host));
        let there = remote.process(&["list-panes", "-F", "#{pane_id}\t#{pane_dead}"], false);
        assert_eq!(there.get_program(), "my-ssh");
        let argv = args(&there);
        assert_eq!(&argv[argv.len() - 3..argv.len() - 1], ["--", "alice@gpu1"]);
        assert_eq!(argv[argv.len() - 4], "-T");
        assert!(argv.contains(&"ControlPath=/run/swarm/cm-%C".to_owned()));
        // What the host's shell splits the command back into.
        assert_eq!(
            shell_words::split(argv.last().unwrap()).unwrap(),
            [
                "env",
                "TMUX_TMPDIR=/var/run/t x",
                "tmux",
                "-u",
                "-L",
                "swarm-x",
                "-f",
                "/dev/null",
                "list-panes",
                "-F",
                "#{pane_id}\t#{pane_dead}"
            ]
        );
        // A person attaching gets a terminal on the host.
        let attach = args(&remote.process(&["attach-session"], true));
        assert_eq!(attach[attach.len() - 4], "-t");
    }

    #[test]
    fn a_remote_tmux_never_sends_input_over_an_exec_channel() {
        let control = crate::ssh::ControlPath::at(std::path::Path::new("/nonexistent"));
        let ssh = Arc::new(SystemSsh::with_program("/nonexistent/ssh".into(), control));
        let host = Host::new("h1", "h1", vec![]).unwrap();
        let remote = Tmux::new("swarm-x", "s").over_ssh(ssh, host);
        let err = remote
            .run_with_input(&Argv::new("load-buffer").arg("-"), Some(b"prompt"))
            .unwrap_err();
        assert!(matches!(err, TmuxError::Invalid(_)), "{err}");
        // And a paste without the control link is refused rather than sent another way.
        let err =
            crate::tmux::Mux::paste(&remote, &crate::tmux::PaneId("%1".into()), "hi").unwrap_err();
        assert!(matches!(err, TmuxError::Invalid(_)), "{err}");
    }

    #[test]
    fn a_hung_command_is_killed_at_the_timeout() {
        let mut cmd = Command::new("sleep");
        cmd.arg("10");
        let started = Instant::now();
        let out = run_with_timeout(cmd, None, Duration::from_millis(100)).unwrap();
        assert!(out.is_none());
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[test]
    fn large_input_and_output_do_not_deadlock() {
        let input = vec![b'x'; 1 << 20];
        let out = run_with_timeout(Command::new("cat"), Some(&input), Duration::from_secs(5))
            .unwrap()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout.len(), input.len());
    }
}
