//! `s6-envuidgid`, `s6-applyuidgid` and `s6-setuidgid`.
//!
//! s6-setuidgid is, in s6, an exec of `s6-envuidgid ACCOUNT s6-applyuidgid -Uz -- prog...` (or
//! of `s6-applyuidgid -u U -g G -G "" -- prog...` for `U:G`). Here the same two steps run in
//! the same process, on exactly that command line, without the two extra execs: the
//! messages keep the `s6-envuidgid:` / `s6-applyuidgid:` prefixes of the step that fails.

use common::cli::{fatal_bytes, GetOpt, Opt};
use common::exec::{exec_prog, setenv, unsetenv};
use common::msg::{errno_text, exit, Prog, StrError};
use common::users::{self, NGROUPS_MAX};
use nix::errno::Errno;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

pub const ENVUIDGID: &str = "s6-envuidgid";
pub const APPLYUIDGID: &str = "s6-applyuidgid";
pub const SETUIDGID: &str = "s6-setuidgid";

pub const ENVUIDGID_USAGE: &str = "s6-envuidgid [ -i | -D defaultuid:defaultgid:defaultgidlist ] [ -u | -g | -B ] [ -n ] account prog...";
pub const APPLYUIDGID_USAGE: &str =
    "s6-applyuidgid [ -z ] [ -u uid ] [ -g gid ] [ -G gidlist ] [ -U ] prog...";
pub const SETUIDGID_USAGE: &str = "s6-setuidgid username prog...";

pub const ENVUIDGID_HELP: &str = "\
s6-envuidgid [ -i | -D defaultuid:defaultgid:defaultgidlist ] [ -u | -g | -B ] [ -n ] account prog...
Put the ids of account in UID, GID and GIDLIST, then exec prog.
  -u              account is a user: set UID only
  -g              account is a group: set GID only
  -B              account is user:group: set UID and GID
  -n              read names missing from the database as numbers (implies -B)
  -D u:g:list     defaults for an unknown account instead of failing
  -i              fail on an unknown account (the default)";
pub const APPLYUIDGID_HELP: &str = "\
s6-applyuidgid [ -z ] [ -u uid ] [ -g gid ] [ -G gidlist ] [ -U ] prog...
Set the process's uid, gid and supplementary groups, then exec prog.
  -u uid          set the uid (0: unchanged)
  -g gid          set the gid (0: unchanged)
  -G gidlist      set the supplementary groups (gid first)
  -U              take uid, gid and gidlist from $UID, $GID and $GIDLIST
  -z              remove UID, GID and GIDLIST from the environment";
pub const SETUIDGID_HELP: &str = "\
s6-setuidgid username prog...
Run prog as username (with its groups), or as uid:gid; an empty username changes nothing.";

// ---------------------------------------------------------------------------------------
// s6-envuidgid
// ---------------------------------------------------------------------------------------

/// Which variables a mode sets (s6's `what` bits): UID 1, GID 2, GIDLIST 4.
const SET_UID: u8 = 1;
const SET_GID: u8 = 2;
const SET_GIDLIST: u8 = 4;
/// The default mode: a user account, all three variables.
const MODE_ACCOUNT: u8 = SET_UID | SET_GID | SET_GIDLIST;

/// The values used for whatever is not found (`-D`; 0, 0 and none without it).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Defaults {
    pub uid: u32,
    pub gid: u32,
    pub gidlist: Vec<u32>,
}

/// A parsed s6-envuidgid command line.
#[derive(Debug, PartialEq, Eq)]
pub struct EnvRequest<'a, A = OsString> {
    pub what: u8,
    pub numeric_fallback: bool,
    pub insist: bool,
    pub defaults: Defaults,
    pub account: &'a OsStr,
    pub prog: &'a [A],
}

/// The command line is a usage error.
#[derive(Debug, PartialEq, Eq)]
pub struct Usage;

/// What follows the `n` bytes of a field of `-D`'s argument: `None` if it is not a colon
/// or the end, `Some(None)` if nothing does, `Some(Some(next field))` otherwise.
fn next_field(s: &[u8], n: usize) -> Option<Option<&[u8]>> {
    match s.get(n..).unwrap_or_default() {
        [] | [b':'] => Some(None),
        [b':', next @ ..] => Some(Some(next)),
        _ => None,
    }
}

