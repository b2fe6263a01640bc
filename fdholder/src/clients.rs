//! The client programs: `s6-fdholder-daemon` (a command-line builder), `-store`,
//! `-retrieve`, `-delete`, `-list`, `-getdump`, `-setdump`, `-transferdump`.

use crate::client::{self, Conn};
use crate::proto;
use common::cli::{fatal_bytes, uint0_scan, GetOpt, Opt};
use common::msg::exit;
use common::tai::Tai64n;
use common::Prog;
use nix::errno::Errno;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsRawFd, IntoRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Duration;

fn args_and_help(help: &str) -> Vec<OsString> {
    let a = common::rt::args_os();
    let a = a.get(1..).unwrap_or(&[]).to_vec();
    common::cli::help_or_version(&a, help);
    a
}

fn errtext(e: Errno) -> std::borrow::Cow<'static, str> {
    common::strerror::text(e as i32)
}

/// `unable to connect to a [WHICH ]fd-holder daemon at PATH: REASON`, 111.
fn die_connect(prog: &str, which: &str, path: &OsStr, e: Errno) -> ! {
    fatal_bytes(
        prog,
        exit::SYSTEM,
        &[
            b"unable to connect to a ",
            which.as_bytes(),
            b"fd-holder daemon at ",
            path.as_bytes(),
            b": ",
            errtext(e).as_bytes(),
        ],
    )
}

fn connect(prog: &str, path: &OsStr, deadline: Option<std::time::Instant>) -> Conn {
    Conn::connect(Path::new(path), deadline).unwrap_or_else(|e| die_connect(prog, "", path, e))
}

/// `unable to WHAT: REASON`, exit 1 (the daemon refused or the connection broke).
fn die_refused(prog: &str, what: &[&[u8]], e: Errno) -> ! {
    let mut parts: Vec<&[u8]> = vec![b"unable to "];
    parts.extend_from_slice(what);
    let t = errtext(e);
    parts.push(b": ");
    parts.push(t.as_bytes());
    fatal_bytes(prog, 1, &parts)
}

/// Parse options with `-t timeout` (and others via `more`): the timeout and the operands.
fn parse_timeout_opts<'a>(
    args: &'a [OsString],
    spec: &'static str,
    mut more: impl FnMut(Opt<'a>) -> Option<()>,
) -> Option<(u32, &'a [OsString])> {
    let mut t = 0;
    let mut g = GetOpt::new(args, spec);
    while let Some(o) = g.next_opt() {
        match o.ok()? {
            Opt::Arg(b't', a) => t = uint0_scan(a)?,
            other => more(other)?,
        }
    }
    Some((t, g.rest()))
}

// --- s6-fdholder-daemon -------------------------------------------------------------------

const DAEMON_USAGE: &str = "s6-fdholder-daemon [ -v verbosity ] [ -d | -D ] [ -1 ] [ -c maxconn ] [ -n maxfds ] [ -b backlog ] [ -G gid,gid,... ] [ -g gid ] [ -u uid ] [ -U ] [ -t timeout ] [ -T lameducktimeout ] [ -i rulesdir | -x rulesfile ] path";
const DAEMON_HELP: &str = "s6-fdholder-daemon [ -v verbosity ] [ -d | -D ] [ -1 ] [ -c maxconn ] [ -n maxfds ] [ -b backlog ] [ -G gid,gid,... ] [ -g gid ] [ -u uid ] [ -U ] [ -t timeout ] [ -T lameducktimeout ] [ -i rulesdir | -x rulesfile ] path
  -v verbosity       s6-fdholderd's verbosity
  -d / -D            replace an existing socket (default) / refuse to
  -1                 write a newline to stdout when ready
  -c maxconn         most concurrent clients
  -n maxfds          most held fds
  -b backlog         listen() backlog
  -G gid,gid,...     supplementary groups to run with
  -g gid             gid to run with
  -u uid             uid to run with
  -U                 take uid, gid and groups from UID, GID and GIDLIST
  -t timeout         ms a client has to get each answer
  -T lameducktimeout ms to finish answering after SIGTERM
  -i rulesdir        access rules in a directory
  -x rulesfile       access rules in a cdb";

