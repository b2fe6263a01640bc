//! `s6-svscan` and `s6-svscanctl`: drop-ins for s6 2.15.1's, fit to run as process 1.
//!
//! * [`options`]: the command line (2.15.1's, plus 2.11's `-c`).
//! * [`core`]: the pure scan model (service table, pairing, respawn times, kills, shutdown).
//! * [`driver`]: the I/O loop around it.
//! * [`svscanctl`]: the control client.

pub mod core;
pub mod driver;
pub mod options;
pub mod svscanctl;

/// Entry point of `s6-svscan`: also `s6-supervise` when started under that name.
///
/// `scripts/install` makes `s6-svscan`, `svscan`, `s6-supervise` and `supervise` one file
/// (hard links): svscan runs the `s6-supervise` next to it, so every supervisor maps the
/// very pages svscan does, and svscan's code stops being private memory of its own (in a
/// one-service container, svscan and its supervisor together cost about a third as much).
/// A real s6-supervise put in place of ours is a file of its own and runs as before.
pub fn svscan_main() -> ! {
    let argv0 = common::rt::args_os().into_iter().next();
    if argv0.as_deref().is_some_and(runs_as_supervise) {
        supervise::supervise_main()
    }
    driver::main()
}

/// Whether `argv[0]` names the supervisor (`s6-supervise`, `supervise`, any path to one).
pub fn runs_as_supervise(argv0: &std::ffi::OsStr) -> bool {
    use std::os::unix::ffi::OsStrExt;
    let name = argv0.as_bytes();
    let base = name.rsplit(|&b| b == b'/').next().unwrap_or(name);
    base.ends_with(b"supervise")
}

/// Entry point of `s6-svscanctl`.
pub fn svscanctl_main() -> ! {
    svscanctl::main()
}

#[cfg(test)]
mod tests {
    use super::runs_as_supervise;
    use std::ffi::OsStr;

    #[test]
    fn supervise_names() {
        for yes in [
            "s6-supervise",
            "supervise",
            "/command/s6-supervise",
            "./supervise",
        ] {
            assert!(runs_as_supervise(OsStr::new(yes)), "{yes}");
        }
        for no in [
            "s6-svscan",
            "svscan",
            "/bin/s6-svscan",
            "/supervise/s6-svscan",
            "",
        ] {
            assert!(!runs_as_supervise(OsStr::new(no)), "{no}");
        }
    }
}
