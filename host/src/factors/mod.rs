//! Host capabilities a guest may import, one module each: its WIT binding, its state and its tests.

pub mod bindings;
pub mod data_dir;
pub mod grants;
pub mod key_value;
pub mod outbound_http;
pub mod preview;
pub mod route_context;
pub mod sql;
