//! `s6-fdholderd`: the fd holder, serving the listening socket on fd 0 with one `mio` loop.
//! Clients are checked against the access rules when they connect; their requests are
//! served by [`crate::store::serve`]; bad input drops that client only.

use crate::proto;
use crate::store::{Outgoing, Rights, Store};
use common::accessrules::{self, Decision, Rules};
use common::cdb::Cdb;
use common::cli::{GetOpt, Opt};
use common::msg::{exit, StrError};
use common::sigwake::SignalSet as Signals;
use common::tai::Tai64n;
use common::unixmsg::{self, Receiver};
use common::Prog;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;
use signal_hook::consts::{SIGHUP, SIGTERM};
use std::collections::VecDeque;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const USAGE: &str = "s6-fdholderd [ -v verbosity ] [ -1 ] [ -c maxconn ] [ -n maxfds ] [ -t timeout ] [ -T lameducktimeout ] [ -i rulesdir | -x rulesfile ]";
const HELP: &str = "s6-fdholderd [ -v verbosity ] [ -1 ] [ -c maxconn ] [ -n maxfds ] [ -t timeout ] [ -T lameducktimeout ] [ -i rulesdir | -x rulesfile ]
  -v verbosity       0 quiet, 1 warnings (default)
  -1                 write a newline to stdout when ready
  -c maxconn         most concurrent clients (default 16, at most 256)
  -n maxfds          most held fds (default 1000)
  -t timeout         ms a client has to get each answer (0: none)
  -T lameducktimeout ms to finish answering after SIGTERM (0: none)
  -i rulesdir        access rules in a directory, read at every connection
  -x rulesfile       access rules in a cdb, reread on SIGHUP";

/// Reads (of up to 8 KiB) one client gets before the others have their turn.
const READS_PER_TURN: usize = 16;

/// Most answers queued for one client.
const MAX_QUEUED: usize = 1024;

/// Most concurrent clients.
pub const MAXCONN_MAX: u32 = 256;

/// Where the rules are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RulesArg {
    Dir(PathBuf),
    Cdb(PathBuf),
}

/// Parsed command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub verbosity: u32,
    pub ready: bool,
    pub maxconn: u32,
    pub maxfds: u32,
    pub timeout: u32,
    pub lameduck: u32,
    pub rules: Option<RulesArg>,
}

pub fn parse_args(args: &[OsString]) -> Option<Options> {
    let mut o = Options {
        verbosity: 1,
        ready: false,
        maxconn: 16,
        maxfds: 1000,
        timeout: 0,
        lameduck: 0,
        rules: None,
    };
    let mut g = GetOpt::new(args, "v:1c:n:i:x:t:T:");
    let num = common::cli::uint0_scan;
    while let Some(x) = g.next_opt() {
        match x.ok()? {
            Opt::Arg(b'v', a) => o.verbosity = num(a)?,
            Opt::Flag(b'1') => o.ready = true,
            Opt::Arg(b'i', a) => o.rules = Some(RulesArg::Dir(PathBuf::from(a))),
            Opt::Arg(b'x', a) => o.rules = Some(RulesArg::Cdb(PathBuf::from(a))),
            Opt::Arg(b't', a) => o.timeout = num(a)?,
            Opt::Arg(b'T', a) => o.lameduck = num(a)?,
            Opt::Arg(b'c', a) => o.maxconn = num(a)?,
            Opt::Arg(b'n', a) => o.maxfds = num(a)?,
            _ => return None,
        }
    }
    Some(o)
}

struct Client {
    sock: OwnedFd,
    rx: Receiver,
    out: VecDeque<Outgoing>,
    /// Bytes of the front message already sent (its header included).
    sent: usize,
    /// Header + data of the front message, encoded when it starts going out.
    wire: Vec<u8>,
    deadline: Option<Instant>,
    rights: Rights,
    dumping: u32,
}

impl Client {
    /// Queue answers; the answer deadline starts now unless one is already running.
    fn queue(&mut self, answers: Vec<Outgoing>, timeout: Option<Duration>) {
        if answers.is_empty() {
            return;
        }
        self.out.extend(answers);
        if self.deadline.is_none() {
            self.deadline = timeout.map(|t| Instant::now() + t);
        }
    }

