//! `s6-accessrules-fs-from-cdb`: recreate a rules directory from a rules cdb.
//!
//! Deliberate difference from s6: a key or an env variable name that would create a path
//! outside `dir` (an empty, `.` or `..` component, or a `/` in a variable name) is "not
//! valid accessrules data" instead of being followed; s6-accessrules-cdb-from-fs never makes
//! such records.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::cdb::Cdb;
use common::cli::fatal_bytes;
use nix::errno::Errno;
use nix::sys::stat::{umask, Mode};

use crate::util::{fatal_sys, usage, SYSTEM};

const PROG: &str = "s6-accessrules-fs-from-cdb";
const USAGE: &str = "s6-accessrules-fs-from-cdb dir cdbfile";
const HELP: &str = "s6-accessrules-fs-from-cdb dir cdbfile
  dir must not exist; it is made from the rules in cdbfile";

/// One decoded record: what to write under `dir/KEY/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FsRule<'a> {
    /// `allow` (`Some(true)`), `deny` (`Some(false)`) or neither.
    pub marker: Option<bool>,
    /// env entries: (name, `Some(value)` or `None` for an empty file).
    pub env: Vec<(&'a [u8], Option<&'a [u8]>)>,
    pub exec: &'a [u8],
}

fn safe_component(c: &[u8]) -> bool {
    !c.is_empty() && c != b"." && c != b".." && !c.contains(&b'/')
}

/// Whether a key names a path inside the rules directory.
pub fn safe_key(key: &[u8]) -> bool {
    !key.is_empty() && key.split(|&b| b == b'/').all(safe_component)
}

/// Decode a record as s6-accessrules-fs-from-cdb does; `None` is "not valid accessrules data".
pub fn decode(data: &[u8]) -> Option<FsRule<'_>> {
    if data.len() > 8201 {
        return None;
    }
    let (&kind, after_kind) = data.split_first()?;
    let marker = match kind {
        b'A' => Some(true),
        b'D' => Some(false),
        _ => None,
    };
    let mut r = FsRule {
        marker,
        env: Vec::new(),
        exec: b"",
    };
    let Some((envlen, body)) = after_kind.split_first_chunk::<2>() else {
        return Some(r);
    };
    let envlen = u16::from_be_bytes(*envlen) as usize;
    if envlen > 4096 {
        return None;
    }
    let (mut env, after_env) = body.split_at_checked(envlen)?;
    let (execlen, exec) = after_env.split_first_chunk::<2>()?;
    let execlen = u16::from_be_bytes(*execlen) as usize;
    if execlen > 4096 || exec.len() != execlen {
        return None;
    }
    while !env.is_empty() {
        let n = env.iter().position(|&b| b == 0)?;
        let (entry, tail) = env.split_at_checked(n)?;
        let (name, value) = match entry.iter().position(|&b| b == b'=') {
            Some(p) => {
                let (name, value) = entry.split_at_checked(p)?;
                (name, Some(value.get(1..).unwrap_or_default()))
            }
            None => (entry, None),
        };
        if !safe_component(name) {
            return None;
        }
        r.env.push((name, value));
        env = tail.get(1..)?;
    }
    r.exec = exec;
    Some(r)
}

/// One step of skalibs' `cdb_traverse_next`, which checks only the 8-byte record header:
/// a key or data running past the end of the file is then rejected as rule data.
pub enum Step<'a> {
    End,
    /// The end-of-data mark or a record header is outside the file.
    Broken,
    /// The record's key or data is outside the file.
    OutOfBounds,
    Record(&'a [u8], &'a [u8]),
}

fn le32(map: &[u8], pos: usize) -> Option<usize> {
    let b = map.get(pos..)?.first_chunk::<4>()?;
    Some(u32::from_le_bytes(*b) as usize)
}

/// The record at `pos` (advancing it), in file order.
pub fn traverse<'a>(map: &'a [u8], pos: &mut usize) -> Step<'a> {
    let Some(eod) = le32(map, 0) else {
        return Step::Broken;
    };
    if eod < 8 || eod - 8 < *pos {
        return Step::End;
    }
    let (Some(klen), Some(dlen)) = (le32(map, *pos), le32(map, *pos + 4)) else {
        return Step::Broken;
    };
    let kstart = *pos + 8;
    let dstart = kstart + klen;
    let end = dstart + dlen;
    *pos = end;
    match (map.get(kstart..dstart), map.get(dstart..end)) {
        (Some(k), Some(d)) => Step::Record(k, d),
        _ => Step::OutOfBounds,
    }
}

struct Out {
    base: PathBuf,
}

