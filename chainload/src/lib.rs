//! The chain-loading utilities, drop-ins for s6 2.15.1's: each changes one property of the
//! process, then execs the rest of its command line in the same process (s6-fghack forks).
//!
//! * [`uidgid`]: `s6-envuidgid` (account ids into UID/GID/GIDLIST), `s6-applyuidgid` (set
//!   uid, gid, supplementary groups), `s6-setuidgid` (both, in one process: s6 execs the two
//!   helpers; the messages keep their `s6-envuidgid:` / `s6-applyuidgid:` prefixes).
//! * [`envdir`]: `s6-envdir`, one variable per file.
//! * [`setsid`]: `s6-setsid`, 2.15's command line (short and long options).
//! * [`softlimit`]: `s6-softlimit`, resource limits in command-line order.
//! * [`fghack`]: `s6-fghack`, waits for every holder of its hackpipe.
//! * [`setlock`]: `s6-setlock`, a POSIX (fcntl) record lock held by prog.
//!
//! Each program is a pure parser of its command line into a typed request (unit-tested,
//! never panicking), a few system calls, and `common::exec::exec_or_die`: skalibs' PATH
//! search (no `/bin/sh` fallback on ENOEXEC), `unable to exec NAME: ERR`, 127 for ENOENT,
//! 126 otherwise. User and group lookups are `common::users` (libc's databases).
//!
//! Upstream bugs, decided deliberately (the conformance suite's `upstream_bug` tests):
//! * `s6-setsid -g` with SIGTTOU at its default disposition: s6 installs a do-nothing
//!   SA_RESTART handler, so `tcsetpgrp` from the new background group restarts forever at
//!   100% CPU. We set SIGTTOU to SIG_IGN around the call and back to SIG_DFL before the exec.
//! * `s6-setlock -d FD`: s6 locks, then moves the descriptor, and closing the original
//!   releases the POSIX lock, so prog holds nothing. We move first and lock the fd prog gets.
//!
//! Other differences: `--help` / `--version` as the first argument (s6 rejects both), and
//! s6-setuidgid does its two steps without exec'ing `s6-envuidgid` and `s6-applyuidgid`
//! through PATH (same results, same messages).
//!
//! Names: each program has its s6 name and a short one (`setuidgid`, `envdir`, ...), except
//! s6-setsid: `setsid` is util-linux's (different options, used by scripts), so it gets none;
//! `pgrphack` (crate `aliases`) is its daemontools face.

pub mod envdir;
pub mod fghack;
pub mod setlock;
pub mod setsid;
pub mod softlimit;
pub mod uidgid;

pub fn setuidgid_main() -> ! {
    uidgid::setuidgid_main()
}

pub fn envuidgid_main() -> ! {
    uidgid::envuidgid_main()
}

pub fn applyuidgid_main() -> ! {
    uidgid::applyuidgid_main()
}

pub fn envdir_main() -> ! {
    envdir::main()
}

pub fn setsid_main() -> ! {
    setsid::main()
}

pub fn softlimit_main() -> ! {
    softlimit::main()
}

pub fn fghack_main() -> ! {
    fghack::main()
}

pub fn setlock_main() -> ! {
    setlock::main()
}
