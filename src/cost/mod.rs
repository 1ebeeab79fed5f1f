//! Tokens and cost from the agents' own records: Claude Code's session transcripts and
//! Codex's session rollouts. Each response the agent recorded is traced to the task whose
//! sentinel its turn named, and to the attempt that was running then; its tokens times
//! the model's price (swarm.toml's `[prices]`, or the shipped ones) is what it cost.

pub mod claude;
pub mod codex;
pub mod prices;

use crate::plan::TaskId;
pub use prices::{Price, Prices, dollars};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

/// Tokens of one kind of work. Input excludes what came from or went to the prompt cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl Tokens {
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_read + self.cache_write
    }

    /// `self − earlier`, when no count went down.
    fn minus(&self, earlier: &Tokens) -> Option<Tokens> {
        Some(Tokens {
            input: self.input.checked_sub(earlier.input)?,
            output: self.output.checked_sub(earlier.output)?,
            cache_read: self.cache_read.checked_sub(earlier.cache_read)?,
            cache_write: self.cache_write.checked_sub(earlier.cache_write)?,
        })
    }
}

impl std::ops::Add for Tokens {
    type Output = Tokens;
    fn add(self, o: Tokens) -> Tokens {
        Tokens {
            input: self.input + o.input,
            output: self.output + o.output,
            cache_read: self.cache_read + o.cache_read,
            cache_write: self.cache_write + o.cache_write,
        }
    }
}

impl std::ops::AddAssign for Tokens {
    fn add_assign(&mut self, o: Tokens) {
        *self = *self + o;
    }
}

impl std::fmt::Display for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} in, {} out, {} cache read, {} cache write",
            self.input, self.output, self.cache_read, self.cache_write
        )
    }
}

/// One response, as the agent recorded it.
#[derive(Debug, Clone, PartialEq)]
pub struct Spend {
    /// The sentinel path the turn's prompt (or nudge) named, if any.
    pub sentinel: Option<String>,
    /// When the agent recorded it, in Unix milliseconds.
    pub at_ms: i64,
    pub model: String,
    pub tokens: Tokens,
}

/// What something cost: its tokens, and their price when every model in it has one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Spent {
    pub tokens: Tokens,
    /// Dollars; `null` when a model it used has no price (its tokens still count).
    pub cost: Option<f64>,
    /// The models it used.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub models: BTreeSet<String>,
}

impl Spent {
    fn of(by_model: &BTreeMap<String, Tokens>, prices: &Prices) -> Spent {
        let mut spent = Spent {
            cost: Some(0.0),
            ..Spent::default()
        };
        for (model, tokens) in by_model {
            spent.tokens += *tokens;
            spent.models.insert(model.clone());
            spent.cost = spent
                .cost
                .zip(prices.cost(model, tokens))
                .map(|(a, b)| a + b);
        }
        spent
    }

    pub fn add(&mut self, other: &Spent) {
        let empty = self.models.is_empty();
        self.tokens += other.tokens;
        self.models.extend(other.models.iter().cloned());
        self.cost = match (empty, self.cost, other.cost) {
            (true, _, c) => c,
            (false, Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }

    /// `12,345 tokens, $0.042`, or `12,345 tokens (no price for m)`.
    pub fn describe(&self) -> String {
        let tokens = self.tokens.total();
        match self.cost {
            Some(cost) => format!("{tokens} tokens, {}", dollars(cost)),
            None => format!(
                "{tokens} tokens (no price for {})",
                self.models.iter().cloned().collect::<Vec<_>>().join(", ")
            ),
        }
    }
}

/// Each attempt's tokens, by model.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Ledger {
    pub attempts: BTreeMap<(TaskId, u32), BTreeMap<String, Tokens>>,
}

impl Ledger {
    /// Traces `spends` to tasks by their sentinels, and to attempts by time: a response
    /// belongs to the last attempt handed out before it (`starts`: each task's attempts
    /// and when they were handed out, Unix milliseconds).
    pub fn build(
        spends: &[Spend],
        tasks: &HashMap<String, TaskId>,
        starts: &HashMap<TaskId, Vec<(u32, i64)>>,
    ) -> Ledger {
        let mut ledger = Ledger::default();
        for spend in spends {
            let Some(task) = spend.sentinel.as_ref().and_then(|s| tasks.get(s)) else {
                continue;
            };
            let attempt = starts
                .get(task)
                .and_then(|list| {
                    list.iter()
                        .filter(|(_, at)| *at <= spend.at_ms)
                        .max_by_key(|(_, at)| *at)
                        .or(list.first())
                })
                .map_or(0, |(n, _)| *n);
            *ledger
                .attempts
                .entry((task.clone(), attempt))
                .or_default()
                .entry(spend.model.clone())
                .or_default() += spend.tokens;
        }
        ledger
    }

    pub fn attempt(&self, task: &TaskId, attempt: u32, prices: &Prices) -> Option<Spent> {
        self.attempts
            .get(&(task.clone(), attempt))
            .map(|m| Spent::of(m, prices))
    }

