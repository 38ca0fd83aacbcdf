//! Routelet's host: the builder, the runtime and the server behind the `routelet` command, as a
//! library so that fuzz targets and benchmarks reach the same code the binary runs.
//!
//! The folders are the architecture: [`engine`] lives once per process, [`app`] once per
//! deployment, [`request`] once per request; each host capability is a folder of [`factors`].
//! The modules are layered, leaves first, and a module uses only those below it: the `layout`
//! test holds the order and fails on any use against it, so there is no dependency cycle.

pub mod admin;
pub mod app;
pub mod builder;
pub mod cli;
pub mod config;
pub mod deploy;
pub mod dist;
pub mod engine;
pub mod factors;
pub mod metrics;
pub mod private;
pub mod request;
pub mod response;
pub mod server;
pub mod static_pages;
pub mod units;

#[cfg(test)]
mod layout;
