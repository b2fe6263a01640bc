//! skalibs' `unixmessage` framing over a Unix stream socket, as s6-sudo and the fd holder
//! speak it: each message is a 6-byte header (u32 BE data length, u16 BE number of fds)
//! followed by the data; the fds travel as one `SCM_RIGHTS` control message attached to
//! the first byte of the header. At most [`MAX_FDS`] fds per message.
//!
//! The framing itself ([`Receiver::next_message`] over bytes and fds already received,
//! [`encode`]) is pure; [`Receiver::fill`] and [`send_some`] are the two system calls, and
//! [`send_all`] / [`recv_message`] the blocking forms with a deadline the clients use.

use nix::errno::Errno;
use std::collections::VecDeque;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::time::Instant;

/// skalibs' `IPCPATH_MAX`: the longest Unix socket path (`sun_path` less its NUL).
pub const IPCPATH_MAX: usize = 107;

/// Length of the header.
pub const HEADER_LEN: usize = 6;
/// skalibs' `UNIXMESSAGE_MAXFDS`.
pub const MAX_FDS: usize = 253;
/// skalibs' `UNIXMESSAGE_MAXSIZE`: the largest data length a receiver accepts.
pub const MAX_SIZE: u32 = 1 << 28;

/// One received message: its data and the fds that came with it (close-on-exec).
#[derive(Debug, Default)]
pub struct Message {
    pub data: Vec<u8>,
    pub fds: Vec<OwnedFd>,
}

/// The header for `len` bytes of data and `nfds` fds.
pub fn pack_header(len: u32, nfds: u16) -> [u8; HEADER_LEN] {
    let mut h = [0u8; HEADER_LEN];
    h[..4].copy_from_slice(&len.to_be_bytes());
    h[4..].copy_from_slice(&nfds.to_be_bytes());
    h
}

/// (data length, number of fds) of a header.
pub fn unpack_header(h: &[u8; HEADER_LEN]) -> (u32, u16) {
    (
        u32::from_be_bytes([h[0], h[1], h[2], h[3]]),
        u16::from_be_bytes([h[4], h[5]]),
    )
}

/// Header and data of one message as the bytes to write (the fds go alongside).
/// Fails with EMSGSIZE if the data is too long or there are too many fds.
pub fn encode(data: &[u8], nfds: usize) -> Result<Vec<u8>, Errno> {
    if data.len() > MAX_SIZE as usize || nfds > MAX_FDS {
        return Err(Errno::EMSGSIZE);
    }
    let mut v = Vec::with_capacity(HEADER_LEN + data.len());
    v.extend_from_slice(&pack_header(data.len() as u32, nfds as u16));
    v.extend_from_slice(data);
    Ok(v)
}

/// The receiving side of a connection: bytes and fds received but not yet consumed.
#[derive(Debug)]
pub struct Receiver {
    buf: Vec<u8>,
    start: usize,
    fds: VecDeque<OwnedFd>,
    max_len: u32,
}

impl Receiver {
    /// A receiver accepting messages of at most `max_len` data bytes (capped at [`MAX_SIZE`]).
    pub fn new(max_len: u32) -> Receiver {
        Receiver {
            buf: Vec::new(),
            start: 0,
            fds: VecDeque::new(),
            max_len: max_len.min(MAX_SIZE),
        }
    }

