//! `s6-ftrigrd`: the helper that libs6's `ftrigr` client library spawns (from s6's libexec
//! directory) to subscribe to fifodirs on its behalf. Our own programs subscribe in-process
//! and never need it; it exists so that programs linked with skarnet's libs6 (s6-rc's
//! `s6-rc-init` and `s6-rc-update`, through `s6_supervise_link`) can run on an s6 that is
//! all ours.
//!
//! Wire protocol (skalibs' "sass" server over textclient, pipe mode): every message is a
//! 4-byte big-endian length then that many bytes. The client's requests come on fd 0, the
//! synchronous answers go to fd 1, the asynchronous events to the fd named by
//! `SKALIBS_CHILD_SPAWN_FDS`. Handshake: the client sends `ftrigr v2.0 (b)\n`; we answer
//! `ftrigr v2.0 (a)\n` on the async channel, then on fd 1. Requests:
//! * `+` id flags timeout_ms opcode len (5 big-endian u32) then `path\0regex\0`: subscribe
//!   to fifodir `path`; answer a u32 errno (0: done). Events read from the FIFO accumulate;
//!   when the regex matches them, the async message `id, 0u32, bytes` goes out and the
//!   accumulator restarts; without flag 1 (keep) the subscription then ends. A timeout that
//!   expires first sends `id, ETIMEDOUT`; a read error `id, errno`.
//! * `-` id: cancel; answer a u32 errno.
//!
//! Anything else is a protocol violation: `invalid client request`, exit 100. EOF on fd 0
//! ends the program (exit 0). The FIFOs are removed on every exit path.
//!
//! 2.15.1's helper (skalibs 2.15.1's sass server) has bugs we do not copy:
//! * it takes the client's id for its own query handle when reporting an event or a
//!   timeout, so an event can go out under another query's id;
//! * after a one-shot event it forgets the query but not the FIFO, which stays until exit,
//!   and the next subscription reuses that still-linked record (SIGSEGV, observed);
//! * cancelling an unknown id answers EINVAL, then cancels an uninitialised handle and
//!   answers a second time.
//!
//! Ours ends a one-shot subscription with its FIFO, and answers an unknown cancel once.
//! Only the pipe mode is served (how libs6 spawns the helper), not the socket mode.

use std::collections::VecDeque;
use std::os::fd::{AsRawFd, BorrowedFd, RawFd};
use std::path::Path;
use std::time::{Duration, Instant};

use common::fifodir::Listener;
use common::msg::{Prog, StrError};
use common::regex::Regex;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;

pub const BANNER1: &[u8] = b"ftrigr v2.0 (b)\n";
pub const BANNER2: &[u8] = b"ftrigr v2.0 (a)\n";
/// skalibs' TEXTMESSAGE_MAXLEN.
pub const MAXLEN: u32 = 0x0100_0000;
/// sass flag: keep the subscription after an event.
pub const FLAG_KEEP: u32 = 1;
/// s6-ftrigrd reads its FIFOs through a 32-byte buffer and tests the regex after each fill,
/// which decides how much is reported with one event.
const CHUNK: usize = 32;
const HANDSHAKE: Duration = Duration::from_secs(5);

/// Incremental decoder of length-prefixed messages.
#[derive(Default)]
pub struct Deframer {
    buf: Vec<u8>,
}

impl Deframer {
    pub fn push(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    /// The next complete message, or `Err(EMSGSIZE)` for a length over [`MAXLEN`].
    pub fn next_message(&mut self) -> Result<Option<Vec<u8>>, Errno> {
        let Some(head) = self.buf.first_chunk::<4>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*head);
        if len > MAXLEN {
            return Err(Errno::EMSGSIZE);
        }
        let end = 4 + len as usize;
        let Some(msg) = self.buf.get(4..end).map(<[u8]>::to_vec) else {
            return Ok(None);
        };
        self.buf.drain(..end);
        Ok(Some(msg))
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }
}

