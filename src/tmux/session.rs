//! Starting, probing, attaching to and ending swarm's own tmux server and session.

use super::command::{Argv, escape_time_format};
use super::live::INCARNATION;
use super::{PaneId, Spawned, Tmux, TmuxError};
use std::collections::BTreeMap;
use std::io;
use std::path::Path;
use std::process::ExitStatus;

/// What `-P -F` prints for a new pane: its id and its window's id.
pub(super) const SPAWNED_FORMAT: &str = "#{pane_id} #{window_id}";

/// The border line of each pane: agents overwrite pane titles, so the worker, its profile
/// and its task live in the pane options `@worker`, `@profile` and `@task`
/// (docs/tmux-facts.md §4).
const BORDER_FORMAT: &str = " #{@worker}#{?#{@profile}, #{@profile},}#{?#{@task}, · #{@task},}\
                             #{?pane_dead, [dead #{pane_dead_status}],} ";

/// tmux's own colours (a green status line and active border, yellow messages and
/// selections), turned off when `NO_COLOR` is set: this server is swarm's output too.
const MONOCHROME: [(&str, &str); 7] = [
    ("status-style", "reverse"),
    ("message-style", "reverse"),
    ("message-command-style", "reverse"),
    ("mode-style", "reverse"),
    ("pane-active-border-style", "bold"),
    ("display-panes-active-colour", "default"),
    ("clock-mode-colour", "default"),
];

/// What a person who attaches is told for a few seconds: the keys, with their own prefix,
/// and, when their terminal is itself a tmux (nested), that the prefix goes to the outer
/// one first. A control client (a program) is told nothing.
const ATTACH_HINT: &str = "if-shell -F '#{client_control_mode}' '' { display-message -d 8000 \
    'swarm · #{prefix} d: detach · #{prefix} o: next worker · #{prefix} 0: overview\
    #{?#{||:#{m:screen*,#{client_termname}},#{m:tmux*,#{client_termname}}}, · \
    nested tmux: #{prefix} #{prefix},}' }";

/// Whenever a window's size or number of panes changes (a person attaches or resizes their
/// terminal, an agent is added or replaced), a grid whose panes are smaller than an agent
/// needs is zoomed to its active pane, and a zoomed grid that would now be readable is
/// unzoomed: an agent's TUI wants about 80x24, and a 2x2 grid on a 200x50 terminal (99x23
/// panes) reads well, where four 50x14 panes on 100x30 do not. `@fit` holds what was
/// decided for, so that a person's own `prefix z` (a layout change too) is left alone. The
/// other panes of a zoomed window keep their grid sizes (measured on 3.3a), so the check
/// reads the same zoomed or not; the zoomed pane, the window's size, is never the small one.
/// All of it runs in the server's queue, so that two changes cannot both toggle the zoom.
const FIT: &str = "if-shell -F '#{!=:#{@fit},#{window_width}x#{window_height}/#{window_panes}}' \
    { set-option -Fw @fit '#{window_width}x#{window_height}/#{window_panes}' ; \
    if-shell -F '#{&&:#{e|>|:#{window_panes},1},#{P:#{?#{||:#{e|<|:#{pane_width},80},\
    #{e|<|:#{pane_height},20}},small,}}}' \
    { if-shell -F '#{window_zoomed_flag}' '' 'resize-pane -Z' } \
    { if-shell -F '#{window_zoomed_flag}' 'resize-pane -Z' '' } }";

/// The left of tmux's status line: on a zoomed grid, the key to the next worker.
const STATUS_LEFT: &str = " swarm #{?window_zoomed_flag,· #{prefix} o: next worker ,}";

/// `prefix o` keeps its meaning, the next pane, but keeps a zoomed window zoomed (on the
/// next worker) and goes on to the next window after a window's last pane: it walks the
/// dashboard and every worker in turn, on a small terminal one full-size screen at a time.
const NEXT_WORKER: &str = "if-shell -F '#{e|>=|:#{e|+|:#{pane_index},1},#{window_panes}}' \
    { next-window ; select-pane -Z -t :.0 } { select-pane -Z -t :.+ }";

