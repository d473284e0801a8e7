//! What this node knows about the cluster at one moment: the live peers, the rings
//! built from them, and wait-for-size readiness. Plain `&mut self` code with no clock
//! and no sockets; the [`super::Cluster`] service feeds it.
//!
//! Handoffs (issue 6): a state change takes effect for ownership at the instant the
//! node announces with it ([`Peer::effective_ms`]), not when each peer hears of it.
//! So the read-write ring is a function of time: a schedule of rings, each in force
//! from an instant on. Every node holds the same schedule once gossip has spread, and
//! asks it about a scrape *slot's* instant, so the node losing a target and the one
//! gaining it agree which of them covers each slot: the loser every slot before the
//! handoff instant, the gainer every slot from it on.

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
    /// The read-write ring once every announced change has taken effect.
    read_write: Ring,
    /// Earlier read-write rings still in force for some instants: `(until_ms, ring)`,
    /// ascending; the ring applies to instants before `until_ms` (and at or after
    /// the previous entry's). Empty when no handoff is pending or recent.
    schedule: Vec<(u64, Ring)>,
    admission: Admission,
}

/// How far back the ring schedule stays exact: a slot is asked about around its own
/// instant, never a minute later, so older changes fold into the earliest ring.
const HISTORY_MS: u64 = 60_000;

