//! Signal names and numbers the way s6 (skalibs 2.15.1, Linux/glibc) prints and parses them.
//!
//! Printing uses skalibs' number->name table, where later aliases win: 6 is `IOT`, 17 `CLD`,
//! 29 `IO`. Parsing accepts every name of the name->number table, case-insensitively, with or
//! without a `SIG` prefix, or a decimal number.

/// Name printed for signal `sig` (without `SIG`), `???` for unnamed numbers.
pub fn name(sig: i32) -> &'static str {
    const NAMES: [&str; 32] = [
        "???", "HUP", "INT", "QUIT", "ILL", "TRAP", "IOT", "BUS", "FPE", "KILL", "USR1", "SEGV",
        "USR2", "PIPE", "ALRM", "TERM", "STKFLT", "CLD", "CONT", "STOP", "TSTP", "TTIN", "TTOU",
        "URG", "XCPU", "XFSZ", "VTALRM", "PROF", "WINCH", "IO", "PWR", "SYS",
    ];
    usize::try_from(sig)
        .ok()
        .and_then(|i| NAMES.get(i).copied())
        .unwrap_or("???")
}

/// Every name skalibs' `sig_number` knows (Linux numbering).
const BY_NAME: [(&str, i32); 35] = [
    ("ABRT", 6),
    ("ALRM", 14),
    ("BUS", 7),
    ("CHLD", 17),
    ("CLD", 17),
    ("CONT", 18),
    ("FPE", 8),
    ("HUP", 1),
    ("ILL", 4),
    ("INT", 2),
    ("IO", 29),
    ("IOT", 6),
    ("KILL", 9),
    ("PIPE", 13),
    ("POLL", 29),
    ("PROF", 27),
    ("PWR", 30),
    ("QUIT", 3),
    ("SEGV", 11),
    ("STKFLT", 16),
    ("STOP", 19),
    ("SYS", 31),
    ("TERM", 15),
    ("TRAP", 5),
    ("TSTP", 20),
    ("TTIN", 21),
    ("TTOU", 22),
    ("URG", 23),
    ("USR1", 10),
    ("USR2", 12),
    ("VTALRM", 26),
    ("WINCH", 28),
    ("XCPU", 24),
    ("XFSZ", 25),
    ("EMT", -1), // not on Linux; never matches (kept out by the filter below)
];

fn number_of_name(s: &str) -> Option<i32> {
    BY_NAME
        .iter()
        .find(|(n, v)| *v > 0 && n.eq_ignore_ascii_case(s))
        .map(|&(_, v)| v)
}

/// A whole string of decimal digits that fits an unsigned 32-bit int.
fn parse_uint(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse::<u32>().ok()
}

fn parse_norec(s: &str) -> Option<i32> {
    number_of_name(s).or_else(|| parse_uint(s).and_then(|u| i32::try_from(u).ok()))
}

/// Parse a signal as skalibs' `sig0_scan` does: `TERM`, `sigterm`, `SIGUSR1`, `15`.
/// The number is not range-checked (s6 accepts any value and lets `kill` fail).
pub fn parse(s: &str) -> Option<i32> {
    parse_norec(s).or_else(|| {
        let p = s.get(..3)?;
        if p.eq_ignore_ascii_case("SIG") {
            parse_norec(&s[3..])
        } else {
            None
        }
    })
}

extern "C" fn do_nothing(_: libc::c_int) {}

/// skalibs' `sig_altignore`: make `sig` harmless to this process (a nop handler, so a write
/// to a closed pipe fails with EPIPE instead of killing us) while every program we exec gets
/// it back at its default, since exec resets caught signals but keeps ignored ones.
pub fn alt_ignore(sig: nix::sys::signal::Signal) -> Result<(), nix::errno::Errno> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet};
    let act = SigAction::new(
        SigHandler::Handler(do_nothing),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    // SAFETY: the handler does nothing at all, so it is async-signal-safe.
    unsafe { sigaction(sig, &act) }.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_printed() {
        assert_eq!(name(15), "TERM");
        assert_eq!(name(9), "KILL");
        assert_eq!(name(6), "IOT");
        assert_eq!(name(17), "CLD");
        assert_eq!(name(29), "IO");
        assert_eq!(name(31), "SYS");
        assert_eq!(name(0), "???");
        assert_eq!(name(34), "???");
        assert_eq!(name(-1), "???");
    }

    #[test]
    fn parsing() {
        assert_eq!(parse("TERM"), Some(15));
        assert_eq!(parse("sigterm"), Some(15));
        assert_eq!(parse("SIGUSR1"), Some(10));
        assert_eq!(parse("SiGkIlL"), Some(9));
        assert_eq!(parse("15"), Some(15));
        assert_eq!(parse("SIG15"), Some(15));
        assert_eq!(parse("0"), Some(0));
        assert_eq!(parse("ABRT"), Some(6));
        assert_eq!(parse("POLL"), Some(29));
        assert_eq!(parse(""), None);
        assert_eq!(parse("SIG"), None);
        assert_eq!(parse("TERM "), None);
        assert_eq!(parse("FOO"), None);
        assert_eq!(parse("EMT"), None);
        assert_eq!(parse("99999999999"), None);
        assert_eq!(parse("é"), None);
    }

    #[test]
    fn every_printed_name_parses_back() {
        for sig in 1..32 {
            assert_eq!(parse(name(sig)), Some(sig), "signal {sig}");
        }
    }
}
