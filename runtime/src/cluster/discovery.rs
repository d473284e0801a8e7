//! Turns `--cluster.join-addresses` into socket addresses (CLUSTERING.md §2): each entry
//! is `host[:port]`, the port defaulting to the HTTP listen port; IP literals are taken
//! as they are and names are resolved (A/AAAA). Also the sampling of
//! `--cluster.max-join-peers`.

use std::net::{IpAddr, SocketAddr};

/// Resolves every entry. Unresolvable entries are logged; if none resolves at all, that
/// is an error, as upstream's discovery reports. The result has no duplicates.
pub async fn resolve_join_addresses(
    entries: &[String],
    default_port: u16,
) -> Result<Vec<SocketAddr>, String> {
    let mut found: Vec<SocketAddr> = Vec::new();
    let mut failures = Vec::new();
    for entry in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
        match resolve_one(entry, default_port).await {
            Ok(addrs) => {
                for addr in addrs {
                    if !found.contains(&addr) {
                        found.push(addr);
                    }
                }
            }
            Err(err) => {
                tracing::warn!(addr = entry, error = %err, "Failed to resolve a join address.");
                failures.push(format!("{entry}: {err}"));
            }
        }
    }
    if found.is_empty() && !failures.is_empty() {
        return Err(format!(
            "failed to resolve any join address: {}",
            failures.join("; ")
        ));
    }
    Ok(found)
}

async fn resolve_one(entry: &str, default_port: u16) -> Result<Vec<SocketAddr>, String> {
    // `dns+` asks for exactly what we do anyway. SRV lookups need a DNS client we do
    // not have; say so instead of silently resolving something else.
    let entry = entry.strip_prefix("dns+").unwrap_or(entry);
    if entry.starts_with("dnssrv+") || entry.starts_with("dnssrvnoa+") {
        return Err("SRV lookups are not supported yet".to_string());
    }
    if let Ok(addr) = entry.parse::<SocketAddr>() {
        return Ok(vec![addr]);
    }
    if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, default_port)]);
    }
    let (host, port) = match entry.rsplit_once(':') {
        Some((host, port)) => (
            host,
            port.parse::<u16>()
                .map_err(|_| format!("invalid port {port:?}"))?,
        ),
        None => (entry, default_port),
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|e| e.to_string())?
        .collect();
    if addrs.is_empty() {
        return Err("no addresses found".to_string());
    }
    Ok(addrs)
}

/// Upstream's `--cluster.max-join-peers`: with at least `max` candidates, join a random
/// `max` of them; `0` joins all. `seed` picks the permutation.
pub fn sample(mut addrs: Vec<SocketAddr>, max: usize, seed: u64) -> Vec<SocketAddr> {
    if max == 0 || addrs.len() < max {
        return addrs;
    }
    // Fisher–Yates with a small xorshift: the choice only needs to differ between
    // nodes and rounds, not to be unpredictable.
    let mut state = seed | 1;
    for i in (1..addrs.len()).rev() {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let j = (state % (i as u64 + 1)) as usize;
        addrs.swap(i, j);
    }
    addrs.truncate(max);
    addrs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn entries_get_the_default_port_and_duplicates_go() {
        let entries: Vec<String> = ["127.0.0.1", "127.0.0.1:12345", "[::1]:80", "localhost:7"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let addrs = resolve_join_addresses(&entries, 12345).await.unwrap();
        assert_eq!(addrs[0], "127.0.0.1:12345".parse().unwrap());
        assert_eq!(addrs[1], "[::1]:80".parse().unwrap());
        assert!(addrs[2..]
            .iter()
            .all(|a| a.port() == 7 && a.ip().is_loopback()));
    }

    #[tokio::test]
    async fn nothing_resolvable_is_an_error() {
        let err = resolve_join_addresses(&["dnssrv+_x._tcp.example".to_string()], 1)
            .await
            .unwrap_err();
        assert!(err.contains("SRV lookups are not supported yet"), "{err}");
        assert_eq!(resolve_join_addresses(&[], 1).await.unwrap(), vec![]);
    }

    #[test]
    fn sampling_keeps_max_distinct_peers() {
        let addrs: Vec<SocketAddr> = (1..=9)
            .map(|p| SocketAddr::from(([127, 0, 0, 1], p)))
            .collect();
        assert_eq!(sample(addrs.clone(), 0, 7), addrs);
        assert_eq!(sample(addrs[..3].to_vec(), 5, 7).len(), 3);
        let mut picked = sample(addrs.clone(), 5, 7);
        assert_eq!(picked.len(), 5);
        picked.sort();
        picked.dedup();
        assert_eq!(picked.len(), 5);
    }
}