impl ClusterView {
    pub fn new(self_name: &str, enabled: bool, admission: Admission) -> ClusterView {
        ClusterView {
            self_name: self_name.to_string(),
            enabled,
            peers: Vec::new(),
            read: Ring::default(),
            read_write: Ring::default(),
            schedule: Vec::new(),
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

    /// Replaces the peer list. Returns whether any ring changed, which is what makes
    /// ownership move. `now_ms` is the cluster clock: changes older than
    /// [`HISTORY_MS`] fold into the earliest ring of the schedule.
    pub fn set_peers(&mut self, mut peers: Vec<Peer>, now: Instant, now_ms: u64) -> bool {
        peers.sort_by(|a, b| a.name.cmp(&b.name).then(a.addr.cmp(&b.addr)));
        let read: Vec<String> = peers
            .iter()
            .filter(|p| p.state.in_read_ring())
            .map(|p| p.name.clone())
            .collect();
        // The instants at which some read-write membership changes, in the window
        // that still matters.
        let horizon = now_ms.saturating_sub(HISTORY_MS);
        let mut instants: Vec<u64> = peers
            .iter()
            .filter(|p| p.state.in_read_ring() && p.effective_ms > horizon)
            .map(|p| p.effective_ms)
            .collect();
        instants.sort_unstable();
        instants.dedup();
        let at = |t: u64| -> Vec<String> {
            peers
                .iter()
                .filter(|p| in_read_write_ring_at(p, t))
                .map(|p| p.name.clone())
                .collect()
        };
        let final_names = at(u64::MAX);
        let mut schedule_names: Vec<(u64, Vec<String>)> = Vec::new();
        // The ring before each instant, merging neighbours with equal members.
        for (i, until) in instants.iter().enumerate() {
            let from = if i == 0 { horizon } else { instants[i - 1] };
            let names = at(from);
            match schedule_names.last_mut() {
                Some((last_until, last)) if *last == names => *last_until = *until,
                _ => schedule_names.push((*until, names)),
            }
        }
        while schedule_names
            .last()
            .is_some_and(|(_, names)| *names == final_names)
        {
            schedule_names.pop();
        }
        let old_schedule: Vec<(u64, Vec<String>)> = self
            .schedule
            .iter()
            .map(|(until, ring)| (*until, ring_names(ring)))
            .collect();
        let changed = read != ring_names(&self.read)
            || final_names != ring_names(&self.read_write)
            || schedule_names != old_schedule;
        if changed {
            self.read = Ring::new(read);
            self.read_write = Ring::new(final_names);
            self.schedule = schedule_names
                .into_iter()
                .map(|(until, names)| (until, Ring::new(names)))
                .collect();
        }
        let non_viewers = peers.iter().filter(|p| p.state.in_read_ring()).count();
        self.admission.on_change(non_viewers, now);
        self.peers = peers;
        changed
    }

    /// The next instant after `now_ms` at which the read-write ring changes by itself
    /// (an announced handoff takes effect), if any: components must re-shard then.
    pub fn next_handoff_after(&self, now_ms: u64) -> Option<u64> {
        self.schedule
            .iter()
            .map(|(until, _)| *until)
            .find(|until| *until > now_ms)
    }

    /// The read-write ring in force at `at_ms`.
    pub fn read_write_ring_at(&self, at_ms: u64) -> &Ring {
        self.schedule
            .iter()
            .find(|(until, _)| at_ms < *until)
            .map_or(&self.read_write, |(_, ring)| ring)
    }

    /// The instants at or after `from_ms` where ownership may differ from the ring
    /// in force at `from_ms`: the starts of the later rings of the schedule.
    fn later_instants(&self, from_ms: u64) -> impl Iterator<Item = u64> + '_ {
        self.schedule
            .iter()
            .map(|(until, _)| *until)
            .filter(move |until| *until > from_ms)
    }

    /// Lets a wait-for-size deadline pass; `true` means components must be told.
    pub fn tick(&mut self, now: Instant) -> bool {
        self.admission.tick(now)
    }

    /// Whether clustered components may take work (§7); always when clustering is off.
    pub fn ready(&self) -> bool {
        !self.enabled || self.admission.ready_for_traffic()
    }

    /// The primary owner of `key` in the ring chosen by `op`, once every announced
    /// change has taken effect.
    pub fn lookup(&self, key: u64, op: Op) -> Result<Option<&str>, String> {
        let ring = match op {
            Op::Read => &self.read,
            Op::ReadWrite => &self.read_write,
        };
        Ok(ring.lookup(key, 1)?.first().copied())
    }

    /// The owner of `key` in the read-write ring in force at `at_ms`.
    pub fn lookup_at(&self, key: u64, at_ms: u64) -> Result<Option<&str>, String> {
        Ok(self
            .read_write_ring_at(at_ms)
            .lookup(key, 1)?
            .first()
            .copied())
    }

    /// The ownership rule of CLUSTERING.md §6 for one ring key: nothing is local while
    /// the cluster is not ready; otherwise the key is local if this node is its owner
    /// in the read-write ring, or if the lookup fails or finds nobody (so a lone
    /// viewer, or a cluster with no participants yet, keeps its work). This is the
    /// answer once every announced handoff has taken effect.
    pub fn is_local_key(&self, key: u64) -> bool {
        self.is_local_key_at(key, u64::MAX)
    }

    /// [`ClusterView::is_local_key`] for the scrape slot (or any instant) `at_ms`.
    pub fn is_local_key_at(&self, key: u64, at_ms: u64) -> bool {
        if !self.enabled {
            return true;
        }
        if !self.ready() {
            return false;
        }
        match self.lookup_at(key, at_ms) {
            Ok(Some(owner)) => owner == self.self_name,
            Ok(None) | Err(_) => true,
        }
    }

    /// Whether this node owns `key` at `now_ms` or at any instant after it: a losing
    /// node keeps its scrape loop until the handoff, a gaining one starts it before.
    pub fn is_local_key_from(&self, key: u64, now_ms: u64) -> bool {
        self.is_local_key_at(key, now_ms)
            || self
                .later_instants(now_ms)
                .any(|at| self.is_local_key_at(key, at))
            || self.is_local_key(key)
    }

    /// [`ClusterView::is_local_key`] for a target's labels.
    pub fn is_local<'a>(&self, labels: impl IntoIterator<Item = (&'a str, &'a str)>) -> bool {
        self.is_local_key(target_key(labels))
    }
}

