//! `s6-supervise` (also built as `supervise`): a drop-in for skarnet's s6-supervise 2.15.1.
//!
//! [`core`] is the pure state machine; [`driver`] owns every file descriptor, signal and
//! process; [`spawn`] starts ./run and ./finish.

pub mod core;
pub mod driver;
pub mod msgs;
pub mod spawn;

/// Entry point of `s6-supervise`.
pub fn supervise_main() -> ! {
    driver::main()
}
