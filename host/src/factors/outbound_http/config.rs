//! `[outbound_http]` in `routelet.toml`: the app's outbound client. Which hosts a route may call
//! is the route's own `allowed_outbound_hosts` (see [`super::allow_list`]).
//!
//! ```toml
//! [outbound_http]                  # these are the defaults
//! connect_timeout = "5s"           # DNS, TCP and TLS; a guest's request-options may only shorten it
//! timeout = "30s"                  # a whole call, body included
//! allowed_private_networks = []    # e.g. ["10.0.0.0/8"]: names may resolve into these
//! ca_certificates = { env = "INTERNAL_CA_PEM" }   # PEM, trusted besides the Mozilla roots
//! ```

use std::time::Duration;

use anyhow::{Context, bail};
use serde::Deserialize;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;

use super::address::Network;
use crate::config::Value;
use crate::units::parse_duration;

/// `[outbound_http]` as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboundConfig {
    /// Time to resolve, connect and finish TLS, e.g. `"5s"`.
    pub connect_timeout: Option<String>,
    /// Time for a whole call, body included, e.g. `"30s"`.
    pub timeout: Option<String>,
    /// Private networks that a host name may resolve into, e.g. `"10.0.0.0/8"`.
    #[serde(default)]
    pub allowed_private_networks: Vec<String>,
    /// PEM certificates of authorities to trust besides the Mozilla roots, e.g. an internal CA.
    pub ca_certificates: Option<Value>,
}

/// The client's settings, resolved once per deployment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Resolve, connect and TLS.
    pub connect_timeout: Duration,
    /// A whole call.
    pub timeout: Duration,
    /// Non-public networks names may still resolve into.
    pub private_networks: Vec<Network>,
    /// Authorities trusted besides the Mozilla roots.
    pub ca_certificates: Vec<CertificateDer<'static>>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(30),
            private_networks: Vec::new(),
            ca_certificates: Vec::new(),
        }
    }
}

impl Settings {
    /// The settings written in `[outbound_http]` over the defaults.
    pub fn from_config(config: &OutboundConfig) -> anyhow::Result<Self> {
        let mut settings = Settings::default();
        let section = "routelet.toml [outbound_http]";
        if let Some(text) = &config.connect_timeout {
            settings.connect_timeout = parse_duration(text)
                .with_context(|| format!("{section}: connect_timeout = {text:?}"))?;
        }
        if let Some(text) = &config.timeout {
            settings.timeout =
                parse_duration(text).with_context(|| format!("{section}: timeout = {text:?}"))?;
        }
        settings.private_networks = config
            .allowed_private_networks
            .iter()
            .map(|text| {
                text.parse::<Network>().map_err(|why| {
                    anyhow::anyhow!("{section}: allowed_private_networks entry {text:?}: {why}")
                })
            })
            .collect::<anyhow::Result<_>>()?;
        if let Some(value) = &config.ca_certificates {
            let pem = value.resolve("[outbound_http] ca_certificates")?;
            settings.ca_certificates = CertificateDer::pem_slice_iter(pem.as_bytes())
                .collect::<Result<_, _>>()
                .map_err(|error| {
                    anyhow::anyhow!("{section}: ca_certificates is not valid PEM: {error}")
                })?;
            if settings.ca_certificates.is_empty() {
                bail!(
                    "{section}: ca_certificates holds no certificate; it is PEM text, \
                     -----BEGIN CERTIFICATE----- ..."
                );
            }
        }
        Ok(settings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_overrides() {
        let settings = Settings::from_config(&OutboundConfig::default()).unwrap();
        assert_eq!(settings.connect_timeout, Duration::from_secs(5));
        assert_eq!(settings.timeout, Duration::from_secs(30));
        let settings = Settings::from_config(&OutboundConfig {
            connect_timeout: Some("250ms".into()),
            timeout: Some("2s".into()),
            allowed_private_networks: vec!["10.0.0.0/8".into()],
            ca_certificates: None,
        })
        .unwrap();
        assert_eq!(settings.connect_timeout, Duration::from_millis(250));
        assert_eq!(settings.timeout, Duration::from_secs(2));
        assert!(settings.private_networks[0].contains("10.1.1.1".parse().unwrap()));
    }

    #[test]
    fn bad_values_name_their_key() {
        let error = Settings::from_config(&OutboundConfig {
            timeout: Some("soon".into()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("timeout = \"soon\""),
            "{error:#}"
        );
        let error = Settings::from_config(&OutboundConfig {
            allowed_private_networks: vec!["intranet".into()],
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{error:#}").contains("\"intranet\""), "{error:#}");
        let error = Settings::from_config(&OutboundConfig {
            ca_certificates: Some(Value::Literal("not a certificate".into())),
            ..Default::default()
        })
        .unwrap_err();
        assert!(
            format!("{error:#}").contains("holds no certificate"),
            "{error:#}"
        );
    }
}