/// When a person attaches, every window drops the fixed size `restore` gave it and follows
/// their terminal again (`window-size latest`). The scripts print nothing and succeed:
/// `run-shell` would show output, or a failure, in a pane's view mode, where it would
/// look like a person holding that pane. Formats in `run-shell` are expanded when the
/// hook fires: `#{socket_path}` names this server, `##{` is left for the inner tmux.
const FOLLOW: &str = "if-shell -F '#{client_control_mode}' '' { run-shell -b '{ t() { tmux \
    -S \"#{socket_path}\" \"$@\"; }; for w in $(t list-windows -a -F \"##{window_id}\"); do \
    t set-option -uw -t \"$w\" window-size; done; } >/dev/null 2>&1; true' }";

/// When the last person detaches, every window gets back the session's fixed size
/// (`resize-window` makes it the window's own, `manual`), so agents keep a full-size
/// screen while nobody watches. Control clients (programs) do not count; nor does the
/// client that detaches, should it still be listed. (No `client_control_mode` guard as in
/// FOLLOW: in this hook tmux may resolve the client to another one, the orchestrator's.)
fn restore(width: u16, height: u16) -> String {
    format!(
        "run-shell -b '{{ t() {{ tmux -S \"#{{socket_path}}\" \"$@\"; }}; t list-clients -F \
         \"##{{?##{{client_control_mode}},,##{{client_name}}}}\" | grep -vx \
         \"#{{client_name}}\" | grep -q . && exit 0; for w in $(t list-windows -a -F \
         \"##{{window_id}}\"); do t resize-window -t \"$w\" -x {width} -y {height}; done; }} \
         >/dev/null 2>&1; true'"
    )
}

