//! The flags that bound what clients may hold on a host: instances, connections and time. They
//! are the host's, not an app's, so they are flags rather than `routelet.toml` keys.

use std::time::Duration;

use crate::engine::limits::Limits;
use crate::request::shares::ShareLimits;
use crate::server::ServerLimits;

/// Bounds on what clients may hold.
#[derive(clap::Args, Debug, Clone)]
pub struct HostLimitArgs {
    /// Guest instances that may run at once, every route together.
    #[arg(long, default_value_t = Limits::default().max_instances,
          value_parser = clap::value_parser!(u32).range(1..))]
    max_instances: u32,

    /// Of those, how many one connection may hold (HTTP/2 carries many requests on one); past
    /// it, 429 with Retry-After.
    #[arg(long, default_value_t = ServerLimits::default().shares.per_connection,
          value_parser = at_least_one)]
    instances_per_connection: usize,

    /// How many all connections from one IP address may hold together; past it, 429. Behind a
    /// load balancer every client shares its address: raise this there.
    #[arg(long, default_value_t = ServerLimits::default().shares.per_address,
          value_parser = at_least_one)]
    instances_per_client: usize,

    /// Open connections per listener; past it new ones are closed at once and counted.
    #[arg(long, default_value_t = ServerLimits::default().max_connections,
          value_parser = at_least_one)]
    max_connections: usize,

    /// A connection must send its first byte, and each request its headers, within this.
    #[arg(long, default_value = "10s", value_parser = duration)]
    header_timeout: Duration,

    /// A connection with no request in flight for this long is closed.
    #[arg(long, default_value = "60s", value_parser = duration)]
    idle_timeout: Duration,
}

impl HostLimitArgs {
    /// The engine's limits: the instance pool.
    pub fn engine(&self) -> Limits {
        Limits {
            max_instances: self.max_instances,
            ..Limits::default()
        }
    }

    /// Each listener's limits.
    pub fn server(&self) -> ServerLimits {
        ServerLimits {
            max_connections: self.max_connections,
            header_timeout: self.header_timeout,
            idle_timeout: self.idle_timeout,
            shares: ShareLimits {
                per_connection: self.instances_per_connection,
                per_address: self.instances_per_client,
            },
        }
    }

    /// Raises the open-file limit as far as the system allows, and warns when the connection
    /// cap still does not fit under it (accepts would fail before the cap is reached).
    pub fn fit_open_files(&self) {
        let mut limit = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        // SAFETY: getrlimit and setrlimit only read and write the struct passed in.
        let soft = unsafe {
            if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
                return;
            }
            if limit.rlim_cur < limit.rlim_max {
                let raised = libc::rlimit {
                    rlim_cur: limit.rlim_max,
                    rlim_max: limit.rlim_max,
                };
                if libc::setrlimit(libc::RLIMIT_NOFILE, &raised) == 0 {
                    limit = raised;
                }
            }
            limit.rlim_cur
        };
        // The data folder, databases, the compile cache and the admin API need some too.
        let wanted = (self.max_connections as u64).saturating_add(256);
        if soft < wanted {
            tracing::warn!(
                "the open-file limit is {soft}, too low for --max-connections {}; new \
                 connections will fail before the cap (raise `ulimit -n` or \
                 lower --max-connections)",
                self.max_connections
            );
        }
    }
}

fn at_least_one(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(error) => Err(error.to_string()),
    }
}

fn duration(text: &str) -> Result<Duration, String> {
    crate::units::parse_duration(text).map_err(|error| format!("{error:#}"))
}