    /// Bytes received and not yet consumed.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.start
    }

    /// Whether nothing is pending (no partial message, no stray fd).
    pub fn is_empty(&self) -> bool {
        self.buffered() == 0 && self.fds.is_empty()
    }

    /// Add received bytes and fds (what [`Receiver::fill`] does after `recvmsg`; also the
    /// entry point of the fuzz target).
    pub fn push(&mut self, bytes: &[u8], fds: impl IntoIterator<Item = OwnedFd>) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
        self.fds.extend(fds);
    }

    /// The next complete message, `Ok(None)` if more bytes are needed. Errors (the
    /// connection is then unusable): EMSGSIZE for a length over the limit or too many fds
    /// announced, EPROTO when the announced fds did not come with the header.
    pub fn next_message(&mut self) -> Result<Option<Message>, Errno> {
        let avail = self.buf.get(self.start..).unwrap_or(&[]);
        let Some((h, body)) = avail.split_first_chunk::<HEADER_LEN>() else {
            return Ok(None);
        };
        let (len, nfds) = unpack_header(h);
        if len > self.max_len || nfds as usize > MAX_FDS {
            return Err(Errno::EMSGSIZE);
        }
        // The fds arrive with the header's first byte: once the header is here, so are they.
        if self.fds.len() < nfds as usize {
            return Err(Errno::EPROTO);
        }
        let Some(data) = body.get(..len as usize) else {
            return Ok(None);
        };
        let data = data.to_vec();
        self.start += HEADER_LEN + data.len();
        if self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        }
        let fds = self.fds.drain(..nfds as usize).collect();
        Ok(Some(Message { data, fds }))
    }

    /// One `recvmsg` on `sock` (fds received close-on-exec): the number of bytes read,
    /// 0 at end of file. A non-blocking socket with nothing to read gives EAGAIN.
    pub fn fill(&mut self, sock: BorrowedFd<'_>) -> Result<usize, Errno> {
        let mut tmp = [0u8; 8192];
        // Room for MAX_FDS ints in one SCM_RIGHTS message.
        let mut cmsg = [0u64; (MAX_FDS * 4 + 64) / 8];
        loop {
            let mut iov = libc::iovec {
                iov_base: tmp.as_mut_ptr().cast(),
                iov_len: tmp.len(),
            };
            // SAFETY: msghdr is plain data; every pointer in it refers to local buffers that
            // outlive the call.
            let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
            mh.msg_iov = &mut iov;
            mh.msg_iovlen = 1;
            mh.msg_control = cmsg.as_mut_ptr().cast();
            mh.msg_controllen = std::mem::size_of_val(&cmsg) as _;
            // SAFETY: recvmsg into the buffers described above.
            let r = unsafe { libc::recvmsg(sock.as_raw_fd(), &mut mh, libc::MSG_CMSG_CLOEXEC) };
            if r < 0 {
                let e = Errno::last();
                if e == Errno::EINTR {
                    continue;
                }
                return Err(e);
            }
            let mut fds = Vec::new();
            let mut bad = false;
            // Walk the control messages the kernel wrote into `cmsg`.
            // SAFETY: mh describes the control buffer recvmsg just filled (the kernel set
            // msg_controllen to what it wrote).
            let mut c = unsafe { libc::CMSG_FIRSTHDR(&mh) };
            // SAFETY: a non-null header from CMSG_FIRSTHDR/CMSG_NXTHDR lies whole inside the
            // control buffer, which is 8-aligned as cmsghdr needs.
            while let Some(hdr) = unsafe { c.as_ref() } {
                // SAFETY: c is a header of mh's control buffer (see above).
                let data = unsafe { libc::CMSG_DATA(c) };
                #[allow(clippy::unnecessary_cast)] // size_t on glibc, socklen_t (u32) on musl
                let cmsg_len = hdr.cmsg_len as usize;
                let dlen = cmsg_len.saturating_sub(data as usize - c as usize);
                if hdr.cmsg_level == libc::SOL_SOCKET && hdr.cmsg_type == libc::SCM_RIGHTS {
                    let ints = data.cast::<RawFd>();
                    for i in 0..dlen / std::mem::size_of::<RawFd>() {
                        // SAFETY: the i-th int of the payload, inside the cmsg_len bytes the
                        // kernel wrote.
                        let fd = unsafe { ints.wrapping_add(i).read_unaligned() };
                        // SAFETY: the kernel just installed this fd for us: we own it.
                        fds.push(unsafe { OwnedFd::from_raw_fd(fd) });
                    }
                } else {
                    bad = true;
                }
                // SAFETY: c is a header of mh's control buffer (see above).
                c = unsafe { libc::CMSG_NXTHDR(&mh, c) };
            }
            if bad || mh.msg_flags & libc::MSG_CTRUNC != 0 {
                // The fds are closed as `fds` drops.
                return Err(Errno::EPROTO);
            }
            let n = r as usize;
            self.push(tmp.get(..n).unwrap_or(&[]), fds);
            return Ok(n);
        }
    }
}

