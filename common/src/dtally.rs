//! `supervise/death_tally`: 14-byte records (TAI64N of the death, exit code or 128+signal,
//! signal or 0), oldest first.

use crate::fsio;
use crate::signals;
use crate::tai::Tai64n;
use crate::wait::WaitStatus;
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::stat::{fstat, Mode};
use nix::unistd::{ftruncate, lseek, Whence};
use std::path::Path;

pub const RECORD_LEN: usize = 14;
pub use crate::layout::{DEATH_TALLY as DTALLY_FILE, DEATH_TALLY_TMP as DTALLY_TMP};
/// `max-death-tally` default and cap.
pub const DEFAULT_MAX: u32 = 100;
pub const MAX_MAX: u32 = 4096;

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DeathRecord {
    pub stamp: Tai64n,
    /// `WEXITSTATUS`, or `128 + signal` for a signal death.
    pub exitcode: u8,
    /// The signal number, or 0 for a normal exit.
    pub sig: u8,
}

impl DeathRecord {
    /// The record s6-supervise appends when ./run dies with raw wait status `wstat`.
    pub fn from_wstat(stamp: Tai64n, wstat: i32) -> DeathRecord {
        match WaitStatus::from_raw(wstat) {
            WaitStatus::Signaled { signal, .. } => DeathRecord {
                stamp,
                exitcode: 128u8.wrapping_add(signal),
                sig: signal,
            },
            _ => DeathRecord {
                stamp,
                exitcode: WaitStatus::exit_code(wstat),
                sig: 0,
            },
        }
    }

    pub fn pack(&self) -> [u8; RECORD_LEN] {
        let mut b = [0u8; RECORD_LEN];
        b[..12].copy_from_slice(&self.stamp.pack());
        b[12] = self.exitcode;
        b[13] = self.sig;
        b
    }

    pub fn unpack(b: &[u8; RECORD_LEN]) -> DeathRecord {
        let mut t = [0u8; 12];
        t.copy_from_slice(&b[..12]);
        DeathRecord {
            stamp: Tai64n::unpack(&t),
            exitcode: b[12],
            sig: b[13],
        }
    }

    /// One line of `s6-svdt` output (without the newline): `@<hex> signal SIGTERM`,
    /// `@<hex> signal 15` (numeric), or `@<hex> exitcode 3`.
    pub fn describe(&self, numeric_signals: bool) -> String {
        if self.sig != 0 {
            if numeric_signals {
                format!("{} signal {}", self.stamp.label(), self.sig)
            } else {
                format!(
                    "{} signal SIG{}",
                    self.stamp.label(),
                    signals::name(self.sig as i32)
                )
            }
        } else {
            format!("{} exitcode {}", self.stamp.label(), self.exitcode)
        }
    }
}

/// Decode a whole tally (a length that is not a multiple of 14 is treated as empty, as s6 does).
pub fn unpack_all(b: &[u8]) -> Vec<DeathRecord> {
    if !b.len().is_multiple_of(RECORD_LEN) {
        return Vec::new();
    }
    b.chunks_exact(RECORD_LEN)
        .map(|c| {
            let mut r = [0u8; RECORD_LEN];
            r.copy_from_slice(c);
            DeathRecord::unpack(&r)
        })
        .collect()
}

pub fn pack_all(records: &[DeathRecord]) -> Vec<u8> {
    records.iter().flat_map(|r| r.pack()).collect()
}

/// Read the newest `max` records of `<svdir>/supervise/death_tally`, with s6's side effects:
/// a missing file is created empty, a file whose size is not a multiple of 14 is truncated.
pub fn read(svdir: &Path, max: usize) -> Result<Vec<DeathRecord>, Errno> {
    let path = crate::layout::subpath(svdir.as_os_str(), DTALLY_FILE);
    let path = crate::fsio::ShortPath(&path);
    let fd = match open(&path, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::ENOENT) => {
            open(
                &path,
                OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o666),
            )?;
            return Ok(Vec::new());
        }
        Err(e) => return Err(e),
    };
    let size = fstat(&fd)?.st_size.max(0) as usize;
    if !size.is_multiple_of(RECORD_LEN) {
        let w = open(&path, OFlag::O_WRONLY | OFlag::O_CLOEXEC, Mode::empty())?;
        ftruncate(&w, 0)?;
        return Ok(Vec::new());
    }
    let n = (size / RECORD_LEN).min(max);
    if n == 0 {
        return Ok(Vec::new());
    }
    lseek(&fd, (size - n * RECORD_LEN) as i64, Whence::SeekSet)?;
    let mut buf = vec![0u8; n * RECORD_LEN];
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
        match nix::unistd::read(&fd, rest) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got - got % RECORD_LEN);
    Ok(unpack_all(&buf))
}

/// Why [`append`] failed: s6-supervise warns differently for each half.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppendError {
    Read(Errno),
    Write(Errno),
}

