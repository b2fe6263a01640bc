//! `s6-supervise` (also built as `supervise`): a drop-in for skarnet's s6-supervise 2.15.1.
//!
//! * [`core`] is the pure state machine (states, transitions, restart throttle, readiness,
//!   finish, timeouts): inputs in, actions out, no I/O, no clock.
//! * [`driver`] owns every file descriptor, signal and process: it sets up `supervise/` and
//!   `event/`, waits on one `mio::Poll` (control FIFO, signals, notification pipe) with the
//!   core's single deadline, and performs the core's actions.
//! * [`spawn`] starts ./run and ./finish (clone(CLONE_VM|CLONE_VFORK) like posix_spawn, fork when
//!   the child may wait for the service lock, or clone(CLONE_NEWPID); setsid, clean signals,
//!   fds moved into place, exec errors reported synchronously).
//! * [`msgs`] holds every runtime message, with s6's texts.
//!
//! Deliberate differences from s6 2.15.1 (its known bugs, spec README "traps" 18):
//! * `notification-fd` 0 warns `invalid notification-fd` and the service starts without
//!   readiness (s6 never starts it);
//! * `supervise` / `event` symlinked to an existing directory use that directory (s6 dies with
//!   `unable to mkdir ...: File exists`);
//! * with `lock-fd` the service really holds a POSIX lock on `supervise/service-lock`: the
//!   child takes it after moving the fd into place (if another instance holds it, the child
//!   waits for it before exec'ing ./run, as under s6-setlock, while the supervisor goes on);
//!   s6 2.15 hands the fd over with the lock already dropped;
//! * `Q` is honoured (2.15.1's command table ignores it);
//! * control bytes after an exit-causing `x` in the same read are not acted upon.

pub mod core;
pub mod driver;
pub mod msgs;
pub mod spawn;

/// Entry point of `s6-supervise`.
pub fn supervise_main() -> ! {
    driver::main()
}