/// One `sendmsg` of `bytes` on `sock` with `fds` attached (none if empty), without SIGPIPE:
/// the number of bytes sent. Callers attach the fds only to the first chunk of a message.
pub fn send_some(sock: BorrowedFd<'_>, bytes: &[u8], fds: &[RawFd]) -> Result<usize, Errno> {
    if fds.len() > MAX_FDS {
        return Err(Errno::EMSGSIZE);
    }
    let mut cmsg = [0u64; (MAX_FDS * 4 + 64) / 8];
    loop {
        let mut iov = libc::iovec {
            iov_base: bytes.as_ptr() as *mut libc::c_void,
            iov_len: bytes.len(),
        };
        // SAFETY: msghdr is plain data (integers and pointers), for which all zeroes is valid.
        let mut mh: libc::msghdr = unsafe { std::mem::zeroed() };
        mh.msg_iov = &mut iov;
        mh.msg_iovlen = 1;
        if !fds.is_empty() {
            // At most MAX_FDS ints (checked above): the sizes fit, and so does the message
            // in `cmsg`.
            let payload = std::mem::size_of_val(fds) as u32;
            // SAFETY: CMSG_SPACE only computes a size.
            let space = unsafe { libc::CMSG_SPACE(payload) } as usize;
            mh.msg_control = cmsg.as_mut_ptr().cast();
            mh.msg_controllen = space as _;
            // SAFETY: mh's control buffer is `cmsg`, of at least `space` bytes.
            let c = unsafe { libc::CMSG_FIRSTHDR(&mh) };
            // SAFETY: msg_controllen holds a whole header, so CMSG_FIRSTHDR gave a pointer to
            // the start of `cmsg` (8-aligned), or null.
            let Some(hdr) = (unsafe { c.as_mut() }) else {
                return Err(Errno::EMSGSIZE);
            };
            hdr.cmsg_level = libc::SOL_SOCKET;
            hdr.cmsg_type = libc::SCM_RIGHTS;
            // SAFETY: CMSG_LEN only computes a size.
            hdr.cmsg_len = unsafe { libc::CMSG_LEN(payload) } as _;
            // SAFETY: c is the header at the start of `cmsg`.
            let data = unsafe { libc::CMSG_DATA(c) }.cast::<RawFd>();
            for (i, fd) in fds.iter().enumerate() {
                // SAFETY: the i-th int of the payload, inside the `space` bytes of `cmsg`.
                unsafe { data.wrapping_add(i).write_unaligned(*fd) };
            }
        }
        // SAFETY: mh's pointers refer to `bytes` and `cmsg`, alive for the call.
        let r = unsafe { libc::sendmsg(sock.as_raw_fd(), &mh, libc::MSG_NOSIGNAL) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return Err(e);
        }
        return Ok(r as usize);
    }
}

/// Milliseconds left before `deadline` (`None`: no deadline), for a socket timeout;
/// ETIMEDOUT once it has passed.
fn remaining(deadline: Option<Instant>) -> Result<Option<std::time::Duration>, Errno> {
    match deadline {
        None => Ok(None),
        Some(d) => {
            let now = Instant::now();
            if now >= d {
                return Err(Errno::ETIMEDOUT);
            }
            Ok(Some(d - now))
        }
    }
}

/// Set SO_RCVTIMEO or SO_SNDTIMEO of a blocking socket to the time left before `deadline`.
pub fn set_socket_timeout(
    sock: BorrowedFd<'_>,
    send: bool,
    deadline: Option<Instant>,
) -> Result<(), Errno> {
    let left = remaining(deadline)?;
    let tv = match left {
        None => libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        },
        Some(d) => {
            // A zero timeval means "forever": round up to at least 1 µs.
            let us = d.subsec_micros().max(if d.as_secs() == 0 { 1 } else { 0 });
            libc::timeval {
                // `as _`: time_t and suseconds_t, whose names musl's libc deprecates.
                tv_sec: d.as_secs() as _,
                tv_usec: us as _,
            }
        }
    };
    let opt = if send {
        libc::SO_SNDTIMEO
    } else {
        libc::SO_RCVTIMEO
    };
    // SAFETY: setsockopt with a timeval we own.
    let r = unsafe {
        libc::setsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            opt,
            (&tv as *const libc::timeval).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if r < 0 {
        return Err(Errno::last());
    }
    Ok(())
}

/// Map the EAGAIN a socket timeout produces to ETIMEDOUT.
fn timed(e: Errno) -> Errno {
    if e == Errno::EAGAIN {
        Errno::ETIMEDOUT
    } else {
        e
    }
}

/// Send one whole message on a blocking socket, within `deadline`.
pub fn send_all(
    sock: BorrowedFd<'_>,
    data: &[u8],
    fds: &[RawFd],
    deadline: Option<Instant>,
) -> Result<(), Errno> {
    let bytes = encode(data, fds.len())?;
    send_raw(sock, &bytes, fds, deadline)
}

/// Send raw bytes (the first chunk carrying `fds`) on a blocking socket, within `deadline`.
pub fn send_raw(
    sock: BorrowedFd<'_>,
    bytes: &[u8],
    fds: &[RawFd],
    deadline: Option<Instant>,
) -> Result<(), Errno> {
    let mut sent = 0;
    while let Some(rest) = bytes.get(sent..).filter(|r| !r.is_empty()) {
        set_socket_timeout(sock, true, deadline)?;
        let f = if sent == 0 { fds } else { &[] };
        sent += send_some(sock, rest, f).map_err(timed)?;
    }
    Ok(())
}

