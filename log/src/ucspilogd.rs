//! `ucspilogd`: turn syslog records on stdin (ended by `\n` or NUL) into log lines, with the
//! values of environment variables and the decoded priority in front.

use std::ffi::OsString;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt;

use common::cli::{GetOpt, Opt};
use common::msg::{exit, Prog, StrError};
use common::Errno;

const USAGE: &str = "ucspilogd [ -D default ] [ var... ]";

/// Format one record (without its separator) into `out`; `vals` are the variables' values.
pub fn format_record(rec: &[u8], terminated: bool, vals: &[Vec<u8>], out: &mut Vec<u8>) {
    let mut rest = rec;
    // A stamp is `@` then a space at offset 25 (the first space among 26 bytes); the record
    // counting its separator must be longer than 26 bytes.
    match rec.split_at_checked(26) {
        Some((stamp @ [b'@', inner @ .., b' '], after))
            if (terminated || !after.is_empty()) && !inner.contains(&b' ') =>
        {
            out.extend_from_slice(stamp);
            rest = after;
        }
        _ => {}
    }
    for v in vals {
        out.extend_from_slice(v);
        out.extend_from_slice(b": ");
    }
    let n = crate::syslog::decode(rest, out);
    out.extend_from_slice(rest.get(n..).unwrap_or_default());
    out.push(b'\n');
}

pub fn main() -> ! {
    let args = common::rt::args_os();
    let rest = args.get(1..).unwrap_or(&[]);
    common::cli::help_or_version(
        rest,
        "ucspilogd [ -D default ] [ var... ]\n  -D default   value printed for an unset var (default <undefined>)",
    );
    let prog = Prog::new("ucspilogd");
    let mut default: OsString = OsString::from("<undefined>");
    let mut g = GetOpt::new(rest, "D:");
    while let Some(o) = g.next_opt() {
        match o {
            Ok(Opt::Arg(b'D', v)) => default = v.to_os_string(),
            _ => prog.usage(USAGE),
        }
    }
    let vals: Vec<Vec<u8>> = g
        .rest()
        .iter()
        .map(|v| {
            std::env::var_os(v)
                .unwrap_or_else(|| default.clone())
                .as_bytes()
                .to_vec()
        })
        .collect();
    // SAFETY: fd 0 stays open for the life of the process.
    let fin = unsafe { BorrowedFd::borrow_raw(0) };
    // SAFETY: fd 1 stays open for the life of the process.
    let fout = unsafe { BorrowedFd::borrow_raw(1) };
    let mut buf = vec![0u8; 65536];
    let mut len = 0;
    let mut out = Vec::with_capacity(70000);
    loop {
        if len == buf.len() {
            buf.resize(len * 2, 0);
        }
        let n = match nix::unistd::read(fin, buf.get_mut(len..).unwrap_or_default()) {
            Ok(n) => n,
            Err(Errno::EINTR) => continue,
            Err(e) => prog.fatal(
                exit::SYSTEM,
                format_args!("unable to read from stdin: {}", StrError(e)),
            ),
        };
        len += n;
        let mut start = 0;
        let records = buf.get(..len).unwrap_or_default();
        for piece in records.split_inclusive(|&c| c == b'\n' || c == 0) {
            match piece.split_last() {
                Some((b'\n' | 0, rec)) => format_record(rec, true, &vals, &mut out),
                // An unterminated last record waits for more input, unless there is none.
                _ if n == 0 => format_record(piece, false, &vals, &mut out),
                _ => break,
            }
            start += piece.len();
        }
        buf.copy_within(start..len, 0);
        len -= start;
        if let Err(e) = common::fsio::write_all(fout, &out) {
            prog.fatal(
                exit::SYSTEM,
                format_args!("unable to write to stdout: {}", StrError(e)),
            );
        }
        out.clear();
        if n == 0 {
            common::rt::exit(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let mut o = Vec::new();
        format_record(
            b"@400000006553f125075bcd15 <14>x",
            true,
            &[b"IP".to_vec()],
            &mut o,
        );
        assert_eq!(o, b"@400000006553f125075bcd15 IP: user.info: x\n");
        o.clear();
        format_record(b"", true, &[], &mut o);
        assert_eq!(o, b"\n");
    }

    #[test]
    fn stamp_needs_26_bytes_and_more() {
        let stamp = b"@400000006553f125075bcd15 ";
        let vals = [b"IP".to_vec()];
        let mut o = Vec::new();
        format_record(stamp, true, &vals, &mut o);
        assert_eq!(o, b"@400000006553f125075bcd15 IP: \n");
        o.clear();
        format_record(stamp, false, &vals, &mut o);
        assert_eq!(o, b"IP: @400000006553f125075bcd15 \n");
        o.clear();
        format_record(b"@4000 0006553f125075bcd15 x", true, &vals, &mut o);
        assert_eq!(o, b"IP: @4000 0006553f125075bcd15 x\n");
    }
}
