//! `s6-ipcclient`: connect to a Unix socket and exec a program with the connection on
//! fds 6 (read) and 7 (write), the UCSPI way.

use std::ffi::OsString;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use common::cli::{GetOpt, Opt};
use nix::errno::Errno;
use nix::sys::socket::{bind, connect, socket, AddressFamily, SockFlag, SockType, UnixAddr};

use crate::socketbinder::unix_addr;
use crate::util::{exec, fatal_sys, info, setenv, usage, SYSTEM};

const PROG: &str = "s6-ipcclient";
const USAGE: &str = "s6-ipcclient [ -q | -Q | -v ] [ -p bindpath ] [ -l localname ] path prog...";
const HELP: &str = "s6-ipcclient [ -q | -Q | -v ] [ -p bindpath ] [ -l localname ] path prog...
  -q / -Q / -v   quiet / normal / verbose
  -p bindpath    bind the client socket to bindpath first
  -l localname   the IPCLOCALPATH value";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    pub verbosity: u32,
    pub bindpath: Option<OsString>,
    pub localname: Option<OsString>,
    pub path: OsString,
    pub prog: Vec<OsString>,
}

pub fn parse_args(args: &[OsString]) -> Option<Opts> {
    let (mut verbosity, mut bindpath, mut localname): (u32, _, _) = (1, None, None);
    let mut g = GetOpt::new(args, "qQvp:l:");
    while let Some(r) = g.next_opt() {
        match r.ok()? {
            Opt::Flag(b'q') => verbosity = u32::saturating_sub(verbosity, 1),
            Opt::Flag(b'Q') => verbosity = 1,
            Opt::Flag(b'v') => verbosity = u32::saturating_add(verbosity, 1),
            Opt::Arg(b'p', v) => bindpath = Some(v.to_owned()),
            Opt::Arg(b'l', v) => localname = Some(v.to_owned()),
            _ => return None,
        }
    }
    let [path, prog @ ..] = g.rest() else {
        return None;
    };
    if prog.is_empty() {
        return None;
    }
    Some(Opts {
        verbosity,
        bindpath,
        localname,
        path: path.clone(),
        prog: prog.to_vec(),
    })
}

/// Put `fd` on fds 6 and 7 (inheritable), closing the original if it is neither.
fn onto_6_and_7(fd: OwnedFd) -> Result<(), Errno> {
    let raw = fd.as_raw_fd();
    for target in [6, 7] {
        if raw != target {
            // SAFETY: dup2 of a descriptor we own onto a fixed number we hand to the program.
            if unsafe { libc::dup2(raw, target) } < 0 {
                return Err(Errno::last());
            }
        }
    }
    if raw == 6 || raw == 7 {
        std::mem::forget(fd);
    }
    Ok(())
}

pub fn main() -> ! {
    let args = common::rt::args_os();
    let rest = args.get(1..).unwrap_or_default();
    common::cli::help_or_version(rest, HELP);
    let Some(o) = parse_args(rest) else {
        usage(PROG, USAGE)
    };
    let fd = match socket(
        AddressFamily::Unix,
        SockType::Stream,
        SockFlag::empty(),
        None,
    ) {
        Ok(fd) => fd,
        Err(e) => fatal_sys(PROG, SYSTEM, &[b"unable to create socket"], e),
    };
    if let Some(b) = &o.bindpath {
        if let Err(e) = unix_addr(Path::new(b)).and_then(|a| bind(fd.as_raw_fd(), &a)) {
            fatal_sys(
                PROG,
                SYSTEM,
                &[b"unable to bind socket to ", b.as_bytes()],
                e,
            )
        }
    }
    if let Err(e) = unix_addr(Path::new(&o.path)).and_then(|a| loop {
        match connect(fd.as_raw_fd(), &a) {
            Err(Errno::EINTR) => continue,
            r => break r,
        }
    }) {
        fatal_sys(
            PROG,
            SYSTEM,
            &[b"unable to connect to ", o.path.as_bytes()],
            e,
        )
    }
    if o.verbosity >= 2 {
        info(PROG, &[b"s6-ipcclient: connected to ", o.path.as_bytes()]);
    }
    let local: Option<Vec<u8>> = match (&o.localname, &o.bindpath) {
        // s6 keeps at most IPCPATH_MAX bytes of the name.
        (Some(l), _) => {
            let name = l.as_bytes();
            Some(
                name.get(..crate::socketbinder::IPCPATH_MAX)
                    .unwrap_or(name)
                    .to_vec(),
            )
        }
        (None, _) => nix::sys::socket::getsockname::<UnixAddr>(fd.as_raw_fd())
            .ok()
            .map(|a| {
                a.path()
                    .map(|p| p.as_os_str().as_bytes().to_vec())
                    .unwrap_or_default()
            }),
    };
    if let Err(e) = onto_6_and_7(fd) {
        fatal_sys(PROG, SYSTEM, &[b"unable to move socket to fds 6 and 7"], e)
    }
    setenv(b"PROTO", Some(b"IPC"));
    setenv(b"IPCLOCALPATH", local.as_deref());
    exec(PROG, &o.prog, &[])
}
