//! `s6-svscanboot`: start a supervision tree whose own output (and that of every service
//! without a logger) goes through a FIFO into a catch-all s6-log it supervises itself.

use crate::scripts;
use crate::util::{b, cat, execlineb_path, rm_rf};
use common::cli::{fatal_bytes, fatal_sys_bytes};
use common::gol::{self, Spec};
use nix::errno::Errno;
use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
use nix::sys::stat::Mode;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, IntoRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub const PROG: &str = "s6-svscanboot";
pub const USAGE: &str = "s6-svscanboot [ -c devconsole ] [ -D catchalldir ] [ -m catchallmode ] [ -l catchalluser ] [ -o catchalloptions ] [ -d notif ] [ -C services_max ] [ -L name_max ] [ -t rescan ] scandir";
pub const HELP: &str = "\
s6-svscanboot [ -c devconsole ] [ -D catchalldir ] [ -m catchallmode ] [ -l catchalluser ] [ -o catchalloptions ] [ -d notif ] [ -C services_max ] [ -L name_max ] [ -t rescan ] scandir
Run s6-svscan on scandir with its output logged by a catch-all s6-log in scandir/s6-svscan-log.
  -c, --console=DEV             where the tree's last-resort messages go (default: our stderr)
  -D, --catchall-directory=DIR  the catch-all log directory (default /run/uncaught-logs)
  -m, --catchall-mode=OCTAL     its mode (default 02750)
  -l, --catchall-user=USER      run the catch-all logger as USER (root only)
  -o, --catchall-options=OPTS   s6-log directives before the directory (default t)
  -d, --notification-fd=FD      s6-svscan -d FD
  -C, --services-max=N  -L, --name-max=N  -t, --timeout=MS: passed to s6-svscan
  -u, --user                    a user tree: the default directory is under $XDG_RUNTIME_DIR
";

const BOOLS: &[Spec] = &[Spec::new(b'u', "user", 0)];
const CONSOLE: usize = 0;
const DIR: usize = 1;
const MODE: usize = 2;
const USER: usize = 3;
const OPTIONS: usize = 4;
const NOTIF: usize = 5;
const SMAX: usize = 6;
const LMAX: usize = 7;
const TIMEOUT: usize = 8;
/// How many valued options there are (the indices above).
const NVALUES: usize = 9;
const ARGS: &[Spec] = &[
    Spec::new(b'c', "console", CONSOLE as u8),
    Spec::new(b'D', "catchall-directory", DIR as u8),
    Spec::new(b'm', "catchall-mode", MODE as u8),
    Spec::new(b'l', "catchall-user", USER as u8),
    Spec::new(b'o', "catchall-options", OPTIONS as u8),
    Spec::new(b'd', "notification-fd", NOTIF as u8),
    Spec::new(b'C', "services-max", SMAX as u8),
    Spec::new(b'L', "name-max", LMAX as u8),
    Spec::new(b't', "timeout", TIMEOUT as u8),
];

fn octal(s: &OsStr) -> Option<u32> {
    let v = s.as_bytes();
    if v.is_empty() || !v.iter().all(|c| (b'0'..=b'7').contains(c)) {
        return None;
    }
    v.iter().try_fold(0u32, |a, &d| {
        a.checked_mul(8)?.checked_add((d - b'0') as u32)
    })
}

fn number(v: &Option<OsString>, what: &str) -> Option<u32> {
    v.as_ref().map(|s| {
        common::cli::uint0_scan(s).unwrap_or_else(|| {
            fatal_bytes(
                PROG,
                100,
                &[what.as_bytes(), b" must be an unsigned integer"],
            )
        })
    })
}

/// Move `fd` to `to` (dup2 + close), unless it is already there.
fn fd_move(to: RawFd, fd: OwnedFd) -> Result<(), Errno> {
    if fd.as_raw_fd() == to {
        let _ = fd.into_raw_fd();
        return Ok(());
    }
    // SAFETY: dup2 on an fd we own onto a descriptor number we mean to replace.
    if unsafe { libc::dup2(fd.as_raw_fd(), to) } == -1 {
        return Err(Errno::last());
    }
    Ok(())
}

fn fd_copy(to: RawFd, from: RawFd) -> Result<(), Errno> {
    // SAFETY: dup2 between plain descriptor numbers; `to` is meant to be replaced.
    if unsafe { libc::dup2(from, to) } == -1 {
        return Err(Errno::last());
    }
    Ok(())
}