/// What s6-fdholder-daemon execs; Err(true) for a usage error, Err(false) for missing rules.
pub fn daemon_argv(args: &[OsString]) -> Result<Vec<OsString>, bool> {
    let mut verbosity = 1u32;
    let (mut ready, mut flag_u, mut reuse) = (false, false, true);
    let (mut uid, mut gid) = (0u32, 0u32);
    let mut gids: Option<Vec<u32>> = None;
    let (mut maxconn, mut maxfds, mut backlog) = (0u32, 0u32, None::<u32>);
    let (mut timeout, mut lameduck) = (0u32, 0u32);
    let mut rules: Option<(&str, &OsStr)> = None;
    let mut g = GetOpt::new(args, "Dd1Uv:c:n:b:u:g:G:t:T:i:x:");
    while let Some(o) = g.next_opt() {
        let num = |a| uint0_scan(a).ok_or(true);
        match o.map_err(|_| true)? {
            Opt::Flag(b'D') => reuse = false,
            Opt::Flag(b'd') => reuse = true,
            Opt::Flag(b'1') => ready = true,
            Opt::Arg(b'v', a) => verbosity = num(a)?,
            Opt::Arg(b'c', a) => maxconn = num(a)?.max(1),
            Opt::Arg(b'n', a) => maxfds = num(a)?.max(1),
            Opt::Arg(b'b', a) => backlog = Some(num(a)?),
            Opt::Arg(b'u', a) => uid = num(a)?,
            Opt::Arg(b'g', a) => gid = num(a)?,
            Opt::Arg(b'G', a) => {
                gids = Some(if a.is_empty() {
                    Vec::new()
                } else {
                    a.as_bytes()
                        .split(|&c| c == b',')
                        .map(|p| uint0_scan(OsStr::from_bytes(p)))
                        .collect::<Option<Vec<u32>>>()
                        .ok_or(true)?
                })
            }
            Opt::Flag(b'U') => {
                flag_u = true;
                uid = 0;
                gid = 0;
                gids = None;
            }
            Opt::Arg(b't', a) => timeout = num(a)?,
            Opt::Arg(b'T', a) => lameduck = num(a)?,
            Opt::Arg(b'i', a) => rules = Some(("-i", a)),
            Opt::Arg(b'x', a) => rules = Some(("-x", a)),
            _ => return Err(true),
        }
    }
    let rest = g.rest();
    let Some(path) = rest.first() else {
        return Err(true);
    };
    let Some((rflag, rpath)) = rules else {
        return Err(false);
    };
    let mut v: Vec<OsString> = vec!["s6-ipcserver-socketbinder".into()];
    if !reuse {
        v.push("-D".into());
    }
    if let Some(b) = backlog {
        v.extend(["-b".into(), b.to_string().into()]);
    }
    v.extend(["--".into(), path.clone()]);
    if flag_u || uid != 0 || gid != 0 || gids.is_some() {
        v.push("s6-applyuidgid".into());
        if flag_u {
            v.push("-Uz".into());
        }
        if uid != 0 {
            v.extend(["-u".into(), uid.to_string().into()]);
        }
        if gid != 0 {
            v.extend(["-g".into(), gid.to_string().into()]);
        }
        if let Some(list) = &gids {
            let s: Vec<String> = list.iter().map(u32::to_string).collect();
            v.extend(["-G".into(), s.join(",").into()]);
        }
        v.push("--".into());
    }
    v.push("s6-fdholderd".into());
    if verbosity != 1 {
        v.extend(["-v".into(), verbosity.to_string().into()]);
    }
    if ready {
        v.push("-1".into());
    }
    for (flag, n) in [
        ("-c", maxconn),
        ("-n", maxfds),
        ("-t", timeout),
        ("-T", lameduck),
    ] {
        if n != 0 {
            v.extend([flag.into(), n.to_string().into()]);
        }
    }
    v.extend([rflag.into(), rpath.to_os_string()]);
    Ok(v)
}

pub fn daemon_main() -> ! {
    let prog = Prog::new("s6-fdholder-daemon");
    let args = args_and_help(DAEMON_HELP);
    match daemon_argv(&args) {
        Ok(argv) => client::exec_or_die(prog.name(), &argv, &[]),
        Err(true) => prog.usage(DAEMON_USAGE),
        Err(false) => prog.fatal(exit::USAGE, "no access rights specified!"),
    }
}

// --- s6-fdholder-store --------------------------------------------------------------------

const STORE_USAGE: &str = "s6-fdholder-store [ -d fd ] [ -t timeout ] [ -T fdtimeout ] socket id";
const STORE_HELP: &str = "s6-fdholder-store [ -d fd ] [ -t timeout ] [ -T fdtimeout ] socket id
  -d fd         the fd to store (default 0)
  -t timeout    overall deadline in ms (0: none)
  -T fdtimeout  the fd expires this many ms from now (0: never)";

