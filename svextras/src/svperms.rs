//! `s6-svperms`: who may control (`supervise/`, `supervise/control`) and listen to
//! (`event/`) a service, changed and/or reported.

use crate::util::{b, cat};
use common::cli::{fatal_bytes, fatal_sys_bytes, warn_sys_bytes};
use common::cli::{warn_bytes, GetOpt, Opt};
use common::fifodir::{FIFODIR_MODE, PUBLIC_FIFODIR_MODE};
use nix::errno::Errno;
use nix::unistd::{Gid, Group, Uid, User};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

pub const PROG: &str = "s6-svperms";
pub const USAGE: &str =
    "s6-svperms [ -v ] [ -u | -g group | -G group | -o | -O group ] [ -e | -E group ] servicedir...";
pub const HELP: &str = "\
s6-svperms [ -v ] [ -u | -g group | -G group | -o | -O group ] [ -e | -E group ] servicedir...
  -v        report the permissions (after any change); the default without a change option
  -u        only the owner may control the service (supervise/ 0700, control 0600)
  -g group  GROUP may read the status (supervise/ 0710, group GROUP)
  -G group  GROUP may read the status and control the service (control 0620, group GROUP)
  -o        anyone may read the status (supervise/ 0711)
  -O group  anyone may read the status, GROUP may control the service
  -e        anyone may subscribe to events (event/ 01733)
  -E group  GROUP may subscribe to events (event/ 03730, group GROUP)
group is a group name or :GID.
";

/// A group operand: a name to look up, or `:GID`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupSpec {
    Name(OsString),
    Gid(u32),
}

/// What to do to `supervise/`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SuperviseMode {
    /// `-u`
    Owner,
    /// `-g G`
    GroupRead(GroupSpec),
    /// `-G G`
    GroupControl(GroupSpec),
    /// `-o`
    Public,
    /// `-O G`
    PublicGroupControl(GroupSpec),
}

impl SuperviseMode {
    /// The group named by the option, if any.
    pub fn group(&self) -> Option<&GroupSpec> {
        match self {
            SuperviseMode::Owner | SuperviseMode::Public => None,
            SuperviseMode::GroupRead(g)
            | SuperviseMode::GroupControl(g)
            | SuperviseMode::PublicGroupControl(g) => Some(g),
        }
    }
}

/// What to do to `event/`: public (`-e`) or a group's (`-E`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EventMode {
    Public,
    Group(GroupSpec),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub report: bool,
    pub supervise: Option<SuperviseMode>,
    pub event: Option<EventMode>,
    pub dirs: Vec<OsString>,
    /// Every group given, in order: s6 looks each one up (a bad one is fatal) even when a
    /// later option overrides it.
    pub groups: Vec<GroupSpec>,
}

fn group_spec(s: &OsStr) -> Option<GroupSpec> {
    let v = s.as_bytes();
    if let Some(num) = v.strip_prefix(b":") {
        return common::cli::uint0_scan(OsStr::from_bytes(num)).map(GroupSpec::Gid);
    }
    Some(GroupSpec::Name(s.to_os_string()))
}

/// Parse the arguments (without the program name); `None` is a usage error. Pure.
pub fn parse_args(args: &[OsString]) -> Option<Request> {
    let mut g = GetOpt::new(args, "vug:G:oO:eE:");
    let mut r = Request {
        report: false,
        supervise: None,
        event: None,
        dirs: Vec::new(),
        groups: Vec::new(),
    };
    while let Some(o) = g.next_opt() {
        match o.ok()? {
            Opt::Flag(b'v') => r.report = true,
            Opt::Flag(b'u') => r.supervise = Some(SuperviseMode::Owner),
            Opt::Flag(b'o') => r.supervise = Some(SuperviseMode::Public),
            Opt::Flag(b'e') => r.event = Some(EventMode::Public),
            Opt::Arg(b'g', a) => r.supervise = Some(SuperviseMode::GroupRead(group_spec(a)?)),
            Opt::Arg(b'G', a) => r.supervise = Some(SuperviseMode::GroupControl(group_spec(a)?)),
            Opt::Arg(b'O', a) => {
                r.supervise = Some(SuperviseMode::PublicGroupControl(group_spec(a)?))
            }
            Opt::Arg(b'E', a) => r.event = Some(EventMode::Group(group_spec(a)?)),
            _ => return None,
        }
        if let Some(g) = r.supervise.as_ref().and_then(SuperviseMode::group) {
            if r.groups.last() != Some(g) {
                r.groups.push(g.clone());
            }
        }
        if let Some(EventMode::Group(g)) = &r.event {
            if r.groups.last() != Some(g) {
                r.groups.push(g.clone());
            }
        }
    }
    r.dirs = g.rest().to_vec();
    if r.dirs.is_empty() {
        return None;
    }
    if r.supervise.is_none() && r.event.is_none() {
        r.report = true;
    }
    Some(r)
}

