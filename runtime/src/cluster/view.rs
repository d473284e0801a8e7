//! What this node knows about the cluster at one moment: the live peers, the two rings
//! built from them, and wait-for-size readiness. Plain `&mut self` code with no clock
//! and no sockets; the [`super::Cluster`] service feeds it.

use super::admission::Admission;
use super::peer::{Peer, PeerState};
use super::ring::{target_key, Ring};
use std::time::Instant;

/// Which ring a lookup uses (ckit's `shard.OpRead` / `shard.OpReadWrite`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Participants and terminating nodes.
    Read,
    /// Participants only: who takes new work.
    ReadWrite,
}

/// The local node's picture of the cluster.
#[derive(Debug, Clone)]
pub struct ClusterView {
    self_name: String,
    /// Without clustering every node is ready and owns everything it is asked about.
    enabled: bool,
    /// Live peers (this node included), sorted by name.
    peers: Vec<Peer>,
    read: Ring,
    read_write: Ring,
    admission: Admission,
}

impl ClusterView {
    pub fn new(self_name: &str, enabled: bool, admission: Admission) -> ClusterView {
        ClusterView {
            self_name: self_name.to_string(),
            enabled,
            peers: Vec::new(),
            read: Ring::default(),
            read_write: Ring::default(),
            admission,
        }
    }

    pub fn self_name(&self) -> &str {
        &self.self_name
    }

    pub fn peers(&self) -> &[Peer] {
        &self.peers
    }

    pub fn admission(&self) -> &Admission {
        &self.admission
    }

    /// Replaces the peer list. Returns whether either ring changed, which is what
    /// makes ownership move.
    pub fn set_peers(&mut self, mut peers: Vec<Peer>, now: Instant) -> bool {
        peers.sort_by(|a, b| a.name.cmp(&b.name).then(a.addr.cmp(&b.addr)));
        let members = |keep: fn(PeerState) -> bool| -> Vec<String> {
            peers
                .iter()
                .filter(|p| keep(p.state))
                .map(|p| p.name.clone())
                .collect()
        };
        let read = members(PeerState::in_read_ring);
        let read_write = members(PeerState::in_read_write_ring);
        let changed = read != ring_names(&self.read) || read_write != ring_names(&self.read_write);
        if changed {
            self.read = Ring::new(read);
            self.read_write = Ring::new(read_write);
        }
        let non_viewers = peers.iter().filter(|p| p.state.in_read_ring()).count();
        self.admission.on_change(non_viewers, now);
        self.peers = peers;
        changed
    }

    /// Lets a wait-for-size deadline pass; `true` means components must be told.
    pub fn tick(&mut self, now: Instant) -> bool {
        self.admission.tick(now)
    }

    /// Whether clustered components may take work (§7); always when clustering is off.
    pub fn ready(&self) -> bool {
        !self.enabled || self.admission.ready_for_traffic()
    }

    /// The primary owner of `key` in the ring chosen by `op`.
    pub fn lookup(&self, key: u64, op: Op) -> Result<Option<&str>, String> {
        let ring = match op {
            Op::Read => &self.read,
            Op::ReadWrite => &self.read_write,
        };
        Ok(ring.lookup(key, 1)?.first().copied())
    }

    /// The ownership rule of CLUSTERING.md §6 for one ring key: nothing is local while
    /// the cluster is not ready; otherwise the key is local if this node is its owner
    /// in the read-write ring, or if the lookup fails or finds nobody (so a lone
    /// viewer, or a cluster with no participants yet, keeps its work).
    pub fn is_local_key(&self, key: u64) -> bool {
        if !self.enabled {
            return true;
        }
        if !self.ready() {
            return false;
        }
        match self.lookup(key, Op::ReadWrite) {
            Ok(Some(owner)) => owner == self.self_name,
            Ok(None) | Err(_) => true,
        }
    }

    /// [`ClusterView::is_local_key`] for a target's labels.
    pub fn is_local<'a>(&self, labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        self.is_local_key(target_key(labels))
    }
}

