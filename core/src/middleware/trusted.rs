//! Which direct peers may speak for the client.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;

/// A list of addresses and networks whose forwarding headers are believed,
/// like gunicorn's `--forwarded-allow-ips`: `127.0.0.1,::1`,
/// `10.0.0.0/8`, or `*` for everyone.
///
/// A peer without an IP address — a unix-socket connection, which only a
/// local process with access to the socket file can make — is trusted.
///
/// ```
/// use rwsgi_core::middleware::TrustedPeers;
/// let peers: TrustedPeers = "127.0.0.1, 10.0.0.0/8".parse()?;
/// assert!(peers.trusts(Some("10.1.2.3")));
/// assert!(!peers.trusts(Some("192.0.2.1")));
/// assert!(!peers.trusts(Some("not an ip")));
/// assert!(peers.trusts(None));
/// // Written in either form, IPv4-mapped addresses mean their IPv4 one.
/// let mapped: TrustedPeers = "::ffff:10.0.0.1".parse()?;
/// assert!(mapped.trusts(Some("10.0.0.1")) && mapped.trusts(Some("::ffff:10.0.0.1")));
/// # Ok::<(), String>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustedPeers {
    any: bool,
    nets: Vec<IpNet>,
}

impl TrustedPeers {
    /// Trusts every peer (`*`).
    pub fn any() -> Self {
        TrustedPeers {
            any: true,
            nets: Vec::new(),
        }
    }

    /// Loopback only: `127.0.0.1,::1` (gunicorn's default).
    pub fn loopback() -> Self {
        "127.0.0.1,::1".parse().expect("a valid literal")
    }

    /// Whether a peer with this `REMOTE_ADDR` is trusted.
    pub fn trusts(&self, remote_addr: Option<&str>) -> bool {
        let Some(addr) = remote_addr else {
            return true;
        };
        if self.any {
            return true;
        }
        let addr = addr.trim_start_matches('[').trim_end_matches(']');
        addr.parse::<IpAddr>().is_ok_and(|ip| self.trusts_ip(ip))
    }

    /// Whether a peer at this address is trusted.
    pub fn trusts_ip(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        self.any || self.nets.iter().any(|net| net.contains(&ip))
    }
}

impl FromStr for TrustedPeers {
    type Err = String;

    fn from_str(list: &str) -> Result<Self, Self::Err> {
        let mut peers = TrustedPeers {
            any: false,
            nets: Vec::new(),
        };
        for item in list.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            if item == "*" {
                peers.any = true;
            } else if let Ok(net) = item.parse::<IpNet>() {
                peers.nets.push(unmap(net));
            } else if let Ok(ip) = item.parse::<IpAddr>() {
                peers.nets.push(unmap(IpNet::from(ip)));
            } else {
                return Err(format!(
                    "{item:?} is neither an IP address, a network (a.b.c.d/n) nor '*'"
                ));
            }
        }
        Ok(peers)
    }
}

/// An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) as the IPv4 one it
/// stands for, since peers are compared in their IPv4 form.
fn unmap(net: IpNet) -> IpNet {
    match net {
        IpNet::V6(v6) if v6.prefix_len() >= 96 => match v6.addr().to_ipv4_mapped() {
            Some(v4) => ipnet::Ipv4Net::new(v4, v6.prefix_len() - 96).map_or(net, IpNet::V4),
            None => net,
        },
        other => other,
    }
}

impl fmt::Display for TrustedPeers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut items: Vec<String> = self.nets.iter().map(ToString::to_string).collect();
        if self.any {
            items.push("*".into());
        }
        f.write_str(&items.join(","))
    }
}
