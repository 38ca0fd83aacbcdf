//! The wasm runtime, in its three lifetimes: the engine and linker once per process
//! ([`engine`]), compiled and pre-instantiated routes once per deploy ([`component`]), and a
//! store per request ([`request`]).

pub mod body_limits;
pub mod compile_cache;
pub mod component;
pub mod engine;
pub mod guest_log;
pub mod limits;
pub mod request;
pub mod route_limits;