/// Append `rec`, keeping the newest `max` records, by atomic replacement. `max == 0` leaves
/// the file untouched.
pub fn append(svdir: &Path, rec: DeathRecord, max: u32) -> Result<(), AppendError> {
    if max == 0 {
        return Ok(());
    }
    let max = max.min(MAX_MAX) as usize;
    let mut records = read(svdir, max).map_err(AppendError::Read)?;
    records.push(rec);
    let skip = records.len().saturating_sub(max);
    fsio::write_atomic(
        &crate::layout::subpath(svdir.as_os_str(), DTALLY_TMP),
        &crate::layout::subpath(svdir.as_os_str(), DTALLY_FILE),
        &pack_all(records.get(skip..).unwrap_or(&[])),
    )
    .map_err(AppendError::Write)
}

/// Truncate (or create) the tally, as s6-supervise does at startup.
pub fn truncate(svdir: &Path) -> Result<(), Errno> {
    open(
        &crate::layout::subpath(svdir.as_os_str(), DTALLY_FILE),
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_TRUNC | OFlag::O_CREAT | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o666),
    )
    .map(drop)
}

/// Replace the tally with an empty file atomically (`s6-svdt-clear`).
pub fn clear(svdir: &Path) -> Result<(), Errno> {
    fsio::write_atomic(
        &crate::layout::subpath(svdir.as_os_str(), DTALLY_TMP),
        &crate::layout::subpath(svdir.as_os_str(), DTALLY_FILE),
        &[],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from Debian's s6-supervise 2.11.3.2 (spec status-format.md §4): a SIGTERM
    /// death, then an `exit 3`.
    const REAL: [u8; 28] = [
        0x40, 0, 0, 0, 0x6b, 0x02, 0x8b, 0xbb, 0x17, 0xf3, 0x27, 0x6b, 0x8f, 0x0f, 0x40, 0, 0, 0,
        0x6b, 0x02, 0x8b, 0xbb, 0x2a, 0x37, 0xce, 0xfb, 0x03, 0x00,
    ];

    #[test]
    fn real_s6_vector() {
        let recs = unpack_all(&REAL);
        assert_eq!(recs.len(), 2);
        assert_eq!((recs[0].exitcode, recs[0].sig), (143, 15));
        assert_eq!((recs[1].exitcode, recs[1].sig), (3, 0));
        assert_eq!(recs[0], DeathRecord::from_wstat(recs[0].stamp, 0x000f));
        assert_eq!(recs[1], DeathRecord::from_wstat(recs[1].stamp, 0x0300));
        assert_eq!(pack_all(&recs), REAL);
        assert_eq!(
            recs[0].describe(false),
            "@400000006b028bbb17f3276b signal SIGTERM"
        );
        assert_eq!(
            recs[0].describe(true),
            "@400000006b028bbb17f3276b signal 15"
        );
        assert_eq!(
            recs[1].describe(false),
            "@400000006b028bbb2a37cefb exitcode 3"
        );
    }

    #[test]
    fn roundtrip_and_bad_length() {
        let r = DeathRecord {
            stamp: Tai64n { secs: 7, nanos: 8 },
            exitcode: 200,
            sig: 9,
        };
        assert_eq!(DeathRecord::unpack(&r.pack()), r);
        assert!(unpack_all(&[0u8; 20]).is_empty());
    }

    #[test]
    fn file_rules() {
        let d = std::env::temp_dir().join(format!("dtally-{}", std::process::id()));
        std::fs::create_dir_all(d.join("supervise")).unwrap();
        let f = d.join(DTALLY_FILE);
        // Missing: created empty.
        assert!(read(&d, 10).unwrap().is_empty());
        assert_eq!(std::fs::metadata(&f).unwrap().len(), 0);
        // Append keeps the newest `max`.
        for i in 0..5u8 {
            let r = DeathRecord {
                stamp: Tai64n {
                    secs: i as u64,
                    nanos: 0,
                },
                exitcode: i,
                sig: 0,
            };
            append(&d, r, 3).unwrap();
        }
        let recs = read(&d, 100).unwrap();
        assert_eq!(
            recs.iter().map(|r| r.exitcode).collect::<Vec<_>>(),
            vec![2, 3, 4]
        );
        assert_eq!(
            read(&d, 2)
                .unwrap()
                .iter()
                .map(|r| r.exitcode)
                .collect::<Vec<_>>(),
            vec![3, 4]
        );
        // max 0: untouched.
        append(&d, DeathRecord::default(), 0).unwrap();
        assert_eq!(read(&d, 100).unwrap().len(), 3);
        // Bad size: truncated by the reader.
        std::fs::write(&f, [1u8; 20]).unwrap();
        assert!(read(&d, 100).unwrap().is_empty());
        assert_eq!(std::fs::metadata(&f).unwrap().len(), 0);
        append(&d, DeathRecord::default(), 100).unwrap();
        truncate(&d).unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().len(), 0);
        append(&d, DeathRecord::default(), 100).unwrap();
        clear(&d).unwrap();
        assert_eq!(std::fs::metadata(&f).unwrap().len(), 0);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
