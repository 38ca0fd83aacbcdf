//! The one place `wit-bindgen` runs for the SDK: our own `routelet:route` imports.
//!
//! The raw bindings stay in this private module; the rest of the crate sees only
//! [`route_context`], which hands back types we own. `wasi:http` comes pre-generated from the
//! `wasi` crate.

mod raw {
    wit_bindgen::generate!({
        path: "../wit",
        world: "routelet:route/route-imports",
    });
}

use raw::routelet::route::context::{self, ParamValue};

use crate::{Query, QueryValue};

/// The matched pattern and the route params, as the host decoded them.
///
/// Only callable inside a component: on other targets the generated imports are stubs.
pub(crate) fn route_context() -> (String, Query) {
    let params = context::params()
        .into_iter()
        .map(|param| {
            let value = match param.value {
                ParamValue::Single(s) => QueryValue::Single(s),
                ParamValue::Multiple(list) => QueryValue::Multiple(list),
            };
            (param.name, value)
        })
        .collect();
    (context::matched_pattern(), params)
}
