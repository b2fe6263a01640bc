//! `s6-socklog`: a syslogd reading datagrams on a Unix socket (or UDP) and printing one log
//! line per datagram on stdout, with the priority decoded.

use std::ffi::OsStr;
use std::io::ErrorKind;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::cli::{GetOpt, Opt};
use common::msg::{exit, Prog, StrError};
use common::sigwake::SignalSet;
use common::Errno;
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::sys::socket::{
    bind, recvfrom, socket, AddressFamily, SockFlag, SockType, SockaddrIn, SockaddrIn6,
    SockaddrStorage, UnixAddr,
};
use signal_hook::consts::SIGTERM;

const USAGE: &str = "s6-socklog [ -d notif ] [ -r ] [ -U | -u uid -g gid -G gidlist ] [ -l linelen ] [ -t lameducktimeout ] [ -x socket | -i ip_port ]";

const HELP: &str = "s6-socklog [ -d notif ] [ -r ] [ -U | -u uid -g gid -G gidlist ] [ -l linelen ] [ -t lameducktimeout ] [ -x socket | -i ip_port ]
  -d notif    readiness notification on fd notif
  -r          raw: do not decode <N>
  -U          drop privileges to $UID, $GID, $GIDLIST
  -u/-g/-G    drop privileges to uid, gid, supplementary gids
  -l linelen  longest datagram handled (76..1048576, default 1024)
  -t ms       after SIGTERM, exit 99 if stdout is not flushed within ms
  -x socket   Unix datagram socket (default /dev/log)
  -i ip_port  UDP on IP, port (default 514)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Listen {
    Unix(PathBuf),
    Udp(SocketAddr),
}

#[derive(Debug, Clone)]
pub struct Options {
    pub notif: Option<i32>,
    pub raw: bool,
    pub env_ids: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub gids: Option<Vec<u32>>,
    pub linelen: usize,
    pub lameduck_ms: u32,
    pub listen: Listen,
}

/// `IP`, `IP_PORT`, or `IPv4:PORT`.
pub fn parse_ip_port(s: &[u8]) -> Option<SocketAddr> {
    let s = std::str::from_utf8(s).ok()?;
    let (ip, port) = match s.rfind('_') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => match s.rfind(':') {
            Some(i) if s[..i].parse::<std::net::Ipv4Addr>().is_ok() => (&s[..i], Some(&s[i + 1..])),
            _ => (s, None),
        },
    };
    let ip: IpAddr = ip.parse().ok()?;
    let port = match port {
        Some(p) => common::cli::uint0_scan(OsStr::new(p)).and_then(|p| u16::try_from(p).ok())?,
        None => 514,
    };
    Some(SocketAddr::new(ip, port))
}

fn parse_gidlist(s: &[u8]) -> Option<Vec<u32>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split(|&c| c == b',')
        .map(|p| common::cli::uint0_scan(OsStr::from_bytes(p)))
        .collect()
}

pub fn parse_options(args: &[std::ffi::OsString]) -> Result<Options, crate::s6log::UsageError> {
    use crate::s6log::UsageError;
    let mut o = Options {
        notif: None,
        raw: false,
        env_ids: false,
        uid: None,
        gid: None,
        gids: None,
        linelen: 1024,
        lameduck_ms: 0,
        listen: Listen::Unix(PathBuf::from("/dev/log")),
    };
    let num = |v: &OsStr| common::cli::uint0_scan(v).ok_or(UsageError);
    let mut g = GetOpt::new(args, "d:rUu:g:G:l:t:x:i:");
    while let Some(opt) = g.next_opt() {
        match opt.map_err(|_| UsageError)? {
            Opt::Arg(b'd', v) => o.notif = Some(num(v)? as i32),
            Opt::Flag(b'r') => o.raw = true,
            Opt::Flag(b'U') => o.env_ids = true,
            Opt::Arg(b'u', v) => o.uid = Some(num(v)?),
            Opt::Arg(b'g', v) => o.gid = Some(num(v)?),
            Opt::Arg(b'G', v) => o.gids = Some(parse_gidlist(v.as_bytes()).ok_or(UsageError)?),
            Opt::Arg(b'l', v) => o.linelen = (num(v)? as usize).clamp(76, 1_048_576),
            Opt::Arg(b't', v) => o.lameduck_ms = num(v)?,
            Opt::Arg(b'x', v) => o.listen = Listen::Unix(PathBuf::from(v)),
            Opt::Arg(b'i', v) => {
                o.listen = Listen::Udp(parse_ip_port(v.as_bytes()).ok_or(UsageError)?)
            }
            _ => return Err(UsageError),
        }
    }
    Ok(o)
}