    /// Send what can be sent now. Err: the connection is broken.
    fn flush(&mut self) -> Result<(), Errno> {
        if self.out.is_empty() {
            // Nothing was owed: a first request may still be awaited under its deadline.
            return Ok(());
        }
        while let Some(front) = self.out.front() {
            if self.sent == 0 && self.wire.is_empty() {
                self.wire = unixmsg::encode(&front.data, front.fds.len())?;
            }
            let fds: Vec<RawFd> = if self.sent == 0 {
                front.fds.iter().map(|f| f.as_raw_fd()).collect()
            } else {
                Vec::new()
            };
            match unixmsg::send_some(self.sock.as_fd(), &self.wire[self.sent..], &fds) {
                Ok(n) => {
                    self.sent += n;
                    if self.sent >= self.wire.len() {
                        // Sent: our copies of the fds are closed here.
                        self.out.pop_front();
                        self.sent = 0;
                        self.wire.clear();
                    }
                }
                Err(Errno::EAGAIN) => return Ok(()),
                Err(e) => return Err(e),
            }
        }
        // Everything answered: no deadline until the next request.
        self.deadline = None;
        Ok(())
    }
}

struct Daemon {
    prog: Prog,
    verbosity: u32,
    timeout: Option<Duration>,
    rules: RulesArg,
    cdb: Option<Cdb>,
    store: Store,
    clients: Vec<Option<Client>>,
    maxconn: usize,
}

const SIG: Token = Token(0);
const LISTENER: Token = Token(1);

fn token_of(i: usize) -> Token {
    Token(i + 2)
}

impl Daemon {
    fn numconn(&self) -> usize {
        self.clients.iter().filter(|c| c.is_some()).count()
    }

    /// The rights of a new client, or None to refuse it (with the warnings s6 gives).
    fn admit(&self, sock: &OwnedFd) -> Option<Rights> {
        let cred = match peer_ids(sock) {
            Ok(c) => c,
            Err(e) => {
                if self.verbosity > 0 {
                    self.prog
                        .warn(format_args!("unable to getpeereid: {}", StrError(e)));
                }
                return None;
            }
        };
        let (uid, gid) = cred;
        let decision = match (&self.rules, &self.cdb) {
            (RulesArg::Dir(d), _) => accessrules::check_uidgid(Rules::Dir(d), uid, gid),
            (RulesArg::Cdb(_), Some(c)) => accessrules::check_uidgid(Rules::Cdb(c), uid, gid),
            (RulesArg::Cdb(_), None) => Err(Errno::EINVAL),
        };
        let params = match decision {
            Ok(Decision::Allow(p)) => p,
            Ok(_) => return None,
            Err(e) => {
                if self.verbosity > 0 {
                    self.prog
                        .warn(format_args!("error while checking rules: {}", StrError(e)));
                }
                return None;
            }
        };
        if !params.exec.is_empty() && self.verbosity > 0 {
            self.prog.warn(format_args!(
                "unused exec string in rules for uid {uid} gid {gid}"
            ));
        }
        match Rights::from_env(&params.env) {
            Ok(r) => Some(r),
            Err(bad) => {
                if self.verbosity > 0 {
                    common::cli::warn_bytes(
                        self.prog.name(),
                        &[
                            b"invalid ",
                            bad.var.as_bytes(),
                            b" value: ",
                            &bad.value,
                            b": ",
                            bad.error.as_bytes(),
                        ],
                    );
                    // s6 appends a stale errno here, 0 on these systems.
                    self.prog.warn(format_args!(
                        "unable to parse_env: {}",
                        StrError(Errno::from_raw(0))
                    ));
                }
                None
            }
        }
    }

