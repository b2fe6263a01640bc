//! The service-directory and instance programs of s6, drop-ins for s6 2.15.1:
//!
//! * [`svperms`]: `s6-svperms`, who may control and listen to a service (modes and groups
//!   of `supervise/`, `supervise/control`, `event/`), changed and reported.
//! * [`svlink`]: `s6-svlink` / `s6-svunlink`, adding a service to a running s6-svscan and
//!   removing it, waiting for its supervisor through the event fifodir; the procedures
//!   themselves are in [`link`] (shared with the instance programs).
//! * [`instance`]: `s6-instance-maker`, `-create`, `-delete`, `-control`, `-status`,
//!   `-list`.
//! * [`usertree`]: `s6-usertree-maker`; [`svscanboot`]: `s6-svscanboot`;
//!   [`bgwatch`]: `s6-background-watch`.
//! * [`scripts`]: the run scripts these write, byte for byte, as pure functions; [`util`]:
//!   quoting, recursive copy and the like. The long-option parser of the 2.15-only programs
//!   is `common::gol`, messages are `common::cli`, exec is `common::exec`, the fifodir
//!   creation is `common::fifodir::make_with_mode`.
//!
//! Programs exec'd or written into scripts are found through PATH (s6's empty
//! `S6_EXTBINPREFIX`): s6-instance-control execs `s6-svc`, s6-instance-status `s6-svstat`,
//! s6-svscanboot `s6-svscan`. The `#!` line of generated scripts names `execlineb` by the
//! absolute path found in PATH at writing time (s6 compiles its installation path in),
//! falling back to `/usr/bin/execlineb`.
//!
//! Deliberate differences from s6 (none visible to a correct script):
//! * `--help` / `--version` as the first argument (s6 rejects both).
//! * s6-instance-status does not validate `-o` field names, as in s6 (its check is
//!   ineffective there): s6-svstat reports them.
//! * s6-background-watch prints its `timeout-ready` warning and kills the parent once
//!   (2.15.1 repeats it in a loop until the parent is reaped), and reaps every orphan it
//!   adopts, not only the daemon.
//! * The template copy of s6-instance-maker / -create reports an error in any entry
//!   (skalibs' hiercopy ignores failures below the top level).
//! * Where 2.11 and 2.15 differ we are 2.15: s6-instance-maker writes `s6-svscan -C` (the
//!   limit doubled when there is a logger), messages without errno text have a single
//!   `: `, `logger specified` is spelled right.
//! * s6-svlink / s6-instance-create never follow a symlink or write through a planted file
//!   in `event/` (they only create their own FIFO there, through common::fifodir).

#[cfg(test)]
mod never_panic {
    /// Every pure parser of this crate on pseudo-random command lines: no panic.
    #[test]
    fn parsers_on_random_argv() {
        for argv in common::cli::pseudo_random_argv(3000) {
            let _ = crate::svperms::parse_args(&argv);
            let _ = crate::svlink::parse_link_args(&argv);
            let _ = crate::svlink::parse_unlink_args(&argv);
            let _ = crate::instance::parse_maker_args(&argv);
            let _ = crate::instance::check_control_args(&argv);
            let _ = crate::instance::check_status_args(&argv);
            if let Some(a) = argv.first() {
                use std::os::unix::ffi::OsStrExt;
                let _ = crate::scripts::parse_rc(a.as_bytes(), true, false);
                let _ = crate::scripts::parse_rc(a.as_bytes(), false, true);
                let _ = crate::bgwatch::parse_pid(a.as_bytes());
                let _ = crate::util::quote(a.as_bytes());
            }
        }
    }
}

pub mod bgwatch;
pub mod instance;
pub mod link;
pub mod scripts;
pub mod svlink;
pub mod svperms;
pub mod svscanboot;
pub mod usertree;
pub mod util;

pub fn svperms_main() -> ! {
    svperms::main()
}
pub fn svlink_main() -> ! {
    svlink::svlink_main()
}
pub fn svunlink_main() -> ! {
    svlink::svunlink_main()
}
pub fn svscanboot_main() -> ! {
    svscanboot::main()
}
pub fn background_watch_main() -> ! {
    bgwatch::main()
}
pub fn usertree_maker_main() -> ! {
    usertree::main()
}
pub fn instance_maker_main() -> ! {
    instance::maker_main()
}
pub fn instance_create_main() -> ! {
    instance::create_main()
}
pub fn instance_delete_main() -> ! {
    instance::delete_main()
}
pub fn instance_control_main() -> ! {
    instance::control_main()
}
pub fn instance_status_main() -> ! {
    instance::status_main()
}
pub fn instance_list_main() -> ! {
    instance::list_main()
}