pub fn store_main() -> ! {
    let prog = Prog::new("s6-fdholder-store");
    let args = args_and_help(STORE_HELP);
    let (mut fd, mut fdtimeout) = (0u32, 0u32);
    let parsed = parse_timeout_opts(&args, "d:t:T:", |o| {
        match o {
            Opt::Arg(b'd', a) => fd = uint0_scan(a)?,
            Opt::Arg(b'T', a) => fdtimeout = uint0_scan(a)?,
            _ => return None,
        }
        Some(())
    });
    let Some((t, [path, id, ..])) = parsed else {
        prog.usage(STORE_USAGE)
    };
    let deadline = client::deadline_in(t);
    let limit = if fdtimeout > 0 {
        Tai64n::now().add(Duration::from_millis(fdtimeout as u64))
    } else {
        client::no_expiry()
    };
    let mut c = connect(prog.name(), path, deadline);
    if let Err(e) = c.store(fd as i32, id.as_bytes(), &limit) {
        die_refused(prog.name(), &[b"store fd"], e);
    }
    common::rt::exit(0)
}

// --- s6-fdholder-retrieve -----------------------------------------------------------------

const RETRIEVE_USAGE: &str = "s6-fdholder-retrieve [ -D ] [ -t timeout ] socket id prog...";
const RETRIEVE_HELP: &str = "s6-fdholder-retrieve [ -D ] [ -t timeout ] socket id prog...
  -D          also delete the fd from the holder
  -t timeout  overall deadline in ms (0: none)";

pub fn retrieve_main() -> ! {
    let prog = Prog::new("s6-fdholder-retrieve");
    let args = args_and_help(RETRIEVE_HELP);
    let mut delete = false;
    let parsed = parse_timeout_opts(&args, "Dt:", |o| {
        match o {
            Opt::Flag(b'D') => delete = true,
            _ => return None,
        }
        Some(())
    });
    let Some((t, [path, id, cmd @ ..])) = parsed else {
        prog.usage(RETRIEVE_USAGE)
    };
    if cmd.is_empty() {
        prog.usage(RETRIEVE_USAGE);
    }
    let mut c = connect(prog.name(), path, client::deadline_in(t));
    let fd = match c.retrieve(id.as_bytes(), delete) {
        Ok(fd) => fd,
        Err(e) => die_refused(prog.name(), &[b"retrieve fd for id ", id.as_bytes()], e),
    };
    drop(c);
    // The fd becomes our stdin, inheritable.
    let raw = fd.as_raw_fd();
    if raw == 0 {
        let _ = fd.into_raw_fd();
        if let Err(e) = client::make_inheritable(0) {
            die_sys(prog.name(), "uncoe stdin", e);
        }
    } else {
        // SAFETY: dup2 of an fd we own onto fd 0 (which the program gets as stdin).
        if unsafe { libc::dup2(raw, 0) } < 0 {
            die_sys(prog.name(), "move fd", Errno::last());
        }
        drop(fd);
    }
    client::exec_or_die(prog.name(), cmd, &[])
}

fn die_sys(prog: &str, what: &str, e: Errno) -> ! {
    fatal_bytes(
        prog,
        exit::SYSTEM,
        &[b"unable to ", what.as_bytes(), b": ", errtext(e).as_bytes()],
    )
}

// --- s6-fdholder-delete -------------------------------------------------------------------

const DELETE_USAGE: &str = "s6-fdholder-delete [ -t timeout ] socket id";
const DELETE_HELP: &str = "s6-fdholder-delete [ -t timeout ] socket id
  -t timeout  overall deadline in ms (0: none)";

pub fn delete_main() -> ! {
    let prog = Prog::new("s6-fdholder-delete");
    let args = args_and_help(DELETE_HELP);
    let Some((t, [path, id, ..])) = parse_timeout_opts(&args, "t:", |_| None) else {
        prog.usage(DELETE_USAGE)
    };
    let mut c = connect(prog.name(), path, client::deadline_in(t));
    if let Err(e) = c.delete(id.as_bytes()) {
        die_refused(prog.name(), &[b"delete fd for id ", id.as_bytes()], e);
    }
    common::rt::exit(0)
}

// --- s6-fdholder-list ---------------------------------------------------------------------

const LIST_USAGE: &str = "s6-fdholder-list [ -t timeout ] socket";
const LIST_HELP: &str = "s6-fdholder-list [ -t timeout ] socket
  -t timeout  overall deadline in ms (0: none)";

