//! `s6-ioconnect`: copy fd 0 to fdw (7) and fdr (6) to fd 1 until both directions end.
//!
//! `Pipe` is one direction (a source, a destination, an 8 KiB buffer); the `mio` loop
//! moves bytes while the descriptors are ready. A source at EOF is closed (a socket shut
//! down for reading first); once its buffer is flushed the destination is closed (a socket
//! shut down for writing first, so the peer sees EOF while the other direction flows).
//! SIGTERM is trapped and, as in s6 (whose handler only marks the sources for another
//! read), does not stop the copy: the program ends when its descriptors do.

use std::ffi::OsString;
use std::os::fd::RawFd;
use std::time::Duration;

use common::cli::{uint0_scan, GetOpt, Opt};
use common::sigwake::SignalSet as Signals;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;

use crate::util::{fatal_sys, usage, warn_sys, SYSTEM};

const PROG: &str = "s6-ioconnect";
const USAGE: &str = "s6-ioconnect [ -t timeout ] [ -r fdr ] [ -w fdw ]";
const HELP: &str = "s6-ioconnect [ -t timeout ] [ -r fdr ] [ -w fdw ]
  -t ms    exit 1 after ms milliseconds without I/O
  -r fdr   read from fdr, write to stdout (default 6)
  -w fdw   read from stdin, write to fdw (default 7)";

const BUFSIZE: usize = 8192;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opts {
    pub timeout_ms: u32,
    pub fdr: RawFd,
    pub fdw: RawFd,
}

pub fn parse_args(args: &[OsString]) -> Option<Opts> {
    let mut o = Opts {
        timeout_ms: 0,
        fdr: 6,
        fdw: 7,
    };
    let mut g = GetOpt::new(args, "0167t:r:w:");
    while let Some(r) = g.next_opt() {
        match r.ok()? {
            Opt::Flag(b'0' | b'1' | b'6' | b'7') => {}
            Opt::Arg(b't', v) => o.timeout_ms = uint0_scan(v)?,
            Opt::Arg(b'r', v) => o.fdr = i32::try_from(uint0_scan(v)?).ok()?,
            Opt::Arg(b'w', v) => o.fdw = i32::try_from(uint0_scan(v)?).ok()?,
            _ => return None,
        }
    }
    if o.fdr < 3 || o.fdw < 3 {
        return None;
    }
    Some(o)
}

/// One direction of the copy.
struct Pipe {
    src: RawFd,
    dst: RawFd,
    src_sock: bool,
    dst_sock: bool,
    src_open: bool,
    dst_open: bool,
    src_ready: bool,
    dst_ready: bool,
    always_ready: (bool, bool),
    buf: Box<[u8; BUFSIZE]>,
    start: usize,
    end: usize,
    src_token: Token,
    dst_token: Token,
}

fn is_socket(fd: RawFd) -> Result<bool, Errno> {
    // SAFETY: fstat into a zeroed stat buffer of the right type.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: st is valid for writing.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(Errno::last());
    }
    Ok(st.st_mode & libc::S_IFMT == libc::S_IFSOCK)
}

fn nonblock(fd: RawFd) {
    // SAFETY: fcntl flag changes on a descriptor we were given.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl >= 0 {
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
    }
}

impl Pipe {
    /// A direction from `src` to `dst` (both owned from now on), with its two poll tokens.
    fn new(src: RawFd, dst: RawFd, src_sock: bool, dst_sock: bool, tokens: (usize, usize)) -> Pipe {
        Pipe {
            src,
            dst,
            src_sock,
            dst_sock,
            src_open: true,
            dst_open: true,
            src_ready: false,
            dst_ready: false,
            always_ready: (false, false),
            buf: Box::new([0u8; BUFSIZE]),
            start: 0,
            end: 0,
            src_token: Token(tokens.0),
            dst_token: Token(tokens.1),
        }
    }

