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
    if let Some(name) = usize::try_from(f).ok().and_then(|i| FACILITIES.get(i)) {
        return name;
    }
    match f {
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
    let Some(body) = rec.strip_prefix(b"<") else {
        return 0;
    };
    let digits = body.iter().take_while(|c| c.is_ascii_digit()).count();
    let Some((number, [b'>', ..])) = body.split_at_checked(digits) else {
        return 0;
    };
    if digits == 0 {
        return 0;
    }
    let Some(n) = number.iter().try_fold(0u32, |acc, &d| {
        acc.checked_mul(10)?.checked_add((d - b'0') as u32)
    }) else {
        return 0;
    };
    out.extend_from_slice(facility(n >> 3).as_bytes());
    out.push(b'.');
    // n & 7 is always an index of PRIORITIES.
    let priority = PRIORITIES
        .get((n & 7) as usize)
        .copied()
        .unwrap_or_default();
    out.extend_from_slice(priority.as_bytes());
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
