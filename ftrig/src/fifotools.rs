//! `s6-mkfifodir`, `s6-cleanfifodir` and `s6-ftrig-notify`: make a fifodir, remove its stale
//! subscriber FIFOs, send a message to its subscribers.

use common::cli::fatal_sys_bytes;
use common::cli::{GetOpt, Opt};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

pub const MKFIFODIR_USAGE: &str = "s6-mkfifodir [ -f ] [ -g gid ] fifodir";
pub const CLEANFIFODIR_USAGE: &str = "s6-cleanfifodir fifodir";
pub const NOTIFY_USAGE: &str = "s6-ftrig-notify fifodir message";

/// A parsed `s6-mkfifodir` command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MkFifodir {
    pub force: bool,
    pub gid: Option<u32>,
    pub dir: OsString,
}

/// Parse `s6-mkfifodir`'s arguments (without argv[0]); `None` is a usage error. Pure.
pub fn parse_mkfifodir(args: &[OsString]) -> Option<MkFifodir> {
    let mut force = false;
    let mut gid = None;
    let mut g = GetOpt::new(args, "fg:");
    while let Some(o) = g.next_opt() {
        match o.ok()? {
            Opt::Flag(b'f') => force = true,
            Opt::Arg(b'g', v) => gid = Some(common::cli::uint0_scan(v)?),
            _ => return None,
        }
    }
    let dir = g.rest().first()?.clone();
    Some(MkFifodir { force, gid, dir })
}

pub fn mkfifodir_main(args: &[OsString]) -> ! {
    const PROG: &str = "s6-mkfifodir";
    let Some(req) = parse_mkfifodir(args) else {
        common::Prog::new(PROG).usage(MKFIFODIR_USAGE)
    };
    let gid = req.gid.map(nix::unistd::Gid::from_raw);
    if let Err(e) = common::fifodir::make_with_mode(Path::new(&req.dir), gid, req.force) {
        fatal_sys_bytes(PROG, 111, &[b"create fifodir at ", req.dir.as_bytes()], e);
    }
    common::rt::exit(0)
}

pub fn cleanfifodir_main(args: &[OsString]) -> ! {
    const PROG: &str = "s6-cleanfifodir";
    let Some(dir) = args.first() else {
        common::Prog::new(PROG).usage(CLEANFIFODIR_USAGE)
    };
    if let Err(e) = common::fifodir::try_clean(Path::new(dir)) {
        fatal_sys_bytes(PROG, 111, &[b"clean up fifodir at ", dir.as_bytes()], e);
    }
    common::rt::exit(0)
}

pub fn notify_main(args: &[OsString]) -> ! {
    const PROG: &str = "s6-ftrig-notify";
    let [dir, msg, ..] = args else {
        common::Prog::new(PROG).usage(NOTIFY_USAGE)
    };
    // A subscriber that goes away between our open and our write must not kill us (s6's
    // ftrigw_notifyb ignores SIGPIPE around the writes).
    if let Err(e) = common::signals::alt_ignore(nix::sys::signal::Signal::SIGPIPE) {
        common::cli::fatal_sys_bytes(PROG, 111, &[b"ignore SIGPIPE"], e);
    }
    if let Err(e) = common::fifodir::try_notify(Path::new(dir), msg.as_bytes()) {
        fatal_sys_bytes(PROG, 111, &[b"notify ", dir.as_bytes()], e);
    }
    common::rt::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    use common::cli::os_args as a;

    #[test]
    fn mkfifodir_args() {
        assert_eq!(
            parse_mkfifodir(&a(&["-f", "-g", "7", "d", "extra"])),
            Some(MkFifodir {
                force: true,
                gid: Some(7),
                dir: "d".into()
            })
        );
        assert_eq!(parse_mkfifodir(&a(&["-g", "x", "d"])), None);
        assert_eq!(parse_mkfifodir(&a(&["-q", "d"])), None);
        assert_eq!(parse_mkfifodir(&a(&["-f"])), None);
        for argv in common::cli::pseudo_random_argv(500) {
            let _ = parse_mkfifodir(&argv);
        }
    }
}
