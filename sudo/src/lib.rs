//! `s6-sudo`, `s6-sudoc` and `s6-sudod`: running a program in another (privileged) context
//! with the caller's arguments, environment and standard descriptors, drop-ins for s6 2.15.1.
//!
//! * [`proto`]: the wire protocol, pure (banners, the request message, the environment
//!   merge, the exit code of a wait status). The framing is `common::unixmsg`.
//! * [`sudo`]: `s6-sudo`, which only builds an `s6-ipcclient ... s6-sudoc ...` command line.
//! * [`sudoc`]: the client, on fds 6/7 as s6-ipcclient leaves them.
//! * [`sudod`]: the server, on fds 0/1 as s6-ipcserverd leaves them; it waits for its
//!   program or the client's hangup with `mio` and `signal-hook-mio`.
//!
//! Deliberate differences from s6:
//! * s6-sudod marks every fd above 2 it inherited close-on-exec, so its program gets
//!   exactly the three descriptors the client gave (s6 would pass on stray inherited fds).
//! * The 2.15 behaviours are kept where 2.11 differs: a spawn failure is `unable to spawn
//!   PROG` (111, no errno byte), and empty server and client argument lists are refused
//!   (`client and server args both empty`, 100; 2.11 ran nothing and reported exit 0).
//! * Short names: `sudoc` and `sudod` only; `s6-sudo` has none, so that installing the
//!   short names never shadows the system's `sudo`.
//! * s6-sudoc waits with blocking reads bounded by socket timeouts (SO_RCVTIMEO) instead of
//!   making fds 6/7 non-blocking; the observable deadlines and messages are the same.

pub mod proto;
pub mod sudo;
pub mod sudoc;
pub mod sudod;

/// Entry point of `s6-sudo`.
pub fn sudo_main() -> ! {
    sudo::main()
}

/// Entry point of `s6-sudoc`.
pub fn sudoc_main() -> ! {
    sudoc::main()
}

/// Entry point of `s6-sudod`.
pub fn sudod_main() -> ! {
    sudod::main()
}

/// Exec `argv` (found through PATH), or die the s6 way: `PROG: fatal: unable to exec ARG:
/// REASON`, 127 if it does not exist, 126 otherwise (`common::exec`).
pub(crate) fn exec_or_die(prog: &str, argv: &[std::ffi::OsString]) -> ! {
    if argv.is_empty() {
        common::rt::exit(common::msg::exit::USAGE)
    }
    common::exec::exec_or_die(prog, argv)
}
