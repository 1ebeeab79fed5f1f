//! The `--log` file: one JSON object per line and event, flushed as it happens, so that tests
//! and demos can check exactly what the simulated agent received and did.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context;
use serde::Serialize;
use serde_json::Value;

/// Where events go; without `--log` they go nowhere.
pub struct EventLog {
    file: Option<File>,
}

#[derive(Serialize)]
struct Record<'a> {
    event: &'a str,
    ts: f64,
    #[serde(flatten)]
    fields: &'a Value,
}

impl EventLog {
    /// Opens `path` for appending, if given.
    pub fn open(path: Option<&Path>) -> anyhow::Result<EventLog> {
        let file = path
            .map(|path| {
                File::options()
                    .create(true)
                    .append(true)
                    .open(path)
                    .with_context(|| format!("cannot open the log file {}", path.display()))
            })
            .transpose()?;
        Ok(EventLog { file })
    }

    /// Appends `{"event":EVENT,"ts":SECONDS,...fields}`; `fields` must be a JSON object.
    pub fn write(&mut self, event: &str, fields: Value) -> io::Result<()> {
        let Some(file) = &mut self.file else {
            return Ok(());
        };
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis();
        let record = Record {
            event,
            ts: millis as f64 / 1000.0,
            fields: &fields,
        };
        let mut line = serde_json::to_vec(&record)?;
        line.push(b'\n');
        // One write per line: a reader never sees half a record from us.
        file.write_all(&line)
    }
}
