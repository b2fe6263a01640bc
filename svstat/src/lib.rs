//! Placeholder: filled by its issue.

/// Entry point of `s6-svstat`.
pub fn svstat_main() -> ! {
    common::Prog::new("s6-svstat").usage("s6-svstat: not implemented yet")
}

/// Entry point of `s6-svok`.
pub fn svok_main() -> ! {
    common::Prog::new("s6-svok").usage("s6-svok: not implemented yet")
}

/// Entry point of `s6-svdt`.
pub fn svdt_main() -> ! {
    common::Prog::new("s6-svdt").usage("s6-svdt: not implemented yet")
}