/// s6-envuidgid's `scan_defaults`: `[uid][:[gid][:gidlist]]`.
pub fn scan_defaults(s: &[u8]) -> Option<Defaults> {
    let mut d = Defaults::default();
    let (uid, n) = users::u32_scan(s);
    if n == 0 && s.first() != Some(&b':') {
        return None;
    }
    d.uid = uid;
    let Some(s) = next_field(s, n)? else {
        return Some(d);
    };
    let (gid, n) = users::u32_scan(s);
    if n == 0 && s.first() != Some(&b':') {
        return None;
    }
    d.gid = gid;
    let Some(s) = next_field(s, n)? else {
        return Some(d);
    };
    let (list, read) = users::gid_scanlist(s, NGROUPS_MAX);
    if read == 0 {
        return None;
    }
    d.gidlist = list;
    Some(d)
}

pub fn parse_envuidgid<A: AsRef<OsStr>>(args: &[A]) -> Result<EnvRequest<'_, A>, Usage> {
    let mut what = MODE_ACCOUNT;
    let mut numeric_fallback = false;
    let mut insist = true;
    let mut defaults = Defaults::default();
    let mut g = GetOpt::new(args, "ugBniD:");
    while let Some(o) = g.next_opt() {
        match o.map_err(|_| Usage)? {
            Opt::Flag(b'u') => what = SET_UID,
            Opt::Flag(b'g') => what = SET_GID,
            Opt::Flag(b'B') => what = SET_UID | SET_GID,
            Opt::Flag(b'n') => {
                what &= SET_UID | SET_GID;
                numeric_fallback = true;
            }
            Opt::Flag(b'i') => insist = true,
            Opt::Arg(b'D', v) => {
                defaults = scan_defaults(v.as_bytes()).ok_or(Usage)?;
                insist = false;
            }
            _ => return Err(Usage),
        }
    }
    let [account, prog @ ..] = g.rest() else {
        return Err(Usage);
    };
    if prog.is_empty() {
        return Err(Usage);
    }
    Ok(EnvRequest {
        what,
        numeric_fallback,
        insist,
        defaults,
        account: account.as_ref(),
        prog,
    })
}

/// Why s6-envuidgid stops.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvError {
    #[error("unknown user")]
    UnknownUser(Vec<u8>),
    #[error("unknown group")]
    UnknownGroup(Vec<u8>),
    #[error("unable to get supplementary groups")]
    Groups(Vec<u8>, Errno),
}

impl EnvError {
    pub fn die(&self) -> ! {
        match self {
            EnvError::UnknownUser(n) => fatal_bytes(ENVUIDGID, 1, &[b"unknown user: ", n]),
            EnvError::UnknownGroup(n) => fatal_bytes(ENVUIDGID, 1, &[b"unknown group: ", n]),
            EnvError::Groups(n, e) => fatal_bytes(
                ENVUIDGID,
                exit::SYSTEM,
                &[
                    b"unable to get supplementary groups for ",
                    n,
                    b": ",
                    errno_text(*e).as_bytes(),
                ],
            ),
        }
    }
}

/// The variables s6-envuidgid sets (`None`: that one is not touched).
#[derive(Debug, Default, PartialEq, Eq)]
pub struct IdVars {
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub gidlist: Option<Vec<u32>>,
}

/// The database lookups s6-envuidgid needs, as a trait so the resolution is testable.
pub trait Db {
    fn user(&self, name: &[u8]) -> Option<users::User>;
    fn group(&self, name: &[u8]) -> Option<u32>;
    fn groups_of(&self, name: &[u8]) -> Result<Vec<u32>, Errno>;
}

/// The system's databases (libc).
pub struct SystemDb;

impl Db for SystemDb {
    fn user(&self, name: &[u8]) -> Option<users::User> {
        users::user_by_name(name)
    }
    fn group(&self, name: &[u8]) -> Option<u32> {
        users::group_by_name(name)
    }
    fn groups_of(&self, name: &[u8]) -> Result<Vec<u32>, Errno> {
        users::supplementary_groups(name, NGROUPS_MAX)
    }
}

