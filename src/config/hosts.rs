//! swarm.toml's `[[hosts]]` tables and `[remote]` table: the other machines agents may run
//! on, read and checked (docs/multihost.md). `swarm hosts check` uses them; `swarm run`
//! does not yet.

use super::{Config, ConfigError, TimeSpec};
use crate::error::BadInput;
use crate::ssh::{Host, check_destination};
use serde::Deserialize;
use std::ops::RangeInclusive;
use std::path::Path;
use std::time::Duration;
use toml::Spanned;

/// Workers on one host.
const HOST_WORKERS: RangeInclusive<i64> = 1..=256;
const DEFAULT_HOST_WORKERS: usize = 4;
/// How long a silent host's tasks keep their lease unless swarm.toml says.
pub const DEFAULT_LEASE_GRACE: Duration = Duration::from_secs(120);
/// One second to a day.
const LEASE_GRACE: RangeInclusive<Duration> = Duration::from_secs(1)..=Duration::from_secs(86_400);
/// The name of the machine swarm runs on, which is always a host.
const LOCAL: &str = "local";

/// One `[[hosts]]` table as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: Spanned<String>,
    /// The ssh destination; the name if absent.
    pub ssh: Option<Spanned<String>>,
    pub workers: Option<Spanned<i64>>,
    pub dir: Option<Spanned<String>>,
    #[serde(default)]
    pub agents: Vec<Spanned<String>>,
    #[serde(default)]
    pub tags: Vec<Spanned<String>>,
    #[serde(default)]
    pub ssh_options: Vec<Spanned<String>>,
}

/// The `[remote]` table as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RemoteSpec {
    pub lease_grace: Option<Spanned<TimeSpec>>,
}

/// A checked `[[hosts]]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostConfig {
    /// The name and how ssh reaches it.
    pub host: Host,
    pub workers: usize,
    /// The host's working directory; see [`HostConfig::dir`].
    pub dir: Option<String>,
    /// Profile names whose agents run there; empty, the run's own.
    pub agents: Vec<String>,
    pub tags: Vec<String>,
}

impl HostConfig {
    /// The host's working directory: swarm.toml's `dir`, else `~/swarm/<the workspace's
    /// directory name>`.
    pub fn dir(&self, workspace: &Path) -> String {
        self.dir.clone().unwrap_or_else(|| {
            let name = workspace
                .file_name()
                .map_or_else(|| "workspace".into(), |n| n.to_string_lossy());
            format!("~/swarm/{name}")
        })
    }
}

/// Every host and the `[remote]` settings, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    pub hosts: Vec<HostConfig>,
    pub lease_grace: Duration,
}

impl Config {
    /// The `[[hosts]]` and `[remote]` tables, checked.
    pub fn remote(&self) -> Result<Remote, ConfigError> {
        let mut hosts: Vec<HostConfig> = Vec::with_capacity(self.hosts.len());
        for spec in &self.hosts {
            let host = self.host(spec)?;
            if hosts.iter().any(|h| h.host.name == host.host.name) {
                return Err(self.invalid(
                    spec.name.span(),
                    format!(
                        "[[hosts]] name = {:?} is taken by an earlier host\nhint: give each host a name of its own",
                        host.host.name
                    ),
                ));
            }
            hosts.push(host);
        }
        Ok(Remote {
            hosts,
            lease_grace: self.lease_grace()?,
        })
    }

    /// swarm's tmux socket name as `--socket` (checked here) or swarm.toml gives it; `None`
    /// is the workspace's default. The same name is used on every host.
    pub fn socket_for(&self, flag: Option<&str>) -> Result<Option<String>, ConfigError> {
        match flag {
            Some(name) if super::is_socket_name(name) => Ok(Some(name.to_owned())),
            Some(name) => Err(BadInput::new(format!(
                "--socket {name:?} is not a valid socket name"
            ))
            .hint(super::SOCKET_HINT)
            .into()),
            None => self.socket(),
        }
    }

