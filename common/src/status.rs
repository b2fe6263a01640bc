//! `supervise/status`: the 35-byte record s6-supervise rewrites on every change.
//!
//! Layout: stamp (TAI64N, 12) | ready stamp (TAI64N, 12) | pid (u64 BE) | wait status
//! (u16 BE) | flags (bit 0 paused, 1 finishing, 2 want up, 3 ready).

use crate::fsio;
use crate::layout;
use crate::tai::Tai64n;
use crate::wait::WaitStatus;
use nix::errno::Errno;
use std::path::Path;

pub const STATUS_LEN: usize = 35;
pub const FLAG_PAUSED: u8 = 0x01;
pub const FLAG_FINISHING: u8 = 0x02;
pub const FLAG_WANTUP: u8 = 0x04;
pub const FLAG_READY: u8 = 0x08;

/// Path of the status file relative to a service directory (the names live in
/// [`crate::layout`]).
pub use crate::layout::{STATUS as STATUS_FILE, STATUS_TMP};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatusRecord {
    /// Time of the last up/down transition.
    pub stamp: Tai64n,
    /// Time of the last readiness change.
    pub ready_stamp: Tai64n,
    /// Pid of ./run, or of ./finish while finishing; 0 when nothing runs.
    pub pid: u64,
    /// Raw 16-bit wait status of the last ./run.
    pub wstat: u16,
    pub paused: bool,
    pub finishing: bool,
    pub want_up: bool,
    pub ready: bool,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatusError {
    /// The file could not be opened or read.
    #[error("{}", crate::msg::StrError(*.0))]
    Io(Errno),
    /// Fewer than 35 bytes: s6 reports this as EPIPE ("Broken pipe").
    #[error("{}", crate::msg::StrError(Errno::EPIPE))]
    Short(usize),
}

impl StatusError {
    /// The errno s6 would print for this error.
    pub fn errno(&self) -> Errno {
        match self {
            StatusError::Io(e) => *e,
            StatusError::Short(_) => Errno::EPIPE,
        }
    }
}

impl StatusRecord {
    pub fn flags(&self) -> u8 {
        [
            (self.paused, FLAG_PAUSED),
            (self.finishing, FLAG_FINISHING),
            (self.want_up, FLAG_WANTUP),
            (self.ready, FLAG_READY),
        ]
        .iter()
        .fold(0, |acc, &(set, bit)| if set { acc | bit } else { acc })
    }

    pub fn pack(&self) -> [u8; STATUS_LEN] {
        let mut b = [0u8; STATUS_LEN];
        b[0..12].copy_from_slice(&self.stamp.pack());
        b[12..24].copy_from_slice(&self.ready_stamp.pack());
        b[24..32].copy_from_slice(&self.pid.to_be_bytes());
        b[32..34].copy_from_slice(&self.wstat.to_be_bytes());
        b[34] = self.flags();
        b
    }

    /// Decode the first 35 bytes; extra bytes are ignored, fewer is [`StatusError::Short`].
    pub fn unpack(b: &[u8]) -> Result<StatusRecord, StatusError> {
        let Some(b) = b.first_chunk::<STATUS_LEN>() else {
            return Err(StatusError::Short(b.len()));
        };
        let field = |at: usize| -> [u8; 12] {
            let mut t = [0u8; 12];
            t.copy_from_slice(b.get(at..at + 12).unwrap_or(&[0; 12]));
            t
        };
        let mut p = [0u8; 8];
        p.copy_from_slice(b.get(24..32).unwrap_or(&[0; 8]));
        let [.., w0, w1, flags] = *b;
        Ok(StatusRecord {
            stamp: Tai64n::unpack(&field(0)),
            ready_stamp: Tai64n::unpack(&field(12)),
            pid: u64::from_be_bytes(p),
            wstat: u16::from_be_bytes([w0, w1]),
            ..StatusRecord::default()
        }
        .with_flags(flags))
    }

    /// The same record with the four flags decoded from a flags byte (high bits ignored).
    pub fn with_flags(self, flags: u8) -> StatusRecord {
        StatusRecord {
            paused: flags & FLAG_PAUSED != 0,
            finishing: flags & FLAG_FINISHING != 0,
            want_up: flags & FLAG_WANTUP != 0,
            ready: flags & FLAG_READY != 0,
            ..self
        }
    }

    /// The pid as readers use it: a plain cast to the 32-bit `pid_t` (upper bits dropped).
    pub fn pid_t(&self) -> i32 {
        self.pid as i32
    }

    /// "Is the service up?" as every s6 reader decides it: a pid (as `pid_t`: s6 unpacks
    /// the 64-bit field into one), and not the finish script's.
    pub fn is_up(&self) -> bool {
        self.pid_t() != 0 && !self.finishing
    }

    /// 2.15's "not started yet" marker: no pid, not finishing, paused.
    pub fn not_started(&self) -> bool {
        self.pid_t() == 0 && !self.finishing && self.paused
    }

    pub fn wait_status(&self) -> WaitStatus {
        WaitStatus::from_raw(self.wstat as i32)
    }

    /// `s6_svstatus_read`: read `<svdir>/supervise/status` (the path built as s6 builds
    /// it, see [`layout::subpath`]); a file shorter than 35 bytes is [`StatusError::Short`].
    pub fn read(svdir: &Path) -> Result<StatusRecord, StatusError> {
        let mut buf = [0u8; STATUS_LEN];
        let path = crate::cpath::CPath::sub(svdir.as_os_str(), STATUS_FILE);
        let n = fsio::read_prefix_at(&path, &mut buf).map_err(StatusError::Io)?;
        StatusRecord::unpack(buf.get(..n).unwrap_or(&[]))
    }

    /// Atomically replace `<svdir>/supervise/status` (`status.new` + rename).
    pub fn write(&self, svdir: &Path) -> Result<(), Errno> {
        let dir = svdir.as_os_str();
        fsio::write_atomic(
            &layout::subpath(dir, STATUS_TMP),
            &layout::subpath(dir, STATUS_FILE),
            &self.pack(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Captured from Debian's s6-supervise 2.11.3.2 (spec status-format.md §4): right after
    /// start with a `down` file, then up and ready, then down by SIGTERM.
    const FRESH: [u8; 35] = [
        0x40, 0, 0, 0, 0x6b, 0x02, 0x8b, 0xba, 0x2b, 0x03, 0x57, 0x8b, 0x40, 0, 0, 0, 0x6b, 0x02,
        0x8b, 0xba, 0x2b, 0x03, 0x57, 0x8b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x08,
    ];
    const UP_READY: [u8; 35] = [
        0x40, 0, 0, 0, 0x6b, 0x02, 0x8b, 0xba, 0x35, 0x63, 0x5f, 0xd8, 0x40, 0, 0, 0, 0x6b, 0x02,
        0x8b, 0xba, 0x35, 0x68, 0xa9, 0xe8, 0, 0, 0, 0, 0, 0, 0x73, 0x8a, 0, 0, 0x0c,
    ];
    const DOWN_TERM: [u8; 35] = [
        0x40, 0, 0, 0, 0x6b, 0x02, 0x8b, 0xbb, 0x17, 0xf3, 0x27, 0x6b, 0x40, 0, 0, 0, 0x6b, 0x02,
        0x8b, 0xbb, 0x17, 0xfb, 0x1e, 0xd3, 0, 0, 0, 0, 0, 0, 0, 0, 0x00, 0x0f, 0x08,
    ];

    #[test]
    fn real_s6_vectors_decode_and_reencode() {
        let fresh = StatusRecord::unpack(&FRESH).unwrap();
        assert_eq!(
            fresh.stamp,
            Tai64n {
                secs: 0x400000006b028bba,
                nanos: 0x2b03578b
            }
        );
        assert_eq!(fresh.ready_stamp, fresh.stamp);
        assert_eq!((fresh.pid, fresh.wstat), (0, 0));
        assert!(fresh.ready && !fresh.want_up && !fresh.paused && !fresh.finishing);
        assert_eq!(fresh.pack(), FRESH);

        let up = StatusRecord::unpack(&UP_READY).unwrap();
        assert_eq!(up.pid, 29578);
        assert!(up.is_up() && up.ready && up.want_up);
        assert_eq!(up.pack(), UP_READY);

        let down = StatusRecord::unpack(&DOWN_TERM).unwrap();
        assert!(!down.is_up());
        assert_eq!(
            down.wait_status(),
            WaitStatus::Signaled {
                signal: 15,
                core: false
            }
        );
        assert_eq!(down.pack(), DOWN_TERM);
    }

    #[test]
    fn roundtrip_every_flag_combination() {
        for flags in 0u8..16 {
            let r = StatusRecord {
                stamp: Tai64n { secs: 1, nanos: 2 },
                ready_stamp: Tai64n { secs: 3, nanos: 4 },
                pid: 0x0102030405060708,
                wstat: 0xabcd,
                paused: flags & 1 != 0,
                finishing: flags & 2 != 0,
                want_up: flags & 4 != 0,
                ready: flags & 8 != 0,
            };
            assert_eq!(StatusRecord::unpack(&r.pack()).unwrap(), r);
        }
    }

    #[test]
    fn short_and_long_input() {
        assert_eq!(
            StatusRecord::unpack(&[0u8; 34]),
            Err(StatusError::Short(34))
        );
        assert_eq!(StatusError::Short(3).to_string(), "Broken pipe");
        let mut long = [0u8; 40];
        long[..35].copy_from_slice(&UP_READY);
        assert_eq!(StatusRecord::unpack(&long).unwrap().pid, 29578);
        // High flag bits are ignored; the pid is cast to 32 bits by readers.
        let a = StatusRecord::unpack(&[b'A'; 35]).unwrap();
        assert_eq!(a.pid_t(), 0x41414141);
        assert!(a.paused && !a.finishing && !a.want_up && !a.ready);
    }

    #[test]
    fn markers() {
        let r = StatusRecord {
            paused: true,
            ..Default::default()
        };
        assert!(r.not_started() && !r.is_up());
        let f = StatusRecord {
            pid: 5,
            finishing: true,
            ..Default::default()
        };
        assert!(!f.is_up() && !f.not_started());
    }

    #[test]
    fn file_read_write() {
        let d = std::env::temp_dir().join(format!("status-{}", std::process::id()));
        std::fs::create_dir_all(d.join("supervise")).unwrap();
        assert_eq!(StatusRecord::read(&d), Err(StatusError::Io(Errno::ENOENT)));
        let r = StatusRecord::unpack(&UP_READY).unwrap();
        r.write(&d).unwrap();
        assert_eq!(StatusRecord::read(&d).unwrap(), r);
        assert_eq!(std::fs::read(d.join(STATUS_FILE)).unwrap(), UP_READY);
        std::fs::write(d.join(STATUS_FILE), [0u8; 10]).unwrap();
        assert_eq!(StatusRecord::read(&d), Err(StatusError::Short(10)));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
