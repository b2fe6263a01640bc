//! `s6-ftrig-wait`, `s6-ftrig-listen1` and `s6-ftrig-listen` (2.15.1): subscribe to
//! fifodirs and wait until the bytes received match extended regexps.
//!
//! The subscription is made in-process (no `s6-ftrigrd` helper): the FIFO in the fifodir,
//! its name and mode, are s6's (`common::fifodir::Listener`). As in 2.15, the bytes read
//! since subscribing are accumulated and the regexp is tried on the whole buffer after each
//! read (of up to 32 bytes); on a match the whole buffer is the result.

use common::cli::{fatal_bytes, fatal_sys_bytes};
use common::fifodir::{Listener, LISTENER_FIFO_MODE};
use common::gol::{self, Item, Spec};
use common::regex::Regex;
use common::sigwake::SignalSet as Signals;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;
use std::ffi::OsString;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::Instant;

pub const WAIT_USAGE: &str = "s6-ftrig-wait [ -t timeout ] fifodir regexp";
pub const LISTEN1_USAGE: &str = "s6-ftrig-listen1 [ -t timeout ] fifodir regexp prog...";
pub const LISTEN_USAGE: &str =
    "s6-ftrig-listen [ -a | -o ] [ -t timeout ] fifodir1 regexp1 ... \"\" prog...";

/// How much is read from a subscriber FIFO at a time before the regexp is tried again.
const READ_CHUNK: usize = 32;

/// One subscription: the FIFO, the regexp, and what has been received so far.
pub struct Subscription {
    listener: Listener,
    re: Regex,
    received: Vec<u8>,
    matched: bool,
}

impl Subscription {
    /// Compile `regexp` (EINVAL when invalid), then subscribe to `dir` (which must exist).
    pub fn new(dir: &Path, regexp: &[u8]) -> Result<Subscription, Errno> {
        let re = Regex::new(regexp)?;
        let listener = Listener::subscribe(dir, LISTENER_FIFO_MODE)?;
        Ok(Subscription {
            listener,
            re,
            received: Vec::new(),
            matched: false,
        })
    }

    /// Read what is pending, trying the regexp after each read. Returns whether it matched.
    fn pump(&mut self) -> Result<bool, Errno> {
        let mut chunk = [0u8; READ_CHUNK];
        while !self.matched {
            let n = self.listener.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            self.received.extend_from_slice(&chunk[..n]);
            self.matched = self.re.is_match(&self.received);
        }
        Ok(self.matched)
    }

    /// Everything received since subscribing.
    pub fn received(&self) -> &[u8] {
        &self.received
    }
}

const SIGNALS: Token = Token(usize::MAX);

/// Wait until every subscription (or, with `or`, one of them) has matched, or `deadline`.
/// Returns `Ok(false)` on timeout. With `reap`, children that die meanwhile are reaped
/// (the spawned prog's status is ignored).
pub fn wait_all(
    subs: &mut [Subscription],
    or: bool,
    deadline: Option<Instant>,
    mut signals: Option<&mut Signals>,
) -> Result<bool, Errno> {
    let io = |e: std::io::Error| common::msg::errno_of(&e);
    let mut poll = Poll::new().map_err(io)?;
    for (i, s) in subs.iter().enumerate() {
        let raw = s.listener.fd().as_raw_fd();
        poll.registry()
            .register(&mut SourceFd(&raw), Token(i), Interest::READABLE)
            .map_err(io)?;
    }
    if let Some(sig) = signals.as_deref_mut() {
        poll.registry()
            .register(sig, SIGNALS, Interest::READABLE)
            .map_err(io)?;
        reap_children();
    }
    let mut events = Events::with_capacity(subs.len().clamp(1, 64) + 1);
    loop {
        let done = if or {
            subs.iter().any(|s| s.matched)
        } else {
            subs.iter().all(|s| s.matched)
        };
        if done {
            return Ok(true);
        }
        let Some(timeout) = common::deadline::time_left(deadline) else {
            return Ok(false);
        };
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io(e)),
        }
        for ev in events.iter() {
            if ev.token() == SIGNALS {
                if let Some(sig) = signals.as_deref_mut() {
                    for _ in sig.pending() {}
                }
                reap_children();
                continue;
            }
            if let Some(s) = subs.get_mut(ev.token().0) {
                s.pump()?;
            }
        }
    }
}

/// Reap every dead child without blocking.
fn reap_children() {
    use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
    while let Ok(st) = waitpid(None, Some(WaitPidFlag::WNOHANG)) {
        if st == WaitStatus::StillAlive {
            break;
        }
    }
}