    /// The agents `host` runs, as (profile, program): its `agents`, else the profile a run
    /// uses (`agent`, with `agent_cmd`'s program if set). An empty program has no command.
    pub fn host_agents(&self, host: &HostConfig) -> Result<Vec<(String, String)>, ConfigError> {
        let command = self.agent_cmd()?;
        let default = match (&self.agent, &command) {
            (Some(agent), _) => agent.get_ref().as_str(),
            (None, Some(_)) => "generic",
            (None, None) => super::DEFAULT_AGENT,
        };
        let names = match host.agents.is_empty() {
            true => vec![default.to_owned()],
            false => host.agents.clone(),
        };
        names
            .into_iter()
            .map(|name| {
                let argv = match (&command, name == default) {
                    (Some(argv), true) => argv.clone(),
                    _ => self.profile(&name)?.command,
                };
                Ok((name, argv.into_iter().next().unwrap_or_default()))
            })
            .collect()
    }

    fn host(&self, spec: &HostSpec) -> Result<HostConfig, ConfigError> {
        let name = spec.name.get_ref();
        let usable = name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !usable || name == LOCAL {
            let why = match name == LOCAL {
                true => "is the machine swarm runs on",
                false => "is not a usable host name",
            };
            return Err(self.invalid(
                spec.name.span(),
                format!(
                    "[[hosts]] name = {name:?} {why}\nhint: start with a letter or digit, then use letters, digits, `-`, `_` or `.`, and not \"{LOCAL}\""
                ),
            ));
        }
        let dest = spec.ssh.as_ref().unwrap_or(&spec.name);
        if let Err(bad) = check_destination(dest.get_ref()) {
            return Err(self.invalid(dest.span(), format!("[[hosts]] {name}: {bad}")));
        }
        let workers = match &spec.workers {
            None => DEFAULT_HOST_WORKERS,
            Some(n) if HOST_WORKERS.contains(n.get_ref()) => *n.get_ref() as usize,
            Some(n) => {
                return Err(self.invalid(
                    n.span(),
                    format!(
                        "[[hosts]] {name}: workers = {} is out of range\nhint: use {} to {}",
                        n.get_ref(),
                        HOST_WORKERS.start(),
                        HOST_WORKERS.end()
                    ),
                ));
            }
        };
        if let Some(dir) = &spec.dir
            && (dir.get_ref().trim().is_empty() || dir.get_ref().chars().any(char::is_control))
        {
            return Err(self.invalid(
                dir.span(),
                format!(
                    "[[hosts]] {name}: dir = {:?} is not a directory\nhint: give a path on that host, such as \"~/swarm/myrepo\"",
                    dir.get_ref()
                ),
            ));
        }
        for agent in &spec.agents {
            self.profile_named(agent.get_ref(), |known| {
                self.invalid(
                    agent.span(),
                    format!(
                        "[[hosts]] {name}: agents: {:?} is not a known profile\nhint: use one of {}, or define it in a [profiles.{}] table",
                        agent.get_ref(),
                        known.join(", "),
                        agent.get_ref()
                    ),
                )
            })?;
        }
        for tag in &spec.tags {
            let text = tag.get_ref();
            if text.is_empty() || text.chars().any(|c| c.is_whitespace() || c == ',') {
                return Err(self.invalid(
                    tag.span(),
                    format!(
                        "[[hosts]] {name}: tag {text:?} is not a usable tag\nhint: a tag is one word, such as \"gpu\""
                    ),
                ));
            }
        }
        for option in &spec.ssh_options {
            if let Some(why) = weakens_ssh(option.get_ref()) {
                return Err(self.invalid(
                    option.span(),
                    format!(
                        "[[hosts]] {name}: ssh_options: {:?} {why}\nhint: add the host's key to known_hosts (connect once with `ssh {}`), and remove the option",
                        option.get_ref(),
                        dest.get_ref()
                    ),
                ));
            }
        }
        let options = spec
            .ssh_options
            .iter()
            .map(|o| o.get_ref().clone())
            .collect();
        let host = Host::new(name, dest.get_ref(), options)
            .map_err(|bad| self.invalid(dest.span(), bad.to_string()))?;
        Ok(HostConfig {
            host,
            workers,
            dir: spec.dir.as_ref().map(|d| d.get_ref().clone()),
            agents: spec.agents.iter().map(|a| a.get_ref().clone()).collect(),
            tags: spec.tags.iter().map(|t| t.get_ref().clone()).collect(),
        })
    }

