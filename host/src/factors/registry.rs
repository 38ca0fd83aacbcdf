//! The factors this host serves, one line each; the macro below makes the per-deploy,
//! per-route and per-request records and the loops over them.

use anyhow::Context;
use wasmtime::component::Linker;

use crate::config::AppConfig;

use super::{
    AppSetup, Factor, PageAccess, RequestSetup, ResponseHook, Role, RouteSetup, key_value,
    outbound_http, preview, route_context, sql,
};

/// Store data that carries the factors' request state, so one linker serves any such state.
pub trait HasFactors {
    /// The factors' state of this request.
    fn factors(&mut self) -> &mut RequestFactors;
}

macro_rules! factors {
    ($($field:ident: $factor:ty,)*) => {
        /// Every factor's state of one deployment.
        pub struct AppFactors {
            $(
                #[doc = concat!("The `", stringify!($field), "` factor's.")]
                pub $field: <$factor as Factor>::App,
            )*
        }

        /// Every factor's state of one route.
        pub struct RouteFactors {
            $(
                #[doc = concat!("The `", stringify!($field), "` factor's.")]
                pub $field: <$factor as Factor>::Route,
            )*
        }

        /// Every factor's state of one request, inside the guest's store.
        pub struct RequestFactors {
            $(
                #[doc = concat!("The `", stringify!($field), "` factor's.")]
                pub $field: <$factor as Factor>::Request,
            )*
        }

        /// The top-level `routelet.toml` sections factors read.
        pub fn sections() -> Vec<&'static str> {
            [$(<$factor as Factor>::SECTION,)*].into_iter().flatten().collect()
        }

        /// The `[routes."PATTERN"]` keys factors read.
        pub fn route_keys() -> Vec<&'static str> {
            [$(<$factor as Factor>::ROUTE_KEYS,)*].concat()
        }

        /// Runs every factor's check of the configuration, opening nothing.
        pub fn check(config: &AppConfig, routes: &[RouteSetup<'_>]) -> anyhow::Result<()> {
            $(<$factor as Factor>::check(config, routes)?;)*
            Ok(())
        }

        /// Adds every factor a guest of `role` may have to `linker`.
        pub fn link<T: HasFactors + Send + 'static>(
            linker: &mut Linker<T>,
            role: Role,
        ) -> anyhow::Result<()> {
            $(
                if role == Role::Route || <$factor as Factor>::PAGES != PageAccess::Never {
                    <$factor as Factor>::link(linker, |state: &mut T| &mut state.factors().$field)
                        .map_err(anyhow::Error::from)
                        .with_context(|| format!("linking the {} factor", stringify!($field)))?;
                }
            )*
            Ok(())
        }

        impl AppFactors {
            /// Opens every factor for a deployment, then starts them (migrations and the like).
            pub async fn open(setup: &AppSetup<'_>) -> anyhow::Result<Self> {
                let factors = Self {
                    $($field: <$factor as Factor>::open(setup)?,)*
                };
                $(<$factor as Factor>::start(&factors.$field, setup).await?;)*
                Ok(factors)
            }

            /// Resolves every factor's grants of one route.
            pub fn route(&self, setup: &RouteSetup<'_>) -> anyhow::Result<RouteFactors> {
                Ok(RouteFactors {
                    $($field: <$factor as Factor>::route(&self.$field, setup)?,)*
                })
            }

            /// Makes every factor's state of one request.
            pub fn request(&self, route: &RouteFactors, mut setup: RequestSetup) -> RequestFactors {
                RequestFactors {
                    $($field: <$factor as Factor>::request(&self.$field, &route.$field, &mut setup),)*
                }
            }
        }

        impl RequestFactors {
            /// What the factors do to the response once it has started.
            pub fn response_hooks(&self) -> Vec<ResponseHook> {
                [$(<$factor as Factor>::respond(&self.$field),)*].into_iter().flatten().collect()
            }

            /// Whether the guest still holds anything a factor opened for it.
            pub fn hold_resources(&self) -> bool {
                false $(|| <$factor as Factor>::holds_resources(&self.$field))*
            }
        }
    };
}

factors! {
    route_context: route_context::RouteContextFactor,
    preview: preview::PreviewFactor,
    key_value: key_value::KeyValueFactor,
    sql: sql::SqlFactor,
    outbound_http: outbound_http::OutboundHttpFactor,
}
