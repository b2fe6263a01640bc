//! `s6-permafailon seconds deathcount statuslist prog...`: as a service's `./finish`, exit
//! 125 (s6-supervise then leaves the service down) when `supervise/death_tally` holds at
//! least DEATHCOUNT recent deaths matching STATUSLIST; otherwise exec prog.

use common::dtally::{DeathRecord, RECORD_LEN};
use common::msg::StrError;
use common::Tai64n;
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

pub const USAGE: &str = "s6-permafailon seconds deathcount statuslist prog...";
const PROG: &str = "s6-permafailon";

/// Which deaths count: exit codes (a bit per code) and signal numbers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatusList {
    codes: [bool; 256],
    sigs: [bool; 65],
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ListError {
    #[error("invalid exit code")]
    ExitCode,
    #[error("invalid interval specification")]
    IntervalSpec,
    #[error("invalid interval")]
    Interval,
    #[error("invalid status list specification")]
    Spec,
    #[error("invalid signal")]
    Signal,
}

const SEPARATORS: &[u8] = b",; \n\r\t";

/// skalibs' `uint_scan`: the longest decimal prefix (saturating), and its length.
fn scan_uint(s: &[u8]) -> (u32, usize) {
    let len = s.iter().take_while(|b| b.is_ascii_digit()).count();
    let v = s.iter().take(len).fold(0u32, |acc, &d| {
        acc.saturating_mul(10).saturating_add((d - b'0') as u32)
    });
    (v, len)
}

impl StatusList {
    /// Parse a status list: exit codes `N`, ranges `A-B`, signal names, separated by any of
    /// `,; \n\r\t`. Pure.
    pub fn parse(s: &[u8]) -> Result<StatusList, ListError> {
        let mut l = StatusList {
            codes: [false; 256],
            sigs: [false; 65],
        };
        // What is still to parse.
        let mut rest = s;
        while !rest.is_empty() {
            let (u, len) = scan_uint(rest);
            if len > 0 {
                if u > 255 {
                    return Err(ListError::ExitCode);
                }
                rest = rest.get(len..).unwrap_or_default();
                if let Some(after_dash) = rest.strip_prefix(b"-") {
                    let (v, len) = scan_uint(after_dash);
                    if len == 0 {
                        return Err(ListError::IntervalSpec);
                    }
                    if v > 255 {
                        return Err(ListError::ExitCode);
                    }
                    if v < u {
                        return Err(ListError::Interval);
                    }
                    rest = after_dash.get(len..).unwrap_or_default();
                    if let Some(codes) = l.codes.get_mut(u as usize..=v as usize) {
                        codes.fill(true);
                    }
                } else if let Some(code) = l.codes.get_mut(u as usize) {
                    *code = true;
                }
            } else {
                let end = rest
                    .iter()
                    .position(|b| SEPARATORS.contains(b))
                    .unwrap_or(rest.len());
                let (word, after) = rest.split_at_checked(end).ok_or(ListError::Spec)?;
                let word = std::str::from_utf8(word).map_err(|_| ListError::Spec)?;
                if word.is_empty() {
                    return Err(ListError::Spec);
                }
                let sig = common::signals::parse(word).ok_or(ListError::Spec)?;
                let slot = usize::try_from(sig)
                    .ok()
                    .filter(|&i| i > 0)
                    .and_then(|i| l.sigs.get_mut(i))
                    .ok_or(ListError::Signal)?;
                *slot = true;
                rest = after;
            }
            let seps = rest.iter().take_while(|b| SEPARATORS.contains(b)).count();
            rest = rest.get(seps..).unwrap_or_default();
        }
        Ok(l)
    }

    fn matches(&self, r: &DeathRecord) -> bool {
        (r.sig != 0 && self.sigs.get(r.sig as usize) == Some(&true))
            || self.codes.get(r.exitcode as usize) == Some(&true)
    }
}

/// The death that triggers the permanent failure: scanning oldest first, the record with
/// which DEATHCOUNT records not older than `now - seconds` have matched. Pure.
pub fn trigger<'a>(
    records: &'a [DeathRecord],
    list: &StatusList,
    count: u32,
    seconds: u32,
    now: Tai64n,
) -> Option<&'a DeathRecord> {
    if records.len() < count as usize {
        return None;
    }
    let min = Tai64n {
        secs: now.secs.saturating_sub(seconds as u64),
        nanos: now.nanos,
    };
    let mut matched = 0;
    records.iter().find(|r| {
        if r.stamp >= min && list.matches(r) {
            matched += 1;
        }
        matched >= count
    })
}

/// The info line for the record that triggered.
pub fn info_line(r: &DeathRecord, count: u32, seconds: u32) -> String {
    let what = if r.sig != 0 {
        format!("signal {}", r.sig)
    } else {
        format!("exit code {}", r.exitcode)
    };
    format!(
        "{PROG}: info: PERMANENT FAILURE triggered after {count} events involving {what} in the last {seconds} seconds\n"
    )
}