/// One datagram `d` (as received, at most linelen+1 bytes) as a log line appended to `out`.
pub fn format_datagram(d: &[u8], full: bool, raw: bool, from: Option<&str>, out: &mut Vec<u8>) {
    let mut end = d.len();
    while end > 0 && (d[end - 1] == 0 || d[end - 1] == b'\n') {
        end -= 1;
    }
    let d = &d[..end];
    if let Some(f) = from {
        out.extend_from_slice(f.as_bytes());
        out.extend_from_slice(b": ");
    }
    let skip = if raw {
        0
    } else {
        crate::syslog::decode(d, out)
    };
    out.extend(
        d[skip..]
            .iter()
            .map(|&c| if c == 0 || c == b'\n' { b'~' } else { c }),
    );
    if full {
        out.extend_from_slice(b"...");
    }
    out.push(b'\n');
}

fn env_num(prog: &Prog, name: &str) -> u32 {
    match std::env::var_os(name) {
        None => prog.fatal(exit::USAGE, format_args!("{name} not set")),
        Some(v) => common::cli::uint0_scan(&v)
            .unwrap_or_else(|| prog.fatal(exit::USAGE, format_args!("invalid ${name}"))),
    }
}

fn bind_unix(prog: &Prog, path: &Path) -> (OwnedFd, OwnedFd) {
    let bindfail = |e: Errno| -> ! {
        prog.fatal(
            exit::SYSTEM,
            format_args!(
                "unable to bind socket to {}: {}",
                path.display(),
                StrError(e)
            ),
        )
    };
    let mut lockp = path.as_os_str().as_bytes().to_vec();
    lockp.extend_from_slice(b".lock");
    let lockp = PathBuf::from(OsStr::from_bytes(&lockp));
    let lock = match common::lock::acquire(&lockp, 0o600) {
        Ok(l) => l,
        Err(common::lock::LockError::Busy) => bindfail(Errno::EBUSY),
        Err(common::lock::LockError::Io(e)) => bindfail(e),
    };
    match nix::unistd::unlink(path) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => bindfail(e),
    }
    let fd = socket(
        AddressFamily::Unix,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap_or_else(|e| {
        prog.fatal(
            exit::SYSTEM,
            format_args!("unable to create socket: {}", StrError(e)),
        )
    });
    let addr = UnixAddr::new(path).unwrap_or_else(|e| bindfail(e));
    let old = nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    let r = bind(fd.as_raw_fd(), &addr);
    nix::sys::stat::umask(old);
    if let Err(e) = r {
        bindfail(e)
    }
    (fd, lock)
}

