//! The listener side of the event protocol, shared by `s6-svwait`, `s6-svlisten1`,
//! `s6-svlisten` and `s6-svc -w` (s6's `s6_svlisten_init` / `s6_svlisten_loop`).
//!
//! * [`Tracker`] is the pure state machine: per service an `up` and a `ready` bit, fed one
//!   event byte at a time, counting failures (`O` while waiting for up, `x` while not in the
//!   wanted state).
//! * [`Session`] subscribes to every service's `event/` fifodir (creating it if missing),
//!   *then* reads each status file, and runs the wait loop with a deadline.

use common::cli::fatal_bytes;
use common::event::ServiceEvent;
use common::fifodir::{self, Listener, WaitOutcome};
use common::layout;
use common::msg::exit;
use common::status::StatusRecord;
use common::Errno;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// What to wait for (`-u -U -d -D -r -R`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Want {
    /// `-u`: up.
    #[default]
    Up,
    /// `-U`: up and ready.
    UpReady,
    /// `-d`: down.
    Down,
    /// `-D`: down and ready (finish done).
    DownReady,
    /// `-r`: restarted (down, then up).
    Restart,
    /// `-R`: restarted and ready.
    RestartReady,
}

impl Want {
    /// From an option letter `u U d D r R`.
    pub fn from_letter(c: u8) -> Option<Want> {
        Some(match c {
            b'u' => Want::Up,
            b'U' => Want::UpReady,
            b'd' => Want::Down,
            b'D' => Want::DownReady,
            b'r' => Want::Restart,
            b'R' => Want::RestartReady,
            _ => return None,
        })
    }

    pub fn letter(self) -> u8 {
        match self {
            Want::Up => b'u',
            Want::UpReady => b'U',
            Want::Down => b'd',
            Want::DownReady => b'D',
            Want::Restart => b'r',
            Want::RestartReady => b'R',
        }
    }

    pub fn is_restart(self) -> bool {
        matches!(self, Want::Restart | Want::RestartReady)
    }

    /// The final phase: (want up, want ready).
    pub fn target(self) -> (bool, bool) {
        match self {
            Want::Up | Want::Restart => (true, false),
            Want::UpReady | Want::RestartReady => (true, true),
            Want::Down => (false, false),
            Want::DownReady => (false, true),
        }
    }
}

/// One wait phase: the condition every (or, with `or`, any) service must meet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phase {
    pub up: bool,
    pub ready: bool,
    pub or: bool,
}

/// Per-service `up` / `ready` bits, as s6's listeners track them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tracker {
    pub up: Vec<bool>,
    pub ready: Vec<bool>,
}

impl Tracker {
    /// Initial bits from the status files: `up` as every reader decides it, `ready` = raw flag.
    pub fn from_statuses(st: &[StatusRecord]) -> Tracker {
        Tracker {
            up: st.iter().map(StatusRecord::is_up).collect(),
            ready: st.iter().map(|s| s.ready).collect(),
        }
    }

    fn matches(&self, i: usize, p: Phase) -> bool {
        match (self.up.get(i), self.ready.get(i)) {
            (Some(&up), Some(&ready)) => up == p.up && (!p.ready || ready),
            _ => false,
        }
    }

    /// Whether the phase's condition holds (all services, or any with `or`; an empty set
    /// satisfies "all" and not "any").
    pub fn got(&self, p: Phase) -> bool {
        let n = self.up.len();
        if p.or {
            (0..n).any(|i| self.matches(i, p))
        } else {
            (0..n).all(|i| self.matches(i, p))
        }
    }

    /// Feed one event byte for service `i`; returns 1 if it counts as a failure. Bytes other
    /// than `d D u U O x` are ignored (s6 subscribes with the regex `[DuUdOx]`).
    pub fn feed(&mut self, i: usize, byte: u8, p: Phase) -> u32 {
        let (Some(up), Some(ready)) = (self.up.get_mut(i), self.ready.get_mut(i)) else {
            return 0;
        };
        let mut set = |u: bool, r: bool| {
            let changed = *up != u || *ready != r;
            *up = u;
            *ready = r;
            changed
        };
        use ServiceEvent as E;
        match ServiceEvent::from_byte(byte) {
            // The supervisor is gone: the service counts as arrived; a failure unless it
            // was in the wanted state.
            Some(E::Exit) => set(p.up, p.ready) as u32,
            // Waiting for up and the service will not come up: a failure.
            Some(E::PermanentFailure) if p.up => {
                set(p.up, p.ready);
                1
            }
            Some(E::Down) => {
                set(false, false);
                0
            }
            Some(E::DownReady) => {
                set(false, true);
                0
            }
            Some(E::Up) => {
                set(true, false);
                0
            }
            Some(E::Ready) => {
                set(true, true);
                0
            }
            Some(E::PermanentFailure | E::Start) | None => 0,
        }
    }
}

