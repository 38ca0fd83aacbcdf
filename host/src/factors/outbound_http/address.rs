//! Which IP addresses a guest may reach by name: public ones only, so that a DNS answer cannot
//! turn an allowed name into a way into the host's own network.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

/// An IP network written `10.0.0.0/8` or `fd00::/8`; a bare address is its own /32 or /128.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    /// Whether `ip` is inside this network; IPv4 and IPv6 never contain each other.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (addr, prefix) = match text.split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix)),
            None => (text, None),
        };
        let addr: IpAddr = addr
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse()
            .map_err(|_| format!("{addr:?} is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(prefix) => match prefix.parse::<u8>() {
                Ok(prefix) if prefix <= max => prefix,
                _ => return Err(format!("/{prefix} is not a prefix length from 0 to {max}")),
            },
        };
        Ok(Network { addr, prefix })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// Ranges that are not the public internet: this host, its networks, and reserved space.
const NOT_PUBLIC_V4: &[(Ipv4Addr, u8)] = &[
    (Ipv4Addr::new(0, 0, 0, 0), 8),       // "this network"
    (Ipv4Addr::new(10, 0, 0, 0), 8),      // private
    (Ipv4Addr::new(100, 64, 0, 0), 10),   // carrier-grade NAT
    (Ipv4Addr::new(127, 0, 0, 0), 8),     // loopback
    (Ipv4Addr::new(169, 254, 0, 0), 16),  // link-local, cloud metadata services
    (Ipv4Addr::new(172, 16, 0, 0), 12),   // private
    (Ipv4Addr::new(192, 0, 0, 0), 24),    // IETF protocol assignments
    (Ipv4Addr::new(192, 0, 2, 0), 24),    // documentation
    (Ipv4Addr::new(192, 88, 99, 0), 24),  // 6to4 relay
    (Ipv4Addr::new(192, 168, 0, 0), 16),  // private
    (Ipv4Addr::new(198, 18, 0, 0), 15),   // benchmarking
    (Ipv4Addr::new(198, 51, 100, 0), 24), // documentation
    (Ipv4Addr::new(203, 0, 113, 0), 24),  // documentation
    (Ipv4Addr::new(224, 0, 0, 0), 4),     // multicast
    (Ipv4Addr::new(240, 0, 0, 0), 4),     // reserved, broadcast
];

const NOT_PUBLIC_V6: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::UNSPECIFIED, 128),
    (Ipv6Addr::LOCALHOST, 128),
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64), // discard
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7), // unique local
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10), // link-local
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10), // site-local (deprecated)
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8), // multicast
];

/// Whether `ip` is on the public internet. Addresses that carry IPv4 addresses inside IPv6
/// (mapped, compatible, NAT64, 6to4, Teredo) are public only if every IPv4 address they carry
/// is: a tunnel or translator would deliver them there.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => !NOT_PUBLIC_V4.iter().any(|&(net, prefix)| {
            Network {
                addr: IpAddr::V4(net),
                prefix,
            }
            .contains(ip)
        }),
        IpAddr::V6(v6) => {
            let carried = embedded_v4(v6);
            if carried.iter().flatten().next().is_some() {
                return carried
                    .iter()
                    .flatten()
                    .all(|&v4| is_public(IpAddr::V4(v4)));
            }
            !NOT_PUBLIC_V6.iter().any(|&(net, prefix)| {
                Network {
                    addr: IpAddr::V6(net),
                    prefix,
                }
                .contains(ip)
            })
        }
    }
}

/// The IPv4 addresses an IPv6 address carries: `::ffff:a.b.c.d` (mapped), `::a.b.c.d`
/// (compatible), `64:ff9b::a.b.c.d` and `64:ff9b:1::/48` (NAT64), `2002:aabb:ccdd::/48` (6to4),
/// and Teredo's `2001:0:ssss:ssss::cccc:cccc` (its server, and its client stored inverted).
fn embedded_v4(v6: Ipv6Addr) -> [Option<Ipv4Addr>; 2] {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return [Some(v4), None];
    }
    let segments = v6.segments();
    let bits = u128::from(v6);
    let low = Ipv4Addr::from(bits as u32);
    let compatible = segments[..6].iter().all(|&s| s == 0) && bits > 1;
    let nat64 = segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    let local_nat64 = segments[..3] == [0x64, 0xff9b, 1];
    if compatible || nat64 || local_nat64 {
        return [Some(low), None];
    }
    match segments[0..2] {
        [0x2002, _] => [Some(Ipv4Addr::from((bits >> 80) as u32)), None],
        [0x2001, 0] => [
            Some(Ipv4Addr::from((bits >> 64) as u32)),
            Some(Ipv4Addr::from(!(bits as u32))),
        ],
        _ => [None, None],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn loopback_private_and_link_local_are_not_public() {
        for text in [
            "127.0.0.1",
            "127.255.0.9",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::7f00:1",
            // 6to4 around loopback, a private network and the metadata address.
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2002:a9fe:a9fe::",
            // Teredo with a loopback server, and with a client of 10.0.0.1 (stored inverted).
            "2001:0:7f00:1::1",
            "2001:0:101:101::f5ff:fffe",
        ] {
            assert!(!is_public(ip(text)), "{text} must not be public");
        }
    }

    #[test]
    fn internet_addresses_are_public() {
        for text in [
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "172.15.255.255",
            "192.169.0.1",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
            "2002:101:101::1",
            "2001:0:101:101::fefe:fefe",
        ] {
            assert!(is_public(ip(text)), "{text} must be public");
        }
    }

    #[test]
    fn networks_parse_and_contain() {
        let net: Network = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains(ip("10.200.3.4")));
        assert!(!net.contains(ip("11.0.0.1")));
        assert!(!net.contains(ip("::ffff:10.0.0.1")));
        let single: Network = "127.0.0.1".parse().unwrap();
        assert!(single.contains(ip("127.0.0.1")));
        assert!(!single.contains(ip("127.0.0.2")));
        let v6: Network = "[fd00::]/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")));
        let all: Network = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        assert!("10.0.0.0/33".parse::<Network>().is_err());
        assert!("example.com/8".parse::<Network>().is_err());
        assert_eq!(net.to_string(), "10.0.0.0/8");
    }
}