fn resolve(g: &GroupSpec) -> Gid {
    match g {
        GroupSpec::Gid(n) => Gid::from_raw(*n),
        GroupSpec::Name(n) => match Group::from_name(&n.to_string_lossy()) {
            Ok(Some(gr)) if gr.name.as_bytes() == n.as_bytes() => gr.gid,
            Ok(_) => fatal_bytes(
                PROG,
                100,
                &[
                    b"unable to find entry for ",
                    n.as_bytes(),
                    b" in group database",
                ],
            ),
            Err(e) => fatal_sys_bytes(PROG, 111, &[b"getgrnam"], e),
        },
    }
}

/// The name of `gid`, or its number when the group database has none.
fn gid_name(gid: u32) -> Vec<u8> {
    match Group::from_gid(Gid::from_raw(gid)) {
        Ok(Some(g)) => g.name.into_bytes(),
        Ok(None) => gid.to_string().into_bytes(),
        Err(e) => {
            let s = gid.to_string();
            warn_sys_bytes(PROG, &[b"getgrgid ", s.as_bytes()], e);
            s.into_bytes()
        }
    }
}

/// The primary gid of the owner of `path` (0, with a warning, when the owner is unknown).
fn primary_gid(path: &Path) -> Gid {
    let st = match std::fs::metadata(path) {
        Ok(st) => st,
        Err(e) => fatal_sys_bytes(PROG, 111, &[b"stat ", b(path)], common::msg::errno_of(&e)),
    };
    match User::from_uid(Uid::from_raw(st.uid())) {
        Ok(Some(u)) => u.gid,
        r => {
            // s6 appends the errno text, which is "Success" for an owner without a
            // passwd entry (getpwuid sets no errno then).
            let e = r.err().unwrap_or(Errno::from_raw(0));
            warn_sys_bytes(
                PROG,
                &[
                    b"determine primary gid for the owner of ",
                    b(path),
                    b" (using root instead)",
                ],
                e,
            );
            Gid::from_raw(0)
        }
    }
}

fn chown_chmod(path: &Path, gid: Gid, mode: u32) {
    if let Err(e) = nix::unistd::chown(path, None, Some(gid)) {
        fatal_sys_bytes(PROG, 111, &[b"chown ", b(path)], e);
    }
    if let Err(e) = nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        path,
        nix::sys::stat::Mode::from_bits_truncate(mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    ) {
        fatal_sys_bytes(PROG, 111, &[b"chmod ", b(path)], e);
    }
}

/// A mode and the group to give (`None`: the owner's primary group).
pub type Target<'a> = (u32, Option<&'a GroupSpec>);

/// The (mode, gid of `supervise/`), (mode, gid of `control`) an option asks for: `None` as
/// gid means the owner's primary group.
pub fn supervise_target(m: &SuperviseMode) -> (Target<'_>, Target<'_>) {
    match m {
        SuperviseMode::Owner => ((0o700, None), (0o600, None)),
        SuperviseMode::GroupRead(g) => ((0o710, Some(g)), (0o600, None)),
        SuperviseMode::GroupControl(g) => ((0o710, Some(g)), (0o620, Some(g))),
        SuperviseMode::Public => ((0o711, None), (0o600, None)),
        SuperviseMode::PublicGroupControl(g) => ((0o711, None), (0o620, Some(g))),
    }
}