/// The phases of a wait. `restart_ready_first`: the first phase of `-r`/`-R` waits for
/// "down and ready" (`s6-svlisten1`, `s6-svlisten`) rather than just "down" (`s6-svwait`).
/// The first phase of a restart never uses `or` except in `s6-svlisten1` (one service).
pub fn phases(want: Want, or: bool, restart_first: Phase) -> Vec<Phase> {
    let (up, ready) = want.target();
    let last = Phase { up, ready, or };
    if want.is_restart() {
        vec![restart_first, last]
    } else {
        vec![last]
    }
}

/// Subscribed listeners plus the state read right after subscribing.
pub struct Session {
    pub listeners: Vec<Listener>,
    pub tracker: Tracker,
    pub deadline: Option<Instant>,
}

/// Errors of [`Session::start`], reported by the caller with its own program name.
#[derive(Debug, PartialEq, Eq)]
pub enum StartError {
    /// `unable to subscribe to events for DIR: ERR`
    Subscribe(OsString, Errno),
    /// `unable to s6_svstatus_read: ERR`
    Status(Errno),
    /// `unable to ignore SIGPIPE: ERR`
    IgnoreSigpipe(Errno),
}

impl StartError {
    /// Print s6's message and exit 111.
    pub fn die(&self, prog: &str) -> ! {
        match self {
            StartError::Subscribe(d, e) => fatal_bytes(
                prog,
                exit::SYSTEM,
                &[
                    b"unable to subscribe to events for ",
                    d.as_bytes(),
                    b": ",
                    common::msg::errno_text(*e).as_bytes(),
                ],
            ),
            StartError::Status(e) => fatal_bytes(
                prog,
                exit::SYSTEM,
                &[
                    b"unable to s6_svstatus_read: ",
                    common::msg::errno_text(*e).as_bytes(),
                ],
            ),
            StartError::IgnoreSigpipe(e) => fatal_bytes(
                prog,
                exit::SYSTEM,
                &[
                    b"unable to ignore SIGPIPE: ",
                    common::msg::errno_text(*e).as_bytes(),
                ],
            ),
        }
    }
}

/// Mode of our subscriber FIFOs (2.15's `prw--w--w-`).
pub const FIFO_MODE: u32 = fifodir::LISTENER_FIFO_MODE;

impl Session {
    /// For each dir in order: create `DIR/event` if missing (errors ignored, as s6 does),
    /// subscribe, read `DIR/supervise/status`. `timeout_ms == 0` means no deadline.
    pub fn start<A: AsRef<OsStr>>(dirs: &[A], timeout_ms: u32) -> Result<Session, StartError> {
        // A listener outlives the FIFOs it reads: never die of a write to a closed pipe.
        common::signals::alt_ignore(nix::sys::signal::Signal::SIGPIPE)
            .map_err(StartError::IgnoreSigpipe)?;
        let deadline = if timeout_ms == 0 {
            None
        } else {
            Some(Instant::now() + Duration::from_millis(timeout_ms as u64))
        };
        let gid = nix::unistd::getegid();
        let mut listeners = Vec::with_capacity(dirs.len());
        let mut statuses = Vec::with_capacity(dirs.len());
        for d in dirs {
            let d = d.as_ref();
            let (l, st) = if d.is_empty() {
                // s6 would create and subscribe to "/event", then fail to read
                // "/supervise/status"; give that message without touching "/".
                return Err(StartError::Status(Errno::ENOENT));
            } else {
                let ev = layout::subpath(d, layout::EVENT_DIR);
                let _ = fifodir::make(&ev, gid);
                let l = Listener::subscribe(&ev, FIFO_MODE)
                    .map_err(|e| StartError::Subscribe(d.to_owned(), e))?;
                let st =
                    StatusRecord::read(Path::new(d)).map_err(|e| StartError::Status(e.errno()))?;
                (l, st)
            };
            listeners.push(l);
            statuses.push(st);
        }
        Ok(Session {
            listeners,
            tracker: Tracker::from_statuses(&statuses),
            deadline,
        })
    }

    /// Run one phase: returns the failure count once the condition holds, or
    /// [`Outcome::TimedOut`].
    pub fn run_phase(&mut self, p: Phase) -> Result<Outcome, Errno> {
        if self.tracker.got(p) {
            return Ok(Outcome::Reached(0));
        }
        let mut fails = 0u32;
        let tracker = &mut self.tracker;
        let r = fifodir::wait(&self.listeners, self.deadline, |i, b| {
            fails += tracker.feed(i, b, p);
            tracker.got(p)
        })?;
        Ok(match r {
            WaitOutcome::Done => Outcome::Reached(fails),
            WaitOutcome::TimedOut => Outcome::TimedOut,
        })
    }