/// Look the account up as the mode says (the group first, as s6 does).
pub fn resolve<A>(req: &EnvRequest<'_, A>, db: &dyn Db) -> Result<IdVars, EnvError> {
    let account = req.account.as_bytes();
    let (user, group): (Option<&[u8]>, Option<&[u8]>) = match req.what {
        SET_GID => (None, Some(account)),
        SET_UID | MODE_ACCOUNT => (Some(account), None),
        _ => {
            let mut names = account.splitn(2, |&b| b == b':');
            let user = names.next().unwrap_or_default();
            match names.next() {
                Some(group) => (
                    (!user.is_empty()).then_some(user),
                    (!group.is_empty()).then_some(group),
                ),
                None => (Some(account), None),
            }
        }
    };
    let mut uid = req.defaults.uid;
    let mut gid = req.defaults.gid;
    let mut list = None;
    if let Some(name) = group {
        if let Some(g) = db.group(name) {
            gid = g;
        } else if req.numeric_fallback && users::u32_scan(name).1 > 0 {
            gid = users::u32_scan(name).0;
        } else if req.insist {
            return Err(EnvError::UnknownGroup(name.to_vec()));
        }
    }
    if let Some(name) = user {
        if let Some(u) = db.user(name) {
            uid = u.uid;
            if req.what == MODE_ACCOUNT {
                list = Some(
                    db.groups_of(account)
                        .map_err(|e| EnvError::Groups(account.to_vec(), e))?,
                );
                gid = u.gid;
            }
        } else if req.numeric_fallback && users::u32_scan(name).1 > 0 {
            uid = users::u32_scan(name).0;
        } else if req.insist {
            return Err(EnvError::UnknownUser(name.to_vec()));
        }
    }
    Ok(IdVars {
        uid: (req.what & SET_UID != 0).then_some(uid),
        gid: (req.what & SET_GID != 0).then_some(gid),
        gidlist: (req.what & SET_GIDLIST != 0)
            .then(|| list.unwrap_or_else(|| req.defaults.gidlist.clone())),
    })
}

fn export(vars: &IdVars) -> Result<(), Errno> {
    if let Some(u) = vars.uid {
        setenv(b"UID", u.to_string().as_bytes())?;
    }
    if let Some(g) = vars.gid {
        setenv(b"GID", g.to_string().as_bytes())?;
    }
    if let Some(l) = &vars.gidlist {
        setenv(b"GIDLIST", &users::format_gidlist(l))?;
    }
    Ok(())
}

/// s6-envuidgid up to its exec: sets the variables and returns prog.
fn envuidgid<A: AsRef<OsStr>>(args: &[A]) -> &[A] {
    let prog = Prog::new(ENVUIDGID);
    let req = match parse_envuidgid(args) {
        Ok(r) => r,
        Err(Usage) => prog.usage(ENVUIDGID_USAGE),
    };
    let vars = match resolve(&req, &SystemDb) {
        Ok(v) => v,
        Err(e) => e.die(),
    };
    if let Err(e) = export(&vars) {
        prog.fatal(
            exit::SYSTEM,
            format_args!("unable to modify environment: {}", StrError(e)),
        );
    }
    req.prog
}

pub fn envuidgid_main() -> ! {
    let args = common::rt::arguments();
    common::cli::help_or_version(&args, ENVUIDGID_HELP);
    let prog = envuidgid(&args);
    exec_prog(ENVUIDGID, prog)
}

// ---------------------------------------------------------------------------------------
// s6-applyuidgid
// ---------------------------------------------------------------------------------------

/// A parsed s6-applyuidgid command line.
#[derive(Debug, PartialEq, Eq)]
pub struct ApplyRequest<'a, A = OsString> {
    /// 0: do not change.
    pub uid: u32,
    /// 0: do not change.
    pub gid: u32,
    /// `Some`: set the supplementary groups.
    pub groups: Option<Vec<u32>>,
    pub unexport: bool,
    pub prog: &'a [A],
}

