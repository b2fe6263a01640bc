//! `s6-tai64n` (stamp every line with the TAI64N label of now) and `s6-tai64nlocal` (turn a
//! leading label into a local date).

use std::os::fd::BorrowedFd;

use common::cli::GetOpt;
use common::msg::{exit, Prog, StrError};
use common::tai::{Tai64n, TAI64_BASE};
use common::Errno;

use crate::timefmt;

fn stdin() -> BorrowedFd<'static> {
    // SAFETY: fd 0 stays open for the life of the process (the runtime reopens it if closed).
    unsafe { BorrowedFd::borrow_raw(0) }
}

fn stdout() -> BorrowedFd<'static> {
    // SAFETY: as stdin.
    unsafe { BorrowedFd::borrow_raw(1) }
}

fn read_in(buf: &mut [u8]) -> Result<usize, Errno> {
    loop {
        match nix::unistd::read(stdin(), buf) {
            Err(Errno::EINTR) => continue,
            r => return r,
        }
    }
}

/// Line filter skeleton: `per_line(line_with_or_without_newline, out)`; output written after
/// every read (so whenever input would block).
fn filter(prog: &Prog, mut per_line: impl FnMut(&[u8], &mut Vec<u8>)) -> ! {
    let mut buf = vec![0u8; 65536];
    let mut len = 0usize;
    let mut out: Vec<u8> = Vec::with_capacity(65536 + 4096);
    loop {
        if len == buf.len() {
            buf.resize(buf.len() * 2, 0);
        }
        let n = match read_in(buf.get_mut(len..).unwrap_or_default()) {
            Ok(n) => n,
            Err(e) => prog.fatal(
                exit::SYSTEM,
                format_args!("unable to read from stdin: {}", StrError(e)),
            ),
        };
        let eof = n == 0;
        len += n;
        let mut start = 0;
        for line in buf
            .get(..len)
            .unwrap_or_default()
            .split_inclusive(|&c| c == b'\n')
        {
            // A last line without its newline waits for more input, unless there is none.
            if !eof && line.last() != Some(&b'\n') {
                break;
            }
            per_line(line, &mut out);
            start += line.len();
        }
        buf.copy_within(start..len, 0);
        len -= start;
        if let Err(e) = common::fsio::write_all(stdout(), &out) {
            prog.fatal(
                exit::SYSTEM,
                format_args!("unable to write to stdout: {}", StrError(e)),
            );
        }
        out.clear();
        if eof {
            common::rt::exit(0)
        }
    }
}

pub fn tai64n_main() -> ! {
    let args = common::rt::args_os();
    common::cli::help_or_version(
        args.get(1..).unwrap_or(&[]),
        "s6-tai64n\n  prefix every line of stdin with the TAI64N label of now",
    );
    let prog = Prog::new("s6-tai64n");
    filter(&prog, |line, out| {
        let (secs, nanos) = timefmt::now();
        out.extend_from_slice(&timefmt::label(&Tai64n::from_unix(
            secs.max(0) as u64,
            nanos,
        )));
        out.push(b' ');
        out.extend_from_slice(line);
        if line.last() != Some(&b'\n') {
            out.push(b'\n');
        }
    })
}

/// The date replacing the stamp at the start of `line`, if it has a valid one.
pub fn convert(line: &[u8], utc: bool) -> Option<[u8; timefmt::ISO_LEN]> {
    // `@`, 24 hex digits, and at least one more byte.
    let [b'@', stamp @ ..] = line else {
        return None;
    };
    let Some((hex, [_, ..])) = stamp.split_at_checked(24) else {
        return None;
    };
    let t = timefmt::parse_hex24(hex)?;
    if t.secs < TAI64_BASE + 10 || t.secs >= 1 << 63 {
        return None;
    }
    let unix = i64::try_from(t.unix_secs()).ok()?;
    timefmt::iso(unix, t.nanos, utc)
}

pub fn tai64nlocal_main() -> ! {
    let args = common::rt::args_os();
    let rest = args.get(1..).unwrap_or(&[]);
    common::cli::help_or_version(
        rest,
        "s6-tai64nlocal [ -g ]\n  -g   print UTC instead of local time",
    );
    let prog = Prog::new("s6-tai64nlocal");
    let mut utc = false;
    let mut g = GetOpt::new(rest, "g");
    while let Some(o) = g.next_opt() {
        match o {
            Ok(common::cli::Opt::Flag(b'g')) => utc = true,
            _ => prog.usage("s6-tai64nlocal [ -g ]"),
        }
    }
    timefmt::init_tz();
    filter(&prog, |line, out| match convert(line, utc) {
        Some(iso) => {
            out.extend_from_slice(&iso);
            out.extend_from_slice(line.get(25..).unwrap_or_default());
        }
        None => out.extend_from_slice(line),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversion() {
        assert_eq!(
            &convert(b"@400000006553f125075bcd15 x\n", true).unwrap(),
            b"2023-11-14 22:13:20.123456789"
        );
        assert!(convert(b"@400000006553f125075bcd15", true).is_none());
        assert!(convert(b"@4000000065 short\n", true).is_none());
        assert!(convert(b"@000000006553f125075bcd15 x\n", true).is_none());
    }
}