/// Receive one whole message from a blocking socket, within `deadline`; EPIPE at end of file
/// (what skalibs reports for a connection closed before a message).
pub fn recv_message(
    sock: BorrowedFd<'_>,
    rx: &mut Receiver,
    deadline: Option<Instant>,
) -> Result<Message, Errno> {
    loop {
        if let Some(m) = rx.next_message()? {
            return Ok(m);
        }
        set_socket_timeout(sock, false, deadline)?;
        if rx.fill(sock).map_err(timed)? == 0 {
            return Err(Errno::EPIPE);
        }
    }
}

/// Read exactly `buf.len()` raw bytes from a blocking socket within `deadline`: the number
/// read before end of file or an error (with the error, if any).
pub fn read_exact_raw(
    sock: BorrowedFd<'_>,
    buf: &mut [u8],
    deadline: Option<Instant>,
) -> (usize, Option<Errno>) {
    let mut got = 0;
    while let Some(rest) = buf.get_mut(got..).filter(|r| !r.is_empty()) {
        if let Err(e) = set_socket_timeout(sock, false, deadline) {
            return (got, Some(e));
        }
        // SAFETY: reading into the rest of a caller's buffer, of rest.len() bytes.
        let r = unsafe { libc::read(sock.as_raw_fd(), rest.as_mut_ptr().cast(), rest.len()) };
        if r < 0 {
            let e = Errno::last();
            if e == Errno::EINTR {
                continue;
            }
            return (got, Some(timed(e)));
        }
        if r == 0 {
            return (got, None);
        }
        got += r as usize;
    }
    (got, None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn header_round_trip() {
        assert_eq!(pack_header(0x01020304, 3), [1, 2, 3, 4, 0, 3]);
        assert_eq!(unpack_header(&[0, 0, 1, 0, 0, 253]), (256, 253));
        assert_eq!(
            encode(b"ab", 1).unwrap(),
            vec![0, 0, 0, 2, 0, 1, b'a', b'b']
        );
        assert_eq!(encode(b"", MAX_FDS + 1), Err(Errno::EMSGSIZE));
    }

    #[test]
    fn receiver_splits_messages_and_waits_for_more() {
        let mut rx = Receiver::new(100);
        let mut bytes = encode(b"hello", 0).unwrap();
        bytes.extend(encode(b"", 0).unwrap());
        bytes.extend(&encode(b"xyz", 0).unwrap()[..4]);
        rx.push(&bytes, []);
        assert_eq!(rx.next_message().unwrap().unwrap().data, b"hello");
        assert_eq!(rx.next_message().unwrap().unwrap().data, b"");
        assert!(rx.next_message().unwrap().is_none());
        rx.push(&[0, 0, b'x', b'y', b'z'], []);
        assert_eq!(rx.next_message().unwrap().unwrap().data, b"xyz");
        assert!(rx.is_empty());
    }

    #[test]
    fn receiver_refusals() {
        let mut rx = Receiver::new(10);
        rx.push(&pack_header(11, 0), []);
        assert_eq!(rx.next_message().unwrap_err(), Errno::EMSGSIZE);
        let mut rx = Receiver::new(10);
        rx.push(&pack_header(1, 254), []);
        assert_eq!(rx.next_message().unwrap_err(), Errno::EMSGSIZE);
        let mut rx = Receiver::new(10);
        rx.push(&pack_header(1, 1), []);
        assert_eq!(rx.next_message().unwrap_err(), Errno::EPROTO);
    }

    #[test]
    fn fds_travel_over_a_socketpair() {
        let (a, b) = UnixStream::pair().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        send_all(a.as_fd(), b"data", &[r.as_raw_fd(), w.as_raw_fd()], None).unwrap();
        let mut rx = Receiver::new(1000);
        let m = recv_message(b.as_fd(), &mut rx, None).unwrap();
        assert_eq!(m.data, b"data");
        assert_eq!(m.fds.len(), 2);
        nix::unistd::write(&m.fds[1], b"x").unwrap();
        let mut buf = [0u8; 1];
        assert_eq!(nix::unistd::read(&r, &mut buf).unwrap(), 1);
        drop(a);
        assert_eq!(
            recv_message(b.as_fd(), &mut rx, None).unwrap_err(),
            Errno::EPIPE
        );
    }

    #[test]
    fn receive_times_out() {
        let (_a, b) = UnixStream::pair().unwrap();
        let mut rx = Receiver::new(1000);
        let d = Instant::now() + std::time::Duration::from_millis(20);
        assert_eq!(
            recv_message(b.as_fd(), &mut rx, Some(d)).unwrap_err(),
            Errno::ETIMEDOUT
        );
    }
}