/// Why the s6-applyuidgid command line is refused (all exit 100).
#[derive(Debug, PartialEq, Eq)]
pub enum ApplyParseError {
    Usage,
    NotSet(&'static str),
    Invalid(&'static str),
}

/// `getenv` for `-U`, injected so the parser stays pure.
pub fn parse_applyuidgid<'a, A: AsRef<OsStr>>(
    args: &'a [A],
    getenv: &dyn Fn(&str) -> Option<OsString>,
) -> Result<ApplyRequest<'a, A>, ApplyParseError> {
    use ApplyParseError::*;
    let mut req = ApplyRequest {
        uid: 0,
        gid: 0,
        groups: None,
        unexport: false,
        prog: &[],
    };
    let mut g = GetOpt::new(args, "zUu:g:G:");
    while let Some(o) = g.next_opt() {
        match o.map_err(|_| Usage)? {
            Opt::Flag(b'z') => req.unexport = true,
            Opt::Arg(b'u', v) => req.uid = users::u32_scan_all(v.as_bytes()).ok_or(Usage)?,
            Opt::Arg(b'g', v) => req.gid = users::u32_scan_all(v.as_bytes()).ok_or(Usage)?,
            Opt::Arg(b'G', v) => {
                let v = v.as_bytes();
                let (list, read) = users::gid_scanlist(v, NGROUPS_MAX);
                if read == 0 && !v.is_empty() {
                    return Err(Usage);
                }
                req.groups = Some(list);
            }
            Opt::Flag(b'U') => {
                let x = getenv("UID").ok_or(NotSet("UID"))?;
                req.uid = users::u32_scan_all(x.as_bytes()).ok_or(Invalid("UID"))?;
                let x = getenv("GID").ok_or(NotSet("GID"))?;
                req.gid = users::u32_scan_all(x.as_bytes()).ok_or(Invalid("GID"))?;
                let x = getenv("GIDLIST").ok_or(NotSet("GIDLIST"))?;
                let (list, read) = users::gid_scanlist(x.as_bytes(), NGROUPS_MAX + 1);
                if read == 0 && !x.is_empty() {
                    return Err(Invalid("GIDLIST"));
                }
                req.groups = Some(list);
            }
            _ => return Err(Usage),
        }
    }
    req.prog = g.rest();
    if req.prog.is_empty() {
        return Err(Usage);
    }
    Ok(req)
}

/// The credential change that failed.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ApplyError {
    #[error("unable to set supplementary group list: {}", StrError(*.0))]
    Groups(Errno),
    #[error("unable to setgid: {}", StrError(*.0))]
    Setgid(Errno),
    #[error("unable to setuid: {}", StrError(*.0))]
    Setuid(Errno),
}

/// Groups, then gid, then uid (the order that keeps the privilege to do each).
pub fn apply<A>(req: &ApplyRequest<'_, A>) -> Result<(), ApplyError> {
    if let Some(list) = &req.groups {
        let gid = if req.gid != 0 {
            req.gid
        } else {
            nix::unistd::getegid().as_raw()
        };
        users::set_groups(&users::groups_with_gid(gid, list)).map_err(ApplyError::Groups)?;
    }
    if req.gid != 0 {
        nix::unistd::setgid(nix::unistd::Gid::from_raw(req.gid)).map_err(ApplyError::Setgid)?;
    }
    if req.uid != 0 {
        nix::unistd::setuid(nix::unistd::Uid::from_raw(req.uid)).map_err(ApplyError::Setuid)?;
    }
    Ok(())
}

/// s6-applyuidgid up to its exec: changes the credentials and returns prog.
fn applyuidgid<A: AsRef<OsStr>>(args: &[A]) -> &[A] {
    let prog = Prog::new(APPLYUIDGID);
    let req = match parse_applyuidgid(args, &|v| std::env::var_os(v)) {
        Ok(r) => r,
        Err(ApplyParseError::Usage) => prog.usage(APPLYUIDGID_USAGE),
        Err(ApplyParseError::NotSet(v)) => prog.fatal(exit::USAGE, format_args!("{v} not set")),
        Err(ApplyParseError::Invalid(v)) => prog.fatal(exit::USAGE, format_args!("invalid ${v}")),
    };
    run_apply(&req);
    req.prog
}

/// The credential change and the unexport of s6-applyuidgid, dying with its messages.
fn run_apply<A>(req: &ApplyRequest<'_, A>) {
    let prog = Prog::new(APPLYUIDGID);
    if let Err(e) = apply(req) {
        prog.fatal(exit::SYSTEM, e);
    }
    if req.unexport {
        for v in [b"UID".as_slice(), b"GID", b"GIDLIST"] {
            if let Err(e) = unsetenv(v) {
                prog.fatal(
                    exit::SYSTEM,
                    format_args!("unable to modify environment: {}", StrError(e)),
                );
            }
        }
    }
}