/// Append one framed message made of `parts` to `out`.
pub fn frame(out: &mut Vec<u8>, parts: &[&[u8]]) {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    out.extend_from_slice(&(len as u32).to_be_bytes());
    for p in parts {
        out.extend_from_slice(p);
    }
}

/// A client request.
#[derive(Debug, PartialEq, Eq)]
pub enum Request<'a> {
    Subscribe {
        id: u32,
        flags: u32,
        timeout_ms: u32,
        payload: &'a [u8],
    },
    Cancel {
        id: u32,
    },
}

/// The request is not sass protocol: the server dies (`invalid client request`, 100).
#[derive(Debug, PartialEq, Eq)]
pub struct Invalid;

/// The big-endian u32 at the start of `b` (callers check the length; 0 if short).
fn be32(b: &[u8]) -> u32 {
    b.first_chunk::<4>().map_or(0, |c| u32::from_be_bytes(*c))
}

pub fn parse_request(m: &[u8]) -> Result<Request<'_>, Invalid> {
    let Some((&kind, body)) = m.split_first().filter(|_| m.len() >= 5) else {
        return Err(Invalid);
    };
    let field = |at: usize| be32(body.get(at..).unwrap_or_default());
    match kind {
        b'-' if body.len() == 4 => Ok(Request::Cancel { id: be32(body) }),
        b'+' => {
            let Some((_, payload)) = body.split_at_checked(20) else {
                return Err(Invalid);
            };
            if field(16) as usize != payload.len() {
                return Err(Invalid);
            }
            Ok(Request::Subscribe {
                id: field(0),
                flags: field(4),
                timeout_ms: field(8),
                payload,
            })
        }
        _ => Err(Invalid),
    }
}

/// `path\0regex\0` of a subscription; EPROTO when malformed (as s6-ftrigrd answers).
pub fn parse_subscription(payload: &[u8]) -> Result<(&[u8], &[u8]), Errno> {
    // The last byte is the regex's NUL; the first NUL before it ends the path.
    let Some((&0, body)) = payload.split_last().filter(|_| payload.len() >= 3) else {
        return Err(Errno::EPROTO);
    };
    let Some(pathlen) = body.iter().position(|&b| b == 0) else {
        return Err(Errno::EPROTO);
    };
    match (body.get(..pathlen), body.get(pathlen + 1..)) {
        (Some(path), Some(regex)) => Ok((path, regex)),
        _ => Err(Errno::EPROTO),
    }
}

/// Events received so far on one subscription, matched against its regex after each chunk.
pub struct Matcher {
    re: Regex,
    seen: Vec<u8>,
}

impl Matcher {
    pub fn new(re: Regex) -> Matcher {
        Matcher {
            re,
            seen: Vec::new(),
        }
    }

    /// Add a chunk; when the accumulated bytes match, they are returned and forgotten.
    pub fn feed(&mut self, chunk: &[u8]) -> Option<Vec<u8>> {
        self.seen.extend_from_slice(chunk);
        if self.re.is_match(&self.seen) {
            Some(std::mem::take(&mut self.seen))
        } else {
            None
        }
    }
}

struct Subscription {
    id: u32,
    flags: u32,
    deadline: Option<Instant>,
    listener: Listener,
    matcher: Matcher,
}

/// Why the server stops: a message and an exit code (the FIFOs are gone by the time it is
/// printed, since the state owning them is dropped first).
struct Fatal(i32, String);

fn sys(what: &str, e: Errno) -> Fatal {
    Fatal(111, format!("unable to {what}: {}", StrError(e)))
}

