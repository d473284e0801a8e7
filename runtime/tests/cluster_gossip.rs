//! Cluster scenarios on the in-memory network with a paused clock: nodes join, split
//! 300 targets as the ring predicts, and when one dies only its targets move. Times
//! printed are virtual (the clock is tokio's paused one).

use alloy_runtime::cluster::gossip::{GossipMembership, GossipOptions, TransportMetrics};
use alloy_runtime::cluster::memory::MemoryNetwork;
use alloy_runtime::cluster::{
    target_key, Cluster, ClusterOptions, Peer, PeerState, Ring, HANDOFF_MARGIN,
};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::time::Instant;

/// Virtual-time bound on every wait.
const BOUND: Duration = Duration::from_secs(60);

fn addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i], 12345))
}

/// Starts a participating node on the network, joining `join`.
async fn node(net: &MemoryNetwork, name: &str, at: SocketAddr, join: &[SocketAddr]) -> Cluster {
    let cluster = viewer(net, name, at, join).await;
    cluster.participate().await;
    cluster
}

/// Starts a node on the network that joined `join` but has not loaded a
/// configuration yet: a viewer.
async fn viewer(net: &MemoryNetwork, name: &str, at: SocketAddr, join: &[SocketAddr]) -> Cluster {
    let membership = GossipMembership::start_with(
        GossipOptions {
            name: name.to_string(),
            advertise: at,
            cluster_name: String::new(),
            metrics: TransportMetrics::default(),
            tls: None,
        },
        net.transport(at),
    );
    net.attach(at, &membership);
    let mut opts = ClusterOptions::standalone(name, at);
    opts.enabled = true;
    opts.join_addresses = join.iter().map(|a| a.to_string()).collect();
    // Shorter than upstream's 60 s so the partition test heals within its bound.
    opts.rejoin_interval = Duration::from_secs(10);
    let cluster = Cluster::with_membership_unregistered(opts, membership);
    cluster.join().await;
    cluster
}

