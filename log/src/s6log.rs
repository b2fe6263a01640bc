//! The s6-log driver: options, start-up, and the mio event loop around the pure core
//! (stdin, stdout, signals, processor children and the few timers).

use std::ffi::OsString;
use std::io::ErrorKind;
use std::os::fd::{BorrowedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use common::cli::{GetOpt, Opt};
use common::msg::{exit, StrError};
use common::sigwake::SignalSet;
use common::tai::Tai64n;
use common::Errno;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use signal_hook::consts::{SIGALRM, SIGCHLD, SIGHUP, SIGTERM};

use crate::core::{self, Stamps};
use crate::logdir::Logdir;
use crate::script::{self, ActionKind, Script, DEFAULT_DIALECT};
use crate::timefmt;

pub const USAGE: &str = "s6-log [ -d notif ] [ -q | -v ] [ -b ] [ -p ] [ -l linelimit ] [ -t lastlinetimeout ] [ -- ] logging_script";

const HELP: &str = "s6-log [ -d notif ] [ -q | -v ] [ -b ] [ -p ] [ -l linelimit ] [ -t lastlinetimeout ] [ -- ] logging_script
  -d notif   write a newline to fd notif once ready, then close it
  -q / -v    fewer / more messages
  -b         do not read stdin while an output is stuck
  -p         ignore SIGTERM (only SIGHUP or EOF end the program)
  -l N       line limit (default 8192, 0 = none, at least 48)
  -t ms      after SIGTERM, how long to wait for the end of a partial line (default 2000, 0 = forever)";

const TOK_STDIN: Token = Token(0);
const TOK_STDOUT: Token = Token(1);
const TOK_SIGNALS: Token = Token(2);

/// The least room kept free for one read of stdin.
const READ_CHUNK: usize = 65536;

#[derive(Debug, Clone)]
pub struct Options {
    pub notif: Option<i32>,
    pub verbosity: u32,
    pub blocking: bool,
    pub protect: bool,
    pub line_limit: usize,
    pub lastline_ms: u32,
}

/// Parse the options; `Err(UsageError)` means usage. Returns the options and the script's index.
/// A bad command line (the usage message follows).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("usage")]
pub struct UsageError;

pub fn parse_options(args: &[OsString]) -> Result<(Options, usize), UsageError> {
    let mut o = Options {
        notif: None,
        verbosity: 1,
        blocking: false,
        protect: false,
        line_limit: core::DEFAULT_LINE_LIMIT,
        lastline_ms: 2000,
    };
    let mut g = GetOpt::new(args, "d:qvbpl:t:");
    while let Some(opt) = g.next_opt() {
        match opt.map_err(|_| UsageError)? {
            Opt::Flag(b'q') => o.verbosity = o.verbosity.saturating_sub(1),
            Opt::Flag(b'v') => o.verbosity += 1,
            Opt::Flag(b'b') => o.blocking = true,
            Opt::Flag(b'p') => o.protect = true,
            Opt::Arg(b'd', v) => {
                o.notif = Some(common::cli::uint0_scan(v).ok_or(UsageError)? as i32)
            }
            Opt::Arg(b'l', v) => {
                o.line_limit = core::effective_limit(common::cli::uint0_scan(v).ok_or(UsageError)?)
            }
            Opt::Arg(b't', v) => o.lastline_ms = common::cli::uint0_scan(v).ok_or(UsageError)?,
            _ => return Err(UsageError),
        }
    }
    let rest = g.rest();
    if rest.is_empty() {
        return Err(UsageError);
    }
    Ok((o, args.len() - rest.len()))
}

static VERBOSITY: AtomicU32 = AtomicU32::new(1);

/// `s6-log: warning: MSG` unless -q.
pub fn warn(msg: &str) {
    if VERBOSITY.load(Ordering::Relaxed) > 0 {
        common::msg::write_stderr(&format!("s6-log: warning: {msg}\n"));
    }
}

fn fatal(code: i32, msg: impl std::fmt::Display) -> ! {
    common::msg::Prog::new("s6-log").fatal(code, msg)
}

fn usage() -> ! {
    common::msg::Prog::new("s6-log").usage(USAGE)
}

pub fn main() -> ! {
    let args = common::rt::args_os();
    let args = args.get(1..).unwrap_or(&[]);
    common::cli::help_or_version(args, HELP);
    let Ok((opts, idx)) = parse_options(args) else {
        usage()
    };
    VERBOSITY.store(opts.verbosity, Ordering::Relaxed);
    if let Some(fd) = opts.notif {
        if fd < 3 {
            fatal(exit::USAGE, "notification fd must be 3 or more");
        }
        if let Err(e) = nix::fcntl::fcntl(
            // SAFETY: only probed with F_GETFD; a closed fd gives EBADF.
            unsafe { BorrowedFd::borrow_raw(fd) },
            nix::fcntl::FcntlArg::F_GETFD,
        ) {
            fatal(
                exit::USAGE,
                format_args!("invalid notification fd: {}", StrError(e)),
            );
        }
    }
    for fd in [0, 1] {
        set_nonblock(fd);
    }
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    nix::sys::stat::umask(old);
    let mask = 0o666 & !old.bits();
    timefmt::init_tz();
    let start = Instant::now();
    let script = match script::parse(&args[idx..], DEFAULT_DIALECT) {
        Ok(s) => s,
        Err(e) => {
            for spec in e.logdirs_before {
                if let Err(ie) = Logdir::init(spec, mask, start) {
                    fatal(exit::SYSTEM, ie);
                }
            }
            let code = match e.error {
                script::ScriptError::NoMemory => exit::SYSTEM,
                _ => exit::USAGE,
            };
            fatal(code, e.error);
        }
    };
    if script.extraneous {
        warn("ignoring extraneous non-action directives");
    }
    let mut logdirs = Vec::with_capacity(script.logdirs.len());
    for spec in &script.logdirs {
        match Logdir::init(spec.clone(), mask, start) {
            Ok(l) => logdirs.push(l),
            Err(e) => fatal(exit::SYSTEM, e),
        }
    }
    let mut d = match Driver::new(script, logdirs, opts) {
        Ok(d) => d,
        Err(e) => fatal(exit::SYSTEM, format_args!("unable to {e}")),
    };
    if let Some(fd) = d.opts.notif {
        // SAFETY: fd was checked open above; we own it from here and close it once.
        let owned = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let _ = common::fsio::write_all(&owned, b"\n");
        drop(owned);
    }
    d.run()
}

fn set_nonblock(fd: RawFd) {
    // SAFETY: fcntl on fds 0/1, which the runtime guarantees are open.
    unsafe {
        let fl = libc::fcntl(fd, libc::F_GETFL);
        if fl != -1 {
            libc::fcntl(fd, libc::F_SETFL, fl | libc::O_NONBLOCK);
        }
    }
}

/// Write all of `data` to `fd`, waiting for it to be writable if it is non-blocking (stderr
/// may share its file description with our non-blocking stdout): alerts are written at once,
/// blocking, as s6 does. Errors other than EAGAIN drop the rest (nobody to tell).
fn write_waiting(fd: RawFd, mut data: &[u8]) {
    // SAFETY: fd 2 is open for the whole life of the process.
    let bfd = unsafe { BorrowedFd::borrow_raw(fd) };
    while !data.is_empty() {
        match nix::unistd::write(bfd, data) {
            Ok(0) => return,
            Ok(n) => data = &data[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EAGAIN) => {
                let mut p = [nix::poll::PollFd::new(bfd, nix::poll::PollFlags::POLLOUT)];
                let _ = nix::poll::poll(&mut p, nix::poll::PollTimeout::NONE);
            }
            Err(_) => return,
        }
    }
}

/// How reading stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Input {
    Reading,
    /// SIGTERM/SIGHUP with a partial line pending: complete it, byte by byte, until then.
    LastLine(Option<Instant>),
    Done,
}