fn io(e: std::io::Error) -> Errno {
    Errno::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

/// An output channel: bytes waiting for the pipe to accept them.
struct Out {
    fd: RawFd,
    token: Token,
    pending: VecDeque<u8>,
    armed: bool,
}

impl Out {
    fn new(fd: RawFd, token: Token) -> Out {
        Out {
            fd,
            token,
            pending: VecDeque::new(),
            armed: false,
        }
    }

    /// Write what the pipe takes now; ask for writability when some is left.
    fn flush(&mut self, poll: &Poll, what: &str) -> Result<(), Fatal> {
        while !self.pending.is_empty() {
            let (a, _) = self.pending.as_slices();
            // SAFETY: the fd stays open for the program's life (fd 1 or the async fd).
            let fd = unsafe { BorrowedFd::borrow_raw(self.fd) };
            match nix::unistd::write(fd, a) {
                Ok(n) => {
                    self.pending.drain(..n);
                }
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(sys(what, e)),
            }
        }
        let want = !self.pending.is_empty();
        if want != self.armed {
            let mut src = SourceFd(&self.fd);
            let r = if want {
                poll.registry()
                    .register(&mut src, self.token, Interest::WRITABLE)
            } else {
                poll.registry().deregister(&mut src)
            };
            r.map_err(|e| sys("iopause", io(e)))?;
            self.armed = want;
        }
        Ok(())
    }

    fn put(&mut self, parts: &[&[u8]]) {
        let mut v = Vec::new();
        frame(&mut v, parts);
        self.pending.extend(v);
    }
}

const IN: Token = Token(0);
const SYNC: Token = Token(1);
const ASYNC: Token = Token(2);
const FIRST_SUB: usize = 3;

struct Server {
    poll: Poll,
    input: Deframer,
    sync: Out,
    asyn: Out,
    subs: Vec<Option<Subscription>>,
}

impl Server {
    fn answer(&mut self, e: Option<Errno>) {
        let code = e.map_or(0, |e| e as i32 as u32);
        self.sync.put(&[&code.to_be_bytes()]);
    }

    fn find(&self, id: u32) -> Option<usize> {
        self.subs
            .iter()
            .position(|s| s.as_ref().is_some_and(|s| s.id == id))
    }

    fn remove(&mut self, slot: usize) {
        if let Some(s) = self.subs.get_mut(slot).and_then(Option::take) {
            let raw = s.listener.fd().as_raw_fd();
            let _ = self.poll.registry().deregister(&mut SourceFd(&raw));
        }
    }

    fn subscribe(
        &mut self,
        id: u32,
        flags: u32,
        timeout_ms: u32,
        payload: &[u8],
    ) -> Result<(), Errno> {
        let (path, re) = parse_subscription(payload)?;
        let re = Regex::new(re)?;
        let path = Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(path));
        let listener = Listener::subscribe(path, 0o622)?;
        let slot = self
            .subs
            .iter()
            .position(Option::is_none)
            .unwrap_or_else(|| {
                self.subs.push(None);
                self.subs.len() - 1
            });
        let raw = listener.fd().as_raw_fd();
        self.poll
            .registry()
            .register(
                &mut SourceFd(&raw),
                Token(FIRST_SUB + slot),
                Interest::READABLE,
            )
            .map_err(io)?;
        let deadline = (timeout_ms != 0)
            .then(|| Instant::now().checked_add(Duration::from_millis(timeout_ms.into())))
            .flatten();
        if let Some(entry) = self.subs.get_mut(slot) {
            *entry = Some(Subscription {
                id,
                flags,
                deadline,
                listener,
                matcher: Matcher::new(re),
            });
        }
        Ok(())
    }

    fn handle_request(&mut self, m: &[u8]) -> Result<(), Fatal> {
        let invalid = || Fatal(100, "invalid client request".into());
        match parse_request(m).map_err(|_| invalid())? {
            Request::Cancel { id } => match self.find(id) {
                Some(slot) => {
                    self.remove(slot);
                    self.answer(None);
                }
                None => self.answer(Some(Errno::EINVAL)),
            },
            Request::Subscribe {
                id,
                flags,
                timeout_ms,
                payload,
            } => {
                // A new query with the id of a live one replaces it, as the client only
                // reuses ids it has released.
                if let Some(slot) = self.find(id) {
                    self.remove(slot);
                }
                let r = self.subscribe(id, flags, timeout_ms, payload);
                self.answer(r.err());
            }
        }
        Ok(())
    }

    /// Read the client's requests; `Ok(false)` at EOF.
    fn read_input(&mut self) -> Result<bool, Fatal> {
        let mut buf = [0u8; 4096];
        loop {
            // SAFETY: fd 0 is open for the program's life.
            let fd = unsafe { BorrowedFd::borrow_raw(0) };
            match nix::unistd::read(fd, &mut buf) {
                Ok(0) => return Ok(false),
                Ok(n) => self.input.push(buf.get(..n).unwrap_or_default()),
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => break,
                Err(e) => return Err(sys("read messages from client", e)),
            }
            while let Some(m) = self
                .input
                .next_message()
                .map_err(|e| sys("read messages from client", e))?
            {
                self.handle_request(&m)?;
            }
        }
        Ok(true)
    }

    fn read_subscription(&mut self, slot: usize) {
        let mut buf = [0u8; CHUNK];
        loop {
            let Some(s) = self.subs.get_mut(slot).and_then(Option::as_mut) else {
                return;
            };
            match s.listener.read(&mut buf) {
                Ok(0) => return,
                Ok(n) => {
                    if let Some(ev) = s.matcher.feed(buf.get(..n).unwrap_or_default()) {
                        let (id, keep) = (s.id, s.flags & FLAG_KEEP != 0);
                        self.asyn.put(&[&id.to_be_bytes(), &[0; 4], &ev]);
                        if !keep {
                            self.remove(slot);
                            return;
                        }
                    }
                }
                Err(e) => {
                    let id = s.id;
                    self.asyn
                        .put(&[&id.to_be_bytes(), &(e as i32 as u32).to_be_bytes()]);
                    self.remove(slot);
                    return;
                }
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        for slot in 0..self.subs.len() {
            let Some(Some(s)) = self.subs.get(slot) else {
                continue;
            };
            if s.deadline.is_some_and(|d| d <= now) {
                let id = s.id;
                let e = Errno::ETIMEDOUT as i32 as u32;
                self.asyn.put(&[&id.to_be_bytes(), &e.to_be_bytes()]);
                self.remove(slot);
            }
        }
    }

    fn next_deadline(&self) -> Option<Instant> {
        self.subs.iter().flatten().filter_map(|s| s.deadline).min()
    }

    fn flush(&mut self) -> Result<(), Fatal> {
        self.sync.flush(&self.poll, "flush stdout")?;
        self.asyn.flush(&self.poll, "flush asyncout")
    }

    fn run(&mut self) -> Result<(), Fatal> {
        let mut events = Events::with_capacity(64);
        loop {
            self.flush()?;
            let timeout = self
                .next_deadline()
                .map(|d| d.saturating_duration_since(Instant::now()));
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(sys("iopause", io(e))),
            }
            self.expire(Instant::now());
            for ev in events.iter() {
                match ev.token() {
                    IN => {
                        if !self.read_input()? {
                            return Ok(());
                        }
                    }
                    SYNC | ASYNC => {}
                    Token(t) => self.read_subscription(t - FIRST_SUB),
                }
            }
        }
    }
}

fn set_nonblocking(fd: RawFd) -> Result<(), Errno> {
    use nix::fcntl::{fcntl, FcntlArg, OFlag};
    // SAFETY: fd is one of the descriptors the client gave us, open for our whole life.
    let b = unsafe { BorrowedFd::borrow_raw(fd) };
    let fl = OFlag::from_bits_truncate(fcntl(b, FcntlArg::F_GETFL)?);
    fcntl(b, FcntlArg::F_SETFL(fl | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Read the client's banner on fd 0 (5 s at most; the rest of what was read stays queued),
/// then answer it on the async fd and on fd 1.
fn handshake(input: &mut Deframer, asyncfd: RawFd) -> Result<(), Errno> {
    // Registered only when a read would block: a read first sees an EOF on anything.
    let mut poll: Option<Poll> = None;
    let deadline = Instant::now() + HANDSHAKE;
    let mut events = Events::with_capacity(4);
    let mut buf = [0u8; 256];
    let banner = loop {
        if let Some(m) = input.next_message()? {
            break m;
        }
        // SAFETY: fd 0 is open for the program's life.
        let fd = unsafe { BorrowedFd::borrow_raw(0) };
        match nix::unistd::read(fd, &mut buf) {
            Ok(0) => return Err(Errno::EPIPE),
            Ok(n) => {
                input.push(buf.get(..n).unwrap_or_default());
                continue;
            }
            Err(Errno::EINTR) => continue,
            Err(Errno::EAGAIN) => {}
            Err(e) => return Err(e),
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(Errno::ETIMEDOUT);
        }
        let p = match &mut poll {
            Some(p) => p,
            None => {
                let p = Poll::new().map_err(io)?;
                p.registry()
                    .register(&mut SourceFd(&0), IN, Interest::READABLE)
                    .map_err(io)?;
                poll.insert(p)
            }
        };
        match p.poll(&mut events, Some(left)) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    };
    if banner != BANNER1 {
        return Err(Errno::EPROTO);
    }
    // The async fd is checked only now, as skalibs does (EBADF when the client gave none).
    set_nonblocking(asyncfd)?;
    let mut out = Vec::new();
    frame(&mut out, &[BANNER2]);
    for fd in [asyncfd, 1] {
        // SAFETY: both fds are open for the program's life.
        let b = unsafe { BorrowedFd::borrow_raw(fd) };
        blocking_write(b, &out)?;
    }
    Ok(())
}

/// Write all of `data` to a non-blocking fd, waiting for it to drain (handshake only).
fn blocking_write(fd: BorrowedFd<'_>, mut data: &[u8]) -> Result<(), Errno> {
    while !data.is_empty() {
        match nix::unistd::write(fd, data) {
            Ok(n) => data = data.get(n..).unwrap_or_default(),
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut p = [nix::poll::PollFd::new(fd, nix::poll::PollFlags::POLLOUT)];
                let _ = nix::poll::poll(&mut p, nix::poll::PollTimeout::from(1000u16));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn async_fd() -> Option<RawFd> {
    let v = std::env::var_os("SKALIBS_CHILD_SPAWN_FDS")?;
    let fd: RawFd = v.to_str()?.parse().ok()?;
    (fd > 1).then_some(fd)
}

pub fn main() -> ! {
    let prog = Prog::new("s6-ftrigrd");
    let args = common::rt::args_os();
    common::cli::help_or_version(args.get(1..).unwrap_or(&[]), HELP);
    for fd in [0, 1] {
        if let Err(e) = set_nonblocking(fd) {
            prog.fatal(
                111,
                format!("unable to make fds nonblocking: {}", StrError(e)),
            );
        }
    }
    if let Err(e) = common::signals::alt_ignore(nix::sys::signal::Signal::SIGPIPE) {
        prog.fatal(111, format!("unable to ignore SIGPIPE: {}", StrError(e)));
    }
    let mut input = Deframer::default();
    let asyncfd = match async_fd() {
        Some(fd) => fd,
        None => prog.fatal(
            111,
            format!("unable to sync with client: {}", StrError(Errno::EPROTO)),
        ),
    };
    if let Err(e) = handshake(&mut input, asyncfd) {
        prog.fatal(111, format!("unable to sync with client: {}", StrError(e)));
    }
    let result = Poll::new()
        .map_err(|e| sys("iopause", io(e)))
        .and_then(|poll| {
            poll.registry()
                .register(&mut SourceFd(&0), IN, Interest::READABLE)
                .map_err(|e| sys("iopause", io(e)))?;
            let mut server = Server {
                poll,
                input,
                sync: Out::new(1, SYNC),
                asyn: Out::new(asyncfd, ASYNC),
                subs: Vec::new(),
            };
            // Requests that came with the banner.
            while let Some(m) = server
                .input
                .next_message()
                .map_err(|e| sys("read messages from client", e))?
            {
                server.handle_request(&m)?;
            }
            server.run()
            // The server, and with it every subscription FIFO, is dropped here.
        });
    match result {
        Ok(()) => std::process::exit(0),
        Err(Fatal(code, msg)) => prog.fatal(code, msg),
    }
}

const HELP: &str = "s6-ftrigrd
Helper of libs6's ftrigr library: subscribe to fifodirs for the client on fds 0/1 and
the async fd named by SKALIBS_CHILD_SPAWN_FDS (not meant to be run by hand).";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deframes_split_messages() {
        let mut d = Deframer::default();
        let mut wire = Vec::new();
        frame(&mut wire, &[b"ab", b"c"]);
        frame(&mut wire, &[b""]);
        d.push(&wire[..3]);
        assert_eq!(d.next_message(), Ok(None));
        d.push(&wire[3..]);
        assert_eq!(d.next_message(), Ok(Some(b"abc".to_vec())));
        assert_eq!(d.next_message(), Ok(Some(Vec::new())));
        assert_eq!(d.next_message(), Ok(None));
        assert!(d.is_empty());
        d.push(&(MAXLEN + 1).to_be_bytes());
        assert_eq!(d.next_message(), Err(Errno::EMSGSIZE));
    }

    fn subscribe_msg(id: u32, flags: u32, timeout: u32, payload: &[u8]) -> Vec<u8> {
        let mut m = vec![b'+'];
        for v in [id, flags, timeout, 0, payload.len() as u32] {
            m.extend_from_slice(&v.to_be_bytes());
        }
        m.extend_from_slice(payload);
        m
    }

    #[test]
    fn parses_requests() {
        let m = subscribe_msg(7, 1, 250, b"/x\0s\0");
        assert_eq!(
            parse_request(&m),
            Ok(Request::Subscribe {
                id: 7,
                flags: 1,
                timeout_ms: 250,
                payload: b"/x\0s\0"
            })
        );
        assert_eq!(parse_request(b"-\0\0\0\x09"), Ok(Request::Cancel { id: 9 }));
        assert_eq!(parse_request(b"-\0\0\0"), Err(Invalid));
        assert_eq!(parse_request(b"-\0\0\0\0\0"), Err(Invalid));
        assert_eq!(parse_request(b"?\0\0\0\0"), Err(Invalid));
        let mut bad = subscribe_msg(1, 0, 0, b"/x\0s\0");
        bad.push(0);
        assert_eq!(parse_request(&bad), Err(Invalid));
    }

    #[test]
    fn parses_subscriptions() {
        assert_eq!(
            parse_subscription(b"/d\0s|d\0"),
            Ok((&b"/d"[..], &b"s|d"[..]))
        );
        assert_eq!(parse_subscription(b"/d\0\0"), Ok((&b"/d"[..], &b""[..])));
        for bad in [&b"/d\0"[..], b"/d\0s", b"ab", b"/dd\0"] {
            assert_eq!(parse_subscription(bad), Err(Errno::EPROTO), "{bad:?}");
        }
    }

    #[test]
    fn matcher_reports_accumulated_bytes() {
        let mut m = Matcher::new(Regex::new(b"u.*d").expect("regex"));
        assert_eq!(m.feed(b"u"), None);
        assert_eq!(m.feed(b"sd"), Some(b"usd".to_vec()));
        assert_eq!(m.feed(b"d"), None);
    }
}
