//! `s6-svscan` and `s6-svscanctl`: drop-ins for s6 2.15.1's, fit to run as process 1.
//!
//! * [`options`]: the command line (2.15.1's, plus 2.11's `-c`).
//! * [`core`]: the pure scan model (service table, pairing, respawn times, kills, shutdown).
//! * [`driver`]: the I/O loop around it.
//! * [`svscanctl`]: the control client.
//!
//! Deliberate differences from s6 2.15.1 (its bugs the spec names, README "traps" 18 and
//! svscan.md §6):
//! * a problem with one entry (stat failure, `-C` exceeded, pipe failure) skips that entry
//!   and schedules a rescan; 2.15 aborts the whole scan;
//! * `s6-svscanctl -at` (a scan pending when the loop is left) still kills and waits; 2.15
//!   sends no kill and hangs waiting for supervisors that were never signalled;
//! * while waiting for its supervisors at shutdown, svscan still serves signals and control
//!   bytes.
//!
//! Scan warnings are [`core::ScanWarning`] values carrying the entries' raw names, printed
//! byte for byte (a non-UTF-8 service name is never mangled).

pub mod core;
pub mod driver;
pub mod options;
pub mod svscanctl;

/// Entry point of `s6-svscan`.
pub fn svscan_main() -> ! {
    driver::main()
}

/// Entry point of `s6-svscanctl`.
pub fn svscanctl_main() -> ! {
    svscanctl::main()
}
