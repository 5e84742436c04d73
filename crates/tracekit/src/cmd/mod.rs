//! One module per subcommand.
pub mod check;
pub mod dump;
pub mod list;
pub mod live;
pub mod perf;
pub mod report;
pub mod probe;
pub mod record;
pub mod reset;
pub mod set;
pub mod show;
pub mod status;
