//! The runit and daemontools faces of s6 2.15.1 (`--enable-aliases-runit
//! --enable-aliases-daemontools`):
//!
//! * [`alias`]: `s6-alias`, behind `envdir`, `runsvdir`, `runsv`, `pgrphack`, `multilog`, ...
//!   (exec of the s6 program through PATH) and the names s6 refuses (`runit`, `svlogd`, ...).
//!   In our multi-call binary a name that is also one of our short names (`svc`, `envdir`,
//!   `setuidgid`, `supervise`, ...) runs that program directly: the same program s6-alias
//!   would exec, with the same arguments and messages, minus one exec.
//! * [`sv`]: `s6-alias-sv` (`sv`), runit's sv over s6-svc / s6-svstat / s6-svwait.
//! * [`chpst`]: `s6-alias-chpst` (`chpst`), runit's chpst as a chain of s6 programs.
//!
//! Each is a pure parser (tables and command-line builders, unit-tested) plus the spawns or
//! the exec. Messages, exit codes and the helpers' command lines are s6's; the one
//! extension is `--help` / `--version` as the first argument (s6 rejects them). As in s6,
//! the helpers are found through PATH (`s6-svc`, `s6-setsid`, `nice`, `fdclose`, `chroot`).

pub mod alias;
pub mod chpst;
pub mod sv;

pub fn alias_main() -> ! {
    alias::main()
}

pub fn sv_main() -> ! {
    sv::main()
}

pub fn chpst_main() -> ! {
    chpst::main()
}
