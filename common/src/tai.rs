//! TAI64N timestamps as skalibs stores them.
//!
//! A label is `2^62 + TAI seconds`; skalibs (default build) reads the system clock as UTC
//! and converts it with its leap-second table, so for any date after 2017-01-01 the label is
//! `2^62 + unix + 37`. We do not use the `tai64` crate: it applies a flat +10 offset, which
//! would make every stamp we write 27 s off from what s6 writes and reads.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `2^62`, the label of TAI second 0.
pub const TAI64_BASE: u64 = 1 << 62;
/// Offset between TAI and UTC before the first leap second (1972).
const TAI_UTC_BASE_OFFSET: u64 = 10;

/// Unix times at which a leap second had been inserted (the first second after it), as in
/// skalibs' table (27 entries, last 2017-01-01).
const LEAP_SECONDS: [u64; 27] = [
    78796800, 94694400, 126230400, 157766400, 189302400, 220924800, 252460800, 283996800,
    315532800, 362793600, 394329600, 425865600, 489024000, 567993600, 631152000, 662688000,
    709948800, 741484800, 773020800, 820454400, 867715200, 915148800, 1136073600, 1230768000,
    1341100800, 1435708800, 1483228800,
];

/// A TAI64N timestamp: label seconds (including the `2^62` base) and nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Tai64n {
    pub secs: u64,
    pub nanos: u32,
}

/// Number of leap seconds inserted at or before unix time `unix`.
fn leaps_before(unix: u64) -> u64 {
    LEAP_SECONDS.iter().take_while(|&&l| unix >= l).count() as u64
}

impl Tai64n {
    pub const LEN: usize = 12;

    /// Pack as 12 bytes: big-endian seconds label, big-endian nanoseconds.
    pub fn pack(&self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..8].copy_from_slice(&self.secs.to_be_bytes());
        out[8..].copy_from_slice(&self.nanos.to_be_bytes());
        out
    }

    /// Unpack 12 bytes. Nanoseconds are taken as stored (s6 never writes more than 10^9 - 1).
    pub fn unpack(b: &[u8; 12]) -> Tai64n {
        let mut s = [0u8; 8];
        s.copy_from_slice(&b[..8]);
        let mut n = [0u8; 4];
        n.copy_from_slice(&b[8..]);
        Tai64n {
            secs: u64::from_be_bytes(s),
            nanos: u32::from_be_bytes(n),
        }
    }

    /// Convert a unix time (seconds since the epoch, UTC) to a label, with leap seconds.
    pub fn from_unix(unix_secs: u64, nanos: u32) -> Tai64n {
        Tai64n {
            secs: TAI64_BASE + unix_secs + TAI_UTC_BASE_OFFSET + leaps_before(unix_secs),
            nanos,
        }
    }

    /// The unix seconds this label stands for (labels before the epoch give 0).
    pub fn unix_secs(&self) -> u64 {
        let tai = self.secs.saturating_sub(TAI64_BASE + TAI_UTC_BASE_OFFSET);
        // Undo the leap seconds: find the unix time u with u + leaps_before(u) == tai.
        let mut u = tai.saturating_sub(leaps_before(tai));
        while u + leaps_before(u) < tai {
            u += 1;
        }
        while u > 0 && u + leaps_before(u) > tai {
            u -= 1;
        }
        u
    }

    pub fn from_system_time(t: SystemTime) -> Tai64n {
        let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
        Tai64n::from_unix(d.as_secs(), d.subsec_nanos())
    }

    pub fn to_system_time(&self) -> SystemTime {
        UNIX_EPOCH + Duration::new(self.unix_secs(), self.nanos.min(999_999_999))
    }

    /// The wall clock now.
    pub fn now() -> Tai64n {
        Tai64n::from_system_time(SystemTime::now())
    }

    /// Whole seconds from `self` to `later`, truncated; 0 if `later` is earlier
    /// (callers that need s6's unsigned wrap-around use [`Tai64n::secs_until_wrapping`]).
    pub fn secs_until(&self, later: &Tai64n) -> u64 {
        if later <= self {
            return 0;
        }
        let mut s = later.secs - self.secs;
        if later.nanos < self.nanos {
            s -= 1;
        }
        s
    }

    /// s6-svstat's `now - stamp` in unsigned arithmetic: a stamp in the future wraps around.
    pub fn secs_until_wrapping(&self, later: &Tai64n) -> u64 {
        let mut s = later.secs.wrapping_sub(self.secs);
        if later.nanos < self.nanos {
            s = s.wrapping_sub(1);
        }
        s
    }

    /// Add a duration (used for deadlines expressed on the wall clock, e.g. in tests).
    pub fn add(&self, d: Duration) -> Tai64n {
        let n = self.nanos as u64 + d.subsec_nanos() as u64;
        Tai64n {
            secs: self.secs + d.as_secs() + n / 1_000_000_000,
            nanos: (n % 1_000_000_000) as u32,
        }
    }

    /// `@` followed by 24 lowercase hex digits, as s6-svstat, s6-svdt and ftrig names print it.
    pub fn label(&self) -> TaiLabel {
        TaiLabel(*self)
    }
}

