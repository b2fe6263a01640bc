//! The s6 fd holder, drop-ins for s6 2.15.1: `s6-fdholder-daemon`, `s6-fdholderd` and the
//! clients `s6-fdholder-store`, `-retrieve`, `-delete`, `-list`, `-getdump`, `-setdump`,
//! `-transferdump`.
//!
//! * [`proto`]: the wire protocol, pure (request decoding with the daemon's checks,
//!   answers, dump descriptions, list quoting, transferdump's `-t`). Framing is
//!   `common::unixmsg`, access rules `common::accessrules`.
//! * [`store`]: the daemon's state without I/O — the held fds, a client's rights (POSIX
//!   extended regexes through libc's `regcomp`, as s6), and what each request does.
//! * [`fdholderd`]: the daemon's `mio` loop (signals through `signal-hook-mio`): accept,
//!   rules check, requests, answer deadlines (`-t`), fd expiries, SIGTERM's lame-duck exit.
//! * [`client`]: libs6's client calls, blocking with one deadline.
//! * [`clients`]: the client programs.
//!
//! Deliberate differences from s6 (none observable by a well-behaved client):
//! * A client that queues more than 1024 answers without reading them is dropped (s6
//!   would let its buffers grow), and each client gets at most 16 reads of 8 KiB per turn
//!   of the loop, so one flooding client cannot starve the others.
//! * The clients connect with a blocking connect (the deadline bounds the exchange, not a
//!   connect to a full backlog).
//! * A retrieved or dumped fd is sent as a duplicate, so deleting or expiring it while the
//!   answer is still queued cannot close what is being sent.
//! * An id containing NUL is malformed (s6 would cut it at the NUL).
//!
//! 2.11 / 2.15 and upstream bugs (the spec's §13): we behave as 2.15 — s6-fdholder-delete's
//! error names the id (2.11 names the socket), and setdump of more than 253 fds is split
//! correctly (2.11's client miscounts). Debian's 2.11 daemon also fails a getdump of more
//! than 253 fds; ours sends it in as many messages as needed.

pub mod client;
pub mod clients;
pub mod fdholderd;
pub mod proto;
pub mod store;

pub fn fdholder_daemon_main() -> ! {
    clients::daemon_main()
}

pub fn fdholderd_main() -> ! {
    fdholderd::main()
}

pub fn fdholder_store_main() -> ! {
    clients::store_main()
}

pub fn fdholder_retrieve_main() -> ! {
    clients::retrieve_main()
}

pub fn fdholder_delete_main() -> ! {
    clients::delete_main()
}

pub fn fdholder_list_main() -> ! {
    clients::list_main()
}

pub fn fdholder_getdump_main() -> ! {
    clients::getdump_main()
}

pub fn fdholder_setdump_main() -> ! {
    clients::setdump_main()
}

pub fn fdholder_transferdump_main() -> ! {
    clients::transferdump_main()
}