/// A parsed command line of one of the three programs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    pub timeout_ms: u32,
    pub or: bool,
    /// (fifodir, regexp) pairs.
    pub pairs: Vec<(OsString, OsString)>,
    pub prog: Vec<OsString>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParseError {
    Usage,
    /// `fatal: TEXT`, exit 100.
    Fatal(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Wait,
    Listen1,
    Listen,
}

impl Kind {
    pub fn prog(self) -> &'static str {
        match self {
            Kind::Wait => "s6-ftrig-wait",
            Kind::Listen1 => "s6-ftrig-listen1",
            Kind::Listen => "s6-ftrig-listen",
        }
    }

    pub fn usage(self) -> &'static str {
        match self {
            Kind::Wait => WAIT_USAGE,
            Kind::Listen1 => LISTEN1_USAGE,
            Kind::Listen => LISTEN_USAGE,
        }
    }
}

const OPT_TIMEOUT: u8 = 0;
const OPT_AND: u8 = 1;
const OPT_OR: u8 = 2;

/// Parse the arguments (without argv[0]). Pure.
pub fn parse(kind: Kind, args: &[OsString]) -> Result<Request, ParseError> {
    let vals = [Spec::new(b't', "timeout", OPT_TIMEOUT)];
    let listen_bools = [
        Spec::new(b'a', "and", OPT_AND),
        Spec::new(b'o', "or", OPT_OR),
    ];
    let bools: &[Spec] = if kind == Kind::Listen {
        &listen_bools
    } else {
        &[]
    };
    let (items, ind) =
        gol::parse(args, bools, &vals).map_err(|e| ParseError::Fatal(e.to_string()))?;
    let rest = &args[ind..];
    let min = match kind {
        Kind::Wait => 2,
        Kind::Listen1 => 3,
        Kind::Listen => 4,
    };
    if rest.len() < min {
        return Err(ParseError::Usage);
    }
    let mut req = Request {
        timeout_ms: 0,
        or: false,
        pairs: Vec::new(),
        prog: Vec::new(),
    };
    for it in items {
        match it {
            Item::Flag(OPT_AND) => req.or = false,
            Item::Flag(OPT_OR) => req.or = true,
            Item::Arg(OPT_TIMEOUT, v) => {
                req.timeout_ms = common::cli::uint0_scan(v).ok_or_else(|| {
                    ParseError::Fatal("timeout must be an unsigned integer".into())
                })?
            }
            _ => {}
        }
    }
    match kind {
        Kind::Wait | Kind::Listen1 => {
            req.pairs.push((rest[0].clone(), rest[1].clone()));
            req.prog = rest[2..].to_vec();
        }
        Kind::Listen => {
            // An execline block ended by an empty argument; a leading space in a block
            // argument is execline quoting and is stripped.
            // Without an empty argument, s6 counts the block as one longer than the
            // arguments: an even count is a usage error, an odd one "unterminated".
            let end = rest
                .iter()
                .position(|a| a.is_empty())
                .unwrap_or(rest.len() + 1);
            if end == 0 || end % 2 == 1 || end + 1 == rest.len() {
                return Err(ParseError::Usage);
            }
            if end >= rest.len() {
                return Err(ParseError::Fatal("unterminated fifodir+regex block".into()));
            }
            let unquote = |a: &OsString| match a.as_bytes().strip_prefix(b" ") {
                Some(s) => OsString::from(std::ffi::OsStr::from_bytes(s)),
                None => a.clone(),
            };
            req.pairs = rest[..end]
                .chunks_exact(2)
                .map(|p| (unquote(&p[0]), unquote(&p[1])))
                .collect();
            req.prog = rest[end + 1..].to_vec();
        }
    }
    Ok(req)
}

fn spawn(prog: &[OsString]) -> Result<(), Errno> {
    let (first, rest) = prog.split_first().ok_or(Errno::EINVAL)?;
    std::process::Command::new(first)
        .args(rest)
        .spawn()
        .map(drop)
        .map_err(|e| common::msg::errno_of(&e))
}

