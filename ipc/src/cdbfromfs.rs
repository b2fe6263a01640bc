//! `s6-accessrules-cdb-from-fs`: compile a rules directory into a cdb, written to a
//! temporary file and renamed over the target.

use std::ffi::{OsStr, OsString};
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use common::accessrules::{read_envdir, MAX_PART};
use common::cdb::Writer;
use common::cli::fatal_bytes;
use nix::errno::Errno;
use nix::unistd::{access, AccessFlags};

use crate::util::{fatal_sys, octal_scan, usage, SYSTEM, USAGE as EXIT_USAGE};

const PROG: &str = "s6-accessrules-cdb-from-fs";
const USAGE: &str = "s6-accessrules-cdb-from-fs [ -m mode ] cdbfile dir";
const HELP: &str = "s6-accessrules-cdb-from-fs [ -m mode ] cdbfile dir
  -m mode, --mode=mode   octal mode of the cdb file (default 0600)";
const SUFFIX: &str = ":s6-accessrules-cdb-from-fs:XXXXXX";

/// skalibs' `gol` over the one option this program has; an error is the whole message.
pub fn parse_args(args: &[OsString]) -> Result<(Option<OsString>, Vec<OsString>), Vec<u8>> {
    let mut mode = None;
    // The arguments not yet looked at.
    let mut rest = args;
    while let Some((arg, after)) = rest.split_first() {
        let a = arg.as_bytes();
        let Some(opt) = a.strip_prefix(b"-").filter(|o| !o.is_empty()) else {
            break;
        };
        if let Some(long) = opt.strip_prefix(b"-") {
            rest = after;
            if long.is_empty() {
                break;
            }
            match long.iter().position(|&c| c == b'=') {
                Some(0) => return Err([&b"invalid option: "[..], a].concat()),
                Some(n) => match long.split_at_checked(n) {
                    Some((b"mode", value)) => {
                        let value = value.get(1..).unwrap_or_default();
                        mode = Some(OsStr::from_bytes(value).to_owned())
                    }
                    _ => return Err([&b"unrecognized option with argument: "[..], a].concat()),
                },
                None => return Err([&b"unrecognized boolean option: "[..], a].concat()),
            }
        } else {
            let Some((&c, attached)) = opt.split_first() else {
                break;
            };
            if c != b'm' {
                return Err([&b"unrecognized short option: "[..], &[c][..]].concat());
            }
            rest = after;
            if !attached.is_empty() {
                mode = Some(OsStr::from_bytes(attached).to_owned());
            } else if let Some((value, after_value)) = after.split_first() {
                if value != "--" {
                    mode = Some(value.clone());
                    rest = after_value;
                }
            }
        }
    }
    Ok((mode, rest.to_vec()))
}

struct Tmp(PathBuf);

impl Tmp {
    fn die(&self, code: i32, parts: &[&[u8]], e: Option<Errno>) -> ! {
        let _ = std::fs::remove_file(&self.0);
        match e {
            Some(e) => fatal_sys(PROG, code, parts, e),
            None => fatal_bytes(PROG, code, parts),
        }
    }
}

fn absent(e: Errno) -> bool {
    e == Errno::ENOENT || e == Errno::EACCES
}

/// The record for rule directory `rule` (key `key`), or `None` without allow/deny.
fn rule_record(tmp: &Tmp, rule: &Path) -> Option<Vec<u8>> {
    let allow = rule.join("allow");
    match access(&allow, AccessFlags::F_OK) {
        Ok(()) => {}
        Err(e) if absent(e) => {
            let deny = rule.join("deny");
            return match access(&deny, AccessFlags::F_OK) {
                Ok(()) => Some(b"D".to_vec()),
                Err(e) if absent(e) => None,
                Err(e) => tmp.die(
                    SYSTEM,
                    &[b"unable to access ", deny.as_os_str().as_bytes()],
                    Some(e),
                ),
            };
        }
        Err(e) => tmp.die(
            SYSTEM,
            &[b"unable to access ", allow.as_os_str().as_bytes()],
            Some(e),
        ),
    }
    let envdir = rule.join("env");
    let mut env = Vec::new();
    match read_envdir(&envdir, &mut env) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => tmp.die(
            SYSTEM,
            &[b"unable to envdir ", envdir.as_os_str().as_bytes()],
            Some(e),
        ),
    }
    if env.len() > MAX_PART + 4 {
        tmp.die(
            EXIT_USAGE,
            &[envdir.as_os_str().as_bytes(), b" too big"],
            Some(Errno::from_raw(0)),
        );
    }
    let execpath = rule.join("exec");
    let exec = match common::accessrules::read_exec(&execpath) {
        Ok(x) => x,
        Err(Errno::ENOENT) => Vec::new(),
        Err(e) => tmp.die(
            SYSTEM,
            &[
                b"unable to openreadnclose ",
                execpath.as_os_str().as_bytes(),
            ],
            Some(e),
        ),
    };
    if exec.len() == MAX_PART {
        common::cli::warn_bytes(
            PROG,
            &[b"possibly truncated file ", execpath.as_os_str().as_bytes()],
        );
    }
    let mut v = Vec::with_capacity(5 + env.len() + exec.len());
    v.push(b'A');
    v.extend_from_slice(&(env.len() as u16).to_be_bytes());
    v.extend_from_slice(&env);
    v.extend_from_slice(&(exec.len() as u16).to_be_bytes());
    v.extend_from_slice(&exec);
    Some(v)
}