fn bind_udp(prog: &Prog, sa: SocketAddr) -> OwnedFd {
    let fam = if sa.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    let fail = |e: Errno| -> ! {
        prog.fatal(
            exit::SYSTEM,
            format_args!(
                "unable to bind socket to ip {} port {}: {}",
                sa.ip(),
                sa.port(),
                StrError(e)
            ),
        )
    };
    let fd = socket(
        fam,
        SockType::Datagram,
        SockFlag::SOCK_NONBLOCK | SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap_or_else(|e| {
        prog.fatal(
            exit::SYSTEM,
            format_args!("unable to create socket: {}", StrError(e)),
        )
    });
    let r = match sa {
        SocketAddr::V4(a) => bind(fd.as_raw_fd(), &SockaddrIn::from(a)),
        SocketAddr::V6(a) => bind(fd.as_raw_fd(), &SockaddrIn6::from(a)),
    };
    if let Err(e) = r {
        fail(e)
    }
    fd
}

fn sender(ss: &SockaddrStorage) -> Option<String> {
    if let Some(a) = ss.as_sockaddr_in() {
        return Some(format!("{}_{}", a.ip(), a.port()));
    }
    if let Some(a) = ss.as_sockaddr_in6() {
        return Some(format!("{}_{}", a.ip(), a.port()));
    }
    None
}

pub fn main() -> ! {
    let args = common::rt::args_os();
    let rest = args.get(1..).unwrap_or(&[]);
    common::cli::help_or_version(rest, HELP);
    let prog = Prog::new("s6-socklog");
    let Ok(opts) = parse_options(rest) else {
        prog.usage(USAGE)
    };
    // SAFETY: closing fd 0, which this program never uses; /dev/null keeps the slot.
    unsafe {
        let fd = libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY);
        if fd > 0 {
            libc::dup2(fd, 0);
            libc::close(fd);
        }
    }
    if let Some(fd) = opts.notif {
        if fd < 3 {
            prog.fatal(exit::USAGE, "notification fd must be 3 or more");
        }
        // SAFETY: only probed with F_GETFD.
        if let Err(e) = nix::fcntl::fcntl(
            unsafe { BorrowedFd::borrow_raw(fd) },
            nix::fcntl::FcntlArg::F_GETFD,
        ) {
            prog.fatal(
                exit::USAGE,
                format_args!("invalid notification fd: {}", StrError(e)),
            );
        }
    }
    let (uid, gid, gids) = if opts.env_ids {
        let uid = env_num(&prog, "UID");
        let gid = env_num(&prog, "GID");
        let gids = match std::env::var_os("GIDLIST") {
            None => prog.fatal(exit::USAGE, "GIDLIST not set"),
            Some(v) => parse_gidlist(v.as_bytes())
                .unwrap_or_else(|| prog.fatal(exit::USAGE, "invalid $GIDLIST")),
        };
        (Some(uid), Some(gid), Some(gids))
    } else {
        (opts.uid, opts.gid, opts.gids.clone())
    };
    let (sock, _lock, udp) = match &opts.listen {
        Listen::Unix(p) => {
            let (s, l) = bind_unix(&prog, p);
            (s, Some(l), false)
        }
        Listen::Udp(sa) => (bind_udp(&prog, *sa), None, true),
    };
    if let Some(g) = &gids {
        let g: Vec<nix::unistd::Gid> = g.iter().map(|&x| nix::unistd::Gid::from_raw(x)).collect();
        if let Err(e) = nix::unistd::setgroups(&g) {
            prog.fatal(
                exit::SYSTEM,
                format_args!("unable to setgroups: {}", StrError(e)),
            );
        }
    }
    if let Some(g) = gid {
        if let Err(e) = nix::unistd::setgid(nix::unistd::Gid::from_raw(g)) {
            prog.fatal(
                exit::SYSTEM,
                format_args!("unable to setgid: {}", StrError(e)),
            );
        }
    }
    if let Some(u) = uid {
        if let Err(e) = nix::unistd::setuid(nix::unistd::Uid::from_raw(u)) {
            prog.fatal(
                exit::SYSTEM,
                format_args!("unable to setuid: {}", StrError(e)),
            );
        }
    }
    let mut poll = Poll::new().unwrap_or_else(|e| {
        prog.fatal(
            exit::SYSTEM,
            format_args!(
                "unable to create poll: {}",
                StrError(common::msg::errno_of(&e))
            ),
        )
    });
    // s6: sig_altignore(SIGPIPE): a stdout reader that goes away must not kill the logger.
    if let Err(e) = common::signals::alt_ignore(nix::sys::signal::Signal::SIGPIPE) {
        prog.fatal(
            exit::SYSTEM,
            format_args!("unable to ignore SIGPIPE: {}", StrError(e)),
        )
    }
    static CAUGHT: [i32; 1] = [SIGTERM];
    let mut signals = SignalSet::new(&CAUGHT).unwrap_or_else(|e| {
        prog.fatal(
            exit::SYSTEM,
            format_args!(
                "unable to trap signals: {}",
                StrError(common::msg::errno_of(&e))
            ),
        )
    });
    let reg = poll
        .registry()
        .register(&mut signals, Token(2), Interest::READABLE)
        .and_then(|_| {
            poll.registry().register(
                &mut SourceFd(&sock.as_raw_fd()),
                Token(0),
                Interest::READABLE,
            )
        });
    if let Err(e) = reg {
        prog.fatal(
            exit::SYSTEM,
            format_args!(
                "unable to register: {}",
                StrError(common::msg::errno_of(&e))
            ),
        );
    }
    // SAFETY: fcntl on fd 1 (open: the runtime guarantees it).
    unsafe {
        let fl = libc::fcntl(1, libc::F_GETFL);
        libc::fcntl(1, libc::F_SETFL, fl | libc::O_NONBLOCK);
    }
    let _ = poll
        .registry()
        .register(&mut SourceFd(&1), Token(1), Interest::WRITABLE);
    if let Some(fd) = opts.notif {
        // SAFETY: checked open above; owned and closed once here.
        let owned = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let _ = common::fsio::write_all(&owned, b"\n");
    }
    let linelen = opts.linelen;
    let cap = 4 * linelen;
    let mut out: Vec<u8> = Vec::with_capacity(cap + linelen + 100);
    let mut pos = 0usize;
    let mut dgram = vec![0u8; linelen + 1];
    let mut sock_ready = true;
    let mut out_ready = true;
    let mut stopping: Option<Option<Instant>> = None;
    let mut events = Events::with_capacity(4);
    loop {
        // Read while the buffer has room for one more line.
        while stopping.is_none()
            && sock_ready
            && cap.saturating_sub(out.len() - pos) >= linelen + 80
        {
            match recvfrom::<SockaddrStorage>(sock.as_raw_fd(), &mut dgram) {
                Ok((n, from)) => {
                    let who = if udp {
                        from.as_ref().and_then(sender)
                    } else {
                        None
                    };
                    format_datagram(
                        &dgram[..n],
                        n == linelen + 1,
                        opts.raw,
                        who.as_deref(),
                        &mut out,
                    );
                }
                Err(Errno::EAGAIN) => sock_ready = false,
                Err(Errno::EINTR) => {}
                Err(e) => prog.fatal(
                    exit::SYSTEM,
                    format_args!("unable to recv: {}", StrError(e)),
                ),
            }
        }
        while out_ready && pos < out.len() {
            // SAFETY: fd 1 is open for the life of the process.
            match nix::unistd::write(unsafe { BorrowedFd::borrow_raw(1) }, &out[pos..]) {
                Ok(n) => pos += n,
                Err(Errno::EAGAIN) => out_ready = false,
                Err(Errno::EINTR) => {}
                Err(e) => prog.fatal(
                    exit::SYSTEM,
                    format_args!("unable to write to stdout: {}", StrError(e)),
                ),
            }
        }
        if pos == out.len() {
            out.clear();
            pos = 0;
        } else if pos > linelen {
            out.drain(..pos);
            pos = 0;
        }
        if let Some(dl) = stopping {
            if out.is_empty() {
                std::process::exit(0);
            }
            if dl.is_some_and(|d| d <= Instant::now()) {
                std::process::exit(exit::TIMEOUT);
            }
        }
        let timeout = stopping
            .flatten()
            .map(|d| d.saturating_duration_since(Instant::now()));
        match poll.poll(&mut events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => prog.fatal(
                exit::SYSTEM,
                format_args!("unable to poll: {}", StrError(common::msg::errno_of(&e))),
            ),
        }
        for ev in events.iter() {
            match ev.token() {
                Token(0) => sock_ready = true,
                Token(1) => out_ready = true,
                _ => {}
            }
        }
        if signals.pending().any(|s| s == SIGTERM) && stopping.is_none() {
            stopping = Some(
                (opts.lameduck_ms != 0)
                    .then(|| Instant::now() + Duration::from_millis(opts.lameduck_ms as u64)),
            );
        }
        let _ = sock.as_fd();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datagrams() {
        let mut o = Vec::new();
        format_datagram(b"a\nb\0c\n\0\0", false, false, None, &mut o);
        assert_eq!(o, b"a~b~c\n");
        o.clear();
        format_datagram(b"<13>hi", false, false, Some("1.2.3.4_5"), &mut o);
        assert_eq!(o, b"1.2.3.4_5: user.notice: hi\n");
        o.clear();
        format_datagram(b"", false, false, None, &mut o);
        assert_eq!(o, b"\n");
        o.clear();
        format_datagram(b"<13>hi", true, true, None, &mut o);
        assert_eq!(o, b"<13>hi...\n");
    }

    #[test]
    fn ip_ports() {
        assert_eq!(
            parse_ip_port(b"127.0.0.1_99"),
            Some("127.0.0.1:99".parse().unwrap())
        );
        assert_eq!(
            parse_ip_port(b"127.0.0.1:99"),
            Some("127.0.0.1:99".parse().unwrap())
        );
        assert_eq!(
            parse_ip_port(b"127.0.0.1"),
            Some("127.0.0.1:514".parse().unwrap())
        );
        assert_eq!(parse_ip_port(b"::1_7"), Some("[::1]:7".parse().unwrap()));
        assert_eq!(parse_ip_port(b"nonsense"), None);
    }
}