/// Display adaptor for the textual `@<24 hex>` form.
pub struct TaiLabel(Tai64n);

impl fmt::Display for TaiLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "@{:016x}{:08x}", self.0.secs, self.0.nanos)
    }
}

/// Parse the `@<24 hex>` form (the leading `@` is optional).
pub fn parse_label(s: &str) -> Option<Tai64n> {
    let h = s.strip_prefix('@').unwrap_or(s);
    if h.len() != 24 || !h.bytes().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    Some(Tai64n {
        secs: u64::from_str_radix(&h[..16], 16).ok()?,
        nanos: u32::from_str_radix(&h[16..], 16).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_is_37_after_2017() {
        // Observed on Debian's s6: unix 1795328917 -> label 0x400000006b028bba.
        let t = Tai64n::from_unix(1795328917, 721639307);
        assert_eq!(t.secs, 0x400000006b028bba);
        assert_eq!(
            t.pack(),
            [0x40, 0, 0, 0, 0x6b, 0x02, 0x8b, 0xba, 0x2b, 0x03, 0x57, 0x8b]
        );
        assert_eq!(t.unix_secs(), 1795328917);
    }

    #[test]
    fn offset_before_leaps_is_10() {
        assert_eq!(Tai64n::from_unix(0, 0).secs, TAI64_BASE + 10);
        assert_eq!(
            Tai64n::from_unix(78796800, 0).secs,
            TAI64_BASE + 78796800 + 11
        );
    }

    #[test]
    fn pack_unpack_roundtrip() {
        for (s, n) in [
            (0u64, 0u32),
            (TAI64_BASE + 5, 999_999_999),
            (u64::MAX, u32::MAX),
        ] {
            let t = Tai64n { secs: s, nanos: n };
            assert_eq!(Tai64n::unpack(&t.pack()), t);
        }
    }

    #[test]
    fn unix_roundtrip_across_leaps() {
        for u in [
            0u64, 78796799, 78796800, 915148800, 1483228799, 1483228800, 1795328917,
        ] {
            assert_eq!(Tai64n::from_unix(u, 0).unix_secs(), u, "unix {u}");
        }
    }

    #[test]
    fn system_time_roundtrip() {
        let now = SystemTime::now();
        let t = Tai64n::from_system_time(now);
        assert_eq!(t.to_system_time(), now);
    }

    #[test]
    fn label_text() {
        let t = Tai64n {
            secs: 0x400000006b028bba,
            nanos: 0x2b03578b,
        };
        assert_eq!(t.label().to_string(), "@400000006b028bba2b03578b");
        assert_eq!(parse_label("@400000006b028bba2b03578b"), Some(t));
        assert_eq!(parse_label("@40000"), None);
    }

    #[test]
    fn seconds_between() {
        let a = Tai64n {
            secs: 100,
            nanos: 500,
        };
        assert_eq!(
            a.secs_until(&Tai64n {
                secs: 101,
                nanos: 499
            }),
            0
        );
        assert_eq!(
            a.secs_until(&Tai64n {
                secs: 101,
                nanos: 500
            }),
            1
        );
        assert_eq!(a.secs_until(&Tai64n { secs: 99, nanos: 0 }), 0);
        assert_eq!(
            a.secs_until_wrapping(&Tai64n {
                secs: 99,
                nanos: 500
            }),
            u64::MAX
        );
    }
}