struct Outputs {
    stdout: Vec<u8>,
    stdout_pos: usize,
    stdout_dead: bool,
    logdirs: Vec<Logdir>,
    scratch: Vec<u8>,
    stamps: Stamps,
}

struct Driver {
    script: Script,
    opts: Options,
    out: Outputs,
    poll: Poll,
    signals: SignalSet,
    inbuf: Vec<u8>,
    inlen: usize,
    input: Input,
    /// stdin may have data (edge-triggered readiness, or not pollable at all).
    stdin_ready: bool,
    stdout_ready: bool,
    /// Finalisation failed: retry at this time.
    finalize_at: Option<Instant>,
}

impl Driver {
    fn new(script: Script, logdirs: Vec<Logdir>, opts: Options) -> Result<Driver, String> {
        let poll = Poll::new().map_err(|e| format!("create poll: {}", StrError(errno(&e))))?;
        // s6: sig_altignore(SIGPIPE): a processor or a stdout reader that goes away makes
        // our writes fail, not kill us; the processors get SIGPIPE at its default.
        common::signals::alt_ignore(nix::sys::signal::Signal::SIGPIPE)
            .map_err(|e| format!("ignore SIGPIPE: {}", StrError(e)))?;
        static CAUGHT: [i32; 4] = [SIGTERM, SIGHUP, SIGALRM, SIGCHLD];
        let mut signals = SignalSet::new(&CAUGHT)
            .map_err(|e| format!("trap signals: {}", StrError(errno(&e))))?;
        poll.registry()
            .register(&mut signals, TOK_SIGNALS, Interest::READABLE)
            .map_err(|e| format!("register signals: {}", StrError(errno(&e))))?;
        // Regular files and /dev/null cannot be polled: they are always ready.
        let _ = poll
            .registry()
            .register(&mut SourceFd(&0), TOK_STDIN, Interest::READABLE);
        let _ = poll
            .registry()
            .register(&mut SourceFd(&1), TOK_STDOUT, Interest::WRITABLE);
        let cap = if opts.line_limit == 0 {
            READ_CHUNK
        } else {
            opts.line_limit + READ_CHUNK
        };
        Ok(Driver {
            script,
            opts,
            out: Outputs {
                stdout: Vec::new(),
                stdout_pos: 0,
                stdout_dead: false,
                logdirs,
                scratch: Vec::with_capacity(1024),
                stamps: Stamps::default(),
            },
            poll,
            signals,
            inbuf: vec![0u8; cap + 1],
            inlen: 0,
            input: Input::Reading,
            stdin_ready: true,
            stdout_ready: true,
            finalize_at: None,
        })
    }