impl Tmux {
    /// Restarts window 0's program in place (the orchestrator, after it died), with `env`
    /// added to its environment.
    pub fn respawn_window0(
        &self,
        argv: &[String],
        cwd: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<(), TmuxError> {
        // respawn-pane loses exit statuses on 3.3a (docs/tmux-facts.md §2), which matters for
        // agents, not for window 0, whose pane id the layout keeps this way.
        let mut line = Argv::new("respawn-pane")
            .args(["-k", "-t", &format!("{}.0", self.window0())])
            .arg("-c")
            .literal(cwd);
        for (key, value) in env {
            line = line.arg("-e").arg(format!("{key}={value}"));
        }
        self.run(&line.arg("--").args(argv))?;
        Ok(())
    }

    /// Window 0, the orchestrator's: `start_session` makes it, with `base-index` 0
    /// whatever the person's tmux config says.
    fn window0(&self) -> String {
        format!("{}:0", self.target())
    }

    /// Names window 0 (which `start_session` named for what it first ran).
    pub fn rename_window0(&self, name: &str) -> Result<(), TmuxError> {
        let line = Argv::new("rename-window")
            .args(["-t", &self.window0()])
            .literal(name);
        self.run(&line)?;
        Ok(())
    }

    /// Starts the server and the session with one window running `argv`, and sets
    /// swarm's server options in the same call.
    pub fn start_session(
        &self,
        window0_name: &str,
        width: u16,
        height: u16,
        argv: &[String],
        cwd: &Path,
        env: &BTreeMap<String, String>,
    ) -> Result<Spawned, TmuxError> {
        let line = with_spawn_args(
            server_setup()
                .then("new-session")
                .args(["-d", "-s"])
                .literal(&self.session)
                .arg("-n")
                .literal(window0_name)
                .args(["-x", &width.to_string(), "-y", &height.to_string()]),
            cwd,
            env,
            argv,
        );
        // `-x -y` is the size while nobody is attached (the session's `default-size`, which
        // later windows take too). Under `window-size latest` the windows follow a person's
        // terminal once they attach, so that all of the dashboard and the grid is on their
        // screen. (A global `window-size manual` would also segfault tmux 3.3a at the next
        // new-window while no client is attached: docs/tmux-facts.md.)
        parse_spawned(&self.run(&with_hooks(line, width, height))?)
    }

    /// Makes sure the server on a host runs the session with swarm's options, and returns
    /// the server's incarnation (`#{pid}:#{start_time}`). Idempotent: an existing session
    /// is kept as it is. The session holds only workers' windows, added by `spawn`; its
    /// window 0, `host`, idles (a session needs a window), since the orchestrator runs
    /// on the coordinator.
    pub fn start_host_session(&self, width: u16, height: u16) -> Result<String, TmuxError> {
        if !self.has_session()? {
            match self.run(&self.host_session_line(width, height)) {
                Ok(_) => {}
                // Someone else started it meanwhile: theirs is the same.
                Err(TmuxError::Failed { stderr, .. }) if stderr.contains("duplicate session") => {}
                Err(err) => return Err(err),
            }
        }
        self.incarnation()
    }

    /// The command line that starts the server on a host with swarm's options and the
    /// session with its idle window 0.
    pub(super) fn host_session_line(&self, width: u16, height: u16) -> Argv {
        let line = server_setup()
            .then("new-session")
            .args(["-d", "-s"])
            .literal(&self.session)
            .args(["-n", HOST_WINDOW])
            .args(["-x", &width.to_string(), "-y", &height.to_string()])
            .arg("--")
            .args(HOST_WINDOW_PROGRAM);
        with_hooks(line, width, height)
    }

    /// The server's incarnation, `#{pid}:#{start_time}`: it changes when the server (or
    /// its host) restarts, and with it every pane is gone.
    pub fn incarnation(&self) -> Result<String, TmuxError> {
        let out = self.run(&Argv::new("display-message").args(["-p", INCARNATION]))?;
        Ok(out.trim().to_owned())
    }

    /// Puts what `argv` prints (one line) at the right of tmux's status line, refreshed
    /// every 2 seconds: the run's progress.
    pub fn show_in_status(&self, argv: &[String]) -> Result<(), TmuxError> {
        // `#()` runs a shell command; the status line is a format that tmux also runs
        // through strftime, so `#` and `%` of the paths are escaped.
        let shell = escape_time_format(&shell_words::join(argv));
        let line = Argv::new("set-option")
            .args(["-g", "status-right"])
            .arg(format!(" #({shell}) "))
            .then("set-option")
            .args(["-g", "status-right-length", "80"])
            .then("set-option")
            .args(["-g", "status-interval", "2"]);
        self.run(&line)?;
        Ok(())
    }

    /// Whether our session exists; a server that is not running has no sessions.
    pub fn has_session(&self) -> Result<bool, TmuxError> {
        match self.run(&Argv::new("has-session").args(["-t", &self.target()])) {
            Ok(_) => Ok(true),
            Err(TmuxError::ServerGone { .. }) => Ok(false),
            Err(TmuxError::Failed { stderr, .. }) if stderr.contains("can't find session") => {
                Ok(false)
            }
            Err(err) => Err(err),
        }
    }

    /// Whether a tmux server answers on our socket.
    pub fn server_alive(&self) -> bool {
        self.run(&Argv::new("list-sessions")).is_ok()
    }

    /// Ends the server on our socket (and with it every pane); a server already gone is fine.
    pub fn kill_server(&self) -> Result<(), TmuxError> {
        match self.run(&Argv::new("kill-server")) {
            Ok(_) | Err(TmuxError::ServerGone { .. }) => Ok(()),
            Err(err) => Err(err),
        }
    }

    /// Attaches the user's terminal to the session until they detach.
    pub fn attach(&self) -> io::Result<ExitStatus> {
        // No timeout: a person stays attached as long as they like. TMUX is removed by
        // `command`, so this works from inside another tmux too; on a host, ssh gives
        // tmux a terminal there.
        self.process(&["attach-session", "-t", &self.target()], true)
            .status()
    }

    /// Shows `text` for a few seconds on every person's attached client (a control client
    /// is a program, not a person).
    pub fn tell(&self, text: &str) -> Result<(), TmuxError> {
        let clients = self.run(&Argv::new("list-clients").args([
            "-t",
            &self.target(),
            "-F",
            "#{client_control_mode} #{client_name}",
        ]))?;
        for name in clients.lines().filter_map(|l| l.strip_prefix("0 ")) {
            // The message is a format that tmux also runs through strftime: a `#` or `%`
            // of the text must not start one.
            let line = Argv::new("display-message").args(["-c", name, "-d", "4000"]);
            self.run(&line.arg(escape_time_format(text)))?;
        }
        Ok(())
    }

    /// Rings the bell in window 0 as if its program had: tmux flags the window and hands
    /// the bell to attached terminals as `bell-action` says, the tmux way to get noticed.
    pub fn ring(&self) -> Result<(), TmuxError> {
        // The pane's tty is a path on its host: opened here it could be someone else's
        // terminal. People are alerted on the coordinator's own server.
        if self.host().is_some() {
            return Err(TmuxError::Invalid(
                "a bell rings only on the coordinator's own tmux server".into(),
            ));
        }
        let tty = self.run(&Argv::new("display-message").args([
            "-p",
            "-t",
            &format!("{}.0", self.window0()),
            "#{pane_tty}",
        ]))?;
        std::fs::OpenOptions::new()
            .write(true)
            .open(tty.trim())
            .and_then(|mut tty| io::Write::write_all(&mut tty, b"\x07"))?;
        Ok(())
    }

    /// Expands a format (such as `#{pane_dead}`) for one pane.
    pub fn display(&self, pane: &PaneId, format: &str) -> Result<String, TmuxError> {
        let line = Argv::new("display-message").args(["-p", "-t", &pane.0, format]);
        let out = self.run(&line)?;
        Ok(out.strip_suffix('\n').unwrap_or(&out).to_string())
    }
}

/// The first window of a host's session: a program that waits without end and reads no
/// input (`tail -f` of an empty file, which every Unix has).
const HOST_WINDOW: &str = "host";
const HOST_WINDOW_PROGRAM: [&str; 3] = ["tail", "-f", "/dev/null"];

/// Starts the server with swarm's global options, before the session is made.
fn server_setup() -> Argv {
    // Global options go before new-session so that they already hold for its pane:
    // remain-on-exit keeps even an instantly exiting program as a dead pane, and
    // history-limit only applies to panes created after it is set. They come after the
    // person's tmux config (`tmux_conf`), whatever it says: swarm addresses window 0
    // and its pane by index, counts on dead panes staying, and a global
    // `window-size manual` crashes tmux 3.3a (docs/tmux-facts.md).
    let global = [
        ("remain-on-exit", "on"),
        ("base-index", "0"),
        ("pane-base-index", "0"),
        ("renumber-windows", "off"),
        ("window-size", "latest"),
        ("destroy-unattached", "off"),
        ("automatic-rename", "off"),
        ("allow-rename", "off"),
        ("history-limit", "5000"),
        ("pane-border-status", "top"),
        ("pane-border-format", BORDER_FORMAT),
        ("status-left", STATUS_LEFT),
        ("status-left-length", "40"),
        ("status-right", " #{session_name} "),
    ];
    let mut line = Argv::new("start-server");
    let plain = if crate::color_enabled() {
        &[][..]
    } else {
        &MONOCHROME[..]
    };
    for (name, value) in global.iter().chain(plain) {
        line = line.then("set-option").args(["-g", name, value]);
    }
    line
}

/// Appends the hooks for people attaching and detaching to a session-starting line.
fn with_hooks(line: Argv, width: u16, height: u16) -> Argv {
    line.then("set-hook")
        .args(["-g", "client-attached[0]", ATTACH_HINT])
        .then("set-hook")
        .args(["-g", "client-attached[1]", FOLLOW])
        .then("set-hook")
        .args(["-g", "client-detached[0]", &restore(width, height)])
        .then("set-hook")
        .args(["-g", "window-layout-changed[0]", FIT])
        .then("bind-key")
        .args(["-T", "prefix", "o", NEXT_WORKER])
}

/// Appends `-P -F`, the working directory, the environment and the program to a
/// new-session, new-window or split-window command.
pub(super) fn with_spawn_args(
    line: Argv,
    cwd: &Path,
    env: &BTreeMap<String, String>,
    argv: &[String],
) -> Argv {
    // tmux expands `-c` as a format (`-e` values and argv it passes as they are).
    let mut line = line
        .args(["-P", "-F", SPAWNED_FORMAT])
        .arg("-c")
        .literal(cwd);
    for (key, value) in env {
        line = line.arg("-e").arg(format!("{key}={value}"));
    }
    // After `--`, tmux runs argv directly, with no shell: the agent is the pane's own
    // process, so its exit leaves a dead pane rather than a shell (docs/tmux-facts.md §3).
    line.arg("--").args(argv)
}

/// Reads the `%pane @window` line that `-P -F SPAWNED_FORMAT` prints.
pub(super) fn parse_spawned(out: &str) -> Result<Spawned, TmuxError> {
    match out.trim().split_once(' ') {
        Some((pane, window)) if pane.starts_with('%') && window.starts_with('@') => Ok(Spawned {
            pane: PaneId(pane.to_string()),
            window: window.to_string(),
        }),
        _ => Err(TmuxError::Failed {
            args: "-P -F".to_string(),
            stderr: format!("unexpected new-pane output {out:?}"),
        }),
    }
}
