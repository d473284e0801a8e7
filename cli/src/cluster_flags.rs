//! The `--cluster.*` flags of `run` (CLUSTERING.md §2), with upstream's names and
//! defaults, and how they become the runtime's `ClusterOptions`.

use alloy_runtime::cluster::{ClusterOptions, GossipTls};
use alloy_runtime::duration::GoDuration;
use anyhow::{bail, Context, Result};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

/// Cluster flags of `run`.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// Start in clustered mode.
    #[arg(long = "cluster.enabled", num_args = 0..=1, default_value = "false", default_missing_value = "true", action = clap::ArgAction::Set)]
    enabled: bool,

    /// The name of the node in the cluster; must be unique. Defaults to the hostname.
    #[arg(long = "cluster.node-name", default_value = "")]
    node_name: String,

    /// Address (`host` or `host:port`) other nodes reach this node on; the port
    /// defaults to the HTTP listen port.
    #[arg(long = "cluster.advertise-address", default_value = "")]
    advertise_address: String,

    /// Interfaces to take the advertise address from when none is given; `all` for
    /// every interface.
    #[arg(long = "cluster.advertise-interfaces", default_value = "eth0,en0")]
    advertise_interfaces: String,

    /// Comma-separated `host[:port]` HTTP addresses of nodes to join.
    #[arg(long = "cluster.join-addresses", default_value = "")]
    join_addresses: String,

    /// A go-discover provider string to find peers with (not supported yet).
    #[arg(long = "cluster.discover-peers", default_value = "")]
    discover_peers: String,

    /// How often to rejoin the cluster of known peers; 0s only joins at startup.
    #[arg(long = "cluster.rejoin-interval", default_value = "60s", value_parser = parse_duration)]
    rejoin_interval: std::time::Duration,

    /// The most peers to join at once; 0 joins every peer found.
    #[arg(long = "cluster.max-join-peers", default_value_t = 5)]
    max_join_peers: usize,

    /// Nodes only join peers with the same cluster name.
    #[arg(long = "cluster.name", default_value = "")]
    cluster_name: String,

    /// Minimum number of participating peers before clustered components take work;
    /// 0 disables the wait.
    #[arg(long = "cluster.wait-for-size", default_value_t = 0)]
    wait_for_size: usize,

    /// How long to wait for `--cluster.wait-for-size` peers; 0s waits forever.
    #[arg(long = "cluster.wait-timeout", default_value = "0s", value_parser = parse_duration)]
    wait_timeout: std::time::Duration,

    /// Gossip to peers over HTTPS. Needs `--cluster.tls-ca-path`,
    /// `--cluster.tls-cert-path` and `--cluster.tls-key-path`; peers serve HTTPS through
    /// their `http { tls { ... } }` block.
    #[arg(long = "cluster.enable-tls", num_args = 0..=1, default_value = "false", default_missing_value = "true", action = clap::ArgAction::Set)]
    enable_tls: bool,

    /// PEM file of the CA that signed the peers' certificates; the only CA trusted for
    /// gossip. Used with `--cluster.enable-tls`.
    #[arg(long = "cluster.tls-ca-path", default_value = "")]
    tls_ca_path: String,

    /// PEM certificate this node presents to peers as its client certificate. Used with
    /// `--cluster.enable-tls`.
    #[arg(long = "cluster.tls-cert-path", default_value = "")]
    tls_cert_path: String,

    /// PEM private key of `--cluster.tls-cert-path`. Used with `--cluster.enable-tls`.
    #[arg(long = "cluster.tls-key-path", default_value = "")]
    tls_key_path: String,

    /// The name peers' certificates are verified against; empty verifies against the
    /// address a peer is reached on. Used with `--cluster.enable-tls`.
    #[arg(long = "cluster.tls-server-name", default_value = "")]
    tls_server_name: String,

    /// Deprecated upstream; accepted and ignored.
    #[arg(long = "cluster.use-discovery-v1", hide = true, num_args = 0..=1, default_value = "false", default_missing_value = "true", action = clap::ArgAction::Set)]
    use_discovery_v1: bool,
}

fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    GoDuration::parse(text).map(GoDuration::to_std)
}

impl ClusterArgs {
    /// Checks the flags and resolves names. `http_port` is the port the HTTP server
    /// actually listens on.
    pub async fn options(&self, http_port: u16) -> Result<ClusterOptions> {
        let tls = self.gossip_tls()?;
        if !self.discover_peers.is_empty() {
            if !self.join_addresses.is_empty() {
                // Upstream's check, kept so the message matches its docs.
                bail!("at most one of join peers and discover peers may be set");
            }
            bail!("--cluster.discover-peers is not supported yet; list peers in --cluster.join-addresses");
        }
        let node_name = if self.node_name.is_empty() {
            hostname()
        } else {
            self.node_name.clone()
        };
        let advertise = if !self.enabled {
            // Upstream's fixed address for a node nobody else talks to.
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), http_port)
        } else if !self.advertise_address.is_empty() {
            resolve_advertise(&self.advertise_address, http_port).await?
        } else {
            advertise_from_interfaces(&self.advertise_interfaces, http_port)
        };
        Ok(ClusterOptions {
            enabled: self.enabled,
            node_name,
            advertise,
            cluster_name: self.cluster_name.clone(),
            join_addresses: self
                .join_addresses
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
            default_port: http_port,
            rejoin_interval: self.rejoin_interval,
            max_join_peers: self.max_join_peers,
            wait_for_size: self.wait_for_size,
            wait_timeout: Some(self.wait_timeout).filter(|t| !t.is_zero()),
            tls,
        })
    }

    /// The gossip client's TLS configuration with `--cluster.enable-tls`. Like
    /// upstream, the CA, certificate and key are all required then, and bad files stop
    /// the start (even with clustering off, as upstream loads them regardless); without
    /// the flag the other `--cluster.tls-*` flags have no effect, which we say.
    fn gossip_tls(&self) -> Result<Option<GossipTls>> {
        let files = [
            ("--cluster.tls-ca-path", &self.tls_ca_path),
            ("--cluster.tls-cert-path", &self.tls_cert_path),
            ("--cluster.tls-key-path", &self.tls_key_path),
        ];
        if !self.enable_tls {
            let set: Vec<&str> = files
                .iter()
                .map(|(flag, value)| (*flag, value.as_str()))
                .chain([("--cluster.tls-server-name", self.tls_server_name.as_str())])
                .filter(|(_, value)| !value.is_empty())
                .map(|(flag, _)| flag)
                .collect();
            if !set.is_empty() {
                tracing::warn!(
                    flags = set.join(","),
                    "TLS flags are ignored without --cluster.enable-tls; gossip stays plain HTTP."
                );
            }
            return Ok(None);
        }
        let mut pems = Vec::new();
        for (flag, path) in files {
            if path.is_empty() {
                bail!("--cluster.enable-tls needs {flag}");
            }
            let pem =
                std::fs::read(path).with_context(|| format!("failed to read {flag} {path:?}"))?;
            pems.push(pem);
        }
        GossipTls::from_pem(&pems[0], &pems[1], &pems[2], &self.tls_server_name)
            .map(Some)
            .map_err(|e| anyhow::anyhow!("invalid gossip TLS settings: {e}"))
    }
}

