//! The Unix-socket IPC family of s6 2.15.1: UCSPI-style servers and clients and the
//! access rules that decide who gets in.
//!
//! * [`socketbinder`] — `s6-ipcserver-socketbinder`: bind the socket on fd 0, exec.
//! * [`ipcserverd`] — `s6-ipcserverd`: the accept loop (`mio` + `signal-hook-mio`), one
//!   child per connection with `PROTO=IPC`, `IPCREMOTEEUID`/`EGID`, `IPCCONNNUM`,
//!   `IPCREMOTEPATH`; per-uid limits in the pure [`ipcserverd::Conns`].
//! * [`ipcserver`] — `s6-ipcserver`: the wrapper building the binder + server chain.
//! * [`access`] — `s6-ipcserver-access`: the rules check (`common::accessrules`) and the
//!   environment edits, then exec.
//! * [`cdbfromfs`] / [`fsfromcdb`] — `s6-accessrules-cdb-from-fs` / `-fs-from-cdb`: rules
//!   directory to cdb (`common::cdb`) and back.
//! * [`ipcclient`] — `s6-ipcclient`: connect, put the socket on fds 6 and 7, exec.
//! * [`connlimit`] — `s6-connlimit`: `${PROTO}CONNNUM` against `${PROTO}CONNMAX`.
//! * [`ioconnect`] — `s6-ioconnect`: the two-way copy with half-closes.
//!
//! Version choices (spec §13): we follow 2.15.1 — `IPCCONNNUM` counts the *other* live
//! connections of the uid (0 for the first); children are spawned (`warning: unable to
//! spawn PROG: REASON` on failure, the server goes on); `-c` is capped at 16384; a too-long
//! socket path is ENAMETOOLONG; `s6-accessrules-cdb-from-fs` takes `-m`/`--mode=`; fatal
//! messages without errno have no doubled `: `.
//!
//! Deliberate differences, none visible to a well-behaved caller:
//! * `s6-ipcserverd` keeps `/dev/null` on fd 1 instead of leaving it closed (after `-1`'s
//!   newline too), so that an accepted connection never lands on a standard fd; the pipe
//!   reader still sees EOF.
//! * The `deny ... count N/M` line's errno suffix (stale in s6, 0 in practice) is always
//!   errno 0's text.
//! * `s6-accessrules-fs-from-cdb` refuses keys and env names that would write outside the
//!   target directory (`..`, `/` in a name) as "not valid accessrules data".
//! * `--help` / `--version` as the first argument (s6 rejects both).

pub mod access;
pub mod cdbfromfs;
pub mod connlimit;
pub mod fsfromcdb;
pub mod ioconnect;
pub mod ipcclient;
pub mod ipcserver;
pub mod ipcserverd;
pub mod socketbinder;
mod util;

/// Entry point of `s6-ipcserver-socketbinder`.
pub fn socketbinder_main() -> ! {
    socketbinder::main()
}

/// Entry point of `s6-ipcserverd`.
pub fn ipcserverd_main() -> ! {
    ipcserverd::main()
}

/// Entry point of `s6-ipcserver`.
pub fn ipcserver_main() -> ! {
    ipcserver::main()
}

/// Entry point of `s6-ipcserver-access`.
pub fn access_main() -> ! {
    access::main()
}

/// Entry point of `s6-accessrules-cdb-from-fs`.
pub fn cdb_from_fs_main() -> ! {
    cdbfromfs::main()
}

/// Entry point of `s6-accessrules-fs-from-cdb`.
pub fn fs_from_cdb_main() -> ! {
    fsfromcdb::main()
}

/// Entry point of `s6-ipcclient`.
pub fn ipcclient_main() -> ! {
    ipcclient::main()
}

/// Entry point of `s6-connlimit`.
pub fn connlimit_main() -> ! {
    connlimit::main()
}

/// Entry point of `s6-ioconnect`.
pub fn ioconnect_main() -> ! {
    ioconnect::main()
}
