//! What "ready" and "up for" mean to a probe (`s6-svstat --ready`, `--json`, `--up-for`, and
//! `s6-rs status`): one rule, so that every reader agrees.
//!
//! s6-supervise sets the `ready` flag only for a service that notifies readiness
//! (`notification-fd`); a service without it never gets the flag. A probe counts such a
//! service as ready as soon as it is up (s6-svwait -U would wait forever on it, which is what
//! a health check must not do). A service with a valid `notification-fd` is ready once it has
//! notified. "Up for N seconds" is measured from the last up transition, which every restart
//! resets, so a crash-looping service that happens to be up at probe time is not "up for" long.

use crate::status::StatusRecord;
use crate::tai::Tai64n;

/// Ready as probes see it: up, and notified readiness if the service notifies it at all.
/// `notifies` is whether the service directory has a valid `notification-fd`.
pub fn is_ready(st: &StatusRecord, notifies: bool) -> bool {
    st.is_up() && (st.ready || !notifies)
}

/// Whole seconds the service has been up (since its last start) at `now`; `None` when down.
/// A stamp in the future counts as 0 (clock stepped back).
pub fn up_for(st: &StatusRecord, now: &Tai64n) -> Option<u64> {
    st.is_up().then(|| st.stamp.secs_until(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pid: u64, ready: bool, finishing: bool, secs: u64) -> StatusRecord {
        StatusRecord {
            stamp: Tai64n { secs, nanos: 0 },
            pid,
            ready,
            finishing,
            ..StatusRecord::default()
        }
    }

    #[test]
    fn ready_rule() {
        assert!(is_ready(&rec(7, false, false, 0), false));
        assert!(!is_ready(&rec(7, false, false, 0), true));
        assert!(is_ready(&rec(7, true, false, 0), true));
        // Down, or running ./finish: never ready, whatever the flag says.
        assert!(!is_ready(&rec(0, true, false, 0), false));
        assert!(!is_ready(&rec(7, true, true, 0), false));
    }

    #[test]
    fn up_for_rule() {
        let now = Tai64n {
            secs: 100,
            nanos: 0,
        };
        assert_eq!(up_for(&rec(7, false, false, 40), &now), Some(60));
        assert_eq!(up_for(&rec(7, false, false, 140), &now), Some(0));
        assert_eq!(up_for(&rec(0, false, false, 40), &now), None);
    }
}
