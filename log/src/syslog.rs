//! Syslog `<N>` priority decoding as s6-socklog and ucspilogd print it: `facility.priority: `
//! with the C library's first name for each value.

const FACILITIES: [&str; 12] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv",
    "ftp",
];
const PRIORITIES: [&str; 8] = [
    "emerg", "alert", "crit", "err", "warn", "notice", "info", "debug",
];

fn facility(f: u32) -> &'static str {
    match f {
        0..=11 => FACILITIES[f as usize],
        16 => "local0",
        17 => "local1",
        18 => "local2",
        19 => "local3",
        20 => "local4",
        21 => "local5",
        22 => "local6",
        23 => "local7",
        24 => "mark",
        _ => "unknown",
    }
}

/// If `rec` starts with `<N>` (N decimal), append `facility.priority: ` to `out` and return
/// the length of the `<N>` part; otherwise 0 and nothing appended.
pub fn decode(rec: &[u8], out: &mut Vec<u8>) -> usize {
    if rec.first() != Some(&b'<') {
        return 0;
    }
    let digits = rec[1..].iter().take_while(|c| c.is_ascii_digit()).count();
    if digits == 0 || rec.get(1 + digits) != Some(&b'>') {
        return 0;
    }
    let Some(n) = rec[1..1 + digits].iter().try_fold(0u32, |acc, &d| {
        acc.checked_mul(10)?.checked_add((d - b'0') as u32)
    }) else {
        return 0;
    };
    out.extend_from_slice(facility(n >> 3).as_bytes());
    out.push(b'.');
    out.extend_from_slice(PRIORITIES[(n & 7) as usize].as_bytes());
    out.extend_from_slice(b": ");
    digits + 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> (String, usize) {
        let mut v = Vec::new();
        let n = decode(s.as_bytes(), &mut v);
        (String::from_utf8(v).unwrap(), n)
    }

    #[test]
    fn names() {
        assert_eq!(d("<13>x"), ("user.notice: ".into(), 4));
        assert_eq!(d("<4>x").0, "kern.warn: ");
        assert_eq!(d("<191>x").0, "local7.debug: ");
        assert_eq!(d("<999>x").0, "unknown.debug: ");
        assert_eq!(d("<13 x"), (String::new(), 0));
        assert_eq!(d("<>"), (String::new(), 0));
    }
}
