//! The logging programs: `s6-log`, `s6-tai64n`, `s6-tai64nlocal`, `s6-socklog` and
//! `ucspilogd`, drop-ins for s6 2.15.1.
//!
//! Modules:
//! * [`script`]: the logging script, parsed in two passes by a pure function into a typed
//!   [`script::Script`] (selection groups, actions, logdir settings).
//! * [`regex`]: POSIX EREs through the C library's `regcomp`/`regexec`.
//! * [`core`]: the pure line-processing core (splitting, selection, record formats).
//! * [`logdir`]: the logdir protocol at the edge (recovery, `current`, rotation steps,
//!   processors, archives, trimming).
//! * [`s6log`]: the s6-log driver (options, mio loop over stdin, stdout, signals, children).
//! * [`timefmt`]: TAI64N labels and local-time dates as text.
//! * [`tai64n`]: `s6-tai64n` and `s6-tai64nlocal`.
//! * [`syslog`]: `<N>` priority decoding, shared by [`socklog`] and [`ucspilogd`].
//!
//! Deliberate choices among the upstream quirks the spec names:
//! * input ending while a processor runs: we wait for the processor and finish the rotation
//!   (2.11's behaviour) instead of 2.15.1's exit 101 "inconsistent state in
//!   logdir_finalize()" (which leaves `previous`/`processed` behind).
//! * the processor's fd 5 is always `newstate` (2.15; Debian's 2.11 closes it).
//! * empty files are never archived (2.15); SIGALRM with an empty `current` rotates (2.15).
//! * the last line after SIGTERM is cut at exactly L bytes and ends at a NUL (2.15).
//! * an empty datagram, fatal for s6-socklog in both versions (`unable to recv: Broken
//!   pipe`, 111: any local user could stop the system logger), is an empty message here: it
//!   gives an empty line (a server never dies on bad input).
//!
//! Deliberate differences from s6 (none changes a byte of what is logged):
//! * stdin is read in 64 KiB chunks (s6: 8 KiB); so that archives stay near `s` however
//!   much arrives at once, a write to `current` carries the whole lines that fit before `s`
//!   (at least one line), then the size check runs, as s6's does after each write.
//!
//! Shared with other families: the fcntl lock of `DIR/lock` is `common::lock::try_lock_fd`
//! (s6 reports the open and the lock failures apart).
//!
//! Extensions: `--help` / `--version` as the first argument (s6 rejects both).

pub mod core;
pub mod logdir;
pub mod regex;
pub mod s6log;
pub mod script;
pub mod socklog;
pub mod syslog;
pub mod tai64n;
pub mod timefmt;
pub mod ucspilogd;

pub(crate) use s6log::warn;

/// Entry point of `s6-log`.
pub fn log_main() -> ! {
    s6log::main()
}

/// Entry point of `s6-tai64n`.
pub fn tai64n_main() -> ! {
    tai64n::tai64n_main()
}

/// Entry point of `s6-tai64nlocal`.
pub fn tai64nlocal_main() -> ! {
    tai64n::tai64nlocal_main()
}

/// Entry point of `s6-socklog`.
pub fn socklog_main() -> ! {
    socklog::main()
}

/// Entry point of `ucspilogd`.
pub fn ucspilogd_main() -> ! {
    ucspilogd::main()
}
