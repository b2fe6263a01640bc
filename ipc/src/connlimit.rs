//! `s6-connlimit`: refuse a client when `${PROTO}CONNNUM` exceeds `${PROTO}CONNMAX`.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use common::cli::{fatal_bytes, uint0_scan};

use crate::util::{exec, getenv, USAGE as EXIT_USAGE};

const PROG: &str = "s6-connlimit";
const HELP: &str = "s6-connlimit prog...
  exit 1 if ${PROTO}CONNNUM > ${PROTO}CONNMAX, else exec prog";

/// The verdict for the given variables: `Ok(())` to run, `Err((code, message))`.
pub fn check(
    proto: Option<&[u8]>,
    num: impl Fn(&[u8]) -> Option<Vec<u8>>,
) -> Result<(), (i32, Vec<u8>)> {
    let Some(p) = proto else {
        return Err((EXIT_USAGE, b"PROTO not set".to_vec()));
    };
    if p.is_empty() {
        return Err((EXIT_USAGE, b"empty PROTO".to_vec()));
    }
    let numvar = [p, b"CONNNUM"].concat();
    let maxvar = [p, b"CONNMAX"].concat();
    let Some(n) = num(&numvar) else {
        return Err((EXIT_USAGE, [&numvar[..], b" not set"].concat()));
    };
    let Some(n) = uint0_scan(OsStr::from_bytes(&n)) else {
        return Err((EXIT_USAGE, [&b"invalid "[..], &numvar].concat()));
    };
    if let Some(m) = num(&maxvar) {
        let Some(max) = uint0_scan(OsStr::from_bytes(&m)) else {
            return Err((EXIT_USAGE, [&b"invalid "[..], &maxvar].concat()));
        };
        if n > max {
            return Err((
                1,
                [
                    &b"number of connections from this client limited to "[..],
                    &m,
                ]
                .concat(),
            ));
        }
    }
    Ok(())
}

pub fn main() -> ! {
    let args = common::rt::args_os();
    let rest: &[OsString] = args.get(1..).unwrap_or_default();
    common::cli::help_or_version(rest, HELP);
    let proto = getenv(b"PROTO");
    if let Err((code, msg)) = check(proto.as_deref(), getenv) {
        fatal_bytes(PROG, code, &[&msg])
    }
    if rest.is_empty() {
        common::rt::exit(0)
    }
    exec(PROG, rest, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(v: &'a [(&'a str, &'a str)]) -> impl Fn(&[u8]) -> Option<Vec<u8>> + 'a {
        move |k| {
            v.iter()
                .find(|(n, _)| n.as_bytes() == k)
                .map(|(_, x)| x.as_bytes().to_vec())
        }
    }

    #[test]
    fn verdicts() {
        let e = [("IPCCONNNUM", "3"), ("IPCCONNMAX", "2")];
        assert_eq!(check(Some(b"IPC"), env(&e)).unwrap_err().0, 1);
        let e = [("IPCCONNNUM", "2"), ("IPCCONNMAX", "2")];
        assert!(check(Some(b"IPC"), env(&e)).is_ok());
        assert_eq!(check(None, env(&[])).unwrap_err().1, b"PROTO not set");
        assert_eq!(check(Some(b""), env(&[])).unwrap_err().1, b"empty PROTO");
        let e = [("IPCCONNNUM", "x")];
        assert_eq!(
            check(Some(b"IPC"), env(&e)).unwrap_err().1,
            b"invalid IPCCONNNUM"
        );
    }
}