pub fn main(kind: Kind, args: &[OsString]) -> ! {
    let prog = kind.prog();
    let req = match parse(kind, args) {
        Ok(r) => r,
        Err(ParseError::Usage) => common::Prog::new(prog).usage(kind.usage()),
        Err(ParseError::Fatal(t)) => fatal_bytes(prog, 100, &[t.as_bytes()]),
    };
    let deadline = common::deadline::from_ms(req.timeout_ms);
    let mut signals = None;
    if kind != Kind::Wait {
        // A prog that closes its end of a pipe we write to must not kill us; the prog itself
        // gets SIGPIPE at its default (s6's sig_altignore).
        if let Err(e) = common::signals::alt_ignore(nix::sys::signal::Signal::SIGPIPE) {
            common::cli::fatal_sys_bytes(prog, 111, &[b"ignore SIGPIPE"], e);
        }
        match Signals::new(&[libc::SIGCHLD]) {
            Ok(s) => signals = Some(s),
            Err(e) => fatal_sys_bytes(prog, 111, &[b"selfpipe_trap"], common::msg::errno_of(&e)),
        }
    }
    let mut subs = Vec::with_capacity(req.pairs.len());
    for (dir, re) in &req.pairs {
        match Subscription::new(Path::new(dir), re.as_bytes()) {
            Ok(s) => subs.push(s),
            Err(e) => {
                drop(subs);
                fatal_sys_bytes(
                    prog,
                    111,
                    &[
                        b"subscribe to ",
                        dir.as_bytes(),
                        b" with regexp ",
                        re.as_bytes(),
                    ],
                    e,
                )
            }
        }
    }
    if !req.prog.is_empty() {
        if let Err(e) = spawn(&req.prog) {
            drop(subs);
            fatal_sys_bytes(prog, 111, &[b"spawn ", req.prog[0].as_bytes()], e);
        }
    }
    let r = wait_all(&mut subs, req.or, deadline, signals.as_mut());
    let out = match (&r, kind) {
        (Ok(true), Kind::Wait | Kind::Listen1) => {
            let mut out = subs[0].received().to_vec();
            out.push(b'\n');
            Some(out)
        }
        _ => None,
    };
    drop(subs);
    match r {
        Ok(true) => {}
        Ok(false) if kind == Kind::Wait => {
            let re = req.pairs[0].1.as_bytes();
            fatal_sys_bytes(prog, 99, &[b"match regexp on ", re], Errno::ETIMEDOUT)
        }
        Ok(false) => fatal_sys_bytes(prog, 1, &[b"get expected event"], Errno::ETIMEDOUT),
        Err(e) => fatal_sys_bytes(prog, 111, &[b"read events"], e),
    }
    if let Some(out) = out {
        if let Err(e) = common::fsio::write_all(std::io::stdout(), &out) {
            fatal_sys_bytes(prog, 111, &[b"write to stdout"], e);
        }
    }
    std::process::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    use common::cli::os_args as a;

    #[test]
    fn wait_and_listen1_args() {
        let r = parse(Kind::Wait, &a(&["-t", "300", "d", "a.*z"])).unwrap();
        assert_eq!(r.timeout_ms, 300);
        assert_eq!(r.pairs, vec![("d".into(), "a.*z".into())]);
        assert_eq!(parse(Kind::Wait, &a(&["d"])), Err(ParseError::Usage));
        assert_eq!(
            parse(Kind::Wait, &a(&["-t", "x", "d", "r"])),
            Err(ParseError::Fatal(
                "timeout must be an unsigned integer".into()
            ))
        );
        assert_eq!(
            parse(Kind::Wait, &a(&["--timeout=5", "d", "r"]))
                .unwrap()
                .timeout_ms,
            5
        );
        assert_eq!(
            parse(Kind::Wait, &a(&["-q", "d", "r"])),
            Err(ParseError::Fatal("unrecognized short option: q".into()))
        );
        let r = parse(Kind::Listen1, &a(&["d", "r", "p", "q"])).unwrap();
        assert_eq!(r.prog, a(&["p", "q"]));
        assert_eq!(
            parse(Kind::Listen1, &a(&["d", "r"])),
            Err(ParseError::Usage)
        );
    }

    #[test]
    fn listen_blocks() {
        let r = parse(Kind::Listen, &a(&["-o", "d1", "a", " d2", "b", "", "p"])).unwrap();
        assert!(r.or);
        assert_eq!(
            r.pairs,
            vec![("d1".into(), "a".into()), ("d2".into(), "b".into())]
        );
        assert_eq!(r.prog, a(&["p"]));
        let u = |v: &[&str]| parse(Kind::Listen, &a(v));
        assert_eq!(u(&["d1", "a", ""]), Err(ParseError::Usage));
        assert_eq!(u(&["", "a", "b", "c"]), Err(ParseError::Usage));
        assert_eq!(u(&["d1", "a", "x", "", "p"]), Err(ParseError::Usage));
        assert_eq!(u(&["d1", "a", "d2", "b"]), Err(ParseError::Usage));
        assert_eq!(
            u(&["d1", "a", "d2", "b", "p"]),
            Err(ParseError::Fatal("unterminated fifodir+regex block".into()))
        );
        for argv in common::cli::pseudo_random_argv(1000) {
            for k in [Kind::Wait, Kind::Listen1, Kind::Listen] {
                let _ = parse(k, &argv);
            }
        }
    }

    #[test]
    fn subscription_accumulates_and_matches() {
        let d = std::env::temp_dir().join(format!("ftrig-sub-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir(&d).unwrap();
        let mut subs = vec![Subscription::new(&d, b"a.*z").unwrap()];
        common::fifodir::notify(&d, b"ab");
        let soon = || Some(Instant::now() + std::time::Duration::from_millis(50));
        assert_eq!(wait_all(&mut subs, false, soon(), None), Ok(false));
        common::fifodir::notify(&d, b"xz");
        assert_eq!(wait_all(&mut subs, false, soon(), None), Ok(true));
        assert_eq!(subs[0].received(), b"abxz");
        assert!(Subscription::new(&d, b"(").is_err());
        assert_eq!(
            Subscription::new(&d.join("nope"), b"a").err(),
            Some(Errno::ENOENT)
        );
        drop(subs);
        std::fs::remove_dir_all(&d).unwrap();
    }
}
