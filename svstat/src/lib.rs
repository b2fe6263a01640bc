//! The client tools that read a service's state: `s6-svstat` (`svstat`), `s6-svok`
//! (`svok`), `s6-svdt` (`svdt`) and `s6-svdt-clear` (`svdt-clear`), drop-ins for s6 2.15.1.
//!
//! Each program is a pure argument parser (`parse_args`, fuzzable), a `run` doing the work
//! through `common`, and pure output formatting tested byte for byte against s6's output.
//! Messages always carry the s6 program name. SIGPIPE keeps its inherited disposition
//! (`common::rt`), so a tool writing to a closed pipe dies of it, as s6's do.
//!
//! Extensions (arguments s6 rejects, so no s6 behaviour changes): `--help` and `--version`
//! as the first argument of every program; the probes `svstat --ready [--up-for N] DIR...`
//! and `svstat --json DIR...` (long options anywhere; a scan directory stands for its
//! services), which agree on "ready" ([`common::health::is_ready`]), documented in [`svstat`].

pub mod svdt;
pub mod svok;
pub mod svstat;

/// Entry point of `s6-svstat`.
pub fn svstat_main() -> ! {
    svstat::main()
}

/// Entry point of `s6-svok`.
pub fn svok_main() -> ! {
    svok::main()
}

/// Entry point of `s6-svdt`.
pub fn svdt_main() -> ! {
    svdt::main()
}

/// Entry point of `s6-svdt-clear`.
pub fn svdt_clear_main() -> ! {
    svdt::clear_main()
}