    fn lease_grace(&self) -> Result<Duration, ConfigError> {
        let Some(spec) = &self.remote.lease_grace else {
            return Ok(DEFAULT_LEASE_GRACE);
        };
        let read = match spec.get_ref() {
            TimeSpec::Seconds(n) => u64::try_from(*n)
                .map(Duration::from_secs)
                .map_err(|_| format!("`{n}` is not a number of seconds")),
            TimeSpec::Text(text) => crate::duration::parse(text),
        };
        let grace =
            read.map_err(|why| self.invalid(spec.span(), format!("[remote] lease_grace: {why}")))?;
        if !LEASE_GRACE.contains(&grace) {
            return Err(self.invalid(
                spec.span(),
                "[remote] lease_grace is out of range\nhint: use 1s to 1 day, such as \"2m\"",
            ));
        }
        Ok(grace)
    }
}

/// Why an ssh option would weaken host-key checking, if it would: swarm never connects to
/// a host whose key it cannot check.
fn weakens_ssh(option: &str) -> Option<&'static str> {
    let flat: String = option
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '=' && *c != '"')
        .collect();
    if flat.contains("stricthostkeycheckingno") || flat.contains("stricthostkeycheckingoff") {
        return Some("turns host-key checking off");
    }
    if flat.contains("userknownhostsfile/dev/null") {
        return Some("throws host keys away");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("swarm.toml"))
    }

    fn error(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn hosts_and_remote_are_read() {
        let config = parse(
            r#"
workers = 0

[[hosts]]
name = "gpu1"
ssh = "alice@gpu1.lan"
workers = 8
dir = "~/swarm/myrepo"
agents = ["claude", "codex"]
tags = ["gpu"]
ssh_options = ["-F", "/etc/swarm/ssh_config"]

[[hosts]]
name = "box2"

[remote]
lease_grace = "90s"
"#,
        )
        .unwrap();
        let remote = config.remote().unwrap();
        assert_eq!(remote.lease_grace, Duration::from_secs(90));
        let [gpu, other] = &remote.hosts[..] else {
            panic!("{remote:?}")
        };
        assert_eq!(gpu.host.name, "gpu1");
        assert_eq!(gpu.host.dest, "alice@gpu1.lan");
        assert_eq!(gpu.host.options, ["-F", "/etc/swarm/ssh_config"]);
        assert_eq!(gpu.workers, 8);
        assert_eq!(gpu.agents, ["claude", "codex"]);
        assert_eq!(gpu.tags, ["gpu"]);
        assert_eq!(gpu.dir(Path::new("/w/myrepo")), "~/swarm/myrepo");
        assert_eq!(other.host.dest, "box2");
        assert_eq!(other.workers, DEFAULT_HOST_WORKERS);
        assert_eq!(other.dir(Path::new("/home/a/proj")), "~/swarm/proj");
    }

    #[test]
    fn no_hosts_is_the_default() {
        let remote = parse("").unwrap().remote().unwrap();
        assert!(remote.hosts.is_empty());
        assert_eq!(remote.lease_grace, DEFAULT_LEASE_GRACE);
    }

    #[test]
    fn bad_hosts_name_their_line() {
        let cases = [
            (
                "[[hosts]]\nname = \"a\"\n[[hosts]]\nname = \"a\"\n",
                "swarm.toml:4: [[hosts]] name = \"a\" is taken",
            ),
            (
                "[[hosts]]\nname = \"a\"\nssh = \"-oProxyCommand=sh\"\n",
                "swarm.toml:3: [[hosts]] a: ssh destination \"-oProxyCommand=sh\" starts with `-`",
            ),
            (
                "[[hosts]]\nname = \"-x\"\n",
                "swarm.toml:2: [[hosts]] name = \"-x\" is not a usable host name",
            ),
            (
                "[[hosts]]\nname = \"local\"\n",
                "is the machine swarm runs on",
            ),
            (
                "[[hosts]]\nname = \"a\"\nworkers = 0\n",
                "swarm.toml:3: [[hosts]] a: workers = 0 is out of range",
            ),
            (
                "[[hosts]]\nname = \"a\"\nworkers = 257\n",
                "workers = 257 is out of range",
            ),
            (
                "[[hosts]]\nname = \"a\"\nagents = [\"nope\"]\n",
                "swarm.toml:3: [[hosts]] a: agents: \"nope\" is not a known profile",
            ),
            (
                "[[hosts]]\nname = \"a\"\ntags = [\"g p u\"]\n",
                "tag \"g p u\" is not a usable tag",
            ),
            (
                "[[hosts]]\nname = \"a\"\nssh_options = [\"-o\", \"StrictHostKeyChecking=no\"]\n",
                "swarm.toml:3: [[hosts]] a: ssh_options: \"StrictHostKeyChecking=no\" turns host-key checking off",
            ),
            (
                "[[hosts]]\nname = \"a\"\nssh_options = [\"-oUserKnownHostsFile /dev/null\"]\n",
                "throws host keys away",
            ),
            (
                "[[hosts]]\nname = \"a\"\nport = 22\n",
                "swarm.toml:3: unknown field `port`",
            ),
            ("[[hosts]]\nssh = \"a\"\n", "missing field `name`"),
            (
                "[remote]\nlease_grace = \"soon\"\n",
                "swarm.toml:2: [remote] lease_grace:",
            ),
            (
                "[remote]\nlease_grace = 0\n",
                "swarm.toml:2: [remote] lease_grace is out of range",
            ),
            (
                "[remote]\nlease_grace = \"2d\"\n",
                "lease_grace is out of range",
            ),
        ];
        for (text, want) in cases {
            let got = error(text);
            assert!(got.contains(want), "{text}\ngot:  {got}\nwant: {want}");
        }
    }

    #[test]
    fn a_task_tagged_for_hosts_none_has_is_bad_input() {
        let config =
            parse("workers = 1\n[[hosts]]\nname = \"a\"\nworkers = 1\ntags = [\"gpu\"]\n").unwrap();
        let settings = crate::config::resolve(
            Some(config),
            &crate::config::Overrides::default(),
            Path::new("/w"),
        )
        .unwrap();
        let plan = |text: &str| crate::plan::parse(text, Path::new("PLAN.md")).unwrap();
        let ok = plan("- [ ] Train {tags=gpu}\n- [ ] Docs\n");
        assert!(settings.check_agents(&ok, Path::new("PLAN.md")).is_ok());
        let bad = plan("- [ ] Docs\n- [ ] Train {tags=gpu,big}\n");
        let err = settings
            .check_agents(&bad, Path::new("PLAN.md"))
            .unwrap_err();
        assert!(
            err.message.starts_with("PLAN.md:2: `{tags=gpu,big}`"),
            "{}",
            err.message
        );
        assert!(err.hint.unwrap().contains("tags = [\"gpu\", \"big\"]"));
    }

    #[test]
    fn bad_hosts_exit_2() {
        let err =
            anyhow::Error::from(parse("[[hosts]]\nname = \"a\"\nssh = \"-x\"\n").unwrap_err());
        assert_eq!(crate::error::Exit::of(&err).code(), 2);
    }

    #[test]
    fn no_local_workers_needs_hosts_with_workers() {
        assert!(error("workers = 0\n").contains("swarm.toml:1: workers = 0 is out of range"));
        let resolve = |text: &str| {
            crate::config::resolve(
                Some(parse(text).unwrap()),
                &crate::config::Overrides::default(),
                Path::new("/w"),
            )
        };
        let settings = resolve("workers = 0\n[[hosts]]\nname = \"a\"\nworkers = 3\n").unwrap();
        assert_eq!(settings.local_workers(), 0);
        assert_eq!(settings.worker_profiles().len(), 3);
        assert_eq!(settings.remote_pools[0].host.host.name, "a");
    }

    #[test]
    fn a_host_runs_its_agents_or_the_run_s_own() {
        let config = parse(
            "agent = \"sim\"\n[[hosts]]\nname = \"a\"\n[[hosts]]\nname = \"b\"\nagents = [\"codex\", \"claude\"]\n",
        )
        .unwrap();
        let remote = config.remote().unwrap();
        let sim = config.host_agents(&remote.hosts[0]).unwrap();
        assert_eq!(sim, [("sim".to_owned(), "swarm".to_owned())]);
        let named = config.host_agents(&remote.hosts[1]).unwrap();
        assert_eq!(
            named,
            [
                ("codex".to_owned(), "codex".to_owned()),
                ("claude".to_owned(), "claude".to_owned())
            ]
        );
        let config = parse("agent_cmd = \"my-agent --fast\"\n[[hosts]]\nname = \"a\"\n").unwrap();
        let remote = config.remote().unwrap();
        assert_eq!(
            config.host_agents(&remote.hosts[0]).unwrap(),
            [("generic".to_owned(), "my-agent".to_owned())]
        );
    }
}