pub fn list_main() -> ! {
    let prog = Prog::new("s6-fdholder-list");
    let args = args_and_help(LIST_HELP);
    let Some((t, [path, ..])) = parse_timeout_opts(&args, "t:", |_| None) else {
        prog.usage(LIST_USAGE)
    };
    let mut c = connect(prog.name(), path, client::deadline_in(t));
    let ids = c
        .list()
        .unwrap_or_else(|e| die_refused(prog.name(), &[b"get fd list"], e));
    drop(c);
    let mut out = Vec::new();
    for id in &ids {
        proto::quote_id(id, &mut out);
        out.push(b'\n');
    }
    if let Err(e) = common::fsio::write_all(std::io::stdout(), &out) {
        die_sys(prog.name(), "write to stdout", e);
    }
    common::rt::exit(0)
}

// --- s6-fdholder-getdump ------------------------------------------------------------------

const GETDUMP_USAGE: &str = "s6-fdholder-getdump [ -t timeout ] socket prog...";
const GETDUMP_HELP: &str = "s6-fdholder-getdump [ -t timeout ] socket prog...
  -t timeout  overall deadline in ms (0: none)";

pub fn getdump_main() -> ! {
    let prog = Prog::new("s6-fdholder-getdump");
    let args = args_and_help(GETDUMP_HELP);
    let Some((t, [path, cmd @ ..])) = parse_timeout_opts(&args, "t:", |_| None) else {
        prog.usage(GETDUMP_USAGE)
    };
    if cmd.is_empty() {
        prog.usage(GETDUMP_USAGE);
    }
    let mut c = connect(prog.name(), path, client::deadline_in(t));
    let dump = c
        .getdump()
        .unwrap_or_else(|e| die_refused(prog.name(), &[b"get dump"], e));
    drop(c);
    let half_infinite = Tai64n::now().add(Duration::from_secs(proto::INFINITE_SECS / 2));
    let mut env: Vec<(OsString, Option<OsString>)> = Vec::with_capacity(1 + 3 * dump.len());
    env.push(("S6_FD#".into(), Some(dump.len().to_string().into())));
    for (i, d) in dump.into_iter().enumerate() {
        let fd = d.fd.into_raw_fd();
        if let Err(e) = client::make_inheritable(fd) {
            die_sys(prog.name(), "uncoe", e);
        }
        env.push((format!("S6_FD_{i}").into(), Some(fd.to_string().into())));
        env.push((
            format!("S6_FDID_{i}").into(),
            Some(OsStr::from_bytes(&d.id).to_os_string()),
        ));
        let limit = (d.limit < half_infinite).then(|| d.limit.label().to_string().into());
        env.push((format!("S6_FDLIMIT_{i}").into(), limit));
    }
    client::exec_or_die(prog.name(), cmd, &env)
}

// --- s6-fdholder-setdump ------------------------------------------------------------------

const SETDUMP_USAGE: &str = "s6-fdholder-setdump [ -t timeout ] socket";
const SETDUMP_HELP: &str = "s6-fdholder-setdump [ -t timeout ] socket
  -t timeout  overall deadline in ms (0: none)";

/// skalibs' `timestamp_scan`: `@` and 24 hex digits (what follows is ignored).
pub fn timestamp_scan(s: &[u8]) -> Option<Tai64n> {
    let head = s.get(..25)?;
    let hex = head.strip_prefix(b"@")?;
    if !hex.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    common::tai::parse_label(std::str::from_utf8(head).ok()?)
}

fn dienotset(prog: &Prog, var: &str) -> ! {
    prog.fatal(exit::USAGE, format_args!("{var} not set"))
}

fn dieinvalid(prog: &Prog, var: &str) -> ! {
    prog.fatal(exit::USAGE, format_args!("invalid ${var}"))
}

/// The fds to store, from the `S6_FD*` variables (each missing or invalid one is fatal).
fn dump_from_env(prog: &Prog, n: u32) -> Vec<(i32, Vec<u8>, Tai64n)> {
    let mut out = Vec::with_capacity(n.min(4096) as usize);
    for i in 0..n {
        let v = format!("S6_FD_{i}");
        let fd = match std::env::var_os(&v) {
            None => dienotset(prog, &v),
            Some(x) => uint0_scan(&x).unwrap_or_else(|| dieinvalid(prog, &v)),
        };
        let v = format!("S6_FDID_{i}");
        let id = match std::env::var_os(&v) {
            None => dienotset(prog, &v),
            Some(x) => x.as_bytes().to_vec(),
        };
        if id.is_empty() || id.len() > proto::ID_MAX {
            dieinvalid(prog, &v);
        }
        let v = format!("S6_FDLIMIT_{i}");
        let limit = match std::env::var_os(&v) {
            None => client::no_expiry(),
            Some(x) => timestamp_scan(x.as_bytes()).unwrap_or_else(|| dieinvalid(prog, &v)),
        };
        out.push((fd as i32, id, limit));
    }
    out
}