    /// Register both ends (edge-triggered); an end that cannot be polled is always ready.
    fn register(&mut self, poll: &Poll) -> Result<(), Errno> {
        let a = register(poll, self.src, self.src_token, Interest::READABLE)?;
        let b = register(poll, self.dst, self.dst_token, Interest::WRITABLE)?;
        self.always_ready = (a, b);
        self.src_ready = a;
        self.dst_ready = b;
        Ok(())
    }

    /// Note what a poll event says about our ends.
    fn on_event(&mut self, ev: &mio::event::Event, poll: &Poll) {
        if ev.token() == self.src_token {
            self.src_ready = true;
        }
        if ev.token() == self.dst_token {
            self.dst_ready = true;
            if (ev.is_error() || ev.is_write_closed()) && self.dst_open {
                self.hangup(poll);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.start == self.end
    }

    fn done(&self) -> bool {
        !self.src_open && !self.dst_open
    }

    fn close_src(&mut self, poll: &Poll) {
        if self.src_open {
            if !self.always_ready.0 {
                let _ = poll.registry().deregister(&mut SourceFd(&self.src));
            }
            if self.src_sock {
                // SAFETY: shutdown on a socket we were given.
                unsafe { libc::shutdown(self.src, libc::SHUT_RD) };
            }
            // SAFETY: closing a descriptor we own (given to us at exec) exactly once.
            unsafe { libc::close(self.src) };
            self.src_open = false;
        }
    }

    fn close_dst(&mut self, poll: &Poll) {
        if self.dst_open {
            if !self.always_ready.1 {
                let _ = poll.registry().deregister(&mut SourceFd(&self.dst));
            }
            if self.dst_sock {
                // SAFETY: shutdown on a socket we were given.
                unsafe { libc::shutdown(self.dst, libc::SHUT_WR) };
            }
            // SAFETY: closing a descriptor we own exactly once.
            unsafe { libc::close(self.dst) };
            self.dst_open = false;
        }
        self.start = 0;
        self.end = 0;
    }

    /// The destination hung up or failed: what is still buffered is lost (s6 warns with
    /// the error a last write gets), and both ends are closed.
    fn hangup(&mut self, poll: &Poll) {
        if !self.is_empty() {
            // SAFETY: writing the filled part of our buffer, to learn the error.
            let r = unsafe {
                libc::write(
                    self.dst,
                    self.buf[self.start..self.end].as_ptr() as *const libc::c_void,
                    self.end - self.start,
                )
            };
            let e = if r < 0 { Errno::last() } else { Errno::EPIPE };
            warn_sys(
                PROG,
                &[b"unable to write to fd ", self.dst.to_string().as_bytes()],
                e,
            );
        }
        self.close_dst(poll);
        self.close_src(poll);
    }

    /// Move what can be moved without blocking; returns whether any I/O happened.
    fn pump(&mut self, poll: &Poll) -> bool {
        let mut did = false;
        loop {
            let mut progress = false;
            if self.src_open && self.src_ready && self.end < BUFSIZE {
                // SAFETY: reading into the free tail of our buffer.
                let r = unsafe {
                    libc::read(
                        self.src,
                        self.buf[self.end..].as_mut_ptr() as *mut libc::c_void,
                        BUFSIZE - self.end,
                    )
                };
                if r > 0 {
                    self.end += r as usize;
                    progress = true;
                } else if r == 0 {
                    self.close_src(poll);
                    progress = true;
                } else {
                    match Errno::last() {
                        Errno::EAGAIN => self.src_ready = self.always_ready.0,
                        Errno::EINTR => {}
                        e => {
                            if e != Errno::EPIPE {
                                warn_sys(
                                    PROG,
                                    &[b"unable to read from fd ", self.src.to_string().as_bytes()],
                                    e,
                                );
                            }
                            self.close_src(poll);
                            progress = true;
                        }
                    }
                }
            }
            if self.dst_open && self.dst_ready && !self.is_empty() {
                // SAFETY: writing the filled part of our buffer.
                let r = unsafe {
                    libc::write(
                        self.dst,
                        self.buf[self.start..self.end].as_ptr() as *const libc::c_void,
                        self.end - self.start,
                    )
                };
                if r >= 0 {
                    self.start += r as usize;
                    if self.start == self.end {
                        self.start = 0;
                        self.end = 0;
                    }
                    progress = true;
                } else {
                    match Errno::last() {
                        Errno::EAGAIN => self.dst_ready = self.always_ready.1,
                        Errno::EINTR => {}
                        _ => {
                            // s6 drops a failing destination silently here (it warns only
                            // when the poll reports the hangup, see `hangup`).
                            self.close_dst(poll);
                            self.close_src(poll);
                            progress = true;
                        }
                    }
                }
            }
            if !self.src_open && self.dst_open && self.is_empty() {
                self.close_dst(poll);
                progress = true;
            }
            if !self.dst_open && self.src_open {
                self.close_src(poll);
                progress = true;
            }
            did |= progress;
            if !progress {
                return did;
            }
        }
    }
}

fn register(poll: &Poll, fd: RawFd, token: Token, interest: Interest) -> Result<bool, Errno> {
    match poll
        .registry()
        .register(&mut SourceFd(&fd), token, interest)
    {
        Ok(()) => Ok(false),
        // Regular files cannot be polled: they are always ready.
        Err(e) if e.raw_os_error() == Some(libc::EPERM) => Ok(true),
        Err(e) => Err(common::msg::errno_of(&e)),
    }
}

pub fn main() -> ! {
    let args = common::rt::args_os();
    let rest = &args[1.min(args.len())..];
    common::cli::help_or_version(rest, HELP);
    let Some(o) = parse_args(rest) else {
        usage(PROG, USAGE)
    };
    // A peer that goes away makes writes fail with EPIPE, not kill us (s6: sig_ignore).
    // SAFETY: setting SIGPIPE's disposition to SIG_IGN has no memory effects.
    if unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) } == libc::SIG_ERR {
        fatal_sys(PROG, SYSTEM, &[b"unable to ignore SIGPIPE"], Errno::last());
    }
    // s6's order: stdin, fdw, fdr, stdout.
    let mut socks = [false; 4];
    for (i, fd) in [0, o.fdw, o.fdr, 1].into_iter().enumerate() {
        match is_socket(fd) {
            Ok(s) => socks[i] = s,
            Err(e) => fatal_sys(
                PROG,
                SYSTEM,
                &[b"unable to fstat fd ", fd.to_string().as_bytes()],
                e,
            ),
        }
        nonblock(fd);
    }
    let poll = match Poll::new() {
        Ok(p) => p,
        Err(e) => fatal_sys(
            PROG,
            SYSTEM,
            &[b"unable to iopause"],
            common::msg::errno_of(&e),
        ),
    };
    let mut signals = match Signals::new(&[libc::SIGTERM]) {
        Ok(s) => s,
        Err(e) => fatal_sys(
            PROG,
            SYSTEM,
            &[b"unable to trap signals"],
            common::msg::errno_of(&e),
        ),
    };
    if let Err(e) = poll
        .registry()
        .register(&mut signals, Token(0), Interest::READABLE)
    {
        fatal_sys(
            PROG,
            SYSTEM,
            &[b"unable to trap signals"],
            common::msg::errno_of(&e),
        );
    }
    let mut pipes = [
        Pipe::new(0, o.fdw, socks[0], socks[1], (1, 2)),
        Pipe::new(o.fdr, 1, socks[2], socks[3], (3, 4)),
    ];
    for p in pipes.iter_mut() {
        if let Err(e) = p.register(&poll) {
            fatal_sys(PROG, SYSTEM, &[b"unable to iopause"], e)
        }
    }
    let mut poll = poll;
    let mut events = Events::with_capacity(16);
    loop {
        let mut did = false;
        for p in pipes.iter_mut() {
            did |= p.pump(&poll);
        }
        if pipes.iter().all(Pipe::done) {
            std::process::exit(0)
        }
        let idle = pipes.iter().all(Pipe::is_empty);
        let timeout =
            (o.timeout_ms > 0 && idle && !did).then(|| Duration::from_millis(o.timeout_ms as u64));
        if did
            && pipes
                .iter()
                .any(|p| (p.src_open && p.src_ready) || (p.dst_ready && !p.is_empty()))
        {
            continue;
        }
        if let Err(e) = poll.poll(&mut events, timeout) {
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            fatal_sys(
                PROG,
                SYSTEM,
                &[b"unable to iopause"],
                common::msg::errno_of(&e),
            );
        }
        if events.is_empty() && timeout.is_some() {
            std::process::exit(1)
        }
        for ev in events.iter() {
            if ev.token() == Token(0) {
                // s6 traps SIGTERM and only flags the sources as "exceptional", which makes
                // it read them again: a source with no data keeps being served. Same here.
                if signals.pending().any(|s| s == libc::SIGTERM) {
                    for p in pipes.iter_mut() {
                        p.src_ready = p.src_open;
                    }
                }
                continue;
            }
            for p in pipes.iter_mut() {
                p.on_event(ev, &poll);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    use std::os::fd::IntoRawFd;

    /// Run one direction until it is done or nothing happens for a while.
    fn drive(p: &mut Pipe, poll: &mut Poll) {
        let mut events = Events::with_capacity(8);
        for _ in 0..1000 {
            p.pump(poll);
            if p.done() {
                return;
            }
            poll.poll(&mut events, Some(Duration::from_millis(200)))
                .expect("poll");
            if events.is_empty() {
                return;
            }
            for ev in events.iter() {
                p.on_event(ev, poll);
            }
        }
    }

    fn pipe_pair() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
        let (r, w) = nix::unistd::pipe().expect("pipe");
        nonblock(r.as_raw_fd());
        nonblock(w.as_raw_fd());
        (r, w)
    }

    use std::os::fd::AsRawFd;

    #[test]
    fn copies_then_closes_the_destination_after_eof() {
        let (src_r, src_w) = pipe_pair();
        let (dst_r, dst_w) = pipe_pair();
        let mut poll = Poll::new().expect("poll");
        let mut p = Pipe::new(
            src_r.into_raw_fd(),
            dst_w.into_raw_fd(),
            false,
            false,
            (1, 2),
        );
        p.register(&poll).expect("register");
        nix::unistd::write(&src_w, b"hello").expect("write");
        drop(src_w);
        drive(&mut p, &mut poll);
        assert!(p.done());
        let mut buf = [0u8; 16];
        assert_eq!(nix::unistd::read(&dst_r, &mut buf).expect("read"), 5);
        assert_eq!(&buf[..5], b"hello");
        assert_eq!(nix::unistd::read(&dst_r, &mut buf).expect("eof"), 0);
    }

    #[test]
    fn a_dead_destination_closes_the_source() {
        let (src_r, src_w) = pipe_pair();
        let (dst_r, dst_w) = pipe_pair();
        let mut poll = Poll::new().expect("poll");
        let mut p = Pipe::new(
            src_r.into_raw_fd(),
            dst_w.into_raw_fd(),
            false,
            false,
            (1, 2),
        );
        p.register(&poll).expect("register");
        drop(dst_r);
        nix::unistd::write(&src_w, b"lost").expect("write");
        drive(&mut p, &mut poll);
        assert!(p.done());
        // The source's read end is closed: writing to it now fails.
        assert_eq!(nix::unistd::write(&src_w, b"x"), Err(Errno::EPIPE));
    }

    #[test]
    fn options() {
        assert_eq!(
            parse_args(&a(&["-0", "-t", "50", "-r", "8", "-w9"])).unwrap(),
            Opts {
                timeout_ms: 50,
                fdr: 8,
                fdw: 9
            }
        );
        assert!(parse_args(&a(&["-r", "2"])).is_none());
        assert!(parse_args(&a(&["-x"])).is_none());
    }
}