/// Whether `peer` takes new work at `at_ms`: a participant from its effective
/// instant on, a terminating node until its effective instant.
fn in_read_write_ring_at(peer: &Peer, at_ms: u64) -> bool {
    match peer.state {
        PeerState::Viewer => false,
        PeerState::Participant => peer.effective_ms <= at_ms,
        PeerState::Terminating => peer.effective_ms > at_ms,
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
            ..Peer::default()
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
            0
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
            0,
        );
        let theirs = key_owned_by(&v, "b");
        assert!(v.set_peers(
            vec![
                peer("a", PeerState::Participant),
                peer("b", PeerState::Terminating)
            ],
            now,
            0
        ));
        assert_eq!(v.lookup(theirs, Op::Read).unwrap(), Some("b"));
        assert_eq!(v.lookup(theirs, Op::ReadWrite).unwrap(), Some("a"));
        assert!(v.is_local_key(theirs));
    }

    #[test]
    fn a_failed_lookup_means_local() {
        // This node is still a viewer and nobody participates: the lookup errors out.
        let mut v = view(0);
        v.set_peers(vec![peer("a", PeerState::Viewer)], Instant::now(), 0);
        assert!(v.lookup(1, Op::ReadWrite).is_err());
        assert!(v.is_local([("__address__", "x:80")]));
    }

    #[test]
    fn nothing_is_local_until_the_cluster_is_big_enough() {
        let mut v = view(2);
        let now = Instant::now();
        v.set_peers(vec![peer("a", PeerState::Participant)], now, 0);
        assert!(!v.ready());
        assert!(!v.is_local_key(42));
        v.set_peers(
            vec![
                peer("a", PeerState::Participant),
                peer("b", PeerState::Terminating),
            ],
            now,
            0,
        );
        assert!(v.ready());
        // `b` is terminating: counted for the size, but `a` owns everything.
        assert!(v.is_local_key(42));
    }

    #[test]
    fn without_clustering_everything_is_local() {
        let mut v = ClusterView::new("a", false, Admission::new(5, None, Instant::now()));
        v.set_peers(vec![peer("a", PeerState::Viewer)], Instant::now(), 0);
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
        assert!(v.set_peers(peers.clone(), now, 0));
        assert!(!v.set_peers(peers.into_iter().rev().collect(), now, 0));
        // A viewer joining changes no ring either.
        assert!(!v.set_peers(
            vec![
                peer("a", PeerState::Participant),
                peer("b", PeerState::Participant),
                peer("z", PeerState::Viewer),
            ],
            now,
            0
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
                    ..Peer::default()
                })
                .collect::<Vec<_>>()
        };
        let now = Instant::now();
        let views: Vec<ClusterView> = ["a", "b", "c"]
            .iter()
            .map(|me| {
                let mut v = ClusterView::new(me, true, Admission::new(0, None, now));
                v.set_peers(peers(me), now, 0);
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

    #[test]
    fn a_handoff_takes_effect_at_the_announced_instant_on_both_sides() {
        let now = Instant::now();
        let with = |me: &str, b_state: PeerState, b_from: u64| {
            let mut v = ClusterView::new(me, true, Admission::new(0, None, now));
            let peers = vec![
                Peer {
                    is_self: me == "a",
                    ..peer("a", PeerState::Participant)
                },
                Peer {
                    effective_ms: b_from,
                    is_self: me == "b",
                    ..peer("b", b_state)
                },
            ];
            v.set_peers(peers, now, 1_000);
            v
        };
        // b joins, effective at 5000: a keeps everything for slots before it.
        let (a, b) = (
            with("a", PeerState::Participant, 5_000),
            with("b", PeerState::Participant, 5_000),
        );
        assert_eq!(a.next_handoff_after(1_000), Some(5_000));
        assert_eq!(a.next_handoff_after(5_000), None);
        let moving = key_owned_by(&a, "b");
        assert!(a.is_local_key_at(moving, 4_999) && !b.is_local_key_at(moving, 4_999));
        assert!(!a.is_local_key_at(moving, 5_000) && b.is_local_key_at(moving, 5_000));
        assert!(
            a.is_local_key_from(moving, 1_000),
            "a keeps it until the handoff"
        );
        assert!(!a.is_local_key_from(moving, 5_000));
        assert!(b.is_local_key_from(moving, 1_000), "b is ready before it");
        // b leaves, effective at 5000: the mirror image.
        let (a, b) = (
            with("a", PeerState::Terminating, 5_000),
            with("b", PeerState::Terminating, 5_000),
        );
        assert!(!a.is_local_key_at(moving, 4_999) && b.is_local_key_at(moving, 4_999));
        assert!(a.is_local_key_at(moving, 5_000) && !b.is_local_key_at(moving, 5_000));
        // Every slot has exactly one owner on either side of the instant.
        for t in [0, 4_999, 5_000, 9_000] {
            for i in 0..200u64 {
                let k = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                assert!(
                    a.is_local_key_at(k, t) ^ b.is_local_key_at(k, t),
                    "{k} at {t}"
                );
            }
        }
    }
}