fn entries(tmp: &Tmp, dir: &Path) -> Vec<OsString> {
    let rd = match std::fs::read_dir(dir) {
        Ok(r) => r,
        Err(e) => tmp.die(
            SYSTEM,
            &[b"unable to opendir ", dir.as_os_str().as_bytes()],
            Some(common::msg::errno_of(&e)),
        ),
    };
    let mut v = Vec::new();
    for ent in rd {
        match ent {
            Ok(e) => {
                let n = e.file_name();
                if n.as_bytes().first() != Some(&b'.') {
                    v.push(n);
                }
            }
            Err(e) => tmp.die(
                SYSTEM,
                &[b"unable to readdir ", dir.as_os_str().as_bytes()],
                Some(common::msg::errno_of(&e)),
            ),
        }
    }
    v
}

pub fn main() -> ! {
    let args = common::rt::args_os();
    let rest = args.get(1..).unwrap_or_default();
    common::cli::help_or_version(rest, HELP);
    let (mode, rest) = match parse_args(rest) {
        Ok(x) => x,
        Err(msg) => fatal_bytes(PROG, EXIT_USAGE, &[&msg]),
    };
    let [cdbfile_arg, dir_arg, ..] = rest.as_slice() else {
        usage(PROG, USAGE)
    };
    let mode = mode.map(|m| match octal_scan(&m) {
        Some(m) => m,
        None => fatal_bytes(
            PROG,
            EXIT_USAGE,
            &[b"mode needs to be an unsigned integer (in octal)"],
        ),
    });
    let cdbfile = Path::new(cdbfile_arg);
    let dir = Path::new(dir_arg);
    let mut template = cdbfile_arg.clone();
    template.push(SUFFIX);
    let (fd, tmppath) = match nix::unistd::mkstemp(Path::new(&template)) {
        Ok(x) => x,
        Err(e) => fatal_sys(
            PROG,
            SYSTEM,
            &[b"unable to mkstemp ", template.as_bytes()],
            e,
        ),
    };
    let tmp = Tmp(tmppath);
    let mut w = Writer::new();
    let dirpath = dir.as_os_str().as_bytes();
    // The first level must open; errors name "DIR" then "DIR/ENTRY" as given.
    for first in entries(&tmp, dir) {
        let sub = PathBuf::from(OsStr::from_bytes(
            &[dirpath, b"/", first.as_bytes()].concat(),
        ));
        for second in entries(&tmp, &sub) {
            let rule = sub.join(&second);
            if let Some(rec) = rule_record(&tmp, &rule) {
                let key = [first.as_bytes(), b"/", second.as_bytes()].concat();
                if let Err(e) = w.add(&key, &rec) {
                    tmp.die(SYSTEM, &[b"unable to cdbmake_add"], Some(e.errno()));
                }
            }
        }
    }
    let bytes = match w.finish() {
        Ok(b) => b,
        Err(e) => tmp.die(SYSTEM, &[b"unable to cdb_make_finish"], Some(e.errno())),
    };
    if let Err(e) = common::fsio::write_all(&fd, &bytes) {
        tmp.die(SYSTEM, &[b"unable to cdb_make_finish"], Some(e));
    }
    if let Err(e) = nix::unistd::fsync(&fd) {
        tmp.die(SYSTEM, &[b"unable to fd_sync"], Some(e));
    }
    let _ = fd.as_raw_fd();
    drop(fd);
    if let Some(m) = mode {
        if let Err(e) = nix::sys::stat::fchmodat(
            nix::fcntl::AT_FDCWD,
            &tmp.0,
            nix::sys::stat::Mode::from_bits_truncate(m),
            nix::sys::stat::FchmodatFlags::FollowSymlink,
        ) {
            tmp.die(
                SYSTEM,
                &[b"unable to chmod ", tmp.0.as_os_str().as_bytes()],
                Some(e),
            );
        }
    }
    if let Err(e) = std::fs::rename(&tmp.0, cdbfile) {
        tmp.die(
            SYSTEM,
            &[
                b"unable to rename ",
                tmp.0.as_os_str().as_bytes(),
                b" to ",
                cdbfile.as_os_str().as_bytes(),
            ],
            Some(common::msg::errno_of(&e)),
        );
    }
    common::rt::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn gol() {
        assert_eq!(
            parse_args(&a(&["-m", "644", "c", "d"])).unwrap(),
            (Some("644".into()), a(&["c", "d"]))
        );
        assert_eq!(
            parse_args(&a(&["--mode=1", "c"])).unwrap().0,
            Some("1".into())
        );
        assert_eq!(
            parse_args(&a(&["-m600", "--", "-c"])).unwrap(),
            (Some("600".into()), a(&["-c"]))
        );
        assert_eq!(
            parse_args(&a(&["-x", "c"])).unwrap_err(),
            b"unrecognized short option: x"
        );
        assert_eq!(
            parse_args(&a(&["--mode", "c"])).unwrap_err(),
            b"unrecognized boolean option: --mode"
        );
        // A `-m` whose value would be `--` takes none, and `--` then ends the options.
        assert_eq!(
            parse_args(&a(&["-m", "--", "c"])).unwrap(),
            (None, a(&["c"]))
        );
        assert_eq!(parse_args(&a(&["-m"])).unwrap(), (None, a(&[])));
        assert_eq!(parse_args(&a(&["-", "c"])).unwrap(), (None, a(&["-", "c"])));
        assert_eq!(
            parse_args(&a(&["--=1"])).unwrap_err(),
            b"invalid option: --=1"
        );
        assert_eq!(
            parse_args(&a(&["--moder=1"])).unwrap_err(),
            b"unrecognized option with argument: --moder=1"
        );
    }
}