    /// Each task's spending over all its attempts.
    pub fn tasks(&self, prices: &Prices) -> BTreeMap<TaskId, Spent> {
        let mut out: BTreeMap<TaskId, Spent> = BTreeMap::new();
        for ((task, _), by_model) in &self.attempts {
            out.entry(task.clone())
                .or_default()
                .add(&Spent::of(by_model, prices));
        }
        out
    }

    /// The whole run's spending.
    pub fn total(&self, prices: &Prices) -> Spent {
        let mut total = Spent::default();
        for spent in self.tasks(prices).values() {
            total.add(spent);
        }
        total
    }
}

/// Where the agents of a run keep their records.
#[derive(Debug, Clone)]
pub struct Sources {
    /// The directories the agents work in (the workspace, or the workers' worktrees).
    pub cwds: Vec<PathBuf>,
    /// swarm's hooks folder: Claude's hooks name each session's transcript there.
    pub hooks: Option<PathBuf>,
    /// Claude Code's configuration directory.
    pub claude: Option<PathBuf>,
    /// Codex's home.
    pub codex: Option<PathBuf>,
    /// The run's start, Unix milliseconds: older records are not this run's.
    pub since_ms: i64,
}

impl Sources {
    /// Sources for agents working in `cwds`, with the agents' own homes from the
    /// environment (`CLAUDE_CONFIG_DIR`, `CODEX_HOME`, `HOME`).
    pub fn new(cwds: Vec<PathBuf>, hooks: Option<PathBuf>, since_ms: i64) -> Sources {
        Sources {
            cwds,
            hooks,
            claude: claude::config_dir(),
            codex: codex::home(),
            since_ms,
        }
    }

    /// Every response recorded since the run began by an agent working in its folders.
    pub fn read(&self) -> Vec<Spend> {
        let mut dirs: BTreeSet<PathBuf> = BTreeSet::new();
        if let Some(config) = &self.claude {
            dirs.extend(self.cwds.iter().map(|cwd| claude::project_dir(config, cwd)));
        }
        // A session swarm's hooks heard of: its transcript's folder, wherever the agent's
        // home is.
        if let Some(hooks) = &self.hooks {
            for file in written_since(hooks, self.since_ms) {
                let Ok(text) = std::fs::read_to_string(&file) else {
                    continue;
                };
                let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                if let Some(dir) = v["payload"]["transcript_path"]
                    .as_str()
                    .and_then(|p| Path::new(p).parent())
                {
                    dirs.insert(dir.to_path_buf());
                }
            }
        }
        let texts: Vec<String> = dirs
            .iter()
            .flat_map(|dir| written_since(dir, self.since_ms))
            .filter_map(|f| std::fs::read_to_string(f).ok())
            .collect();
        let mut spends = claude::spends(&texts);
        if let Some(home) = &self.codex {
            let ours: BTreeSet<PathBuf> = self.cwds.iter().map(|c| canonical(c)).collect();
            for file in codex::rollouts(&home.join("sessions"), self.since_ms) {
                // The first line says where the session ran: the rest is read only if here.
                let Ok(first) = first_line(&file) else {
                    continue;
                };
                if !codex::cwd(&first).is_some_and(|cwd| ours.contains(&canonical(&cwd))) {
                    continue;
                }
                if let Ok(text) = std::fs::read_to_string(&file) {
                    spends.extend(codex::spends(&text));
                }
            }
        }
        spends
    }
}

fn first_line(path: &Path) -> std::io::Result<String> {
    use std::io::BufRead;
    let mut line = String::new();
    std::io::BufReader::new(std::fs::File::open(path)?).read_line(&mut line)?;
    Ok(line)
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// The `.jsonl`/`.json` files in `dir` changed since `since_ms` (a minute's slack for
/// coarse clocks).
fn written_since(dir: &Path, since_ms: i64) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name();
            let name = name.to_string_lossy();
            name.ends_with(".jsonl") || name.ends_with(".json")
        })
        .filter(|e| {
            e.metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .is_some_and(|t| t.as_millis() as i64 >= since_ms - 60_000)
        })
        .map(|e| e.path())
        .collect()
}

/// The last sentinel (`….done` path) that `text` names, as swarm's prompts and nudges
/// name it: "create the empty file `notes/a.md.done`".
fn last_sentinel(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || "`'\"()<>[]".contains(c))
        .map(|w| w.trim_end_matches(['.', ',', ';', ':']))
        .rfind(|w| w.ends_with(".done") && w.len() > ".done".len())
        .map(str::to_string)
}

/// An RFC 3339 time as Unix milliseconds.
fn millis(text: &str) -> Option<i64> {
    text.parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_millisecond())
}

