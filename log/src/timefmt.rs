//! Timestamps as text: the TAI64N label (`@` + 24 hex digits) and the local or UTC date
//! `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` as the C library computes it (`localtime_r`, TZ honoured).

use common::tai::Tai64n;

pub const LABEL_LEN: usize = 25;
pub const ISO_LEN: usize = 29;

/// The wall clock now: (unix seconds, nanoseconds).
pub fn now() -> (i64, u32) {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)
        .map(|t| (t.tv_sec(), t.tv_nsec() as u32))
        .unwrap_or((0, 0));
    (t.0, t.1)
}

/// The lowercase hex digit of the low 4 bits of `v`.
fn hex_digit(v: u64) -> u8 {
    match (v & 15) as u8 {
        d @ 0..=9 => b'0' + d,
        d => b'a' + d - 10,
    }
}

/// `@` + 16 + 8 lowercase hex digits.
pub fn label(t: &Tai64n) -> [u8; LABEL_LEN] {
    let mut out = [b'@'; LABEL_LEN];
    for (i, o) in out.iter_mut().skip(1).take(16).enumerate() {
        *o = hex_digit(t.secs >> (60 - 4 * i));
    }
    for (i, o) in out.iter_mut().skip(17).enumerate() {
        *o = hex_digit(u64::from(t.nanos >> (28 - 4 * i)));
    }
    out
}

/// Parse 24 hex digits (either case) into a label.
pub fn parse_hex24(h: &[u8]) -> Option<Tai64n> {
    if h.len() != 24 {
        return None;
    }
    let mut secs = 0u64;
    let mut nanos = 0u32;
    for (i, &c) in h.iter().enumerate() {
        let d = (c as char).to_digit(16)?;
        if i < 16 {
            secs = (secs << 4) | d as u64;
        } else {
            nanos = (nanos << 4) | d;
        }
    }
    Some(Tai64n { secs, nanos })
}

/// The last two decimal digits of `v` (not negative) at `out[at..at + 2]`.
fn put2(out: &mut [u8; ISO_LEN], at: usize, v: i32) {
    if let Some([tens, units]) = out.get_mut(at..at + 2) {
        *tens = b'0' + (v / 10 % 10) as u8;
        *units = b'0' + (v % 10) as u8;
    }
}

/// `YYYY-MM-DD HH:MM:SS.nnnnnnnnn` of unix time `secs` in local time (or UTC with `utc`);
/// `None` when the C library cannot convert it.
pub fn iso(secs: i64, nanos: u32, utc: bool) -> Option<[u8; ISO_LEN]> {
    // time_t, inferred from the calls below rather than named: libc deprecates the alias
    // on musl (its width changed in musl 1.2), and it is 32-bit on some targets.
    #[allow(clippy::useless_conversion)]
    let t = secs.try_into().ok()?;
    // SAFETY: tm is a plain C struct; all-zero is valid storage for the *_r functions.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let r = if utc {
        // SAFETY: both pointers are to live, properly aligned locals.
        unsafe { libc::gmtime_r(&t, &mut tm) }
    } else {
        // SAFETY: both pointers are to live, properly aligned locals.
        unsafe { libc::localtime_r(&t, &mut tm) }
    };
    if r.is_null() {
        return None;
    }
    let year = tm.tm_year as i64 + 1900;
    if !(0..=9999).contains(&year) {
        return None;
    }
    let mut out = *b"0000-00-00 00:00:00.000000000";
    let y = year as i32;
    put2(&mut out, 0, y / 100);
    put2(&mut out, 2, y % 100);
    put2(&mut out, 5, tm.tm_mon + 1);
    put2(&mut out, 8, tm.tm_mday);
    put2(&mut out, 11, tm.tm_hour);
    put2(&mut out, 14, tm.tm_min);
    put2(&mut out, 17, tm.tm_sec);
    // A label's nanoseconds can exceed 10^9 - 1; skalibs then prints the first nine of the
    // ten digits.
    let mut n = if nanos >= 1_000_000_000 {
        nanos / 10
    } else {
        nanos
    };
    for o in out.iter_mut().skip(20).rev() {
        *o = b'0' + (n % 10) as u8;
        n /= 10;
    }
    Some(out)
}

/// Read TZ once (glibc's `localtime_r` does not re-read it on every call).
pub fn init_tz() {
    extern "C" {
        fn tzset();
    }
    // SAFETY: tzset has no arguments and only reads the environment.
    unsafe { tzset() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_roundtrip() {
        let t = Tai64n::from_unix(1_700_000_000, 123_456_789);
        let l = label(&t);
        assert_eq!(&l, b"@400000006553f125075bcd15");
        assert_eq!(parse_hex24(&l[1..]), Some(t));
        assert_eq!(parse_hex24(b"400000006553F125075BCD15"), Some(t));
        assert_eq!(parse_hex24(b"zz00000006553f125075bcd1"), None);
    }

    #[test]
    fn utc_date() {
        assert_eq!(
            &iso(1_700_000_000, 123_456_789, true).unwrap(),
            b"2023-11-14 22:13:20.123456789"
        );
        assert_eq!(
            &iso(1_700_000_000, u32::MAX, true).unwrap()[20..],
            b"429496729"
        );
    }
}
