//! Placeholder: filled by its issue.

/// Entry point of `s6-svc`.
pub fn svc_main() -> ! {
    common::Prog::new("s6-svc").usage("s6-svc: not implemented yet")
}

/// Entry point of `s6-svwait`.
pub fn svwait_main() -> ! {
    common::Prog::new("s6-svwait").usage("s6-svwait: not implemented yet")
}

/// Entry point of `s6-svlisten1`.
pub fn svlisten1_main() -> ! {
    common::Prog::new("s6-svlisten1").usage("s6-svlisten1: not implemented yet")
}