pub fn setdump_main() -> ! {
    let prog = Prog::new("s6-fdholder-setdump");
    let args = args_and_help(SETDUMP_HELP);
    let Some((t, [path, ..])) = parse_timeout_opts(&args, "t:", |_| None) else {
        prog.usage(SETDUMP_USAGE)
    };
    let n = match std::env::var_os("S6_FD#") {
        None => dienotset(&prog, "S6_FD#"),
        Some(x) => uint0_scan(&x).unwrap_or_else(|| dieinvalid(&prog, "S6_FD#")),
    };
    let mut c = connect(prog.name(), path, client::deadline_in(t));
    if n > 0 {
        let dump = dump_from_env(&prog, n);
        if let Err(e) = c.setdump(&dump) {
            die_refused(prog.name(), &[b"set dump"], e);
        }
    }
    common::rt::exit(0)
}

// --- s6-fdholder-transferdump -------------------------------------------------------------

const TRANSFER_USAGE: &str =
    "s6-fdholder-transferdump [ -t timeoutfrom:timeoutto ] socketfrom socketto";
const TRANSFER_HELP: &str =
    "s6-fdholder-transferdump [ -t timeoutfrom:timeoutto ] socketfrom socketto
  -t from:to  deadlines in ms for the source and the destination (empty or 0: none)";

pub fn transferdump_main() -> ! {
    let prog = Prog::new("s6-fdholder-transferdump");
    let args = args_and_help(TRANSFER_HELP);
    let (mut from, mut to) = (0u32, 0u32);
    let mut g = GetOpt::new(&args, "t:");
    while let Some(o) = g.next_opt() {
        match o {
            Ok(Opt::Arg(b't', a)) => match proto::parse_transfer_timeouts(a.as_bytes()) {
                Some((f, t)) => (from, to) = (f, t),
                None => prog.usage(TRANSFER_USAGE),
            },
            _ => prog.usage(TRANSFER_USAGE),
        }
    }
    let [src, dst, ..] = g.rest() else {
        prog.usage(TRANSFER_USAGE)
    };
    let mut c = Conn::connect(Path::new(src), client::deadline_in(from))
        .unwrap_or_else(|e| die_connect(prog.name(), "source ", src, e));
    let dump = c
        .getdump()
        .unwrap_or_else(|e| die_refused(prog.name(), &[b"get dump"], e));
    drop(c);
    let mut c = Conn::connect(Path::new(dst), client::deadline_in(to))
        .unwrap_or_else(|e| die_connect(prog.name(), "destination ", dst, e));
    let entries: Vec<(i32, Vec<u8>, Tai64n)> = dump
        .iter()
        .map(|d| (d.fd.as_raw_fd(), d.id.clone(), d.limit))
        .collect();
    if let Err(e) = c.setdump(&entries) {
        die_refused(prog.name(), &[b"set dump"], e);
    }
    common::rt::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn daemon_command_lines() {
        let v = daemon_argv(&os(&["-1", "-n", "256", "-i", "data/rules", "--", "s"])).unwrap();
        assert_eq!(
            v,
            os(&[
                "s6-ipcserver-socketbinder",
                "--",
                "s",
                "s6-fdholderd",
                "-1",
                "-n",
                "256",
                "-i",
                "data/rules"
            ])
        );
        let v = daemon_argv(&os(&["-D", "-b0", "-U", "-c0", "-v2", "-x", "r", "s"])).unwrap();
        assert_eq!(
            v,
            os(&[
                "s6-ipcserver-socketbinder",
                "-D",
                "-b",
                "0",
                "--",
                "s",
                "s6-applyuidgid",
                "-Uz",
                "--",
                "s6-fdholderd",
                "-v",
                "2",
                "-c",
                "1",
                "-x",
                "r"
            ])
        );
        let v = daemon_argv(&os(&["-u", "5", "-G", "1,2", "-i", "r", "s"])).unwrap();
        assert!(v.windows(2).any(|w| w == os(&["-G", "1,2"]).as_slice()));
        assert_eq!(daemon_argv(&os(&["s"])), Err(false));
        assert_eq!(daemon_argv(&os(&["-i", "r"])), Err(true));
        assert_eq!(daemon_argv(&os(&["-G", "1,x", "-i", "r", "s"])), Err(true));
    }

    #[test]
    fn timestamps() {
        let t = timestamp_scan(b"@400000000000000a0000000b").unwrap();
        assert_eq!((t.secs, t.nanos), ((1 << 62) + 10, 11));
        assert!(timestamp_scan(b"400000000000000a0000000b").is_none());
        assert!(timestamp_scan(b"@40000000000000").is_none());
    }
}