/// `prog...` when `words` is `s6-applyuidgid -Uz -- prog...` with a non-empty prog.
fn direct_apply_prog(words: &[OsString]) -> Option<&[OsString]> {
    match words {
        [a, b, c, prog @ ..] if a == APPLYUIDGID && b == "-Uz" && c == "--" && !prog.is_empty() => {
            Some(prog)
        }
        _ => None,
    }
}

pub fn applyuidgid_main() -> ! {
    let args = common::rt::arguments();
    common::cli::help_or_version(&args, APPLYUIDGID_HELP);
    let prog = applyuidgid(&args);
    exec_prog(APPLYUIDGID, prog)
}

// ---------------------------------------------------------------------------------------
// s6-setuidgid
// ---------------------------------------------------------------------------------------

/// What s6-setuidgid does with its command line.
#[derive(Debug, PartialEq, Eq)]
pub enum SetRequest<'a> {
    /// Empty account: exec prog unchanged.
    Direct(&'a [OsString]),
    /// `s6-applyuidgid ARGS...` (ARGS given).
    Apply(Vec<OsString>),
    /// `s6-envuidgid ARGS...`, whose prog is `s6-applyuidgid -Uz -- prog...`.
    EnvThenApply(Vec<OsString>),
}

pub fn parse_setuidgid(args: &[OsString]) -> Result<SetRequest<'_>, Usage> {
    let [account_arg, prog @ ..] = args else {
        return Err(Usage);
    };
    if prog.is_empty() {
        return Err(Usage);
    }
    let account = account_arg.as_bytes();
    if account.is_empty() {
        return Ok(SetRequest::Direct(prog));
    }
    let mut out: Vec<OsString> = Vec::with_capacity(prog.len() + 7);
    let mut names = account.splitn(2, |&b| b == b':');
    let user = names.next().unwrap_or_default();
    match names.next() {
        Some(group) => {
            out.push("-u".into());
            out.push(OsStr::from_bytes(user).to_os_string());
            out.push("-g".into());
            out.push(OsStr::from_bytes(group).to_os_string());
            out.push("-G".into());
            out.push("".into());
            out.push("--".into());
            out.extend_from_slice(prog);
            Ok(SetRequest::Apply(out))
        }
        None => {
            out.push(account_arg.clone());
            out.push(APPLYUIDGID.into());
            out.push("-Uz".into());
            out.push("--".into());
            out.extend_from_slice(prog);
            Ok(SetRequest::EnvThenApply(out))
        }
    }
}

