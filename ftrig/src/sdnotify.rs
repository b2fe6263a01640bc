//! The bridges between s6's readiness protocol (a newline on a descriptor) and systemd's
//! `NOTIFY_SOCKET` datagrams (2.15.1): `s6-notify-socket-from-fd` (an s6-style daemon under
//! a NOTIFY_SOCKET supervisor) and `s6-notify-fd-from-socket` (an sd_notify daemon under
//! s6-supervise). Both exec prog in place (same pid) and leave a helper process, double
//! forked unless `-f`, that does the translation once and exits.

use common::cli::{fatal_bytes, fatal_sys_bytes};
use common::gol::{self, Item, Spec};
use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token};
use nix::errno::Errno;
use nix::sys::wait::waitpid;
use nix::unistd::{fork, ForkResult};
use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::time::Instant;

pub const SOCKET_FROM_FD_USAGE: &str =
    "s6-notify-socket-from-fd [ -d fd ] [ -f ] [ -t timeout ] [ -k ] prog...";
pub const FD_FROM_SOCKET_USAGE: &str =
    "s6-notify-fd-from-socket [ -f ] [ -3 fd ] [ -t timeout ] prog...";
const VAR: &str = "NOTIFY_SOCKET";

const OPT_SINGLEFORK: u8 = 0;
const OPT_DOUBLEFORK: u8 = 1;
const OPT_KEEP: u8 = 2;
const OPT_NOTIF: u8 = 3;
const OPT_TIMEOUT: u8 = 4;

/// A parsed command line of either bridge (values still raw).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Request {
    pub singlefork: bool,
    pub keep_env: bool,
    pub notif: Option<OsString>,
    pub timeout: Option<OsString>,
    pub prog: Vec<OsString>,
}

/// Parse the arguments (without argv[0]); `fd_from_socket` selects that program's options.
/// `Err(None)` is a usage error, `Err(Some(text))` a fatal one. Pure.
pub fn parse(args: &[OsString], fd_from_socket: bool) -> Result<Request, Option<String>> {
    let (bools, vals): (&[Spec], [Spec; 2]) = if fd_from_socket {
        (
            &[
                Spec::new(b'f', "no-doublefork", OPT_SINGLEFORK),
                Spec::new(0, "doublefork", OPT_DOUBLEFORK),
            ],
            [
                Spec::new(b'3', "notification-fd", OPT_NOTIF),
                Spec::new(b't', "timeout", OPT_TIMEOUT),
            ],
        )
    } else {
        (
            &[
                Spec::new(0, "doublefork", OPT_DOUBLEFORK),
                Spec::new(b'f', "no-doublefork", OPT_SINGLEFORK),
                Spec::new(b'k', "keep-environment", OPT_KEEP),
            ],
            [
                Spec::new(b'd', "notification-fd", OPT_NOTIF),
                Spec::new(b't', "timeout", OPT_TIMEOUT),
            ],
        )
    };
    let (items, ind) = gol::parse(args, bools, &vals).map_err(|e| Some(e.to_string()))?;
    let mut r = Request::default();
    for it in items {
        match it {
            Item::Flag(OPT_SINGLEFORK) => r.singlefork = true,
            Item::Flag(OPT_DOUBLEFORK) => r.singlefork = false,
            Item::Flag(_) => r.keep_env = true,
            Item::Arg(OPT_NOTIF, v) => r.notif = Some(v.to_os_string()),
            Item::Arg(_, v) => r.timeout = Some(v.to_os_string()),
        }
    }
    r.prog = args.get(ind..).unwrap_or_default().to_vec();
    if r.prog.is_empty() {
        return Err(None);
    }
    Ok(r)
}

/// Whether a datagram announces readiness: it begins with `READY=1\n` or contains
/// `\nREADY=1\n` (up to its first NUL, as s6 reads it as a C string). Pure.
pub fn is_ready_message(d: &[u8]) -> bool {
    let d = d.split(|&b| b == 0).next().unwrap_or_default();
    d.starts_with(b"READY=1\n") || d.windows(9).any(|w| w == b"\nREADY=1\n")
}