/// `host` or `host:port`, resolved to an IP at startup as upstream does.
async fn resolve_advertise(addr: &str, http_port: u16) -> Result<SocketAddr> {
    if let Ok(addr) = addr.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Ok(ip) = addr.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, http_port));
    }
    let (host, port) = match addr.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .with_context(|| format!("invalid port in --cluster.advertise-address {addr:?}"))?,
        ),
        None => (addr, http_port),
    };
    tokio::net::lookup_host((host, port))
        .await
        .ok()
        .and_then(|mut addrs| addrs.next())
        .with_context(|| format!("failed to resolve --cluster.advertise-address {addr:?}"))
}

/// The first usable address of the listed interfaces, preferring IPv4 then IPv6, and
/// non-link-local before link-local; `127.0.0.1` with a warning if there is none
/// (upstream's code does that, although its docs say startup fails).
fn advertise_from_interfaces(interfaces: &str, http_port: u16) -> SocketAddr {
    let wanted: Vec<&str> = interfaces.split(',').map(str::trim).collect();
    let all = wanted.contains(&"all");
    let mut candidates: Vec<IpAddr> = interface_addresses()
        .into_iter()
        .filter(|(name, _)| all || wanted.contains(&name.as_str()))
        .map(|(_, ip)| ip)
        .filter(|ip| !ip.is_loopback() && !ip.is_unspecified())
        .collect();
    let rank = |ip: &IpAddr| match ip {
        IpAddr::V4(v4) if !v4.is_link_local() => 0,
        IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) != 0xfe80 => 1,
        IpAddr::V4(_) => 2,
        IpAddr::V6(_) => 3,
    };
    candidates.sort_by_key(rank);
    match candidates.first() {
        Some(ip) => SocketAddr::new(*ip, http_port),
        None => {
            tracing::warn!(
                interfaces,
                "No usable address on --cluster.advertise-interfaces; advertising 127.0.0.1."
            );
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), http_port)
        }
    }
}

/// Every (interface name, address) pair of the host, from `getifaddrs`.
fn interface_addresses() -> Vec<(String, IpAddr)> {
    let mut out = Vec::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list we only read and then free
    // with freeifaddrs, as its manual page prescribes.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            return out;
        }
        let mut cursor = list;
        while !cursor.is_null() {
            let entry = &*cursor;
            cursor = entry.ifa_next;
            if entry.ifa_addr.is_null() || entry.ifa_name.is_null() {
                continue;
            }
            let name = std::ffi::CStr::from_ptr(entry.ifa_name)
                .to_string_lossy()
                .into_owned();
            let ip = match i32::from((*entry.ifa_addr).sa_family) {
                libc::AF_INET => {
                    let sin = &*(entry.ifa_addr as *const libc::sockaddr_in);
                    IpAddr::from(u32::from_be(sin.sin_addr.s_addr).to_be_bytes())
                }
                libc::AF_INET6 => {
                    let sin6 = &*(entry.ifa_addr as *const libc::sockaddr_in6);
                    IpAddr::from(sin6.sin6_addr.s6_addr)
                }
                _ => continue,
            };
            out.push((name, ip));
        }
        libc::freeifaddrs(list);
    }
    out
}

/// Go's `os.Hostname()`: the kernel's value on Linux, else the usual variables.
fn hostname() -> String {
    if let Ok(name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
        return name.trim_end().to_string();
    }
    ["HOSTNAME", "COMPUTERNAME"]
        .iter()
        .find_map(|var| std::env::var(var).ok().filter(|v| !v.is_empty()))
        .unwrap_or_else(|| "localhost".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interfaces_list_loopback_at_least() {
        assert!(interface_addresses().iter().any(|(_, ip)| ip.is_loopback()));
    }

    #[tokio::test]
    async fn advertise_addresses_take_the_http_port_when_they_name_none() {
        assert_eq!(
            resolve_advertise("10.1.2.3", 12345).await.unwrap(),
            "10.1.2.3:12345".parse().unwrap()
        );
        assert_eq!(
            resolve_advertise("10.1.2.3:80", 12345).await.unwrap(),
            "10.1.2.3:80".parse().unwrap()
        );
        assert_eq!(resolve_advertise("localhost", 7).await.unwrap().port(), 7);
    }
}
