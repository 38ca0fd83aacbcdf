//! Each connection and each client address may hold only a share of the instance pool, so one
//! client opening hundreds of requests that never finish cannot starve everyone else.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, Weak};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::failure::GuestFailure;

/// The instances one connection, and one client address, may hold at once.
#[derive(Debug, Clone, Copy)]
pub struct ShareLimits {
    /// Instances one connection may hold (HTTP/2 multiplexes many requests on one).
    pub per_connection: usize,
    /// Instances all connections from one IP address may hold together.
    pub per_address: usize,
}

/// The process-wide ledger of address shares; connections get theirs from it.
pub struct Shares {
    limits: ShareLimits,
    /// Weak, so an address's entry goes once its last connection has closed.
    addresses: Mutex<HashMap<IpAddr, Weak<Semaphore>>>,
}

impl Shares {
    /// A ledger handing out shares of `limits`.
    pub fn new(limits: ShareLimits) -> Self {
        Self {
            limits,
            addresses: Mutex::default(),
        }
    }

    /// The share of a new connection from `peer` to `local`.
    pub fn connect(&self, peer: SocketAddr, local: SocketAddr) -> Client {
        let address = {
            let mut addresses = self.addresses.lock().unwrap_or_else(|e| e.into_inner());
            let found = addresses.get(&peer.ip()).and_then(Weak::upgrade);
            match found {
                Some(address) => address,
                None => {
                    // Closed addresses are swept when the map doubles, so it stays bounded by
                    // the open connections.
                    if addresses.len() >= 1024 && addresses.len().is_power_of_two() {
                        addresses.retain(|_, share| share.strong_count() > 0);
                    }
                    let address = Arc::new(Semaphore::new(self.limits.per_address));
                    addresses.insert(peer.ip(), Arc::downgrade(&address));
                    address
                }
            }
        };
        Client {
            peer,
            local,
            connection: Arc::new(Semaphore::new(self.limits.per_connection)),
            address,
        }
    }
}

/// One connection's client: its address, and what its connection and address still may hold.
#[derive(Clone)]
pub struct Client {
    /// Where the connection comes from, for logs.
    pub peer: SocketAddr,
    /// The listener's address it reached, the authority of requests that name none.
    pub local: SocketAddr,
    connection: Arc<Semaphore>,
    address: Arc<Semaphore>,
}

/// Held while an instance runs for this client; dropping it gives the share back.
pub struct SharePermit {
    _connection: OwnedSemaphorePermit,
    _address: OwnedSemaphorePermit,
}

impl Client {
    /// Takes one instance from this client's shares, or says which share is used up.
    pub fn take(&self) -> Result<SharePermit, GuestFailure> {
        let connection =
            self.connection
                .clone()
                .try_acquire_owned()
                .map_err(|_| GuestFailure::OverShare {
                    limit: "connection-instances",
                    message:
                        "this connection already holds as many instances as one connection may"
                            .into(),
                })?;
        let address =
            self.address
                .clone()
                .try_acquire_owned()
                .map_err(|_| GuestFailure::OverShare {
                    limit: "client-instances",
                    message: format!(
                        "{} already holds as many instances as one client address may",
                        self.peer.ip()
                    ),
                })?;
        Ok(SharePermit {
            _connection: connection,
            _address: address,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connections_and_addresses_each_get_a_bounded_share() {
        let shares = Shares::new(ShareLimits {
            per_connection: 2,
            per_address: 3,
        });
        let a: SocketAddr = "10.0.0.1:1000".parse().unwrap();
        let one = shares.connect(a, a);
        let two = shares.connect(SocketAddr::new(a.ip(), 1001), a);
        let other = shares.connect("10.0.0.2:1000".parse().unwrap(), a);
        let held = [one.take().unwrap(), one.take().unwrap()];
        let error = one.take().err().unwrap();
        assert_eq!(error.limit(), Some("connection-instances"));
        let _third = two.take().unwrap();
        let error = two.take().err().unwrap();
        assert_eq!(error.limit(), Some("client-instances"));
        let _elsewhere = other.take().unwrap();
        drop(held);
        assert!(
            two.take().is_ok(),
            "a share comes back when its instance ends"
        );
    }
}
