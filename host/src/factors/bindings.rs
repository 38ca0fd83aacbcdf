//! The one place `bindgen!` runs for the imports an API route may use besides `wasi:http`.

wasmtime::component::bindgen!({
    path: "../wit",
    world: "routelet:route/route-imports",
    imports: {
        "routelet:route/preview.revalidate": async,
    },
});

pub use routelet::route::{context, preview};
