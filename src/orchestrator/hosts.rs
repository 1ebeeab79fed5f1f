//! A run's other hosts: for each, swarm's tmux session there (over ssh), its control
//! link, and its sentinel stream; and one thread per host that turns what they report
//! into the loop's events (a host lost or back, a pane changed, an attempt's sentinel).
//! docs/multihost.md has the design.

use super::Msg;
use super::seats::{Place, Seats, start_host};
use crate::config::Settings;
use crate::remote::sentinels::{SentinelEvent, SentinelStream, Watch};
use crate::scheduler::Event;
use crate::ssh::{Host, SystemSsh};
use crate::tmux::{Mux, PaneId, PaneNews, Tmux};
use crossbeam_channel::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

/// How long one tmux call on a host may take before the host counts as silent.
const CALL_TIMEOUT: Duration = Duration::from_secs(8);
/// How long connecting waits for a host's control link, once its session runs.
const LINK_WAIT: Duration = Duration::from_secs(2);
/// The first wait before starting a host's session again, doubling to `RESTART_MAX`.
const RESTART_FIRST: Duration = Duration::from_millis(500);
const RESTART_MAX: Duration = Duration::from_secs(15);

/// One host of the run, connected (or trying to be).
struct Linked {
    host: Host,
    tmux: Tmux,
    news: Receiver<PaneNews>,
    /// The server's incarnation when the run connected; `None` if it could not.
    incarnation: Option<String>,
}

/// The run's other hosts, connected: their multiplexers for the fleet, where their
/// workers work, and what keeps them watched.
pub struct Hosts {
    pub muxes: Vec<(String, Arc<dyn Mux>)>,
    pub seats: Seats,
    linked: Vec<Linked>,
    ssh: Arc<SystemSsh>,
    dirs: Vec<(Host, String)>,
    size: (u16, u16),
}

/// How long `preflight` waits for each host.
const PREFLIGHT_TIMEOUT: Duration = Duration::from_secs(10);

/// Refuses a run none of whose workers could start: it has none on this machine and no
/// host answers over ssh. Nothing is touched before. With workers here, or any host
/// answering, a silent host is only lost (and its session started once it answers).
pub fn preflight(settings: &Settings) -> anyhow::Result<()> {
    if settings.remote_pools.is_empty() || settings.local_workers() > 0 {
        return Ok(());
    }
    let ssh = crate::ssh::SystemSsh::new()?;
    let hosts: Vec<&crate::ssh::Host> =
        settings.remote_pools.iter().map(|p| &p.host.host).collect();
    let answers = crate::ssh::each_host(&hosts, |host| {
        use crate::ssh::Remote;
        match ssh.exec(host, &["true"], PREFLIGHT_TIMEOUT) {
            Ok(_) => Ok(()),
            Err(e) => Err(e.to_string().lines().next().unwrap_or_default().to_owned()),
        }
    });
    if answers.iter().any(Result::is_ok) {
        return Ok(());
    }
    let why: Vec<String> = answers.into_iter().filter_map(Result::err).collect();
    Err(crate::error::BadInput::new(format!(
        "no worker can start: swarm.toml has `workers = 0` here, and none of its hosts answers over ssh:\n  {}",
        why.join("\n  ")
    ))
    .hint("`swarm hosts check` says what each host lacks; fix ssh to one of them, or set `workers` in swarm.toml to run agents here")
    .into())
}

/// Connects to every host that runs workers: resolves its directory, starts swarm's
/// session there and attaches a control link, each host on a thread of its own (the
/// first prompts wait for the slowest host only). Worker ids on hosts follow this
/// machine's. In an isolated run, `repo` is the repository's top, whose branches go to
/// the hosts. A host that cannot be reached is no error: it is lost from the start, and
/// its session is started once it answers.
pub fn connect(
    settings: &Settings,
    (root, repo): (&std::path::Path, Option<&std::path::Path>),
    socket: &str,
    ssh: Arc<SystemSsh>,
) -> anyhow::Result<Hosts> {
    let size = (settings.width, settings.height);
    let started: Vec<(String, Linked)> = crate::ssh::each_host(&settings.remote_pools, |pool| {
        let host = pool.host.host.clone();
        let wanted = pool.host.dir(root);
        let tmux = Tmux::new(socket, settings.session.clone())
            .with_conf(settings.tmux_conf.clone())
            .with_timeout(CALL_TIMEOUT)
            .over_ssh(ssh.clone(), host.clone());
        let started = start_host(&*ssh, &tmux, &wanted, size);
        let (tmux, news) = tmux.linked();
        // The agents' panes are made over the link, and their first screens waited for by
        // its output counts.
        if started.incarnation.is_some() {
            tmux.await_link(LINK_WAIT);
        }
        let linked = Linked {
            host,
            tmux,
            news,
            incarnation: started.incarnation,
        };
        (started.dir, linked)
    });
    let mut seats = Seats::none(ssh.clone());
    let mut dirs = Vec::new();
    let mut muxes: Vec<(String, Arc<dyn Mux>)> = Vec::new();
    let mut worker = settings.local_workers();
    for (pool, (dir, linked)) in settings.remote_pools.iter().zip(&started) {
        let host = &linked.host;
        // In an isolated run, each attempt gets a worktree of the host's mirror.
        let repo = repo.map(|top| {
            Arc::new(crate::remote::Workspace::new(
                ssh.clone(),
                host.clone(),
                dir,
                top,
            ))
        });
        for _ in 0..pool.workers {
            let place = Place {
                host: host.clone(),
                dir: dir.clone(),
                repo: repo.clone(),
            };
            seats.seat(worker, place);
            worker += 1;
        }
        seats.link(&host.name, linked.tmux.clone());
        muxes.push((host.name.clone(), Arc::new(linked.tmux.clone())));
        dirs.push((host.clone(), dir.clone()));
    }
    Ok(Hosts {
        muxes,
        seats,
        linked: started.into_iter().map(|(_, linked)| linked).collect(),
        ssh,
        dirs,
        size,
    })
}

