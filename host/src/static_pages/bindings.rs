//! The one place `bindgen!` runs for page components: the `routelet:route/static-page` world.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "routelet:route/static-page",
    exports: { default: async },
    with: {
        "routelet:route/context": crate::factors::bindings::context,
    },
});

pub use exports::routelet::route::page::{
    Fallback, PropsContext, PropsOutcome, PropsResult, StaticPath, StaticPaths,
};

/// The export a component must have to be treated as a page.
pub const STATIC_PAGE_EXPORT: &str = "routelet:route/page@0.1.0";
