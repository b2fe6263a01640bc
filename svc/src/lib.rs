//! The client tools that talk to supervisors: `s6-svc` (`svc`), `s6-svwait` (`svwait`),
//! `s6-svlisten1` (`svlisten1`) and `s6-svlisten` (`svlisten`), drop-ins for s6 2.15.1.
//!
//! Each program is a pure argument parser (`parse_args`, fuzzable) producing a typed
//! request, a `run` doing the work through `common`, and pure message formatting. Messages
//! always carry the s6 program name (`s6-svc: ...`), whichever name the binary was called by.
//! The listeners (`s6-svwait`, `s6-svlisten1`, `s6-svlisten`, `s6-svc -w`) make SIGPIPE
//! harmless as s6's do ([`listen::Session::start`]); the plain `s6-svc` keeps it inherited.
//!
//! Extensions, none of which changes an s6 behaviour (s6 rejects these arguments):
//! * `--help` as the first argument of every program: a summary on stdout, exit 0.
//! * `s6-svc -w` waits in-process instead of exec'ing `s6-svlisten`/`s6-svwait` (same
//!   messages, exit codes and subscribe-before-act ordering); see [`svc`].

pub mod listen;
pub mod svc;
pub mod svwait;

/// Entry point of `s6-svc`.
pub fn svc_main() -> ! {
    svc::main()
}

/// Entry point of `s6-svwait`.
pub fn svwait_main() -> ! {
    svwait::main(svwait::Kind::Svwait)
}

/// Entry point of `s6-svlisten1`.
pub fn svlisten1_main() -> ! {
    svwait::main(svwait::Kind::Svlisten1)
}

/// Entry point of `s6-svlisten`.
pub fn svlisten_main() -> ! {
    svwait::main(svwait::Kind::Svlisten)
}