/// Now, in Unix milliseconds.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_sentinel_named_is_the_turns() {
        let prompt = "Write `notes/a.md`. It waits for `b.done`.\nWhen you have finished, create the empty file `notes/a.md.done` to signal that you are done.";
        assert_eq!(last_sentinel(prompt).as_deref(), Some("notes/a.md.done"));
        assert_eq!(
            last_sentinel("touch .swarm/done/c2.done."),
            Some(".swarm/done/c2.done".into())
        );
        assert_eq!(last_sentinel("nothing here"), None);
        assert_eq!(last_sentinel("a file named .done"), None);
    }

    #[test]
    fn sources_find_this_runs_records_and_no_one_elses() {
        let home = tempfile::tempdir().unwrap();
        let cwd = home.path().join("ws");
        std::fs::create_dir_all(&cwd).unwrap();
        let claude_dir = home.path().join("claude");
        let project = claude::project_dir(&claude_dir, &cwd);
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(
            project.join("s1.jsonl"),
            r#"{"type":"user","uuid":"u1","message":{"content":"create the empty file `a.done`"}}
{"type":"assistant","uuid":"a1","parentUuid":"u1","timestamp":"2026-12-01T00:00:01Z","message":{"id":"m1","model":"m","usage":{"input_tokens":7,"output_tokens":1}}}
"#,
        )
        .unwrap();
        let codex_home = home.path().join("codex");
        let today = jiff::Timestamp::now()
            .to_zoned_datetime(jiff::tz::TimeZone::UTC)
            .date();
        let day = codex_home.join(format!(
            "sessions/{:04}/{:02}/{:02}",
            today.year(),
            today.month(),
            today.day()
        ));
        std::fs::create_dir_all(&day).unwrap();
        let rollout = |cwd: &Path| {
            format!(
                "{{\"type\":\"session_meta\",\"payload\":{{\"cwd\":\"{}\"}}}}\n\
                 {{\"type\":\"response_item\",\"payload\":{{\"type\":\"message\",\"role\":\"user\",\"content\":[{{\"text\":\"touch `b.done`\"}}]}}}}\n\
                 {{\"type\":\"event_msg\",\"payload\":{{\"type\":\"token_count\",\"info\":{{\"total_token_usage\":{{\"input_tokens\":10,\"cached_input_tokens\":4,\"output_tokens\":2}}}}}}}}\n",
                cwd.display()
            )
        };
        std::fs::write(day.join("rollout-ours.jsonl"), rollout(&cwd)).unwrap();
        std::fs::write(
            day.join("rollout-theirs.jsonl"),
            rollout(Path::new("/elsewhere")),
        )
        .unwrap();
        let sources = Sources {
            cwds: vec![cwd],
            hooks: None,
            claude: Some(claude_dir),
            codex: Some(codex_home),
            since_ms: now_ms() - 5_000,
        };
        let mut spends = sources.read();
        spends.sort_by(|a, b| a.sentinel.cmp(&b.sentinel));
        let found: Vec<(Option<&str>, Tokens)> = spends
            .iter()
            .map(|s| (s.sentinel.as_deref(), s.tokens))
            .collect();
        assert_eq!(
            found,
            [
                (
                    Some("a.done"),
                    Tokens {
                        input: 7,
                        output: 1,
                        ..Tokens::default()
                    }
                ),
                (
                    Some("b.done"),
                    Tokens {
                        input: 6,
                        output: 2,
                        cache_read: 4,
                        cache_write: 0
                    }
                ),
            ]
        );
    }

    #[test]
    fn spends_go_to_the_attempt_running_when_they_were_recorded() {
        let spend = |at_ms, input| Spend {
            sentinel: Some("a.done".into()),
            at_ms,
            model: "m".into(),
            tokens: Tokens {
                input,
                ..Tokens::default()
            },
        };
        let a = TaskId("a".into());
        let tasks = HashMap::from([("a.done".to_string(), a.clone())]);
        let starts = HashMap::from([(a.clone(), vec![(1, 1000), (2, 5000)])]);
        let ledger = Ledger::build(
            &[spend(1500, 10), spend(4000, 20), spend(6000, 7)],
            &tasks,
            &starts,
        );
        let prices = Prices::with([(
            "m".to_string(),
            Price {
                input: 2.0,
                output: 0.0,
                cache_read: 0.0,
                cache_write: 0.0,
            },
        )]);
        assert_eq!(ledger.attempt(&a, 1, &prices).unwrap().tokens.input, 30);
        assert_eq!(ledger.attempt(&a, 2, &prices).unwrap().tokens.input, 7);
        let total = ledger.total(&prices);
        assert_eq!(total.tokens.input, 37);
        assert_eq!(total.cost, Some(37.0 * 2.0 / 1e6));
    }

    #[test]
    fn a_model_without_a_price_leaves_the_cost_unknown_and_the_tokens_counted() {
        let mut by_model = BTreeMap::new();
        by_model.insert(
            "known".to_string(),
            Tokens {
                input: 1,
                ..Tokens::default()
            },
        );
        by_model.insert(
            "mystery".to_string(),
            Tokens {
                output: 2,
                ..Tokens::default()
            },
        );
        let prices = Prices::with([(
            "known".to_string(),
            Price {
                input: 1.0,
                output: 1.0,
                cache_read: 1.0,
                cache_write: 1.0,
            },
        )]);
        let spent = Spent::of(&by_model, &prices);
        assert_eq!(spent.tokens.total(), 3);
        assert_eq!(spent.cost, None);
        assert!(
            spent.describe().contains("no price for"),
            "{}",
            spent.describe()
        );
    }
}
