//! `s6-mkfifodir`, `s6-cleanfifodir` and `s6-ftrig-notify`: make a fifodir, remove its stale
//! subscriber FIFOs, send a message to its subscribers.

use crate::util::{die_sys, exit_usage};
use common::cli::{GetOpt, Opt};
use nix::errno::Errno;
use nix::sys::stat::{stat, umask, Mode, SFlag};
use nix::unistd::{chown, getuid, mkdir, Gid};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

pub const MKFIFODIR_USAGE: &str = "s6-mkfifodir [ -f ] [ -g gid ] fifodir";
pub const CLEANFIFODIR_USAGE: &str = "s6-cleanfifodir fifodir";
pub const NOTIFY_USAGE: &str = "s6-ftrig-notify fifodir message";

/// Mode of a fifodir restricted to a group (`-g`) and of a public one.
pub const GROUP_MODE: u32 = 0o3730;
pub const PUBLIC_MODE: u32 = 0o1733;

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

/// skalibs' `ftrigw_fifodir_make`: create (or, with `force`, re-mode) a fifodir.
pub fn make_fifodir(path: &Path, gid: Option<u32>, force: bool) -> Result<(), Errno> {
    let old = umask(Mode::empty());
    let r = mkdir(path, Mode::from_bits_truncate(0o700));
    umask(old);
    match r {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            let st = stat(path)?;
            if st.st_uid != getuid().as_raw() {
                return Err(Errno::EACCES);
            }
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFDIR {
                return Err(Errno::ENOTDIR);
            }
            if !force {
                return Ok(());
            }
        }
        Err(e) => return Err(e),
    }
    if let Some(g) = gid {
        chown(path, None, Some(Gid::from_raw(g)))?;
    }
    let mode = if gid.is_some() {
        GROUP_MODE
    } else {
        PUBLIC_MODE
    };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .map_err(|e| common::msg::errno_of(&e))
}

pub fn mkfifodir_main(args: &[OsString]) -> ! {
    const PROG: &str = "s6-mkfifodir";
    let Some(req) = parse_mkfifodir(args) else {
        exit_usage(PROG, MKFIFODIR_USAGE)
    };
    if let Err(e) = make_fifodir(Path::new(&req.dir), req.gid, req.force) {
        die_sys(PROG, 111, &[b"create fifodir at ", req.dir.as_bytes()], e);
    }
    std::process::exit(0)
}

pub fn cleanfifodir_main(args: &[OsString]) -> ! {
    const PROG: &str = "s6-cleanfifodir";
    let Some(dir) = args.first() else {
        exit_usage(PROG, CLEANFIFODIR_USAGE)
    };
    if let Err(e) = common::fifodir::try_clean(Path::new(dir)) {
        die_sys(PROG, 111, &[b"clean up fifodir at ", dir.as_bytes()], e);
    }
    std::process::exit(0)
}

pub fn notify_main(args: &[OsString]) -> ! {
    const PROG: &str = "s6-ftrig-notify";
    let [dir, msg, ..] = args else {
        exit_usage(PROG, NOTIFY_USAGE)
    };
    if let Err(e) = common::fifodir::try_notify(Path::new(dir), msg.as_bytes()) {
        die_sys(PROG, 111, &[b"notify ", dir.as_bytes()], e);
    }
    std::process::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

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

    #[test]
    fn make_modes() {
        let d = std::env::temp_dir().join(format!("ftrig-mk-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o7777;
        make_fifodir(&d, None, false).unwrap();
        assert_eq!(mode(&d), PUBLIC_MODE);
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700)).unwrap();
        make_fifodir(&d, None, false).unwrap();
        assert_eq!(mode(&d), 0o700);
        make_fifodir(&d, Some(nix::unistd::getegid().as_raw()), true).unwrap();
        assert_eq!(mode(&d), GROUP_MODE);
        assert_eq!(
            make_fifodir(&d.join("a/b"), None, false),
            Err(Errno::ENOENT)
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
