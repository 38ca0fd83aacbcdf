//! One request's lifetime: admitted under the route's limits, run in a fresh store, its output
//! logged, and every failure turned into one status and one log line.

pub mod body_limits;
pub mod failure;
pub mod guest_log;
pub mod handler;
pub mod limits;
pub mod reuse;
pub mod run;
pub mod shares;

pub use failure::GuestFailure;
pub use handler::Handler;
pub use run::run;