    /// Run every phase; a phase ending with failures stops the sequence. Exits the process
    /// with s6's messages on timeout (99) or a loop error (111); returns the failure count.
    pub fn run_all(&mut self, prog: &str, phases: &[Phase]) -> u32 {
        for &p in phases {
            let r = self.run_phase(p);
            if !matches!(r, Ok(Outcome::Reached(0))) {
                // Remove our FIFOs before exiting (process::exit runs no destructors).
                self.listeners.clear();
            }
            match r {
                Ok(Outcome::Reached(0)) => continue,
                Ok(Outcome::Reached(n)) => return n,
                Ok(Outcome::TimedOut) => fatal_bytes(prog, exit::TIMEOUT, &[b"timed out"]),
                Err(e) => fatal_bytes(
                    prog,
                    exit::SYSTEM,
                    &[
                        b"unable to iopause: ",
                        common::msg::errno_text(e).as_bytes(),
                    ],
                ),
            }
        }
        0
    }
}

/// How a phase ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The condition holds; this many services failed on the way.
    Reached(u32),
    TimedOut,
}

#[cfg(test)]
mod tests {
    use super::*;

    const UP: Phase = Phase {
        up: true,
        ready: false,
        or: false,
    };
    const UP_READY: Phase = Phase {
        up: true,
        ready: true,
        or: false,
    };
    const DOWN: Phase = Phase {
        up: false,
        ready: false,
        or: false,
    };

    fn t(up: &[bool], ready: &[bool]) -> Tracker {
        Tracker {
            up: up.to_vec(),
            ready: ready.to_vec(),
        }
    }

    #[test]
    fn got_all_and_any() {
        let tr = t(&[true, false], &[false, false]);
        assert!(!tr.got(UP));
        assert!(tr.got(Phase { or: true, ..UP }));
        assert!(!tr.got(DOWN));
        assert!(tr.got(Phase { or: true, ..DOWN }));
        assert!(t(&[], &[]).got(UP));
        assert!(!t(&[], &[]).got(Phase { or: true, ..UP }));
        assert!(!t(&[true], &[false]).got(UP_READY));
        assert!(t(&[true], &[true]).got(UP_READY));
        // "down and ready" needs the ready bit.
        let dr = Phase {
            up: false,
            ready: true,
            or: false,
        };
        assert!(!t(&[false], &[false]).got(dr));
        assert!(t(&[false], &[true]).got(dr));
    }

    #[test]
    fn events_update_bits() {
        let mut tr = t(&[false], &[true]);
        assert_eq!(tr.feed(0, b'u', UP_READY), 0);
        assert_eq!((tr.up[0], tr.ready[0]), (true, false));
        assert!(!tr.got(UP_READY));
        tr.feed(0, b'U', UP_READY);
        assert!(tr.got(UP_READY));
        tr.feed(0, b'd', UP);
        assert_eq!((tr.up[0], tr.ready[0]), (false, false));
        tr.feed(0, b'D', UP);
        assert_eq!((tr.up[0], tr.ready[0]), (false, true));
        // Other bytes (s, garbage) change nothing.
        tr.feed(0, b's', UP);
        tr.feed(0, b'z', UP);
        assert_eq!((tr.up[0], tr.ready[0]), (false, true));
        // Out of range index: ignored.
        assert_eq!(tr.feed(5, b'x', UP), 0);
    }

    #[test]
    fn failures() {
        // x while not in the wanted state: failure, and the service counts as arrived.
        let mut tr = t(&[false], &[true]);
        assert_eq!(tr.feed(0, b'x', UP), 1);
        assert!(tr.got(UP));
        // x while in the wanted state: no failure.
        let mut tr = t(&[false], &[false]);
        assert_eq!(tr.feed(0, b'x', DOWN), 0);
        // x with the right up bit but a different ready bit is a failure.
        let mut tr = t(&[false], &[true]);
        assert_eq!(tr.feed(0, b'x', DOWN), 1);
        // O only matters when waiting for up.
        let mut tr = t(&[false], &[true]);
        assert_eq!(tr.feed(0, b'O', DOWN), 0);
        assert_eq!((tr.up[0], tr.ready[0]), (false, true));
        assert_eq!(tr.feed(0, b'O', UP_READY), 1);
        assert!(tr.got(UP_READY));
    }

    #[test]
    fn want_letters_and_phases() {
        for c in *b"uUdDrR" {
            assert_eq!(Want::from_letter(c).unwrap().letter(), c);
        }
        assert_eq!(Want::from_letter(b'x'), None);
        let first = Phase {
            up: false,
            ready: true,
            or: true,
        };
        assert_eq!(
            phases(Want::Down, true, first),
            vec![Phase { or: true, ..DOWN }]
        );
        assert_eq!(
            phases(Want::RestartReady, false, first),
            vec![first, UP_READY]
        );
    }
}
