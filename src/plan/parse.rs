//! Finding tasks in GitHub-flavoured markdown, with their ids and byte offsets.

use super::{PlanError, Task};
use std::path::Path;

/// Parses plan text; `path` is only for error messages.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Task>, PlanError> {
    let _ = (text, path);
    todo!("plan::parse")
}
