//! Routelet's host: the builder, the runtime and the server behind the `routelet` command, as a
//! library so that fuzz targets and benchmarks reach the same code the binary runs.

pub mod admin;
pub mod builder;
pub mod capabilities;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod dist;
pub mod metrics;
pub mod pages;
pub mod runtime;
pub mod server;
