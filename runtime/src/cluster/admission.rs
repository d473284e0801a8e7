//! `--cluster.wait-for-size` admission control (CLUSTERING.md §7) as a clockless state
//! machine: the caller passes `now`, so tests need no timers.

use std::time::{Duration, Instant};

/// Where the node stands on taking work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    NotReady,
    Ready,
    /// The wait timed out; the node takes work although the cluster is too small.
    DeadlinePassed,
}

/// Tracks readiness against a minimum cluster size and an optional wait timeout.
#[derive(Debug, Clone)]
pub struct Admission {
    /// Minimum number of non-viewer peers; 0 disables admission control.
    size: usize,
    /// How long to stay not-ready; `None` waits forever.
    timeout: Option<Duration>,
    state: Readiness,
    deadline: Option<Instant>,
}

impl Admission {
    /// A node that has not seen any peer yet. With `size == 0` it is ready at once.
    pub fn new(size: usize, timeout: Option<Duration>, now: Instant) -> Admission {
        let mut admission = Admission {
            size,
            timeout: timeout.filter(|t| !t.is_zero()),
            state: Readiness::Ready,
            deadline: None,
        };
        if size > 0 {
            admission.state = Readiness::NotReady;
            admission.deadline = admission.timeout.map(|t| now + t);
        }
        admission
    }

    pub fn minimum_size(&self) -> usize {
        self.size
    }

    pub fn state(&self) -> Readiness {
        self.state
    }

    /// Whether clustered components may take work.
    pub fn ready_for_traffic(&self) -> bool {
        self.state != Readiness::NotReady
    }

    /// When [`Admission::tick`] should next be called, if ever.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Re-evaluates after a membership change, given the number of non-viewer peers
    /// (participants and terminating, this node included).
    pub fn on_change(&mut self, non_viewers: usize, now: Instant) {
        if self.size == 0 {
            return;
        }
        if non_viewers >= self.size {
            self.state = Readiness::Ready;
            self.deadline = None;
            return;
        }
        match self.state {
            // Once given up on waiting, a shrinking cluster does not stop work again.
            Readiness::DeadlinePassed => {}
            Readiness::Ready => {
                self.state = Readiness::NotReady;
                self.deadline = self.timeout.map(|t| now + t);
            }
            Readiness::NotReady => {}
        }
    }

    /// Moves to deadline-passed if the deadline is due. Returns whether it did, in
    /// which case components must be told even though membership did not change.
    pub fn tick(&mut self, now: Instant) -> bool {
        match self.deadline {
            Some(deadline) if self.state == Readiness::NotReady && now >= deadline => {
                self.state = Readiness::DeadlinePassed;
                self.deadline = None;
                true
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn size_zero_is_always_ready() {
        let now = Instant::now();
        let mut a = Admission::new(0, Some(S), now);
        assert!(a.ready_for_traffic());
        a.on_change(0, now);
        assert!(a.ready_for_traffic());
        assert_eq!(a.deadline(), None);
    }

    #[test]
    fn becomes_ready_at_size_and_not_ready_again_below_it() {
        let t0 = Instant::now();
        let mut a = Admission::new(3, None, t0);
        assert_eq!(a.state(), Readiness::NotReady);
        a.on_change(2, t0);
        assert_eq!(a.state(), Readiness::NotReady);
        a.on_change(3, t0);
        assert_eq!(a.state(), Readiness::Ready);
        a.on_change(2, t0);
        assert_eq!(a.state(), Readiness::NotReady);
        // No timeout: waiting never ends on its own.
        assert!(!a.tick(t0 + 1000 * S));
        assert_eq!(a.state(), Readiness::NotReady);
    }

    #[test]
    fn the_deadline_passes_once_and_restarts_when_leaving_ready() {
        let t0 = Instant::now();
        let mut a = Admission::new(2, Some(10 * S), t0);
        assert_eq!(a.deadline(), Some(t0 + 10 * S));
        assert!(!a.tick(t0 + 9 * S));
        assert!(a.tick(t0 + 10 * S));
        assert_eq!(a.state(), Readiness::DeadlinePassed);
        assert!(a.ready_for_traffic());
        // Still too small: stays deadline-passed.
        a.on_change(1, t0 + 11 * S);
        assert_eq!(a.state(), Readiness::DeadlinePassed);
        // Big enough, then too small again: the timer starts over from that moment.
        a.on_change(2, t0 + 12 * S);
        assert_eq!(a.state(), Readiness::Ready);
        a.on_change(1, t0 + 20 * S);
        assert_eq!(a.state(), Readiness::NotReady);
        assert_eq!(a.deadline(), Some(t0 + 30 * S));
        assert!(!a.tick(t0 + 29 * S));
        assert!(a.tick(t0 + 30 * S));
    }
}
