//! Helpers of the reliability tests (`faults_*.rs`, `security.rs`, `soak.rs`) that only they
//! use; the process table, status waits, `Sup`, `Scan` and `Reaper` are the shared ones of
//! the `tests` library.
#![allow(dead_code, unused_imports)] // each test file uses its own part of it

use std::path::Path;
use std::process::Command;
pub use tests::{
    alive, children, cmdline, fd_count, is_root, kill, kill_pid_and_group, proc_table, rss_kb,
    state, status, up_pid, wait_down, wait_up, wait_up_other, zombies_of, Reaper, Scan, Sup,
};
use tests::{bin, run};

/// A service that runs until killed. (Services also die with their scratch directory in
/// the worst case: every test kills them by process group at the end.)
pub const LONG: &str = "exec sleep 3600";

/// `s6-svc ARGS` -> (exit code, stderr).
pub fn svc(args: &[&str], dir: &Path) -> (i32, String) {
    let (rc, _, err) = run(Command::new(bin("s6-svc")).args(args).arg(dir));
    (rc, err)
}