    fn run(&mut self) -> ! {
        let mut events = Events::with_capacity(8);
        loop {
            let now = Instant::now();
            self.timers(now);
            let mut reads = 0;
            while self.may_read() && reads < 16 {
                self.read_once();
                self.flush(Instant::now());
                reads += 1;
            }
            self.flush(Instant::now());
            if self.input == Input::Done && self.all_flushed() {
                self.try_finish();
            }
            let timeout = if self.may_read() {
                Some(Duration::ZERO)
            } else {
                self.next_deadline()
                    .map(|t| t.saturating_duration_since(Instant::now()))
            };
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => fatal(
                    exit::SYSTEM,
                    format_args!("unable to poll: {}", StrError(errno(&e))),
                ),
            }
            for ev in events.iter() {
                match ev.token() {
                    TOK_STDIN => self.stdin_ready = true,
                    TOK_STDOUT => self.stdout_ready = true,
                    _ => {}
                }
            }
            self.handle_signals();
        }
    }

    fn all_flushed(&self) -> bool {
        (self.out.stdout_dead || self.out.stdout_pos == self.out.stdout.len())
            && self.out.logdirs.iter().all(|l| !l.pending() && l.is_idle())
    }

    fn try_finish(&mut self) {
        let now = Instant::now();
        if self.finalize_at.is_some_and(|t| t > now) {
            return;
        }
        let mut ok = true;
        for l in &mut self.out.logdirs {
            if let Err(msg) = l.finalize() {
                warn(&msg);
                ok = false;
            }
        }
        if ok {
            std::process::exit(0);
        }
        self.finalize_at = Some(now + Duration::from_secs(2));
    }

    fn may_read(&self) -> bool {
        if !self.stdin_ready {
            return false;
        }
        match self.input {
            Input::Done => false,
            Input::LastLine(_) => true,
            Input::Reading => !self.opts.blocking || self.nothing_stuck(),
        }
    }

    fn nothing_stuck(&self) -> bool {
        (self.out.stdout_dead || self.out.stdout_pos == self.out.stdout.len())
            && self.out.logdirs.iter().all(|l| !l.pending())
    }

    fn next_deadline(&self) -> Option<Instant> {
        let mut t: Option<Instant> = None;
        let mut consider = |x: Option<Instant>| {
            if let Some(x) = x {
                t = Some(t.map_or(x, |t| t.min(x)));
            }
        };
        for l in &self.out.logdirs {
            consider(l.retry_at);
            consider(l.period_at);
        }
        if let Input::LastLine(dl) = self.input {
            consider(dl);
        }
        if self.input == Input::Done {
            consider(self.finalize_at);
        }
        t
    }

    fn timers(&mut self, now: Instant) {
        for l in &mut self.out.logdirs {
            if let Some(p) = l.period_at {
                if p <= now {
                    let period = Duration::from_secs(l.spec.period_secs as u64);
                    let mut next = p + period;
                    if next <= now {
                        next = now + period;
                    }
                    l.period_at = Some(next);
                    l.rotate(now);
                }
            }
            if l.rotation.is_some() && l.retry_due(now) {
                l.retry_at = None;
                l.advance(now);
            }
        }
        if let Input::LastLine(Some(dl)) = self.input {
            if dl <= now {
                self.end_with_partial();
            }
        }
    }

    fn handle_signals(&mut self) {
        let mut got = [false; 4];
        for s in self.signals.pending() {
            match s {
                SIGTERM => got[0] = true,
                SIGHUP => got[1] = true,
                SIGALRM => got[2] = true,
                SIGCHLD => got[3] = true,
                _ => {}
            }
        }
        let now = Instant::now();
        if got[3] {
            self.reap(now);
        }
        if got[2] {
            for l in &mut self.out.logdirs {
                l.rotate(now);
            }
        }
        if (got[0] && !self.opts.protect) || got[1] {
            self.terminate(now);
        }
    }

    fn reap(&mut self, now: Instant) {
        use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
        loop {
            match waitpid(None, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(pid, code)) => {
                    self.child_done(pid.as_raw(), code == 0, false, now)
                }
                Ok(WaitStatus::Signaled(pid, _, _)) => {
                    self.child_done(pid.as_raw(), false, true, now)
                }
                Ok(WaitStatus::StillAlive) | Err(Errno::ECHILD) => break,
                Ok(_) => continue,
                Err(Errno::EINTR) => continue,
                Err(_) => break,
            }
        }
    }

    fn child_done(&mut self, pid: i32, ok: bool, crashed: bool, now: Instant) {
        for l in &mut self.out.logdirs {
            if l.processor_done(pid, ok, crashed, now) {
                break;
            }
        }
    }

    fn terminate(&mut self, now: Instant) {
        if self.input != Input::Reading {
            return;
        }
        if self.inlen == 0 {
            self.input = Input::Done;
        } else {
            let dl = (self.opts.lastline_ms != 0)
                .then(|| now + Duration::from_millis(self.opts.lastline_ms as u64));
            self.input = Input::LastLine(dl);
        }
    }

    /// Process the pending partial line as a whole line, then stop reading.
    fn end_with_partial(&mut self) {
        if self.inlen > 0 {
            let n = self.inlen;
            self.process_line(0, n);
            self.inlen = 0;
        }
        self.input = Input::Done;
    }

    fn read_once(&mut self) {
        let lastline = matches!(self.input, Input::LastLine(_));
        if self.inlen + 1 >= self.inbuf.len() {
            // Only with no line limit: the partial line fills the buffer.
            let n = self.inbuf.len() * 2;
            self.inbuf.resize(n, 0);
        }
        let room = self.inbuf.len() - 1 - self.inlen;
        let want = if lastline { 1 } else { room };
        let r = nix::unistd::read(
            // SAFETY: fd 0 is open for the whole life of the process.
            unsafe { BorrowedFd::borrow_raw(0) },
            &mut self.inbuf[self.inlen..self.inlen + want],
        );
        match r {
            Ok(0) => {
                self.stdin_ready = false;
                if lastline {
                    self.end_with_partial();
                } else {
                    // A partial last line at EOF is discarded, as s6 does.
                    self.inlen = 0;
                    self.input = Input::Done;
                }
            }
            Ok(n) => {
                self.inlen += n;
                if lastline {
                    self.lastline_byte();
                } else {
                    self.process_lines();
                }
            }
            Err(Errno::EAGAIN) => self.stdin_ready = false,
            Err(Errno::EINTR) => {}
            Err(e) => {
                // As s6: a warning, then the end of input (a partial last line counts only
                // when completing it after SIGTERM).
                warn(&format!("unable to read from stdin: {}", StrError(e)));
                self.stdin_ready = false;
                if lastline {
                    self.end_with_partial();
                } else {
                    self.inlen = 0;
                    self.input = Input::Done;
                }
            }
        }
    }

    fn lastline_byte(&mut self) {
        let last = self.inbuf[self.inlen - 1];
        if last == b'\n' || last == 0 {
            let n = self.inlen - 1;
            self.process_line(0, n);
            self.inlen = 0;
            self.input = Input::Done;
        } else if self.opts.line_limit != 0 && self.inlen >= self.opts.line_limit {
            warn("input line too long, stopping before the end");
            self.end_with_partial();
        }
    }

    fn process_lines(&mut self) {
        let mut start = 0;
        while let Some((len, used)) =
            core::next_line(&self.inbuf[start..self.inlen], self.opts.line_limit)
        {
            self.process_line(start, len);
            start += used;
        }
        if start > 0 {
            self.inbuf.copy_within(start..self.inlen, 0);
            self.inlen -= start;
        }
    }

    /// Run line `inbuf[start..start+len]` through the script.
    fn process_line(&mut self, start: usize, len: usize) {
        let end = start + len;
        let saved = self.inbuf[end];
        self.inbuf[end] = 0;
        let out = &mut self.out;
        if self.script.needs_tai || self.script.needs_iso {
            let (secs, nanos) = timefmt::now();
            if self.script.needs_tai {
                out.stamps.label = timefmt::label(&Tai64n::from_unix(secs.max(0) as u64, nanos));
            }
            if self.script.needs_iso {
                if let Some(iso) = timefmt::iso(secs, nanos, false) {
                    out.stamps.iso = iso;
                }
            }
        }
        let line_nul = &self.inbuf[start..=end];
        let line = &line_nul[..len];
        core::dispatch(&self.script, line_nul, |a| match &a.kind {
            ActionKind::Stdout => {
                if !out.stdout_dead {
                    core::push_record(&mut out.stdout, &out.stamps, a, line)
                }
            }
            ActionKind::Alert(e) => {
                out.scratch.clear();
                core::push_alert(&mut out.scratch, &out.stamps, a, *e, line);
                write_waiting(2, &out.scratch);
            }
            ActionKind::Status { path, size } => {
                out.scratch.clear();
                core::push_status(&mut out.scratch, &out.stamps, a, *size, line);
                let dst = PathBuf::from(std::ffi::OsStr::from_bytes(path));
                let mut tmp = path.clone();
                tmp.extend_from_slice(b".new");
                let tmp = PathBuf::from(std::ffi::OsStr::from_bytes(&tmp));
                if let Err(e) = common::fsio::write_atomic(&tmp, &dst, &out.scratch) {
                    warn(&format!(
                        "unable to write status file {}: {}",
                        String::from_utf8_lossy(path),
                        StrError(e)
                    ));
                }
            }
            ActionKind::Logdir(i) => {
                if let Some(l) = out.logdirs.get_mut(*i) {
                    core::push_record(&mut l.buf, &out.stamps, a, line);
                }
            }
        });
        self.inbuf[end] = saved;
    }

    fn flush(&mut self, now: Instant) {
        let out = &mut self.out;
        if !out.stdout_dead && self.stdout_ready {
            while out.stdout_pos < out.stdout.len() {
                match nix::unistd::write(
                    // SAFETY: fd 1 is open for the whole life of the process.
                    unsafe { BorrowedFd::borrow_raw(1) },
                    &out.stdout[out.stdout_pos..],
                ) {
                    Ok(n) => out.stdout_pos += n,
                    Err(Errno::EINTR) => {}
                    Err(Errno::EAGAIN) => {
                        self.stdout_ready = false;
                        break;
                    }
                    Err(e) => {
                        common::msg::write_stderr(&format!(
                            "s6-log: warning: unable to write to stdout, closing the stream - error was: {}\n",
                            StrError(e)
                        ));
                        let _ = self.poll.registry().deregister(&mut SourceFd(&1));
                        // SAFETY: closing fd 1, which nothing else uses from now on.
                        unsafe { libc::close(1) };
                        out.stdout_dead = true;
                        out.stdout = Vec::new();
                        out.stdout_pos = 0;
                        break;
                    }
                }
            }
            if out.stdout_pos == out.stdout.len() {
                out.stdout.clear();
                out.stdout_pos = 0;
            } else if out.stdout_pos > 65536 && out.stdout_pos * 2 > out.stdout.len() {
                out.stdout.drain(..out.stdout_pos);
                out.stdout_pos = 0;
            }
        }
        for l in &mut out.logdirs {
            // A size-triggered rotation without processor ends at once: write on.
            while l.flush(now) && l.is_idle() {}
        }
    }
}

fn errno(e: &std::io::Error) -> Errno {
    common::msg::errno_of(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn options() {
        let (o, i) = parse_options(&a(&["-bpd3", "--", "t", "/x"])).unwrap();
        assert!(o.blocking && o.protect && o.notif == Some(3) && i == 2);
        assert!(parse_options(&a(&[])).is_err());
        assert!(parse_options(&a(&["-e", "1"])).is_err());
        assert!(parse_options(&a(&["-l", "x", "1"])).is_err());
        let (o, i) = parse_options(&a(&["-l", "10", "-", "1"])).unwrap();
        assert_eq!((o.line_limit, i), (48, 2));
    }

    #[test]
    fn options_never_panic() {
        for args in common::cli::pseudo_random_argv(3000) {
            if let Ok((_, i)) = parse_options(&args) {
                assert!(i < args.len());
            }
            let _ = crate::socklog::parse_options(&args);
        }
    }
}
