//! Our own programs (not s6 names: s6's programs keep s6's behaviour).
//!
//! * [`status`]: `s6-rs status [ --json ] [ DIR... ]` (`s6-rs-status`), every service of a scan
//!   directory at a glance: one aligned line per service and per `log/` service (state, pid,
//!   for how long, ready, wanted state, last exit code or signal, restarts counted in the
//!   death tally), colour only on a terminal, `--json` (one array), and an exit code that
//!   summarises (0 all as wanted, 1 not, 111 unreadable); `--up-for N` also asks that each
//!   service wanted up has been up for N seconds (a liveness probe). With no directory it shows the scan
//!   directory of every running `s6-svscan` (its working directory, through /proc), else the
//!   first of `/run/service`, `/etc/s6`, `/etc/service`.
//!
//! "Ready" is [`common::health::is_ready`], the rule `s6-svstat --ready` and `--json` use too:
//! up, and readiness notified when the service has a `notification-fd` (a service without one
//! is ready once up). The overview only reads: it never creates a missing death tally the way
//! `s6-svdt` does, and never takes a lock.

pub mod status;

/// Entry point of `s6-rs-status` (`s6-rs status`).
pub fn status_main() -> ! {
    status::main()
}
