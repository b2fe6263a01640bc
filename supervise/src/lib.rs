//! Placeholder: filled by its issue.

/// Entry point of `s6-supervise`.
pub fn supervise_main() -> ! {
    common::Prog::new("s6-supervise").usage("s6-supervise: not implemented yet")
}
