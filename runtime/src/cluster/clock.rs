//! The cluster clock: Unix-epoch milliseconds that advance with tokio's clock. In a
//! real process it is the wall clock (read once at first use, then advanced by the
//! monotonic clock, so a stepped system clock does not move handoffs); under a paused
//! tokio clock in tests it advances with virtual time, so handoff instants pass there
//! too.

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The wall clock and tokio's clock read at the same moment.
static BASE: OnceLock<(u64, std::time::Instant)> = OnceLock::new();

fn base() -> (u64, std::time::Instant) {
    *BASE.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        (wall, tokio_now())
    })
}

/// tokio's clock when inside a runtime, the monotonic clock otherwise.
fn tokio_now() -> std::time::Instant {
    match tokio::runtime::Handle::try_current() {
        Ok(_) => tokio::time::Instant::now().into_std(),
        Err(_) => std::time::Instant::now(),
    }
}

/// Now, in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    let (wall, at) = base();
    wall + tokio_now().saturating_duration_since(at).as_millis() as u64
}

/// How long until the cluster clock reads `at_ms` (zero if it has).
pub fn until(at_ms: u64) -> Duration {
    Duration::from_millis(at_ms.saturating_sub(now_ms()))
}
