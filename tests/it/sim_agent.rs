//! `swarm sim-agent` as a tmux pane's own process on a private server: its screen states,
//! byte-exact prompts, the Enter race of real agents (and swarm's delivery beating it), the
//! files it writes, its fault modes, and the git its retry prompts ask for (append, rebase
//! and resolve).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::Value;

use swarm::clock::SystemClock;
use swarm::deliver::deliver;
use swarm::tmux::{PaneId, Tmux};

use crate::common::{TestEnv, read_jsonl, stderr, stdout, swarm_bin, wait_until};

const WAIT: Duration = Duration::from_secs(10);

/// A sim-agent in its own 120x30 pane, logging to a file outside the workspace.
struct Sim {
    env: TestEnv,
    pane: String,
    log: PathBuf,
}

impl Sim {
    fn start(extra: &[&str]) -> Sim {
        let env = TestEnv::new();
        let log = env.dir.path().join("sim.jsonl");
        let ws = env.ws();
        let mut args = vec![
            "new-session",
            "-d",
            "-s",
            "t",
            "-x",
            "120",
            "-y",
            "30",
            "-P",
            "-F",
            "#{pane_id}",
            "-c",
            ws.to_str().unwrap(),
            "--",
            swarm_bin(),
            "sim-agent",
            "--log",
            log.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let pane = env.tmux_ok(&args).trim().to_string();
        // Every way to exit needs input first, so setting this after the start is in time.
        env.tmux_ok(&["set-option", "-g", "remain-on-exit", "on"]);
        let sim = Sim { env, pane, log };
        sim.wait_for("the ready screen", |s| s.ready());
        sim
    }

    fn screen(&self) -> Screen {
        Screen(self.env.capture(&self.pane))
    }

    /// Polls the screen until `cond` holds; gives up at the deadline or if the pane dies.
    fn wait_for(&self, what: &str, cond: impl Fn(&Screen) -> bool) {
        let deadline = Instant::now() + WAIT;
        loop {
            let screen = self.screen();
            if cond(&screen) {
                return;
            }
            if Instant::now() > deadline || self.dead().is_some() {
                panic!("gave up waiting for {what}; the screen was:\n{}", screen.0);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Pastes `text` as swarm does (a named buffer, bracketed) and waits until it shows.
    fn paste(&self, text: &str) {
        let file = self.env.dir.path().join("prompt.txt");
        std::fs::write(&file, text).unwrap();
        self.env
            .tmux_ok(&["load-buffer", "-b", "p", file.to_str().unwrap()]);
        self.env
            .tmux_ok(&["paste-buffer", "-p", "-d", "-b", "p", "-t", &self.pane]);
        self.wait_for("the paste in the input line", |s| !s.input().is_empty());
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", &self.pane];
        args.extend_from_slice(keys);
        self.env.tmux_ok(&args);
    }

    /// Pastes `text`, presses Enter, and waits until the agent has taken it.
    fn submit(&self, text: &str) {
        let before = self.events("prompt").len() + self.events("queued").len();
        self.paste(text);
        self.keys(&["Enter"]);
        wait_until("the prompt in the log", WAIT, || {
            self.events("prompt").len() + self.events("queued").len() > before
        });
    }

    /// Runs `args`, several tmux commands chained with `;`, as one tmux invocation: what
    /// they write to the pane leaves tmux in one write, so a short one is one read().
    fn at_once(&self, args: &[&str]) {
        self.env.tmux_ok(args);
    }

    /// Waits for what became of an Enter sent with text in one read, and checks that the
    /// agent took it as a newline after `burst` ("paste" or "typing"), not as a submit.
    fn expect_absorbed(&self, burst: &str) {
        wait_until("the Enter absorbed or submitted", WAIT, || {
            !self.events("enter-absorbed").is_empty() || !self.events("prompt").is_empty()
        });
        assert!(
            self.events("prompt").is_empty(),
            "the Enter submitted the text: it was not absorbed"
        );
        assert_eq!(self.events("enter-absorbed")[0]["after"], burst);
    }

    /// swarm's own handle on this pane, for `deliver`.
    fn mux(&self) -> (Tmux, PaneId) {
        let tmux = Tmux::new(&self.env.socket, "t").with_tmpdir(self.env.dir.path().join("tmux"));
        (tmux, PaneId(self.pane.clone()))
    }

    fn events(&self, name: &str) -> Vec<Value> {
        read_jsonl(&self.log)
            .into_iter()
            .filter(|e| e["event"] == name)
            .collect()
    }

    /// `Some(status)` once the pane is dead.
    fn dead(&self) -> Option<i32> {
        let query = || {
            let format = "#{pane_dead} #{pane_dead_status}";
            let out = self
                .env
                .tmux_ok(&["display-message", "-p", "-t", &self.pane, format]);
            let (dead, status) = out.trim_end_matches('\n').split_once(' ').unwrap();
            (dead == "1").then(|| status.parse::<i32>().ok())
        };
        match query()? {
            Some(status) => Some(status),
            // tmux 3.3a sometimes misses the SIGCHLD (about 1 in 3 here): the pane is dead
            // but its process stays an unreaped zombie with no status. Any other child of
            // the server exiting makes tmux reap them all, so give it one.
            None => {
                self.env.tmux_ok(&["run-shell", "true"]);
                query().flatten()
            }
        }
    }

    fn wait_dead(&self) -> i32 {
        wait_until("the pane to die with a status", WAIT, || {
            self.dead().is_some()
        });
        self.dead().unwrap()
    }
}

/// A `capture-pane` of the sim: tmux drops trailing spaces, so the empty input line is `sim>`.
struct Screen(String);

impl Screen {
    fn lines(&self) -> Vec<&str> {
        self.0.lines().collect()
    }

    fn status(&self) -> &str {
        self.lines().last().copied().unwrap_or("")
    }

    /// What follows `sim> ` on the input line.
    fn input(&self) -> &str {
        let line = self
            .lines()
            .into_iter()
            .rfind(|l| l.starts_with("sim>"))
            .unwrap_or("");
        line.strip_prefix("sim>").unwrap_or("").trim_start()
    }

    fn ready(&self) -> bool {
        self.status().starts_with("[ready]") && self.input().is_empty()
    }

    fn working(&self) -> bool {
        self.status().starts_with("[working]")
    }

    fn has(&self, text: &str) -> bool {
        self.0.contains(text)
    }
}

/// Printable lines with the hazards of docs/tmux-facts.md §1, at least `bytes` long.
fn big_prompt(bytes: usize) -> String {
    let mut prompt = String::new();
    let mut i = 0;
    while prompt.len() < bytes {
        prompt.push_str(&format!(
            "line {i:05}: ⟨quick⟩ brown\tfox; $(jumps) \"over\" -lazy\n"
        ));
        i += 1;
    }
    prompt
}

/// What the input line shows for a paste that does not fit inline.
fn placeholder(n: u32, text: &str) -> String {
    format!(
        "[Pasted text #{n} +{} lines, {} chars]",
        text.lines().count(),
        text.chars().count()
    )
}

/// Holds `cond` for all of `window`: for checking that something does not happen.
fn holds_for(what: &str, window: Duration, cond: impl Fn() -> bool) {
    let end = Instant::now() + window;
    while Instant::now() < end {
        assert!(cond(), "stopped holding: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn shows_that_it_is_simulated_and_ready() {
    let sim = Sim::start(&["--think-ms", "100"]);
    let screen = sim.screen();
    let lines = screen.lines();
    assert_eq!(lines[0], "swarm sim-agent · SIMULATED agent (no LLM)");
    assert_eq!(lines.len(), 30);
    assert_eq!(lines[26], "─".repeat(120));
    assert_eq!(lines[27], "sim>");
    assert_eq!(lines[28], "─".repeat(120));
    assert_eq!(lines[29], "[ready] simulated agent · enter to submit");
    let start = &sim.events("start")[0];
    assert!(start["pid"].as_u64().unwrap() > 0);
    assert!(start["ts"].as_f64().unwrap() > 1.6e9);
}

#[test]
fn startup_screen_comes_before_ready() {
    let env = TestEnv::new();
    let pane = env
        .tmux_ok(&[
            "new-session",
            "-d",
            "-x",
            "80",
            "-y",
            "24",
            "-P",
            "-F",
            "#{pane_id}",
            "--",
            swarm_bin(),
            "sim-agent",
            "--startup-ms",
            "1500",
        ])
        .trim()
        .to_string();
    wait_until("the starting screen", WAIT, || {
        env.capture(&pane).contains("[starting]")
    });
    wait_until("the ready screen", WAIT, || {
        env.capture(&pane).contains("[ready]")
    });
}

#[test]
fn typing_backspace_and_ctrl_c() {
    let sim = Sim::start(&["--think-ms", "100"]);
    sim.keys(&["-l", "hello wörld"]);
    sim.wait_for("typed text", |s| s.input() == "hello wörld");
    sim.keys(&["BSpace", "BSpace"]);
    sim.wait_for("two chars fewer", |s| s.input() == "hello wör");
    sim.keys(&["C-c"]);
    sim.wait_for("an empty input line", |s| s.ready());
    assert!(sim.events("prompt").is_empty());
    assert!(
        sim.dead().is_none(),
        "C-c on an idle agent must not quit it"
    );
}

#[test]
fn nasty_prompt_arrives_byte_exact() {
    let sim = Sim::start(&["--think-ms", "100"]);
    let prompt = "Ünïcödé ✓ 日本語 🚀 first line\n\
                  \tindented by a tab\t and\ttabs\n\
                  \"double\" 'single' `back` ticks\n\
                  $(rm -rf /nothing) ${HOME} #{pane_id} %1 ~/x\n\
                  Enter\n\
                  C-c\n\
                  ;\n\
                  ends with a semicolon;\n\
                  -n starts with a dash\n\
                  --also\n\
                  \\ backslash \\n \\\\ \n\
                  \n\
                  after an empty line, no final newline";
    sim.submit(prompt);
    sim.wait_for("the placeholder gone", |s| s.input().is_empty());
    let logged = &sim.events("prompt")[0];
    assert_eq!(logged["text"], prompt);
    assert_eq!(logged["bytes"], prompt.len());
}

#[test]
fn large_prompt_arrives_byte_exact() {
    let sim = Sim::start(&["--think-ms", "100"]);
    let prompt = big_prompt(100 * 1024);
    sim.paste(&prompt);
    sim.wait_for("the placeholder", |s| s.input() == placeholder(1, &prompt));
    sim.keys(&["Enter"]);
    wait_until("the prompt in the log", WAIT, || {
        !sim.events("prompt").is_empty()
    });
    assert_eq!(sim.events("prompt")[0]["text"], prompt.as_str());
}

#[test]
fn writes_output_then_sentinel_and_returns_to_ready() {
    let sim = Sim::start(&["--think-ms", "100"]);
    let prompt =
        "Document auth\nWrite `docs/auth.md`, not `.swarm/done/auth.done`: `docs/auth.md.done`.";
    sim.submit(prompt);
    wait_until("the sentinel", WAIT, || {
        sim.env.path("docs/auth.md.done").exists()
    });
    assert_eq!(
        sim.env.read("docs/auth.md"),
        "# Document auth\n\nSimulated output written by swarm sim-agent.\n"
    );
    sim.wait_for("ready again", |s| s.ready());
    let screen = sim.screen();
    let received = format!(
        "› task received ({} chars, 2 lines)",
        prompt.chars().count()
    );
    assert!(screen.has(&received), "{}", screen.0);
    assert!(screen.has("✓ wrote docs/auth.md"));
    assert!(screen.has("✓ created docs/auth.md.done"));
    assert_eq!(sim.events("output")[0]["path"], "docs/auth.md");
    assert_eq!(sim.events("sentinel")[0]["path"], "docs/auth.md.done");
    assert!(!sim.env.path(".swarm/done/auth.done").exists());
}

#[test]
fn tail_keeps_it_busy_after_the_sentinel() {
    let sim = Sim::start(&["--think-ms", "100", "--tail-ms", "1500"]);
    sim.submit("Go.\nCreate `t.done`.");
    wait_until("the sentinel", WAIT, || sim.env.path("t.done").exists());
    assert!(sim.screen().working(), "busy during the tail");
    sim.wait_for("ready after the tail", |s| s.ready());
}

#[test]
fn hang_on_stays_working_until_escape() {
    let sim = Sim::start(&["--think-ms", "100", "--hang-on", "STUCK"]);
    sim.submit("This one gets STUCK.\nCreate `h.done`.");
    sim.wait_for("working", |s| s.working());
    holds_for("working, no sentinel", Duration::from_millis(500), || {
        sim.screen().working() && !sim.env.path("h.done").exists()
    });
    sim.keys(&["Escape"]);
    sim.wait_for("ready after Escape", |s| s.ready());
    assert!(sim.screen().has("■ interrupted"));
    assert_eq!(sim.events("interrupted").len(), 1);
    assert!(!sim.env.path("h.done").exists());
}

#[test]
fn exit_on_leaves_a_dead_pane_with_status_3() {
    let sim = Sim::start(&["--think-ms", "100", "--exit-on", "^BYE"]);
    sim.submit("BYE now.\nCreate `e.done`.");
    assert_eq!(sim.wait_dead(), 3);
    assert_eq!(sim.events("exit")[0]["code"], 3);
    assert!(!sim.env.path("e.done").exists());
}

#[test]
fn crash_after_one_prompt_dies_with_101_without_a_sentinel() {
    let sim = Sim::start(&["--think-ms", "200", "--crash-after", "1"]);
    sim.submit("First.\nCreate `one.done`.");
    wait_until("the first sentinel", WAIT, || {
        sim.env.path("one.done").exists()
    });
    sim.wait_for("ready", |s| s.ready());
    sim.submit("Second.\nCreate `two.done`.");
    assert_eq!(sim.wait_dead(), 101);
    assert!(!sim.env.path("two.done").exists());
    assert_eq!(sim.events("prompt").len(), 2);
    assert!(sim.events("exit").is_empty(), "a crash logs no exit");
}

#[test]
fn clear_resets_the_context() {
    let sim = Sim::start(&["--think-ms", "50"]);
    sim.submit("Hello.\nCreate `c.done`.");
    sim.wait_for("the task done", |s| s.has("✓ created c.done") && s.ready());
    sim.keys(&["-l", "/clear"]);
    sim.wait_for("/clear typed", |s| s.input() == "/clear");
    sim.keys(&["Enter"]);
    sim.wait_for("a cleared transcript", |s| {
        s.has("context cleared") && !s.has("task received") && s.ready()
    });
    assert_eq!(sim.events("clear").len(), 1);
    assert_eq!(sim.events("prompt").len(), 1, "/clear is not a prompt");
}

#[test]
fn quit_exits_0_and_logs_it() {
    let sim = Sim::start(&["--think-ms", "50"]);
    sim.keys(&["-l", "/quit"]);
    sim.wait_for("/quit typed", |s| s.input() == "/quit");
    sim.keys(&["Enter"]);
    assert_eq!(sim.wait_dead(), 0);
    assert_eq!(sim.events("exit")[0]["code"], 0);
}

#[test]
fn message_sent_while_busy_is_queued_then_processed() {
    let sim = Sim::start(&["--think-ms", "800"]);
    sim.submit("First.\nCreate `q1.done`.");
    sim.wait_for("working", |s| s.working());
    sim.submit("Second.\nCreate `q2.done`.");
    sim.wait_for("one queued", |s| {
        s.working() && s.status().ends_with("· 1 queued")
    });
    assert_eq!(sim.events("queued").len(), 1);
    wait_until("both sentinels", WAIT, || sim.env.path("q2.done").exists());
    assert!(sim.env.path("q1.done").exists());
    let texts: Vec<Value> = sim
        .events("prompt")
        .iter()
        .map(|e| e["text"].clone())
        .collect();
    assert_eq!(
        texts,
        ["First.\nCreate `q1.done`.", "Second.\nCreate `q2.done`."]
    );
    sim.wait_for("ready, nothing queued", |s| s.ready() && !s.has("queued"));
}

/// Regression for the Enter race (docs/tmux-facts.md §1): Claude's Ink takes an Enter that
/// shares a read() with the paste's end as a newline, and the simulator must too, or
/// nothing shows that swarm's delivery defeats the race.
#[test]
fn enter_sharing_a_read_with_the_paste_end_is_absorbed() {
    let sim = Sim::start(&["--think-ms", "50"]);
    let prompt = "One go.\nCreate `r.done`.";
    let file = sim.env.dir.path().join("prompt.txt");
    std::fs::write(&file, prompt).unwrap();
    let file = file.to_str().unwrap();
    sim.at_once(&[
        "load-buffer",
        "-b",
        "p",
        file,
        ";",
        "paste-buffer",
        "-p",
        "-d",
        "-b",
        "p",
        "-t",
        &sim.pane,
        ";",
        "send-keys",
        "-t",
        &sim.pane,
        "Enter",
    ]);
    sim.expect_absorbed("paste");
    sim.wait_for("the prompt still in the box", |s| {
        s.input() == placeholder(1, prompt) && s.status().starts_with("[ready]")
    });
    // A later Enter submits it, with the absorbed newline.
    sim.keys(&["Enter"]);
    wait_until("the sentinel", WAIT, || sim.env.path("r.done").exists());
    assert_eq!(sim.events("prompt")[0]["text"], format!("{prompt}\n"));
    assert_eq!(sim.events("enter-absorbed").len(), 1);
}

#[test]
fn a_cr_right_after_the_bracket_in_the_pasted_bytes_is_absorbed() {
    let sim = Sim::start(&["--think-ms", "50"]);
    let file = sim.env.dir.path().join("raw.txt");
    std::fs::write(&file, "\x1b[200~Say hi.\x1b[201~\r").unwrap();
    // Without -p tmux adds no bracket of its own, and -r leaves the bytes as they are.
    sim.at_once(&[
        "load-buffer",
        "-b",
        "p",
        file.to_str().unwrap(),
        ";",
        "paste-buffer",
        "-r",
        "-d",
        "-b",
        "p",
        "-t",
        &sim.pane,
    ]);
    sim.expect_absorbed("paste");
    sim.wait_for("the text still in the box", |s| {
        s.input() == "Say hi." && s.status().starts_with("[ready]")
    });
}

#[test]
fn enter_sharing_a_read_with_typed_text_is_absorbed_and_a_later_one_submits() {
    let sim = Sim::start(&["--think-ms", "50"]);
    sim.at_once(&[
        "send-keys",
        "-t",
        &sim.pane,
        "-l",
        "Say hi.",
        ";",
        "send-keys",
        "-t",
        &sim.pane,
        "Enter",
    ]);
    sim.expect_absorbed("typing");
    sim.wait_for("the text still in the box", |s| {
        s.input() == "Say hi." && s.status().starts_with("[ready]")
    });
    sim.keys(&["C-c"]);
    sim.wait_for("an empty box", |s| s.ready());
    // How swarm types `/clear`: the text, then Enter once the text shows.
    sim.keys(&["-l", "Say hi."]);
    sim.wait_for("typed text", |s| s.input() == "Say hi.");
    sim.keys(&["Enter"]);
    wait_until("the prompt in the log", WAIT, || {
        !sim.events("prompt").is_empty()
    });
    assert_eq!(sim.events("prompt")[0]["text"], "Say hi.");
    assert_eq!(sim.events("enter-absorbed").len(), 1);
}

/// The sim profile's `settle_ms` is 0: swarm's wait for a stable screen showing the paste
/// must be enough on its own, every time, for short prompts and for a 256 KB one.
#[test]
fn deliver_with_the_sim_profile_submits_each_prompt_exactly_once() {
    let sim = Sim::start(&["--think-ms", "20"]);
    let profile = swarm::agent::builtin("sim").unwrap();
    let (tmux, pane) = sim.mux();
    let short = |i: usize| match i % 2 {
        0 => format!("Short prompt {i}."),
        _ => format!("Short prompt {i},\non two lines."),
    };
    let mut prompts: Vec<String> = (0..10).map(short).collect();
    prompts.push(big_prompt(256 * 1024));
    prompts.extend((10..20).map(short));
    for (n, prompt) in prompts.iter().enumerate() {
        sim.wait_for("ready", |s| s.ready());
        let delivered = deliver(&tmux, &SystemClock::new(), &pane, prompt, &profile)
            .unwrap_or_else(|e| panic!("prompt {n}: {e}"));
        assert_eq!(delivered.enter_presses, 1, "prompt {n}");
        wait_until("the prompt in the log", WAIT, || {
            sim.events("prompt").len() > n
        });
    }
    let got: Vec<Value> = sim
        .events("prompt")
        .iter()
        .map(|e| e["text"].clone())
        .collect();
    assert!(got == prompts, "the prompts differ from what was delivered");
    assert!(sim.events("enter-absorbed").is_empty());
    assert!(sim.events("queued").is_empty());
}

#[test]
fn prompt_without_a_sentinel_writes_nothing_and_returns_to_ready() {
    let sim = Sim::start(&["--think-ms", "50"]);
    sim.submit("Just think about `docs/x.md` for a while.");
    sim.wait_for("the note", |s| {
        s.has("no sentinel named in the prompt") && s.ready()
    });
    assert!(sim.events("sentinel").is_empty());
    assert!(!sim.env.path("docs").exists());
}

#[test]
fn ctrl_d_on_an_empty_input_quits() {
    let sim = Sim::start(&["--think-ms", "50"]);
    sim.keys(&["-l", "x"]);
    sim.wait_for("typed text", |s| s.input() == "x");
    sim.keys(&["C-d"]);
    holds_for(
        "alive: C-d with text pending",
        Duration::from_millis(200),
        || sim.dead().is_none(),
    );
    sim.keys(&["BSpace", "C-d"]);
    assert_eq!(sim.wait_dead(), 0);
}

#[test]
fn resize_redraws_at_the_new_width() {
    let sim = Sim::start(&["--think-ms", "50"]);
    sim.env
        .tmux_ok(&["resize-window", "-t", &sim.pane, "-x", "50", "-y", "12"]);
    sim.wait_for("rules 50 wide", |s| {
        let lines = s.lines();
        lines.len() == 12 && lines[8] == "─".repeat(50) && s.ready()
    });
    assert_eq!(
        sim.screen().lines()[0],
        "swarm sim-agent · SIMULATED agent (no LLM)"
    );
}

/// Runs a shell script in the sim's workspace (git commands), asserting that it works.
fn sh_ok(sim: &Sim, script: &str) -> String {
    let out = sim.env.sh(script).output().unwrap();
    assert!(out.status.success(), "{script}: {}", stderr(&out));
    stdout(&out)
}

#[test]
fn appends_its_line_then_rebases_onto_the_ref_of_a_retry_prompt_keeping_both() {
    let sim = Sim::start(&["--think-ms", "100"]);
    sh_ok(
        &sim,
        "set -e
         git init -q -b main
         git config user.name 'Sim Test'; git config user.email sim@example.invalid
         git config commit.gpgsign false
         printf '# Changes\\n' > CHANGES.md; git add CHANGES.md; git commit -qm base
         git checkout -q -b land; printf -- '- landed first\\n' >> CHANGES.md
         git commit -qam 'another task'
         git checkout -q -b task main",
    );
    let task = "Task: Note the login change: append a line to `CHANGES.md`\n\nWhen you have \
                finished, create the empty file `.swarm/done/login.done` to signal that you \
                are done.";
    let line = "- Note the login change: append a line to `CHANGES.md` (.swarm/done/login.done)";
    sim.submit(task);
    wait_until("the first sentinel", WAIT, || {
        sim.env.path(".swarm/done/login.done").exists()
    });
    assert_eq!(sim.env.read("CHANGES.md"), format!("# Changes\n{line}\n"));
    // What swarm does with a finished attempt: commit it, and clear the sentinel to retry.
    sh_ok(
        &sim,
        "git commit -qam 'login change' && rm .swarm/done/login.done",
    );

    sim.submit(&format!(
        "Your last attempt could not land: it conflicts with `land` in `CHANGES.md`. Run \
         `git rebase land` in this directory, resolve the conflicts keeping both sides' \
         changes, and commit.\n\n{task}"
    ));
    wait_until("the second sentinel", WAIT, || {
        sim.env.path(".swarm/done/login.done").exists()
    });
    assert_eq!(
        sim.env.read("CHANGES.md"),
        format!("# Changes\n- landed first\n{line}\n")
    );
    assert_eq!(
        sh_ok(
            &sim,
            "git rev-parse HEAD^ land; git log --format=%s land..HEAD"
        ),
        format!(
            "{0}\n{0}\nlogin change\n",
            sh_ok(&sim, "git rev-parse land").trim()
        )
    );
    assert_eq!(
        sh_ok(&sim, "git status --porcelain --untracked-files=no"),
        ""
    );
    sim.wait_for("ready again", |s| s.ready());
    let screen = sim.screen();
    assert!(
        screen.has("✓ rebased onto land, resolved CHANGES.md"),
        "{}",
        screen.0
    );
    assert!(
        screen.has("· CHANGES.md already has this task's line"),
        "{}",
        screen.0
    );
    let rebase = &sim.events("rebase")[0];
    assert_eq!(
        (&rebase["ref"], &rebase["result"]),
        (&"land".into(), &"resolved".into())
    );
    assert_eq!(rebase["files"], serde_json::json!(["CHANGES.md"]));
}

#[test]
fn shows_the_verify_output_it_saw_and_carries_on_outside_a_repository() {
    let sim = Sim::start(&["--think-ms", "100"]);
    sim.submit(
        "Your last attempt failed verification (`cargo test`):\n```\nerror: one\n\
         error: two\ntest result: FAILED\n```\n\nTask: fix it; `git rebase land` first.\n\
         When you have finished, create the empty file `fix.done`.",
    );
    wait_until("the sentinel", WAIT, || sim.env.path("fix.done").exists());
    sim.wait_for("ready again", |s| s.ready());
    let screen = sim.screen();
    assert!(
        screen.has("sim: saw verify output (3 lines)"),
        "{}",
        screen.0
    );
    assert!(
        screen.has("sim: not in a git repository, skipped `git rebase land`"),
        "{}",
        screen.0
    );
    assert_eq!(sim.events("verify-output")[0]["lines"], 3);
    assert_eq!(sim.events("rebase")[0]["result"], "not-a-repo");
}