fn ring_names(ring: &Ring) -> Vec<String> {
    ring.names().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(name: &str, state: PeerState) -> Peer {
        Peer {
            name: name.into(),
            addr: format!("{name}:12345"),
            state,
            is_self: name == "a",
        }
    }

    fn view(size: usize) -> ClusterView {
        ClusterView::new("a", true, Admission::new(size, None, Instant::now()))
    }

    /// A key the read-write ring of {a, b} gives to `owner`.
    fn key_owned_by(v: &ClusterView, owner: &str) -> u64 {
        (0u64..)
            .map(|i| i.wrapping_mul(0x9E37_79B9_7F4A_7C15))
            .find(|&k| v.lookup(k, Op::ReadWrite).unwrap() == Some(owner))
            .unwrap()
    }

    #[test]
    fn participants_own_their_share_and_viewers_nothing() {
        let mut v = view(0);
        let now = Instant::now();
        assert!(v.set_peers(
            vec![
                peer("a", PeerState::Participant),
                peer("b", PeerState::Participant),
                peer("c", PeerState::Viewer),
            ],
            now,
        ));
        let mine = key_owned_by(&v, "a");
        let theirs = key_owned_by(&v, "b");
        assert!(v.is_local_key(mine));
        assert!(!v.is_local_key(theirs));
        // The viewer is in no ring, so nothing ever maps to it.
        assert!((0..2000u64).all(|k| v
            .lookup(k.wrapping_mul(0x517C_C1B7_2722_0A95), Op::Read)
            .unwrap()
            != Some("c")));
    }

    #[test]
    fn terminating_nodes_leave_only_the_read_write_ring() {
        let mut v = view(0);
        let now = Instant::now();
        v.set_peers(
            vec![
                peer("a", PeerState::Participant),
                peer("b", PeerState::Participant),
            ],
            now,
        );
        let theirs = key_owned_by(&v, "b");
        assert!(v.set_peers(
            vec![
                peer("a", PeerState::Participant),
                peer("b", PeerState::Terminating)
            ],
            now,
        ));
        assert_eq!(v.lookup(theirs, Op::Read).unwrap(), Some("b"));
        assert_eq!(v.lookup(theirs, Op::ReadWrite).unwrap(), Some("a"));
        assert!(v.is_local_key(theirs));
    }

    #[test]
    fn a_failed_lookup_means_local() {
        // This node is still a viewer and nobody participates: the lookup errors out.
        let mut v = view(0);
        v.set_peers(vec![peer("a", PeerState::Viewer)], Instant::now());
        assert!(v.lookup(1, Op::ReadWrite).is_err());
        assert!(v.is_local([("__address__", "x:80")]));
    }

    #[test]
    fn nothing_is_local_until_the_cluster_is_big_enough() {
        let mut v = view(2);
        let now = Instant::now();
        v.set_peers(vec![peer("a", PeerState::Participant)], now);
        assert!(!v.ready());
        assert!(!v.is_local_key(42));
        v.set_peers(
            vec![
                peer("a", PeerState::Participant),
                peer("b", PeerState::Terminating),
            ],
            now,
        );
        assert!(v.ready());
        // `b` is terminating: counted for the size, but `a` owns everything.
        assert!(v.is_local_key(42));
    }

    #[test]
    fn without_clustering_everything_is_local() {
        let mut v = ClusterView::new("a", false, Admission::new(5, None, Instant::now()));
        v.set_peers(vec![peer("a", PeerState::Viewer)], Instant::now());
        assert!(v.ready());
        assert!(v.is_local([("job", "x")]));
    }

    #[test]
    fn the_same_peers_do_not_count_as_a_ring_change() {
        let mut v = view(0);
        let now = Instant::now();
        let peers = vec![
            peer("b", PeerState::Participant),
            peer("a", PeerState::Participant),
        ];
        assert!(v.set_peers(peers.clone(), now));
        assert!(!v.set_peers(peers.into_iter().rev().collect(), now));
        // A viewer joining changes no ring either.
        assert!(!v.set_peers(
            vec![
                peer("a", PeerState::Participant),
                peer("b", PeerState::Participant),
                peer("z", PeerState::Viewer),
            ],
            now,
        ));
    }

    #[test]
    fn every_node_agrees_on_the_owner() {
        // Two nodes that see the same peers compute disjoint, complete ownership.
        let peers = |me: &str| {
            ["a", "b", "c"]
                .iter()
                .map(|n| Peer {
                    name: n.to_string(),
                    addr: String::new(),
                    state: PeerState::Participant,
                    is_self: *n == me,
                })
                .collect::<Vec<_>>()
        };
        let now = Instant::now();
        let views: Vec<ClusterView> = ["a", "b", "c"]
            .iter()
            .map(|me| {
                let mut v = ClusterView::new(me, true, Admission::new(0, None, now));
                v.set_peers(peers(me), now);
                v
            })
            .collect();
        for i in 0..300 {
            let addr = format!("10.0.0.{i}:9100");
            let labels = [("__address__", addr.as_str()), ("job", "node")];
            let owners = views.iter().filter(|v| v.is_local(labels)).count();
            assert_eq!(owners, 1, "{addr}");
        }
    }
}
