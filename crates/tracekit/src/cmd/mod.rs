//! One module per subcommand.
pub mod check;
pub mod list;
pub mod probe;
pub mod reset;
pub mod set;
pub mod show;
pub mod status;