fn apply_supervise(dir: &[u8], m: &SuperviseMode, gid: Option<Gid>) {
    let sup = cat(dir, b"/supervise");
    let ctl = cat(dir, b"/supervise/control");
    let ((smode, sg), (cmode, cg)) = supervise_target(m);
    let pick = |g: Option<&GroupSpec>, path: &Path| match (g, gid) {
        (Some(_), Some(gid)) => gid,
        _ => primary_gid(path),
    };
    let g1 = pick(sg, &sup);
    chown_chmod(&sup, g1, smode);
    let g2 = pick(cg, &ctl);
    chown_chmod(&ctl, g2, cmode);
}

fn apply_event(dir: &[u8], m: &EventMode, gid: Option<Gid>) {
    let ev = cat(dir, b"/event");
    match (m, gid) {
        (EventMode::Group(_), Some(g)) => chown_chmod(&ev, g, FIFODIR_MODE),
        _ => {
            let g = primary_gid(&ev);
            chown_chmod(&ev, g, PUBLIC_FIFODIR_MODE)
        }
    }
}

/// Why a part of the report could not be given (a warning).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReportProblem {
    NotDir,
    NotFifo,
    BadMode(u32),
}

/// The word for `supervise/` of mode `mode`, or the problem. Pure.
pub fn status_word(mode: u32) -> Result<StatusWord, ReportProblem> {
    let m = mode & 0o7777;
    if m & 0o5066 != 0 || m & 0o700 != 0o700 || (m & 0o001 != 0 && m & 0o010 == 0) {
        return Err(ReportProblem::BadMode(m));
    }
    Ok(if m & 0o001 != 0 {
        StatusWord::Public
    } else if m & 0o010 != 0 {
        StatusWord::Group
    } else {
        StatusWord::Owner
    })
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusWord {
    Owner,
    Group,
    Public,
}

/// The word for `supervise/control` of mode `mode`: group-writable or owner only. Pure.
pub fn control_word(mode: u32) -> Result<StatusWord, ReportProblem> {
    let m = mode & 0o7777;
    if m & 0o157 != 0 {
        return Err(ReportProblem::BadMode(m));
    }
    Ok(if m & 0o020 != 0 {
        StatusWord::Group
    } else {
        StatusWord::Owner
    })
}

/// The word for `event/` of mode `mode`. Pure.
pub fn event_word(mode: u32) -> Result<StatusWord, ReportProblem> {
    match mode & 0o7777 {
        FIFODIR_MODE => Ok(StatusWord::Group),
        PUBLIC_FIFODIR_MODE => Ok(StatusWord::Public),
        m => Err(ReportProblem::BadMode(m)),
    }
}

fn warn_problem(path: &Path, p: ReportProblem) {
    let tail: Vec<u8> = match p {
        ReportProblem::NotDir => b" is not a directory".to_vec(),
        ReportProblem::NotFifo => b" is not a named pipe".to_vec(),
        ReportProblem::BadMode(m) => format!(" has incorrect permissions: {m:o}").into_bytes(),
    };
    warn_bytes(PROG, &[b(path), &tail]);
}

fn line(out: &mut Vec<u8>, dir: &[u8], what: &[u8], word: StatusWord, gid: u32) {
    out.extend_from_slice(dir);
    out.extend_from_slice(what);
    match word {
        StatusWord::Owner => out.extend_from_slice(b"owner"),
        StatusWord::Public => out.extend_from_slice(b"public"),
        StatusWord::Group => {
            out.extend_from_slice(b"group ");
            out.extend_from_slice(&gid_name(gid));
        }
    }
    out.push(b'\n');
}

/// Append the report of `dir` to `out`; false if something was wrong (warned about).
fn report(dir: &[u8], out: &mut Vec<u8>) -> bool {
    let mut ok = true;
    let sup = cat(dir, b"/supervise");
    let sup_ok = (|| {
        let st = match std::fs::metadata(&sup) {
            Ok(st) => st,
            Err(e) => {
                warn_sys_bytes(PROG, &[b"stat ", b(&sup)], common::msg::errno_of(&e));
                return false;
            }
        };
        if !st.is_dir() {
            warn_problem(&sup, ReportProblem::NotDir);
            return false;
        }
        match status_word(st.mode()) {
            Ok(w) => line(out, dir, b" status: ", w, st.gid()),
            Err(p) => {
                warn_problem(&sup, p);
                return false;
            }
        }
        let ctl = cat(dir, b"/supervise/control");
        let st = match std::fs::metadata(&ctl) {
            Ok(st) => st,
            Err(e) => {
                warn_sys_bytes(PROG, &[b"stat ", b(&ctl)], common::msg::errno_of(&e));
                return false;
            }
        };
        if !st.file_type().is_fifo() {
            warn_problem(&ctl, ReportProblem::NotFifo);
            return false;
        }
        match control_word(st.mode()) {
            Ok(w) => line(out, dir, b" control: ", w, st.gid()),
            Err(p) => {
                warn_problem(&ctl, p);
                return false;
            }
        }
        true
    })();
    ok &= sup_ok;
    let ev = cat(dir, b"/event");
    match std::fs::metadata(&ev) {
        Err(e) => {
            warn_sys_bytes(PROG, &[b"stat ", b(&ev)], common::msg::errno_of(&e));
            ok = false;
        }
        Ok(st) if !st.is_dir() => {
            warn_problem(&ev, ReportProblem::NotDir);
            ok = false;
        }
        Ok(st) => match event_word(st.mode()) {
            Ok(w) => line(out, dir, b" events: ", w, st.gid()),
            Err(p) => {
                warn_problem(&ev, p);
                ok = false;
            }
        },
    }
    ok
}

pub fn main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, HELP);
    let Some(req) = parse_args(&args) else {
        common::Prog::new(PROG).usage(USAGE)
    };
    // Every group is looked up before anything changes.
    for g in &req.groups {
        resolve(g);
    }
    let sup_gid = req
        .supervise
        .as_ref()
        .and_then(SuperviseMode::group)
        .map(resolve);
    let ev_gid = match &req.event {
        Some(EventMode::Group(g)) => Some(resolve(g)),
        _ => None,
    };
    let mut out = Vec::new();
    let mut failed = false;
    for d in &req.dirs {
        let dir = d.as_bytes();
        if let Some(m) = &req.supervise {
            apply_supervise(dir, m, sup_gid);
        }
        if let Some(m) = &req.event {
            apply_event(dir, m, ev_gid);
        }
        if req.report && !report(dir, &mut out) {
            failed = true;
        }
    }
    if req.report {
        if let Err(e) = common::fsio::write_all(std::io::stdout(), &out) {
            fatal_sys_bytes(PROG, 111, &[b"write to stdout"], e);
        }
    }
    common::rt::exit(if failed { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(v: &[&str]) -> Option<Request> {
        parse_args(&v.iter().map(OsString::from).collect::<Vec<_>>())
    }

    #[test]
    fn parsing() {
        assert_eq!(p(&[]), None);
        assert_eq!(p(&["-v"]), None);
        assert_eq!(p(&["-x", "d"]), None);
        assert_eq!(p(&["-E", ":abc", "d"]), None);
        let r = p(&["d"]).unwrap();
        assert!(r.report && r.supervise.is_none());
        let r = p(&["-G", "wheel", "-u", "-E", ":12", "d", "e"]).unwrap();
        assert!(!r.report);
        assert_eq!(r.supervise, Some(SuperviseMode::Owner));
        assert_eq!(r.event, Some(EventMode::Group(GroupSpec::Gid(12))));
        assert_eq!(r.dirs.len(), 2);
    }

    #[test]
    fn words() {
        assert_eq!(status_word(0o40700), Ok(StatusWord::Owner));
        assert_eq!(status_word(0o710), Ok(StatusWord::Group));
        assert_eq!(status_word(0o711), Ok(StatusWord::Public));
        assert_eq!(status_word(0o755), Err(ReportProblem::BadMode(0o755)));
        assert_eq!(status_word(0o701), Err(ReportProblem::BadMode(0o701)));
        assert_eq!(status_word(0o1700), Err(ReportProblem::BadMode(0o1700)));
        assert_eq!(control_word(0o600), Ok(StatusWord::Owner));
        assert_eq!(control_word(0o620), Ok(StatusWord::Group));
        assert_eq!(control_word(0o622), Err(ReportProblem::BadMode(0o622)));
        assert_eq!(event_word(0o3730), Ok(StatusWord::Group));
        assert_eq!(event_word(0o1733), Ok(StatusWord::Public));
        assert_eq!(event_word(0o755), Err(ReportProblem::BadMode(0o755)));
    }
}