/// Waits (virtual time, bounded) until `check` holds; returns how long it took.
async fn wait_until(mut check: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < BOUND {
        if check() {
            return Some(start.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    None
}

fn participants(c: &Cluster) -> Vec<String> {
    c.peers()
        .into_iter()
        .filter(|p| p.state == PeerState::Participant)
        .map(|p| p.name)
        .collect()
}

fn targets() -> Vec<Vec<(String, String)>> {
    (0..300)
        .map(|i| {
            vec![
                (
                    "__address__".to_string(),
                    format!("10.1.{}.{}:9100", i / 250, i % 250),
                ),
                ("job".to_string(), "node".to_string()),
                ("__meta_ignored".to_string(), format!("{i}")),
            ]
        })
        .collect()
}

/// Which node claims each target; panics unless exactly one does.
fn owners(nodes: &[&Cluster]) -> Vec<String> {
    targets()
        .iter()
        .map(|t| {
            let labels = t.iter().map(|(n, v)| (n.as_str(), v.as_str()));
            let claim: Vec<&str> = nodes
                .iter()
                .filter(|c| c.is_local(labels.clone()))
                .map(|c| c.node_name())
                .collect();
            assert_eq!(claim.len(), 1, "{t:?} claimed by {claim:?}");
            claim[0].to_string()
        })
        .collect()
}

fn counts(owners: &[String]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for o in owners {
        *counts.entry(o.clone()).or_default() += 1;
    }
    counts
}

#[tokio::test(start_paused = true)]
async fn three_nodes_split_targets_as_the_ring_says_and_only_a_dead_nodes_targets_move() {
    let net = MemoryNetwork::new();
    let a = node(&net, "node-a", addr(1), &[]).await;
    let b = node(&net, "node-b", addr(2), &[addr(1)]).await;
    let c = node(&net, "node-c", addr(3), &[addr(1)]).await;

    let all = ["node-a", "node-b", "node-c"].map(String::from).to_vec();
    let took = wait_until(|| [&a, &b, &c].iter().all(|n| participants(n) == all))
        .await
        .expect("3 nodes converge");
    println!("converged in {took:?} (virtual)");
    // A join takes effect for ownership at the instant announced with it.
    tokio::time::sleep(HANDOFF_MARGIN).await;

    let before = owners(&[&a, &b, &c]);
    // The ring alone predicts the split.
    let ring = Ring::new(["node-a", "node-b", "node-c"]);
    for (t, owner) in targets().iter().zip(&before) {
        let key = target_key(t.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        assert_eq!(ring.lookup(key, 1).unwrap()[0], owner);
    }
    println!("split of 300 targets: {:?}", counts(&before));

    // node-c dies without a word.
    net.detach(addr(3));
    let took = wait_until(|| {
        participants(&a) == all[..2] && participants(&b) == all[..2] && a.peers().len() == 2
    })
    .await
    .expect("the dead node is dropped");
    println!("failure detected in {took:?} (virtual)");

    let after = owners(&[&a, &b]);
    for (old, new) in before.iter().zip(&after) {
        if old != "node-c" {
            assert_eq!(old, new, "a survivor's target moved");
        }
    }
    println!("after node-c died: {:?}", counts(&after));
    a.shutdown().await;
    b.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_leaving_node_hands_over_before_failure_detection_could() {
    let net = MemoryNetwork::new();
    let a = node(&net, "node-a", addr(1), &[]).await;
    let b = node(&net, "node-b", addr(2), &[addr(1)]).await;
    wait_until(|| participants(&a).len() == 2)
        .await
        .expect("2 nodes converge");
    tokio::time::sleep(HANDOFF_MARGIN).await;
    let hers: Vec<bool> = targets()
        .iter()
        .map(|t| b.is_local(t.iter().map(|(n, v)| (n.as_str(), v.as_str()))))
        .collect();
    assert!(hers.iter().any(|h| *h), "b owns part of the targets");
    let start = Instant::now();
    let leaving = tokio::spawn({
        let b = b.clone();
        async move { b.shutdown().await }
    });
    // `terminating` first: b keeps its read-ring place but takes no new work.
    wait_until(|| {
        a.peers()
            .iter()
            .any(|p| p.name == "node-b" && p.state == PeerState::Terminating)
    })
    .await
    .expect("b is seen terminating");
    // Until the handoff instant b announced, b keeps its targets and a its own: each
    // target still has one owner, and a is ready to take b's.
    let now = owners(&[&a, &b]);
    for (t, (owner, h)) in targets().iter().zip(now.iter().zip(&hers)) {
        assert_eq!(owner == "node-b", *h, "{t:?} moved before the handoff");
        let key = target_key(t.iter().map(|(n, v)| (n.as_str(), v.as_str())));
        assert!(a.is_local_key_from_now(key), "a will own {t:?}");
    }
    wait_until(|| a.peers().len() == 1)
        .await
        .expect("b is gone");
    let took = start.elapsed();
    println!("a graceful leave took {took:?} (virtual)");
    assert!(owners(&[&a]).iter().all(|o| o == "node-a"));
    assert!(
        took >= HANDOFF_MARGIN,
        "b left before its handoff: {took:?}"
    );
    assert!(took < HANDOFF_MARGIN + Duration::from_secs(3), "{took:?}");
    leaving.await.unwrap();
    a.shutdown().await;
}

#[tokio::test(start_paused = true)]
async fn a_healed_partition_merges_back() {
    let net = MemoryNetwork::new();
    let a = node(&net, "node-a", addr(1), &[]).await;
    let b = node(&net, "node-b", addr(2), &[addr(1)]).await;
    wait_until(|| participants(&a).len() == 2 && participants(&b).len() == 2)
        .await
        .expect("2 nodes converge");
    // Let a few probe rounds pass: a node whose new identity (participant) nobody has
    // addressed yet does not probe, so a cut right after the change would go unseen
    // on that side until the cut heals.
    tokio::time::sleep(Duration::from_secs(5)).await;
    net.cut(addr(1), addr(2));
    wait_until(|| participants(&a).len() == 1 && participants(&b).len() == 1)
        .await
        .unwrap_or_else(|| panic!("each side drops the other: {:?} {:?}", a.peers(), b.peers()));
    // Each alone owns everything it sees.
    assert!(owners(&[&a]).iter().all(|o| o == "node-a"));
    net.heal(addr(1), addr(2));
    // As upstream, the periodic rejoin heals the split: b announces itself to a again,
    // and whichever identity the other declared down renews itself.
    let took = wait_until(|| participants(&a).len() == 2 && participants(&b).len() == 2)
        .await
        .expect("the partition heals");
    println!("healed in {took:?} (virtual)");
    owners(&[&a, &b]);
    a.shutdown().await;
    b.shutdown().await;
}

/// This node as its own view lists it.
fn me(c: &Cluster) -> Peer {
    c.peers()
        .into_iter()
        .find(|p| p.is_self)
        .expect("a node always lists itself")
}

/// When `participate` returns, the node's own view shows it a participant. The
/// gossip task used to answer the state change before publishing the new peer list,
/// and the view could then be written with the list from before the change after
/// the newer one: the node stayed a viewer in its own eyes for good (seen as a
/// flaky `/api/v0/web/peers` in the CLI cluster tests). Two worker threads let the
/// gossip task and the caller really run at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_sees_its_own_state_change_as_soon_as_it_made_it() {
    for round in 0..40 {
        let net = MemoryNetwork::new();
        let a = viewer(&net, "node-a", addr(1), &[]).await;
        a.set_config_hash(&format!("hash-{round}"));
        a.participate().await;
        assert_eq!(me(&a).state, PeerState::Participant, "round {round}");
        // The hash comes on its own time, but it comes, and the state stays.
        wait_until(|| me(&a).config_hash == format!("hash-{round}"))
            .await
            .unwrap_or_else(|| panic!("round {round}: hash never shown: {:?}", a.peers()));
        assert_eq!(me(&a).state, PeerState::Participant, "round {round}");
        a.shutdown().await;
    }
}

/// A burst of config hash changes, more than the gossip task's queue holds, while
/// the task cannot run (one thread, no await in between): the latest hash is what
/// the node shows and what its peer learns, none is dropped.
#[tokio::test(start_paused = true)]
async fn the_latest_config_hash_is_gossiped_however_many_come_at_once() {
    let net = MemoryNetwork::new();
    let a = node(&net, "node-a", addr(1), &[]).await;
    let b = node(&net, "node-b", addr(2), &[addr(1)]).await;
    wait_until(|| participants(&a).len() == 2 && participants(&b).len() == 2)
        .await
        .expect("2 nodes converge");
    for i in 0..3000 {
        b.set_config_hash(&format!("hash-{i}"));
    }
    let b_seen_by_a = || {
        a.peers()
            .into_iter()
            .find(|p| p.name == "node-b")
            .map(|p| (p.state, p.config_hash))
    };
    let took = wait_until(|| {
        me(&b).config_hash == "hash-2999"
            && b_seen_by_a() == Some((PeerState::Participant, "hash-2999".to_string()))
    })
    .await
    .unwrap_or_else(|| panic!("the last hash was lost: {:?} {:?}", a.peers(), b.peers()));
    println!("the last of 3000 hashes reached the peer in {took:?} (virtual)");
    assert_eq!(me(&b).state, PeerState::Participant);
    a.shutdown().await;
    b.shutdown().await;
}