/// The `sockaddr_un` for a NOTIFY_SOCKET value and its exact length: a path, or `@name` for
/// an abstract socket (length 1 + strlen(name), not the whole padded structure: 2.15.1
/// passes the whole structure, so it cannot reach a listener bound to `name`). Pure.
pub fn notify_address(s: &[u8]) -> Result<(libc::sockaddr_un, libc::socklen_t), Errno> {
    // SAFETY: sockaddr_un is plain old data; all zeroes is a valid value.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    if s.is_empty() || s.len() >= addr.sun_path.len() {
        return Err(Errno::ENAMETOOLONG);
    }
    for (dst, &b) in addr.sun_path.iter_mut().zip(s) {
        *dst = b as libc::c_char;
    }
    let is_abstract = s.first() == Some(&b'@');
    if is_abstract {
        if let Some(first) = addr.sun_path.first_mut() {
            *first = 0;
        }
    }
    let base = std::mem::offset_of!(libc::sockaddr_un, sun_path);
    let len = base + s.len() + usize::from(!is_abstract);
    Ok((addr, len as libc::socklen_t))
}

/// Wait until `fd` is readable or `deadline`; `Ok(false)` on timeout.
fn wait_readable(fd: RawFd, deadline: Option<Instant>) -> Result<bool, Errno> {
    let io = |e: std::io::Error| common::msg::errno_of(&e);
    let mut poll = Poll::new().map_err(io)?;
    poll.registry()
        .register(&mut SourceFd(&fd), Token(0), Interest::READABLE)
        .map_err(io)?;
    let mut events = Events::with_capacity(1);
    loop {
        let Some(timeout) = common::deadline::time_left(deadline) else {
            return Ok(false);
        };
        match poll.poll(&mut events, timeout) {
            Ok(()) if !events.is_empty() => return Ok(true),
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
}

/// What failed, for `unable to fork` / `unable to doublefork`.
fn fork_word(singlefork: bool) -> &'static [u8] {
    if singlefork {
        b"fork"
    } else {
        b"doublefork"
    }
}

/// Fork (or double fork): `Ok(true)` in the helper, `Ok(false)` in the original process.
fn fork_helper(singlefork: bool) -> Result<bool, Errno> {
    // SAFETY: our programs are single-threaded; both sides continue with ordinary code.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => {
            if !singlefork {
                let _ = waitpid(child, None);
            }
            Ok(false)
        }
        ForkResult::Child if singlefork => Ok(true),
        // SAFETY: as above.
        ForkResult::Child => match unsafe { fork() } {
            Ok(ForkResult::Child) => Ok(true),
            _ => common::rt::exit(0),
        },
    }
}

fn sendmsg(
    fd: RawFd,
    addr: &(libc::sockaddr_un, libc::socklen_t),
    data: &[u8],
    pass: Option<RawFd>,
) -> Result<(), Errno> {
    let mut iov = libc::iovec {
        iov_base: data.as_ptr() as *mut libc::c_void,
        iov_len: data.len(),
    };
    // Room for one cmsghdr carrying one int, aligned for cmsghdr.
    let mut cbuf = [0u64; 8];
    // SAFETY: msghdr is plain old data; zeroed is valid.
    let mut hdr: libc::msghdr = unsafe { std::mem::zeroed() };
    hdr.msg_name = &addr.0 as *const libc::sockaddr_un as *mut libc::c_void;
    hdr.msg_namelen = addr.1;
    hdr.msg_iov = &mut iov;
    hdr.msg_iovlen = 1;
    if let Some(p) = pass {
        // SAFETY: CMSG_SPACE/CMSG_LEN are arithmetic on a constant size.
        let space = unsafe { libc::CMSG_SPACE(std::mem::size_of::<RawFd>() as u32) } as usize;
        hdr.msg_control = cbuf.as_mut_ptr().cast();
        hdr.msg_controllen = space.min(std::mem::size_of_val(&cbuf)) as _;
        // SAFETY: hdr is a valid msghdr whose msg_control/msg_controllen describe cbuf.
        let c = unsafe { libc::CMSG_FIRSTHDR(&hdr) };
        if c.is_null() {
            return Err(Errno::EINVAL);
        }
        // SAFETY: CMSG_LEN is arithmetic on a constant size.
        let cmsg_len = unsafe { libc::CMSG_LEN(std::mem::size_of::<RawFd>() as u32) };
        // SAFETY: c is non-null and points to the start of cbuf, which is aligned for
        // cmsghdr, zeroed, at least CMSG_SPACE(int) bytes long and not otherwise borrowed.
        let cmsg = unsafe { &mut *c };
        cmsg.cmsg_level = libc::SOL_SOCKET;
        cmsg.cmsg_type = libc::SCM_RIGHTS;
        cmsg.cmsg_len = cmsg_len as _;
        // SAFETY: c is a valid cmsghdr in cbuf; CMSG_DATA is pointer arithmetic within it.
        let data = unsafe { libc::CMSG_DATA(c) };
        // SAFETY: CMSG_SPACE(int) bytes of cbuf leave room for one int at CMSG_DATA, which
        // need not be aligned for it.
        unsafe { std::ptr::write_unaligned(data.cast::<RawFd>(), p) };
    }
    loop {
        // SAFETY: hdr and everything it points to are valid for the duration of the call.
        let r = unsafe { libc::sendmsg(fd, &hdr, libc::MSG_NOSIGNAL) };
        if r >= 0 {
            return Ok(());
        }
        let e = Errno::last();
        if e != Errno::EINTR {
            return Err(e);
        }
    }
}