impl Out {
    fn die_sys(&self, parts: &[&[u8]], e: Errno) -> ! {
        let _ = std::fs::remove_dir_all(&self.base);
        fatal_sys(PROG, SYSTEM, parts, e)
    }

    fn die(&self, parts: &[&[u8]]) -> ! {
        let _ = std::fs::remove_dir_all(&self.base);
        fatal_bytes(PROG, SYSTEM, parts)
    }

    fn mkdir(&self, p: &Path) {
        let old = umask(Mode::empty());
        let r = nix::unistd::mkdir(p, Mode::from_bits_truncate(0o2755));
        umask(old);
        match r {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => self.die_sys(&[b"unable to mkdir ", p.as_os_str().as_bytes()], e),
        }
    }

    fn write(&self, p: &Path, data: &[u8]) {
        let r = nix::fcntl::open(
            p,
            nix::fcntl::OFlag::O_WRONLY
                | nix::fcntl::OFlag::O_CREAT
                | nix::fcntl::OFlag::O_TRUNC
                | nix::fcntl::OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o666),
        )
        .and_then(|fd| common::fsio::write_all(&fd, data));
        if let Err(e) = r {
            let what: &[u8] = if data.is_empty() {
                b"unable to open_trunc "
            } else {
                b"unable to openwritenclose_unsafe "
            };
            self.die_sys(&[what, p.as_os_str().as_bytes()], e)
        }
    }
}

pub fn main() -> ! {
    let args = common::rt::args_os();
    let rest = args.get(1..).unwrap_or_default();
    common::cli::help_or_version(rest, HELP);
    let [dir_arg, cdbfile, ..] = rest else {
        usage(PROG, USAGE)
    };
    let cdbfile: &OsString = cdbfile;
    let c = match Cdb::open(Path::new(cdbfile)) {
        Ok(c) => c,
        Err(e) => fatal_sys(PROG, SYSTEM, &[b"unable to cdb_init"], e),
    };
    let base = PathBuf::from(dir_arg);
    {
        let old = umask(Mode::empty());
        let r = nix::unistd::mkdir(&base, Mode::from_bits_truncate(0o2755));
        umask(old);
        if let Err(e) = r {
            fatal_sys(
                PROG,
                SYSTEM,
                &[b"unable to mkdir ", base.as_os_str().as_bytes()],
                e,
            )
        }
    }
    let out = Out { base };
    let invalid: &[&[u8]] = &[
        b"unable to handle cdb record: ",
        cdbfile.as_bytes(),
        b" does not contain valid accessrules data",
    ];
    let mut pos = common::cdb::HEADER_LEN;
    loop {
        let (key, data) = match traverse(c.as_bytes(), &mut pos) {
            Step::End => break,
            Step::Broken => out.die(&[b"unable to cdb_traverse_next: invalid cdb"]),
            Step::OutOfBounds => out.die(invalid),
            Step::Record(k, d) => (k, d),
        };
        let Some(rule) = decode(data).filter(|_| safe_key(key)) else {
            out.die(invalid)
        };
        let dir = out.base.join(OsStr::from_bytes(key));
        // Parents first, as mkdir -p.
        let mut p = out.base.clone();
        for comp in key.split(|&b| b == b'/') {
            p.push(OsStr::from_bytes(comp));
            out.mkdir(&p);
        }
        match rule.marker {
            Some(true) => out.write(&dir.join("allow"), b""),
            Some(false) => out.write(&dir.join("deny"), b""),
            None => {}
        }
        if !rule.env.is_empty() {
            let envdir = dir.join("env");
            out.mkdir(&envdir);
            for (name, value) in &rule.env {
                let f = envdir.join(OsStr::from_bytes(name));
                match value {
                    Some(v) => out.write(&f, &[v, &b"\n"[..]].concat()),
                    None => out.write(&f, b""),
                }
            }
        }
        if !rule.exec.is_empty() {
            out.write(&dir.join("exec"), rule.exec);
        }
    }
    common::rt::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        assert_eq!(decode(b"D").unwrap().marker, Some(false));
        let r = decode(b"A\0\x06X=1\0Z\0\0\x03cmd").unwrap();
        assert_eq!(r.env, vec![(&b"X"[..], Some(&b"1"[..])), (&b"Z"[..], None)]);
        assert_eq!(r.exec, b"cmd");
        assert!(decode(b"").is_none());
        assert!(decode(b"A\0\x02X=\0\0").is_none());
        assert!(decode(b"A\0\x03X=1\0\0").is_none());
        assert!(decode(b"A\0\x05../x\0\0\0").is_none());
        assert!(safe_key(b"uid/0"));
        assert!(!safe_key(b"uid/../x") && !safe_key(b"/x") && !safe_key(b""));
    }
}
