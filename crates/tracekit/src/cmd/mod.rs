//! One module per subcommand.
pub mod check;
pub mod dump;
pub mod list;
pub mod live;
pub mod perf;
pub mod probe;
pub mod profile;
pub mod record;
pub mod report;
pub mod reset;
pub mod set;
pub mod show;
pub mod status;
