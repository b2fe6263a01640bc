//! Placeholder: filled by its issue.

/// Entry point of `s6-svscan`.
pub fn svscan_main() -> ! {
    common::Prog::new("s6-svscan").usage("s6-svscan: not implemented yet")
}

/// Entry point of `s6-svscanctl`.
pub fn svscanctl_main() -> ! {
    common::Prog::new("s6-svscanctl").usage("s6-svscanctl: not implemented yet")
}
