//! Next.js's custom routes (`redirects`, `rewrites`, `headers` in `next.config.js`): sources
//! in path-to-regexp syntax, `has`/`missing` conditions, and destinations with parameters.
//! What the host reads from `routelet.toml` is built from these parts.

pub mod conditions;
pub mod destination;
pub mod source;

pub use conditions::{Condition, RequestFacts, check_all};
pub use destination::{Destination, put_in};
pub use source::{Captured, Captures, Source};
