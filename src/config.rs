//! swarm.toml: optional settings beside the plan, overridden by command-line flags.

use std::path::{Path, PathBuf};

/// swarm.toml as written. Every key is optional.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {}

/// Problems with swarm.toml: bad TOML, unknown keys, wrong types or values (exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}:{line}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: cannot read: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Loads `path` if it exists.
pub fn load(path: &Path) -> Result<Option<Config>, ConfigError> {
    let _ = path;
    todo!("config::load")
}