pub fn setuidgid_main() -> ! {
    let args: Vec<OsString> = common::rt::args_os().into_iter().skip(1).collect();
    common::cli::help_or_version(&args, SETUIDGID_HELP);
    match parse_setuidgid(&args) {
        Err(Usage) => Prog::new(SETUIDGID).usage(SETUIDGID_USAGE),
        Ok(SetRequest::Direct(prog)) => exec_prog(SETUIDGID, prog),
        Ok(SetRequest::Apply(a)) => {
            let prog = applyuidgid(&a);
            exec_prog(APPLYUIDGID, prog)
        }
        Ok(SetRequest::EnvThenApply(a)) => {
            // The usual case: the account is envuidgid's operand and its prog is exactly
            // `s6-applyuidgid -Uz -- prog...`, so the ids go straight from the lookup to the
            // credential change, without the round trip through UID/GID/GIDLIST.
            if let Ok(req) = parse_envuidgid(&a) {
                if let Some(prog) = direct_apply_prog(req.prog) {
                    let vars = resolve(&req, &SystemDb).unwrap_or_else(|e| e.die());
                    if let IdVars {
                        uid: Some(uid),
                        gid: Some(gid),
                        gidlist: Some(groups),
                    } = vars
                    {
                        let apply_req = ApplyRequest {
                            uid,
                            gid,
                            groups: Some(groups),
                            unexport: true,
                            prog,
                        };
                        run_apply(&apply_req);
                        exec_prog(APPLYUIDGID, prog)
                    }
                }
            }
            // Anything else (an account that looks like an option): the two steps as s6
            // runs them, through the environment.
            let next = envuidgid(&a);
            let prog = applyuidgid(next.get(1..).unwrap_or(&[]));
            exec_prog(APPLYUIDGID, prog)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn defaults_grammar() {
        let d = |u, g, l: &[u32]| {
            Some(Defaults {
                uid: u,
                gid: g,
                gidlist: l.to_vec(),
            })
        };
        assert_eq!(scan_defaults(b"5"), d(5, 0, &[]));
        assert_eq!(scan_defaults(b":7"), d(0, 7, &[]));
        assert_eq!(scan_defaults(b"::8"), d(0, 0, &[8]));
        assert_eq!(scan_defaults(b"1:2:3:4"), d(1, 2, &[3, 4]));
        assert_eq!(scan_defaults(b"65534:65534"), d(65534, 65534, &[]));
        assert_eq!(scan_defaults(b"11:12:13,14"), d(11, 12, &[13, 14]));
        assert_eq!(scan_defaults(b"1:2:"), d(1, 2, &[]));
        for bad in ["", "x", "1x", "1,2", "1:2:x", "4294967296", "1:2x"] {
            assert_eq!(scan_defaults(bad.as_bytes()), None, "{bad}");
        }
    }

    struct FakeDb(
        HashMap<&'static str, (u32, u32)>,
        HashMap<&'static str, u32>,
    );
    impl Db for FakeDb {
        fn user(&self, n: &[u8]) -> Option<users::User> {
            let n = std::str::from_utf8(n).ok()?;
            self.0.get(n).map(|&(uid, gid)| users::User { uid, gid })
        }
        fn group(&self, n: &[u8]) -> Option<u32> {
            self.1.get(std::str::from_utf8(n).ok()?).copied()
        }
        fn groups_of(&self, _: &[u8]) -> Result<Vec<u32>, Errno> {
            Ok(vec![20, 30])
        }
    }

    fn db() -> FakeDb {
        FakeDb(
            [("alice", (1000, 100))].into_iter().collect(),
            [("staff", 50)].into_iter().collect(),
        )
    }

    fn res(args: &[&str]) -> Result<IdVars, EnvError> {
        let a = os(args);
        let req = parse_envuidgid(&a).unwrap();
        resolve(&req, &db())
    }

    #[test]
    fn envuidgid_modes() {
        let v = res(&["alice", "p"]).unwrap();
        assert_eq!(
            v,
            IdVars {
                uid: Some(1000),
                gid: Some(100),
                gidlist: Some(vec![20, 30])
            }
        );
        let v = res(&["-u", "alice", "p"]).unwrap();
        assert_eq!(
            v,
            IdVars {
                uid: Some(1000),
                ..Default::default()
            }
        );
        let v = res(&["-g", "staff", "p"]).unwrap();
        assert_eq!(
            v,
            IdVars {
                gid: Some(50),
                ..Default::default()
            }
        );
        assert_eq!(res(&["-B", "alice:staff", "p"]).unwrap().gid, Some(50));
        assert_eq!(res(&["-B", ":staff", "p"]).unwrap().uid, Some(0));
        assert_eq!(res(&["-B", "alice", "p"]).unwrap().gid, Some(0));
        assert_eq!(
            res(&["-B", "root:42", "p"]),
            Err(EnvError::UnknownGroup(b"42".to_vec()))
        );
        let v = res(&["-nB", "alice:42", "p"]).unwrap();
        assert_eq!((v.uid, v.gid, v.gidlist), (Some(1000), Some(42), None));
        let v = res(&["-n", "12abc:7", "p"]).unwrap();
        assert_eq!((v.uid, v.gid, v.gidlist), (Some(12), Some(7), None));
        let v = res(&["-n", "-u", "9", "p"]).unwrap();
        assert_eq!((v.uid, v.gid), (Some(9), None));
        assert_eq!(
            res(&["bob", "p"]),
            Err(EnvError::UnknownUser(b"bob".to_vec()))
        );
        let v = res(&["-D", "11:12:13,14", "bob", "p"]).unwrap();
        assert_eq!(
            v,
            IdVars {
                uid: Some(11),
                gid: Some(12),
                gidlist: Some(vec![13, 14])
            }
        );
        let v = res(&["-D", "11:12:13,14", "alice", "p"]).unwrap();
        assert_eq!(v.gidlist, Some(vec![20, 30]));
        assert!(res(&["-D", "1:2:3", "-i", "bob", "p"]).is_err());
    }

    #[test]
    fn envuidgid_usage() {
        for a in [
            &["-D", "x", "n", "t"][..],
            &["n"],
            &[],
            &["-x", "n", "t"],
            &["-D"],
        ] {
            assert_eq!(parse_envuidgid(&os(a)), Err(Usage), "{a:?}");
        }
        let a = os(&["-D", "65534:65534", "nobody", "s6-log", "-b", "t"]);
        let r = parse_envuidgid(&a).unwrap();
        assert_eq!(r.prog, &a[3..]);
    }

    #[test]
    fn applyuidgid_parse() {
        let env: HashMap<&str, &str> = [("UID", "54980"), ("GID", "54981"), ("GIDLIST", "1,2")]
            .into_iter()
            .collect();
        let get = |v: &str| env.get(v).map(OsString::from);
        let a = os(&["-u", "7", "-U", "-G", "9", "p"]);
        let r = parse_applyuidgid(&a, &get).unwrap();
        assert_eq!((r.uid, r.gid, r.groups), (54980, 54981, Some(vec![9])));
        let a = os(&["-g", "5", "-G", "", "p"]);
        let r = parse_applyuidgid(&a, &get).unwrap();
        assert_eq!((r.uid, r.gid, r.groups), (0, 5, Some(vec![])));
        for bad in [
            &["-u", "x", "p"][..],
            &["-u", "", "p"],
            &["-u", "+5", "p"],
            &["-u", "4294967296", "p"],
            &["-g", "-1", "p"],
            &["-G", " 1", "p"],
            &["-x", "p"],
            &[],
        ] {
            assert_eq!(
                parse_applyuidgid(&os(bad), &get),
                Err(ApplyParseError::Usage)
            );
        }
        let none = |_: &str| None;
        assert_eq!(
            parse_applyuidgid(&os(&["-U", "p"]), &none),
            Err(ApplyParseError::NotSet("UID"))
        );
        let empty = |v: &str| {
            (v != "GIDLIST")
                .then(|| OsString::from(""))
                .or(Some("".into()))
        };
        assert_eq!(
            parse_applyuidgid(&os(&["-U", "p"]), &empty),
            Err(ApplyParseError::Invalid("UID"))
        );
    }

    #[test]
    fn setuidgid_forms() {
        let a = os(&["", "p", "x"]);
        assert_eq!(parse_setuidgid(&a), Ok(SetRequest::Direct(&a[1..])));
        assert_eq!(
            parse_setuidgid(&os(&["1:2", "p"])),
            Ok(SetRequest::Apply(os(&[
                "-u", "1", "-g", "2", "-G", "", "--", "p"
            ])))
        );
        assert_eq!(
            parse_setuidgid(&os(&["nobody", "sshd", "-D"])),
            Ok(SetRequest::EnvThenApply(os(&[
                "nobody",
                "s6-applyuidgid",
                "-Uz",
                "--",
                "sshd",
                "-D"
            ])))
        );
        assert_eq!(parse_setuidgid(&os(&["nobody"])), Err(Usage));
    }

    #[test]
    fn direct_path_only_for_the_usual_chain() {
        let a = os(&["s6-applyuidgid", "-Uz", "--", "sshd", "-D"]);
        assert_eq!(direct_apply_prog(&a), Some(&a[3..]));
        assert_eq!(
            direct_apply_prog(&os(&["s6-applyuidgid", "-Uz", "--"])),
            None
        );
        assert_eq!(direct_apply_prog(&os(&["-Uz", "--", "p"])), None);
    }

    #[test]
    fn parsers_never_panic() {
        let get = |_: &str| Some(OsString::from("1"));
        for a in common::cli::pseudo_random_argv(2000) {
            let _ = parse_envuidgid(&a);
            let _ = parse_applyuidgid(&a, &get);
            let _ = parse_setuidgid(&a);
        }
    }
}
