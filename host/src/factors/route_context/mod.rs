//! `routelet:route/context`: the matched pattern and params, handed over by the host.
//!
//! The route context travels through this import rather than through request headers, so a
//! client cannot forge it.

use std::sync::Arc;

use routelet_router::{ParamValue, Params};
use wasmtime::component::{HasSelf, Linker};

use super::bindings::context;
use super::{AppSetup, Factor, PageAccess, RequestSetup, RouteSetup};

/// The route context of one request.
#[derive(Debug, Default)]
pub struct RouteContext {
    pattern: Arc<str>,
    params: Params,
}

impl RouteContext {
    /// Captures what the router matched for this request.
    pub fn new(pattern: Arc<str>, params: Params) -> Self {
        Self { pattern, params }
    }
}

impl context::Host for RouteContext {
    fn matched_pattern(&mut self) -> String {
        self.pattern.to_string()
    }

    fn params(&mut self) -> Vec<context::Param> {
        wit_params(&self.params)
    }
}

/// The router's params as the WIT's, for the context import and for pages' props context.
pub fn wit_params(params: &Params) -> Vec<context::Param> {
    params
        .0
        .iter()
        .map(|(name, value)| context::Param {
            name: name.clone(),
            value: match value {
                ParamValue::Single(v) => context::ParamValue::Single(v.clone()),
                ParamValue::Multiple(v) => context::ParamValue::Multiple(v.clone()),
            },
        })
        .collect()
}

/// The factor: every guest, page or route, learns what it matched.
pub struct RouteContextFactor;

impl Factor for RouteContextFactor {
    type App = ();
    type Route = ();
    type Request = RouteContext;
    const PAGES: PageAccess = PageAccess::Same;

    fn open(_: &AppSetup<'_>) -> anyhow::Result<()> {
        Ok(())
    }

    fn route(_: &(), _: &RouteSetup<'_>) -> anyhow::Result<()> {
        Ok(())
    }

    fn link<T: Send + 'static>(
        linker: &mut Linker<T>,
        get: fn(&mut T) -> &mut RouteContext,
    ) -> wasmtime::Result<()> {
        context::add_to_linker::<T, HasSelf<RouteContext>>(linker, get)
    }

    fn request(_: &(), _: &(), setup: &mut RequestSetup) -> RouteContext {
        RouteContext::new(setup.pattern.clone(), std::mem::take(&mut setup.params))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use context::Host;

    #[test]
    fn hands_params_over_in_path_order() {
        let mut ctx = RouteContext::new(
            "/api/[a]/[...b]".into(),
            Params(vec![
                ("a".into(), ParamValue::Single("x".into())),
                (
                    "b".into(),
                    ParamValue::Multiple(vec!["y".into(), "z".into()]),
                ),
            ]),
        );
        assert_eq!(ctx.matched_pattern(), "/api/[a]/[...b]");
        let params = ctx.params();
        assert_eq!(params.len(), 2);
        assert_eq!(params[0].name, "a");
        assert!(matches!(&params[1].value, context::ParamValue::Multiple(v) if v == &["y", "z"]));
    }
}