/// The helper of s6-notify-socket-from-fd: wait for a newline on `pipe`, then tell the
/// NOTIFY_SOCKET `path` that `mainpid` is ready, with a barrier.
fn socket_from_fd_helper(pipe: OwnedFd, timeout: u32, mainpid: i32, path: &[u8]) -> i32 {
    const P: &str = "s6-notify-socket-from-fd (child)";
    let deadline = common::deadline::from_ms(timeout);
    let mut buf = [0u8; 4096];
    loop {
        match wait_readable(pipe.as_raw_fd(), deadline) {
            Ok(true) => {}
            Ok(false) => return 99,
            Err(e) => fatal_sys_bytes(P, 111, &[b"iopause"], e),
        }
        match nix::unistd::read(&pipe, &mut buf) {
            Ok(0) => return 1,
            Ok(n) if buf.get(..n).is_some_and(|b| b.contains(&b'\n')) => break,
            Ok(_) | Err(Errno::EINTR | Errno::EAGAIN) => {}
            Err(e) => fatal_sys_bytes(P, 111, &[b"read from parent"], e),
        }
    }
    drop(pipe);
    let addr = notify_address(path)
        .unwrap_or_else(|e| fatal_sys_bytes(P, 111, &[b"send a message to ", path], e));
    // SAFETY: plain socket creation; the result is checked.
    let sock = unsafe { libc::socket(libc::AF_UNIX, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if sock < 0 {
        fatal_sys_bytes(P, 111, &[b"create socket"], Errno::last());
    }
    // SAFETY: sock is a fresh descriptor we own.
    let sock = unsafe { OwnedFd::from_raw_fd(sock) };
    let (barrier_r, barrier_w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .unwrap_or_else(|e| fatal_sys_bytes(P, 111, &[b"pipe"], e));
    let msg = format!("READY=1\nMAINPID={mainpid}\n");
    if let Err(e) = sendmsg(sock.as_raw_fd(), &addr, msg.as_bytes(), None) {
        fatal_sys_bytes(P, 111, &[b"send notification message to ", path], e);
    }
    if let Err(e) = sendmsg(
        sock.as_raw_fd(),
        &addr,
        b"BARRIER=1\n",
        Some(barrier_w.as_raw_fd()),
    ) {
        fatal_sys_bytes(P, 111, &[b"send notification barrier message to ", path], e);
    }
    drop(sock);
    drop(barrier_w);
    match wait_readable(barrier_r.as_raw_fd(), deadline) {
        Ok(true) => 0,
        Ok(false) => 99,
        Err(e) => fatal_sys_bytes(P, 111, &[b"iopause"], e),
    }
}

pub fn socket_from_fd_main(args: &[OsString]) -> ! {
    const P: &str = "s6-notify-socket-from-fd";
    let req = match parse(args, false) {
        Ok(r) => r,
        Err(None) => common::Prog::new(P).usage(SOCKET_FROM_FD_USAGE),
        Err(Some(t)) => fatal_bytes(P, 100, &[t.as_bytes()]),
    };
    let num = |v: &Option<OsString>, name: &str, default: u32| match v {
        None => default,
        Some(v) => common::cli::uint0_scan(v).unwrap_or_else(|| {
            fatal_bytes(P, 100, &[name.as_bytes(), b" must be an unsigned integer"])
        }),
    };
    let fd = num(&req.notif, "notification-fd", 1);
    let timeout = num(&req.timeout, "timeout", 0);
    let Some(path) = std::env::var_os(VAR) else {
        common::exec::exec0_or_die(P, &req.prog)
    };
    let fd =
        i32::try_from(fd).unwrap_or_else(|_| fatal_sys_bytes(P, 111, &[b"fd_move"], Errno::EBADF));
    let mainpid = std::process::id() as i32;
    let (pr, pw) = nix::unistd::pipe().unwrap_or_else(|e| fatal_sys_bytes(P, 111, &[b"pipe"], e));
    match fork_helper(req.singlefork) {
        Err(e) => fatal_sys_bytes(P, 111, &[fork_word(req.singlefork)], e),
        Ok(true) => {
            drop(pw);
            common::rt::exit(socket_from_fd_helper(pr, timeout, mainpid, path.as_bytes()))
        }
        Ok(false) => {}
    }
    drop(pr);
    if pw.as_raw_fd() != fd {
        // SAFETY: dup2 onto the chosen descriptor number; pw is closed afterwards.
        if unsafe { libc::dup2(pw.as_raw_fd(), fd) } < 0 {
            fatal_sys_bytes(P, 111, &[b"fd_move"], Errno::last());
        }
        drop(pw);
    } else {
        // The pipe already sits on the right number: keep it open across exec.
        std::mem::forget(pw);
    }
    if !req.keep_env {
        std::env::remove_var(VAR);
    }
    common::exec::exec0_or_die(P, &req.prog)
}

/// The helper of s6-notify-fd-from-socket: wait for a READY=1 datagram on `sock`, then
/// write a newline to the notification fd.
fn fd_from_socket_helper(sock: OwnedFd, fd: RawFd, timeout: u32) -> i32 {
    const P: &str = "s6-notify-fd-from-socket";
    let deadline = common::deadline::from_ms(timeout);
    let mut buf = [0u8; 8191];
    loop {
        match wait_readable(sock.as_raw_fd(), deadline) {
            Ok(true) => {}
            Ok(false) => fatal_bytes(P, 99, &[b"timed out waiting for notification"]),
            Err(e) => fatal_sys_bytes(P, 111, &[b"iopause"], e),
        }
        // SAFETY: buf is writable for its length.
        let r = unsafe { libc::recv(sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if r < 0 {
            match Errno::last() {
                Errno::EINTR | Errno::EAGAIN => continue,
                e => fatal_sys_bytes(P, 111, &[b"recv"], e),
            }
        }
        if r == 0 {
            // As s6: an empty datagram reads as end of file, and ends the helper.
            return 0;
        }
        if is_ready_message(buf.get(..r as usize).unwrap_or_default()) {
            break;
        }
    }
    // SAFETY: fd is the notification fd, checked open at start.
    let _ = unsafe { libc::write(fd, b"\n".as_ptr().cast(), 1) };
    0
}

/// A non-blocking datagram socket autobound to an abstract address; returns it and the
/// address's 5-character name.
/// A failed step of [`autobound_socket`]: what, and why.
type StepError = (&'static [u8], Errno);

fn autobound_socket() -> Result<(OwnedFd, [u8; 5]), StepError> {
    // SAFETY: plain socket creation; the result is checked.
    let s = unsafe {
        libc::socket(
            libc::AF_UNIX,
            libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if s < 0 {
        return Err((b"create socket", Errno::last()));
    }
    // SAFETY: s is a fresh descriptor we own.
    let sock = unsafe { OwnedFd::from_raw_fd(s) };
    // SAFETY: sockaddr_un is plain old data; zeroed is valid.
    let mut addr: libc::sockaddr_un = unsafe { std::mem::zeroed() };
    addr.sun_family = libc::AF_UNIX as libc::sa_family_t;
    let family_len = std::mem::size_of::<libc::sa_family_t>() as libc::socklen_t;
    // SAFETY: binding with only the family is Linux's autobind; addr is valid.
    if unsafe { libc::bind(s, (&addr as *const libc::sockaddr_un).cast(), family_len) } < 0 {
        return Err((b"bind", Errno::last()));
    }
    let mut len = std::mem::size_of::<libc::sockaddr_un>() as libc::socklen_t;
    // SAFETY: addr and len describe a writable sockaddr_un.
    if unsafe { libc::getsockname(s, (&mut addr as *mut libc::sockaddr_un).cast(), &mut len) } < 0 {
        return Err((b"getsockname", Errno::last()));
    }
    if addr.sun_path[0] != 0 {
        return Err((b"autobind to an abstract socket", Errno::EINVAL));
    }
    let mut name = [0u8; 5];
    for (d, &c) in name.iter_mut().zip(&addr.sun_path[1..6]) {
        *d = c as u8;
    }
    Ok((sock, name))
}

pub fn fd_from_socket_main(args: &[OsString]) -> ! {
    const P: &str = "s6-notify-fd-from-socket";
    let req = match parse(args, true) {
        Ok(r) => r,
        Err(None) => common::Prog::new(P).usage(FD_FROM_SOCKET_USAGE),
        Err(Some(t)) => fatal_bytes(P, 100, &[t.as_bytes()]),
    };
    let timeout = match &req.timeout {
        None => 0,
        Some(v) => common::cli::uint0_scan(v)
            .unwrap_or_else(|| fatal_bytes(P, 100, &[b"timeout must be an unsigned integer"])),
    };
    let fd = common::servicedir::resolve_notification_fd(req.notif.as_deref())
        .unwrap_or_else(|e| fatal_bytes(P, e.exit_code(), &[e.to_string().as_bytes()]));
    let (sock, name) =
        autobound_socket().unwrap_or_else(|(what, e)| fatal_sys_bytes(P, 111, &[what], e));
    match fork_helper(req.singlefork) {
        Err(e) => fatal_sys_bytes(P, 111, &[fork_word(req.singlefork)], e),
        Ok(true) => common::rt::exit(fd_from_socket_helper(sock, fd, timeout)),
        Ok(false) => {}
    }
    drop(sock);
    // SAFETY: fd is the notification fd (checked open); prog must not keep it.
    unsafe { libc::close(fd) };
    let mut value = Vec::with_capacity(6);
    value.push(b'@');
    value.extend_from_slice(&name);
    if req.prog.is_empty() {
        common::Prog::new(P).usage(FD_FROM_SOCKET_USAGE)
    }
    let set = [(
        std::ffi::OsStr::new(VAR),
        std::ffi::OsStr::from_bytes(&value),
    )];
    common::exec::exec_env_or_die(P, &req.prog, &set)
}

#[cfg(test)]
mod tests {
    use super::*;

    use common::cli::os_args as a;

    #[test]
    fn ready_messages() {
        assert!(is_ready_message(b"READY=1\n"));
        assert!(is_ready_message(b"STATUS=up\nREADY=1\n"));
        assert!(!is_ready_message(b"STATUS=up\nREADY=1"));
        assert!(!is_ready_message(b"READY=10\n"));
        assert!(!is_ready_message(b"xREADY=1\n"));
        assert!(!is_ready_message(b"a\0\nREADY=1\n"));
    }

    #[test]
    fn addresses() {
        let base = std::mem::offset_of!(libc::sockaddr_un, sun_path) as u32;
        let (a, l) = notify_address(b"@abc").unwrap();
        assert_eq!(l, base + 4);
        assert_eq!(a.sun_path[0], 0);
        assert_eq!(a.sun_path[1], b'a' as libc::c_char);
        let (_, l) = notify_address(b"/run/x").unwrap();
        assert_eq!(l, base + 7);
        assert!(notify_address(b"").is_err());
        assert!(notify_address(&[b'x'; 200]).is_err());
    }

    #[test]
    fn options() {
        let r = parse(&a(&["-d", "5", "-f", "-k", "-t100", "p"]), false).unwrap();
        assert_eq!(r.notif.as_deref(), Some(std::ffi::OsStr::new("5")));
        assert!(r.singlefork && r.keep_env);
        let r = parse(&a(&["-f", "--doublefork", "p"]), false).unwrap();
        assert!(!r.singlefork);
        assert_eq!(parse(&a(&["-d", "5"]), false), Err(None));
        let r = parse(&a(&["-3", "4", "--no-doublefork", "p"]), true).unwrap();
        assert!(r.singlefork);
        assert!(parse(&a(&["-k", "p"]), true).is_err());
        for argv in common::cli::pseudo_random_argv(500) {
            let _ = parse(&argv, true);
            let _ = parse(&argv, false);
        }
    }
}
