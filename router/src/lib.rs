//! Next.js's file-system routing rules (Pages Router), exactly: page paths to route patterns,
//! validation and ordering of the whole layout (Next's `getSortedRoutes`, with its error
//! messages verbatim), path normalisation redirects, and matching of encoded request paths with
//! per-segment parameter decoding.
//!
//! ```
//! use routelet_router::{Lookup, ParamValue, RouteTable, pattern_from_page_path};
//!
//! let table = RouteTable::new(vec![
//!     (pattern_from_page_path("api/users/[id]"), "user"),
//!     (pattern_from_page_path("api/users/index"), "users"),
//!     (pattern_from_page_path("api/[...rest]"), "rest"),
//! ])
//! .unwrap();
//! match table.lookup("/api/users/42") {
//!     Lookup::Found(m) => {
//!         assert_eq!(*m.value, "user");
//!         assert_eq!(m.params.get("id"), Some(&ParamValue::Single("42".into())));
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```
#![warn(missing_docs)]

pub mod custom;
mod error;
mod lookup;
mod normalize;
mod pattern;
mod table;

pub use error::RouteError;
pub use lookup::{Lookup, Match, ParamValue, Params};
pub use normalize::{Normalized, normalize, normalize_trailing};
pub use pattern::{Route, Segment, is_api_route, pattern_from_page_path};
pub use table::RouteTable;
