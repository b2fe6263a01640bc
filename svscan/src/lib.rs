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

/// Entry point of `s6-svscan`.
pub fn svscan_main() -> ! {
    driver::main()
}

/// Entry point of `s6-svscanctl`.
pub fn svscanctl_main() -> ! {
    svscanctl::main()
}