pub fn main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, HELP);
    let p = match gol::parse_table(&args, BOOLS, ARGS) {
        Ok(p) => p,
        Err(e) => fatal_bytes(PROG, 100, &[&e.to_bytes()]),
    };
    let Some(scandir) = args.get(p.operands) else {
        common::Prog::new(PROG).usage(USAGE)
    };
    let scan = scandir.as_bytes();
    // A fixed array, indexed by the constants above: every index is checked at compile time.
    let mut a: [Option<OsString>; NVALUES] =
        std::array::from_fn(|i| p.value(i as u8).map(OsStr::to_os_string));
    let mode = match &a[MODE] {
        None => 0o2750,
        Some(m) => octal(m).unwrap_or_else(|| {
            fatal_bytes(
                PROG,
                100,
                &[b"catchall-mode must be an (octal) unsigned integer"],
            )
        }),
    };
    let mut console_fd: RawFd = 3;
    let notif = number(&a[NOTIF], "notification-fd");
    if let Some(n) = notif {
        if n < 3 {
            fatal_bytes(PROG, 100, &[b"notification-fd must be 3 or greater"]);
        }
        // SAFETY: the borrowed number is only used for F_GETFD, which probes whether it
        // is open.
        let probe = unsafe { std::os::fd::BorrowedFd::borrow_raw(n as RawFd) };
        if let Err(e) = fcntl(probe, FcntlArg::F_GETFD) {
            let t = common::msg::errno_text(e);
            fatal_bytes(
                PROG,
                111,
                &[b"notification-fd sanity check failed: ", t.as_bytes()],
            )
        }
        if n == 3 {
            console_fd = 4;
        }
    }
    let smax = number(&a[SMAX], "services-max").map(|n| n.clamp(4, 160000));
    let lmax = number(&a[LMAX], "name-max").map(|n| n.clamp(11, 1019));
    let timeout = number(&a[TIMEOUT], "timeout");
    if a[USER].is_some() && !nix::unistd::geteuid().is_root() {
        a[USER] = None;
        common::cli::warn_bytes(PROG, &[b"ignoring catchall-user option when not root"]);
    }
    let user_tree = p.flag(0);
    let given = a[DIR].as_ref().map(|d| d.as_bytes());
    let mut dir: Vec<u8> = if user_tree && given.and_then(|d| d.first()) != Some(&b'/') {
        let Some(x) = std::env::var_os("XDG_RUNTIME_DIR") else {
            fatal_bytes(PROG, 100, &[b"XDG_RUNTIME_DIR not set"])
        };
        [x.as_bytes(), b"/", given.unwrap_or(b"uncaught-logs")].concat()
    } else {
        given.unwrap_or(b"/run/uncaught-logs").to_vec()
    };
    let owner = match &a[USER] {
        None => None,
        Some(u) => match nix::unistd::User::from_name(&u.to_string_lossy()) {
            Ok(Some(pw)) => Some((pw.uid, pw.gid)),
            // s6's message has no "unable to"; errno is 0 for an unknown user
            r => {
                let t = common::msg::errno_text(r.err().unwrap_or(Errno::from_raw(0)));
                fatal_bytes(
                    PROG,
                    111,
                    &[b"getpwnam ", u.as_bytes(), b": ", t.as_bytes()],
                )
            }
        },
    };
    let dirp = cat(&dir, b"");
    if let Err(e) = mkdirp(&dir, mode) {
        fatal_sys_bytes(PROG, 111, &[b"mkdir ", &dir], e);
    }
    if let Err(e) = nix::unistd::chown(&dirp, owner.map(|o| o.0), owner.map(|o| o.1)) {
        fatal_sys_bytes(PROG, 111, &[b"chown ", &dir], e);
    }
    if let Err(e) = nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &dirp,
        Mode::from_bits_truncate(mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    ) {
        fatal_sys_bytes(PROG, 111, &[b"chmod ", &dir], e);
    }
    if dir.first() != Some(&b'/') {
        match std::fs::canonicalize(&dirp) {
            Ok(r) => dir = r.into_os_string().into_encoded_bytes(),
            Err(e) => fatal_sys_bytes(PROG, 111, &[b"realpath ", &dir], common::msg::errno_of(&e)),
        }
    }
    let lg = [scan, b"/s6-svscan-log"].concat();
    rm_rf(&cat(&lg, b""));
    if let Err(e) = mkdirp(&lg, 0o2755) {
        fatal_sys_bytes(PROG, 111, &[b"mkdir ", &lg], e);
    }
    let nfd = cat(&lg, b"/notification-fd");
    if let Err(e) = crate::util::write_file(&nfd, b"3\n") {
        fatal_sys_bytes(PROG, 111, &[b"write to ", b(&nfd)], e);
    }
    let run = cat(&lg, b"/run");
    let options = a[OPTIONS].as_ref().map(|o| o.as_bytes()).unwrap_or(b"t");
    let user = a[USER].as_ref().map(|u| u.as_bytes());
    let script = scripts::catchall_run(&execlineb_path(), user, options, &dir);
    if let Err(e) = crate::util::write_file(&run, &script) {
        fatal_sys_bytes(PROG, 111, &[b"write to ", b(&run)], e);
    }
    if let Err(e) = nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        &run,
        Mode::from_bits_truncate(0o755),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    ) {
        fatal_sys_bytes(PROG, 111, &[b"chmod ", b(&run)], e);
    }
    let fifo = cat(&lg, b"/fifo");
    let old = nix::sys::stat::umask(Mode::empty());
    let r = nix::unistd::mkfifo(&fifo, Mode::from_bits_truncate(0o600));
    nix::sys::stat::umask(old);
    if let Err(e) = r {
        fatal_sys_bytes(PROG, 111, &[b"mkfifo ", b(&fifo)], e);
    }
    match open("/dev/null", OFlag::O_RDONLY, Mode::empty()) {
        Ok(fd) => {
            if let Err(e) = fd_move(0, fd) {
                fatal_sys_bytes(PROG, 111, &[b"fd_move /dev/null to stdin"], e);
            }
        }
        Err(e) => fatal_sys_bytes(PROG, 111, &[b"open /dev/null"], e),
    }
    match &a[CONSOLE] {
        Some(c) => match open(Path::new(c), OFlag::O_WRONLY, Mode::empty()) {
            Ok(fd) => {
                if let Err(e) = fd_move(console_fd, fd) {
                    fatal_sys_bytes(PROG, 111, &[b"fd_move ", c.as_bytes()], e);
                }
            }
            Err(e) => fatal_sys_bytes(PROG, 111, &[b"open ", c.as_bytes()], e),
        },
        None => {
            if let Err(e) = fd_copy(console_fd, 2) {
                fatal_sys_bytes(PROG, 111, &[b"fd_copy stderr"], e);
            }
        }
    }
    // A reader end held around the non-blocking open for writing, which would fail (ENXIO)
    // without one.
    let reader = match open(
        &fifo,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(e) => fatal_sys_bytes(PROG, 111, &[b"open ", b(&fifo), b" for reading"], e),
    };
    let writer = match open(&fifo, OFlag::O_WRONLY | OFlag::O_NONBLOCK, Mode::empty()) {
        Ok(fd) => fd,
        Err(e) => fatal_sys_bytes(PROG, 111, &[b"open ", b(&fifo), b" for writing"], e),
    };
    drop(reader);
    let fl = fcntl(&writer, FcntlArg::F_GETFL).map(OFlag::from_bits_truncate);
    if let Err(e) = fl.and_then(|f| fcntl(&writer, FcntlArg::F_SETFL(f - OFlag::O_NONBLOCK))) {
        fatal_sys_bytes(PROG, 111, &[b"ndelay_off ", b(&fifo)], e);
    }
    if let Err(e) = fd_move(1, writer) {
        fatal_sys_bytes(PROG, 111, &[b"fd_move ", b(&fifo), b" to stdout"], e);
    }
    if let Err(e) = fd_copy(2, 1) {
        fatal_sys_bytes(PROG, 111, &[b"fd_copy stdout to stderr"], e);
    }
    let mut argv: Vec<OsString> = vec![
        "s6-svscan".into(),
        "-X".into(),
        console_fd.to_string().into(),
    ];
    let mut push = |flag: &str, v: Option<u32>| {
        if let Some(v) = v.filter(|&v| v != 0) {
            argv.push(flag.into());
            argv.push(v.to_string().into());
        }
    };
    push("-d", notif);
    push("-C", smax);
    push("-L", lmax);
    push("-t", timeout);
    argv.push("--".into());
    argv.push(scandir.clone());
    let e = common::exec::exec(&argv);
    if fd_copy(2, console_fd).is_err() {
        common::rt::exit(111);
    }
    fatal_sys_bytes(PROG, 111, &[b"exec s6-svscan"], e)
}

/// skalibs' `mkdirp`: create `path` and its missing parents (parents 02755, the last
/// `mode`, umask 0); existing ones are fine.
fn mkdirp(path: &[u8], mode: u32) -> Result<(), Errno> {
    let mk = |p: &[u8], m: u32| match common::fsio::mkdir_exact(&cat(p, b""), m) {
        Ok(()) | Err(Errno::EEXIST) => Ok(()),
        Err(e) => Err(e),
    };
    for (i, &c) in path.iter().enumerate().skip(2) {
        if c == b'/' {
            mk(path.get(..i).unwrap_or_default(), 0o2755)?;
        }
    }
    mk(path, mode)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_values() {
        assert_eq!(octal(OsStr::new("2750")), Some(0o2750));
        assert_eq!(octal(OsStr::new("8")), None);
        assert_eq!(octal(OsStr::new("")), None);
    }
}