    /// Accept while there is room; false once the listener has nothing more (EAGAIN).
    fn accept_some(&mut self, poll: &Poll) -> bool {
        while self.numconn() < self.maxconn {
            // SAFETY: accept4 on our listening fd 0, no peer address wanted.
            let fd = unsafe {
                libc::accept4(
                    0,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
                )
            };
            if fd < 0 {
                match Errno::last() {
                    Errno::EAGAIN => return false,
                    Errno::EINTR | Errno::ECONNABORTED => continue,
                    // Out of fds or memory: try again at the next event.
                    Errno::EMFILE | Errno::ENFILE | Errno::ENOBUFS | Errno::ENOMEM => return true,
                    e => self.prog.fatal(
                        exit::SYSTEM,
                        format_args!("unable to accept: {}", StrError(e)),
                    ),
                }
            }
            // SAFETY: accept4 just returned this fd; we own it.
            let sock = unsafe { OwnedFd::from_raw_fd(fd) };
            let Some(rights) = self.admit(&sock) else {
                continue;
            };
            let slot = match self.clients.iter().position(|c| c.is_none()) {
                Some(i) => i,
                None => {
                    self.clients.push(None);
                    self.clients.len() - 1
                }
            };
            let raw = sock.as_raw_fd();
            if poll
                .registry()
                .register(
                    &mut SourceFd(&raw),
                    token_of(slot),
                    Interest::READABLE | Interest::WRITABLE,
                )
                .is_err()
            {
                continue;
            }
            self.clients[slot] = Some(Client {
                sock,
                rx: Receiver::new(proto::MAX_REQUEST),
                out: VecDeque::new(),
                sent: 0,
                wire: Vec::new(),
                deadline: self.timeout.map(|t| Instant::now() + t),
                rights,
                dumping: 0,
            });
        }
        true
    }

    fn remove(&mut self, poll: &Poll, i: usize) {
        if let Some(c) = self.clients.get_mut(i).and_then(Option::take) {
            let _ = poll
                .registry()
                .deregister(&mut SourceFd(&c.sock.as_raw_fd()));
        }
    }

