//! The end-to-end suite, one binary with a module per area: each builds real components with
//! `routelet build`, starts the real `routelet` binary on 127.0.0.1 and speaks real HTTP to it.
//! One binary means each example app is built once per run and the shared servers start once.

mod support;

mod blog_api;
mod browser;
mod build_cli;
mod cancellation;
mod cluster;
mod compile_cache;
mod custom_routes;
mod data;
mod deploy;
mod dev;
mod hostile_clients;
mod javascript;
mod limits;
mod outbound;
mod plain_components;
mod routes_cli;
mod static_pages;