pub fn main(args: &[OsString]) -> ! {
    let [seconds, count, list, prog @ ..] = args else {
        common::Prog::new(PROG).usage(USAGE)
    };
    let Some(seconds) = common::cli::uint0_scan(seconds) else {
        common::Prog::new(PROG).usage(USAGE)
    };
    let count = match common::cli::uint0_scan(count) {
        Some(0) | None => common::Prog::new(PROG).usage(USAGE),
        Some(n) => n.min(common::dtally::MAX_MAX),
    };
    let list = StatusList::parse(list.as_bytes())
        .unwrap_or_else(|e| common::Prog::new(PROG).fatal(100, e));
    let p = common::Prog::new(PROG);
    let path = std::path::Path::new(common::dtally::DTALLY_FILE);
    match std::fs::metadata(path) {
        Err(e) => p.warn(format_args!(
            "unable to stat {}: {}",
            common::dtally::DTALLY_FILE,
            StrError(common::msg::errno_of(&e))
        )),
        Ok(m)
            if m.len() % RECORD_LEN as u64 != 0
                || m.len() > (RECORD_LEN as u64) * common::dtally::MAX_MAX as u64 =>
        {
            p.warn(format_args!("invalid {}", common::dtally::DTALLY_FILE))
        }
        Ok(_) => match std::fs::read(path) {
            Err(e) => p.warn(format_args!(
                "unable to read {}: {}",
                common::dtally::DTALLY_FILE,
                StrError(common::msg::errno_of(&e))
            )),
            Ok(bytes) => {
                let records = common::dtally::unpack_all(&bytes);
                if let Some(r) = trigger(&records, &list, count, seconds, Tai64n::now()) {
                    common::msg::write_stderr(&info_line(r, count, seconds));
                    common::rt::exit(125)
                }
            }
        },
    }
    common::exec::exec0_or_die(PROG, prog)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(age: u64, exitcode: u8, sig: u8, now: Tai64n) -> DeathRecord {
        DeathRecord {
            stamp: Tai64n {
                secs: now.secs - age,
                nanos: 0,
            },
            exitcode,
            sig,
        }
    }

    #[test]
    fn list_parsing() {
        let l = StatusList::parse(b"1,3-5;SIGTERM USR1\t9").unwrap();
        assert!(l.codes[1] && l.codes[3] && l.codes[4] && l.codes[5] && l.codes[9]);
        assert!(!l.codes[2] && !l.codes[6]);
        assert!(l.sigs[15] && l.sigs[10] && !l.sigs[9]);
        assert_eq!(StatusList::parse(b"256"), Err(ListError::ExitCode));
        assert_eq!(StatusList::parse(b"3-"), Err(ListError::IntervalSpec));
        assert_eq!(StatusList::parse(b"5-3"), Err(ListError::Interval));
        assert_eq!(StatusList::parse(b"3-300"), Err(ListError::ExitCode));
        assert_eq!(StatusList::parse(b"nope"), Err(ListError::Spec));
        assert_eq!(StatusList::parse(b"3x"), Err(ListError::Spec));
        assert!(StatusList::parse(b"").is_ok());
        assert!(StatusList::parse(b"1,,2;\n").unwrap().codes[2]);
        // As in s6, a leading separator is an empty (invalid) word.
        assert_eq!(StatusList::parse(b",1"), Err(ListError::Spec));
    }

    #[test]
    fn trigger_counts_recent_matching_deaths() {
        let now = Tai64n::now();
        let l = StatusList::parse(b"1").unwrap();
        let recent = [rec(5, 1, 0, now), rec(4, 1, 0, now), rec(3, 1, 0, now)];
        assert_eq!(trigger(&recent, &l, 3, 60, now), Some(&recent[2]));
        assert_eq!(trigger(&recent, &l, 4, 60, now), None);
        let old = [
            rec(500, 1, 0, now),
            rec(400, 1, 0, now),
            recent[0],
            recent[1],
        ];
        assert_eq!(trigger(&old, &l, 3, 60, now), None);
        assert_eq!(trigger(&old, &l, 3, 1000, now), Some(&old[2]));
        let l = StatusList::parse(b"0;SIGUSR1 6").unwrap();
        let mixed = [rec(5, 6, 0, now), rec(4, 138, 10, now), rec(3, 7, 0, now)];
        let r = trigger(&mixed, &l, 2, 60, now).unwrap();
        assert_eq!(
            info_line(r, 2, 60),
            "s6-permafailon: info: PERMANENT FAILURE triggered after 2 events involving signal 10 in the last 60 seconds\n"
        );
    }
}