impl Hosts {
    /// Starts watching every host: its link's news and its sentinels become the loop's
    /// events, and its panes' changes go to `panes` (their ids qualified with the host).
    /// The sentinel streams stop when the returned guards are dropped.
    pub fn watch(self, tx: &Sender<Msg>, panes: &Sender<PaneNews>) -> Vec<SentinelStream> {
        let (sentinel_tx, sentinel_rx) = crossbeam_channel::unbounded();
        let streams = self
            .dirs
            .iter()
            .map(|(host, dir)| {
                let watch = Watch::new(host.clone(), dir);
                SentinelStream::start(self.ssh.clone(), watch, sentinel_tx.clone())
            })
            .collect();
        let sentinels = tx.clone();
        std::thread::spawn(move || {
            for event in sentinel_rx {
                // The link says whether a host is there; the stream only finds sentinels.
                if let SentinelEvent::Done { sentinel, .. } = event {
                    let done = Event::AttemptDone {
                        task: sentinel.task,
                        attempt: sentinel.attempt,
                    };
                    if sentinels.send(Msg::Event(done)).is_err() {
                        return;
                    }
                }
            }
        });
        let size = self.size;
        for linked in self.linked {
            let (tx, panes) = (tx.clone(), panes.clone());
            std::thread::spawn(move || supervise(linked, size, &tx, &panes));
        }
        streams
    }
}

/// Turns one host's link news into events until the run ends. A host whose server is
/// gone (restarted, or killed) gets swarm's session again, with backoff; its new
/// incarnation tells the scheduler that the agents there are gone.
fn supervise(linked: Linked, size: (u16, u16), tx: &Sender<Msg>, panes: &Sender<PaneNews>) {
    let Linked {
        host,
        tmux,
        news,
        incarnation,
    } = linked;
    let mut link = LinkState {
        host: host.name,
        known: incarnation.clone(),
        needs_start: incarnation.is_none(),
    };
    let lost = Event::HostLost {
        host: link.host.clone(),
    };
    if link.needs_start && tx.send(Msg::Event(lost)).is_err() {
        return;
    }
    let mut wait = RESTART_FIRST;
    loop {
        let item = if link.needs_start {
            if tmux.start_host_session(size.0, size.1).is_ok() {
                link.needs_start = false;
                wait = RESTART_FIRST;
                continue;
            }
            // Tried again after a wait, unless the link has news first.
            match news.recv_timeout(wait) {
                Ok(item) => item,
                Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                    wait = (wait * 2).min(RESTART_MAX);
                    continue;
                }
                Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match news.recv() {
                Ok(item) => item,
                Err(_) => return,
            }
        };
        if !link.on_news(item, tx, panes) {
            return;
        }
    }
}

/// What the supervisor of one host's link knows.
struct LinkState {
    host: String,
    /// The incarnation of the server the host's workers' panes were started on.
    known: Option<String>,
    /// swarm's session is not running there: it must be started.
    needs_start: bool,
}

impl LinkState {
    /// One item of the link's news, as the loop's events; false once the loop is gone.
    fn on_news(&mut self, item: PaneNews, tx: &Sender<Msg>, panes: &Sender<PaneNews>) -> bool {
        let host = self.host.clone();
        let send = |event: Event| tx.send(Msg::Event(event)).is_ok();
        match item {
            PaneNews::Changed(mut info) => {
                info.id = PaneId(format!("{host}:{}", info.id));
                info.window = format!("{host}:{}", info.window);
                panes.send(PaneNews::Changed(info)).is_ok()
            }
            PaneNews::HostLost => send(Event::HostLost { host }),
            // The server there is gone and its agents with it: the host is lost until
            // swarm's session runs there again.
            PaneNews::ServerGone => {
                self.needs_start = true;
                send(Event::HostLost { host })
            }
            PaneNews::HostBack { incarnation } => {
                let rebooted = self.known.as_ref().is_some_and(|was| *was != incarnation);
                self.known = Some(incarnation);
                send(Event::HostBack { host, rebooted })
            }
        }
    }
}