    /// Read and serve what client `i` sent: Ok(true) if it may have more (its turn is
    /// over: the others are served first). Err: drop it.
    fn serve_client(&mut self, i: usize) -> Result<bool, Errno> {
        let timeout = self.timeout;
        let Some(c) = self.clients.get_mut(i).and_then(Option::as_mut) else {
            return Ok(false);
        };
        for _ in 0..READS_PER_TURN {
            while let Some(m) = c.rx.next_message()? {
                let req = proto::decode(&m.data, m.fds.len(), c.dumping)?;
                let answers =
                    crate::store::serve(&mut self.store, &c.rights, &mut c.dumping, req, m.fds);
                c.queue(answers, timeout);
                c.flush()?;
                // A client that sends requests without reading the answers is dropped
                // before its queue eats our memory.
                if c.out.len() > MAX_QUEUED {
                    return Err(Errno::ENOBUFS);
                }
            }
            match c.rx.fill(c.sock.as_fd()) {
                Ok(0) => return Err(Errno::EPIPE),
                Ok(_) => {}
                Err(Errno::EAGAIN) => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    fn reload_cdb(&mut self) {
        if let RulesArg::Cdb(p) = &self.rules {
            if let Ok(c) = Cdb::open(p) {
                self.cdb = Some(c);
            }
        }
    }
}

/// The peer's effective uid and gid (SO_PEERCRED).
fn peer_ids(sock: &OwnedFd) -> Result<(u32, u32), Errno> {
    // SAFETY: ucred is plain data that getsockopt fills in.
    let mut cred: libc::ucred = unsafe { std::mem::zeroed() };
    let mut len = std::mem::size_of::<libc::ucred>() as libc::socklen_t;
    // SAFETY: getsockopt into a ucred of the right size.
    let r = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_PEERCRED,
            (&mut cred as *mut libc::ucred).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok((cred.uid, cred.gid))
}

fn tai_until(t: Tai64n, now: Tai64n) -> Duration {
    if t <= now {
        return Duration::ZERO;
    }
    // Nanoseconds as sent by a client may exceed 10^9: compute in u128.
    let at = t.secs as u128 * 1_000_000_000 + t.nanos as u128;
    let from = now.secs as u128 * 1_000_000_000 + now.nanos as u128;
    let d = at.saturating_sub(from);
    let secs = u64::try_from(d / 1_000_000_000).unwrap_or(u64::MAX);
    Duration::new(secs, (d % 1_000_000_000) as u32)
}

pub fn main() -> ! {
    let prog = Prog::new("s6-fdholderd");
    let args = common::rt::args_os();
    let args = args.get(1..).unwrap_or(&[]);
    common::cli::help_or_version(args, HELP);
    let Some(opts) = parse_args(args) else {
        prog.usage(USAGE)
    };
    let Some(rules) = opts.rules.clone() else {
        prog.fatal(exit::USAGE, "no access rights specified!")
    };
    let maxconn = opts.maxconn.clamp(1, MAXCONN_MAX) as usize;
    let mut maxfds = opts.maxfds as u64;
    match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE) {
        Err(e) => prog.fatal(
            exit::SYSTEM,
            format_args!("unable to getrlimit: {}", StrError(e)),
        ),
        Ok((cur, _)) if cur != nix::sys::resource::RLIM_INFINITY => {
            if cur < 7 {
                prog.fatal(exit::SYSTEM, "open file limit too low");
            }
            if maxfds > cur {
                maxfds = cur - 6;
            }
        }
        Ok(_) => {}
    }
    let maxfds = maxfds.max(1) as usize;
    match nix::sys::stat::fstat(std::io::stdin()) {
        Err(e) => prog.fatal(
            exit::SYSTEM,
            format_args!("unable to fstat stdin: {}", StrError(e)),
        ),
        Ok(st) if st.st_mode & libc::S_IFMT != libc::S_IFSOCK => {
            prog.fatal(exit::USAGE, "stdin is not a socket")
        }
        Ok(_) => {}
    }
    if opts.ready {
        if let Err(e) = nix::fcntl::fcntl(std::io::stdout(), nix::fcntl::FcntlArg::F_GETFD) {
            prog.fatal(
                exit::USAGE,
                format_args!("called with option -1 but stdout said: {}", StrError(e)),
            );
        }
    } else {
        // SAFETY: closing our own stdout, which nothing else uses.
        unsafe { libc::close(1) };
    }
    // SAFETY: ignoring SIGPIPE (a client gone mid-answer must not kill us; sends use
    // MSG_NOSIGNAL anyway).
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let mut signals = match Signals::new(&[SIGTERM, SIGHUP]) {
        Ok(s) => s,
        Err(e) => prog.fatal(
            exit::SYSTEM,
            format_args!(
                "unable to trap signals: {}",
                StrError(common::msg::errno_of(&e))
            ),
        ),
    };
    let cdb = match &rules {
        RulesArg::Cdb(p) => match Cdb::open(p) {
            Ok(c) => Some(c),
            Err(e) => common::cli::fatal_bytes(
                prog.name(),
                exit::SYSTEM,
                &[
                    b"unable to cdb_init ",
                    p.as_os_str().as_bytes(),
                    b": ",
                    common::strerror::text(e as i32).as_bytes(),
                ],
            ),
        },
        RulesArg::Dir(_) => None,
    };
    // The listening socket must not block us.
    // SAFETY: fcntl on fd 0, checked to be a socket above.
    unsafe {
        let fl = libc::fcntl(0, libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(0, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
        libc::fcntl(0, libc::F_SETFD, libc::FD_CLOEXEC);
    }
    let poll = Poll::new().and_then(|p| {
        p.registry()
            .register(&mut signals, SIG, Interest::READABLE)?;
        p.registry()
            .register(&mut SourceFd(&0), LISTENER, Interest::READABLE)?;
        Ok(p)
    });
    let mut poll = match poll {
        Ok(p) => p,
        Err(e) => prog.fatal(
            exit::SYSTEM,
            format_args!("unable to iopause: {}", StrError(common::msg::errno_of(&e))),
        ),
    };
    if opts.ready {
        let _ = common::fsio::write_all(std::io::stdout(), b"\n");
        // SAFETY: closing our own stdout after the readiness newline.
        unsafe { libc::close(1) };
    }

    let mut d = Daemon {
        prog,
        verbosity: opts.verbosity,
        timeout: (opts.timeout > 0).then(|| Duration::from_millis(opts.timeout as u64)),
        rules,
        cdb,
        store: Store::new(maxfds),
        clients: Vec::with_capacity(maxconn),
        maxconn,
    };
    let mut events = Events::with_capacity(64);
    let mut listener_ready = true;
    let mut running = true;
    let mut lameduck: Option<Instant> = None;
    // Clients whose turn ended before they had been read dry (edge-triggered: no new
    // event would come for what they already sent).
    let mut more_to_read: Vec<usize> = Vec::new();
    let mut still: Vec<usize> = Vec::new();
    loop {
        if !running && d.clients.iter().flatten().all(|c| c.out.is_empty()) {
            break;
        }
        if running && listener_ready && d.numconn() < d.maxconn {
            listener_ready = d.accept_some(&poll);
        }
        // Sleep until the next event or deadline: an fd's expiry, a client's answer
        // deadline, the lame-duck deadline.
        let now = Instant::now();
        let mut wake: Option<Instant> = lameduck;
        if let Some(t) = d.store.next_expiry() {
            // An expiry too far to represent is no wake-up at all.
            if let Some(at) = now.checked_add(tai_until(t, Tai64n::now())) {
                wake = Some(wake.map_or(at, |w| w.min(at)));
            }
        }
        for c in d.clients.iter().flatten() {
            if let Some(cd) = c.deadline {
                wake = Some(wake.map_or(cd, |w| w.min(cd)));
            }
        }
        let timeout = if more_to_read.is_empty() {
            wake.map(|w| w.saturating_duration_since(now))
        } else {
            Some(Duration::ZERO)
        };
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() != std::io::ErrorKind::Interrupted {
                d.prog.fatal(
                    exit::SYSTEM,
                    format_args!("unable to iopause: {}", StrError(common::msg::errno_of(&e))),
                );
            }
        }
        for ev in events.iter() {
            match ev.token() {
                SIG => {
                    for sig in signals.pending() {
                        match sig {
                            SIGTERM if running => {
                                running = false;
                                lameduck = (opts.lameduck > 0).then(|| {
                                    Instant::now() + Duration::from_millis(opts.lameduck as u64)
                                });
                                let _ = poll.registry().deregister(&mut SourceFd(&0));
                            }
                            SIGHUP => d.reload_cdb(),
                            _ => {}
                        }
                    }
                }
                LISTENER => listener_ready = true,
                Token(t) => {
                    let i = t - 2;
                    let mut broken = false;
                    if let Some(c) = d.clients.get_mut(i).and_then(Option::as_mut) {
                        if (ev.is_writable() || ev.is_write_closed()) && c.flush().is_err() {
                            broken = true;
                        }
                    }
                    if !broken
                        && running
                        && (ev.is_readable() || ev.is_read_closed() || ev.is_error())
                    {
                        match d.serve_client(i) {
                            Ok(true) => still.push(i),
                            Ok(false) => {}
                            Err(_) => broken = true,
                        }
                    }
                    if broken {
                        d.remove(&poll, i);
                    }
                }
            }
        }
        for i in std::mem::take(&mut more_to_read) {
            if !running || still.contains(&i) {
                continue;
            }
            match d.serve_client(i) {
                Ok(true) => still.push(i),
                Ok(false) => {}
                Err(_) => d.remove(&poll, i),
            }
        }
        std::mem::swap(&mut more_to_read, &mut still);
        // Expired fds and clients that were not answered in time.
        d.store.expire(Tai64n::now());
        let now = Instant::now();
        let late: Vec<usize> = d
            .clients
            .iter()
            .enumerate()
            .filter_map(|(i, c)| {
                c.as_ref()
                    .and_then(|c| c.deadline)
                    .filter(|&cd| cd <= now)
                    .map(|_| i)
            })
            .collect();
        for i in late {
            d.remove(&poll, i);
        }
        if lameduck.is_some_and(|l| l <= now) {
            break;
        }
    }
    let code = (!d.store.is_empty() as i32) | ((d.numconn() > 0) as i32) << 1;
    std::process::exit(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let a: Vec<OsString> = ["-1", "-n", "256", "-i", "data/rules", "-x", "r.cdb"]
            .iter()
            .map(OsString::from)
            .collect();
        let o = parse_args(&a).unwrap();
        assert!(o.ready);
        assert_eq!(o.maxfds, 256);
        assert_eq!(o.rules, Some(RulesArg::Cdb(PathBuf::from("r.cdb"))));
        assert!(parse_args(&[OsString::from("-c")]).is_none());
        assert_eq!(parse_args(&[]).unwrap().rules, None);
    }

    #[test]
    fn tai_durations() {
        let a = Tai64n {
            secs: 10,
            nanos: 900,
        };
        let b = Tai64n {
            secs: 12,
            nanos: 100,
        };
        assert_eq!(tai_until(b, a), Duration::new(1, 999_999_200));
        assert_eq!(tai_until(a, b), Duration::ZERO);
        let odd = Tai64n {
            secs: u64::MAX,
            nanos: u32::MAX,
        };
        assert!(tai_until(odd, a) > Duration::from_secs(1 << 62));
    }
}
