//! The `show` tool: one task's details in one call. The data is what `swarm show` prints,
//! built by the same function (src/cmd/show.rs): the plan, the last run's snapshot, the
//! receipts of its attempts, its transcripts and what it cost.

pub use crate::cmd::show::build as show;
