//! The client side of the fd-holder protocol (libs6's `s6_fdholder_*`), blocking with one
//! overall deadline, and what the client programs share (connect message, exec).

use crate::proto;
use common::tai::Tai64n;
use common::unixmsg::{self, Message, Receiver};
use nix::errno::Errno;
use std::ffi::OsString;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

/// A connection to a fd-holder daemon.
pub struct Conn {
    sock: UnixStream,
    rx: Receiver,
    deadline: Option<Instant>,
}

/// An fd from a dump.
#[derive(Debug)]
pub struct DumpEntry {
    pub fd: OwnedFd,
    pub id: Vec<u8>,
    pub limit: Tai64n,
}

/// The deadline `ms` from now (0: none).
pub fn deadline_in(ms: u32) -> Option<Instant> {
    (ms > 0).then(|| Instant::now() + Duration::from_millis(ms as u64))
}

/// "No expiry", as the clients send it: now + 2^61 s.
pub fn no_expiry() -> Tai64n {
    Tai64n::now().add(Duration::from_secs(proto::INFINITE_SECS))
}

impl Conn {
    pub fn connect(path: &Path, deadline: Option<Instant>) -> Result<Conn, Errno> {
        // std refuses these itself, without an errno: say what skalibs says.
        let bytes = path.as_os_str().as_bytes();
        if bytes.len() > unixmsg::IPCPATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if bytes.contains(&0) {
            return Err(Errno::EINVAL);
        }
        let sock = UnixStream::connect(path).map_err(|e| common::msg::errno_of(&e))?;
        Ok(Conn {
            sock,
            rx: Receiver::new(unixmsg::MAX_SIZE),
            deadline,
        })
    }

    pub fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    fn send(&mut self, data: &[u8], fds: &[RawFd]) -> Result<(), Errno> {
        unixmsg::send_all(self.sock.as_fd(), data, fds, self.deadline)
    }

    fn recv(&mut self) -> Result<Message, Errno> {
        unixmsg::recv_message(self.sock.as_fd(), &mut self.rx, self.deadline)
    }

    fn call(&mut self, data: &[u8], fds: &[RawFd]) -> Result<Message, Errno> {
        self.send(data, fds)?;
        self.recv()
    }

    pub fn store(&mut self, fd: RawFd, id: &[u8], limit: &Tai64n) -> Result<(), Errno> {
        proto::check_id(id)?;
        let m = self.call(&proto::encode_store(limit, id), &[fd])?;
        if !m.fds.is_empty() {
            return Err(Errno::EPROTO);
        }
        proto::decode_status(&m.data)
    }

    pub fn delete(&mut self, id: &[u8]) -> Result<(), Errno> {
        proto::check_id(id)?;
        let m = self.call(&proto::encode_delete(id), &[])?;
        if !m.fds.is_empty() {
            return Err(Errno::EPROTO);
        }
        proto::decode_status(&m.data)
    }

    pub fn retrieve(&mut self, id: &[u8], delete: bool) -> Result<OwnedFd, Errno> {
        proto::check_id(id)?;
        let m = self.call(&proto::encode_retrieve(id, delete), &[])?;
        match (m.data.as_slice(), m.fds.len()) {
            ([0], 1) => m.fds.into_iter().next().ok_or(Errno::EPROTO),
            ([e], 0) if *e != 0 => Err(Errno::from_raw(*e as i32)),
            _ => Err(Errno::EPROTO),
        }
    }

    pub fn list(&mut self) -> Result<Vec<Vec<u8>>, Errno> {
        let m = self.call(b"L", &[])?;
        if !m.fds.is_empty() {
            return Err(Errno::EPROTO);
        }
        proto::decode_list(&m.data)
    }

    pub fn getdump(&mut self) -> Result<Vec<DumpEntry>, Errno> {
        let m = self.call(b"?", &[])?;
        if !m.fds.is_empty() {
            return Err(Errno::EPROTO);
        }
        let (n, total) = proto::decode_counts(&m.data, 9)?;
        if n != proto::dump_messages(total as usize) {
            return Err(Errno::EPROTO);
        }
        let mut out = Vec::with_capacity((total as usize).min(1 << 16));
        for _ in 0..n {
            let m = self.recv()?;
            if out.len() + m.fds.len() > total as usize {
                return Err(Errno::EPROTO);
            }
            let descs = proto::decode_descriptions(&m.data, m.fds.len()).ok_or(Errno::EPROTO)?;
            for ((limit, id), fd) in descs.into_iter().zip(m.fds) {
                out.push(DumpEntry { fd, id, limit });
            }
        }
        Ok(out)
    }

    /// Store every (fd, id, limit) with one setdump.
    pub fn setdump(&mut self, entries: &[(RawFd, Vec<u8>, Tai64n)]) -> Result<(), Errno> {
        if entries.is_empty() {
            return Ok(());
        }
        if entries
            .iter()
            .any(|(_, id, _)| id.is_empty() || id.len() > proto::ID_MAX || id.contains(&0))
        {
            return Err(Errno::EINVAL);
        }
        let m = self.call(&proto::encode_setdump(entries.len() as u32), &[])?;
        if !m.fds.is_empty() {
            return Err(Errno::EPROTO);
        }
        let (trips, _) = proto::decode_counts(&m.data, 5)?;
        if trips != proto::dump_messages(entries.len()) {
            return Err(Errno::EPROTO);
        }
        let chunks: Vec<_> = entries.chunks(proto::MAX_FDS).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let mut data = vec![b'.'];
            for (_, id, limit) in chunk.iter() {
                proto::push_description(&mut data, limit, id);
            }
            let fds: Vec<RawFd> = chunk.iter().map(|(fd, _, _)| *fd).collect();
            let m = self.call(&data, &fds)?;
            let (&[status], true) = (m.data.as_slice(), m.fds.is_empty()) else {
                return Err(Errno::EPROTO);
            };
            let e = status as i32;
            let last = i + 1 == chunks.len();
            match (last, e) {
                (false, libc::EAGAIN) | (true, 0) => {}
                (false, 0) | (true, libc::EAGAIN) => return Err(Errno::EPROTO),
                (_, e) => return Err(Errno::from_raw(e)),
            }
        }
        Ok(())
    }

    pub fn raw_fd(&self) -> RawFd {
        self.sock.as_raw_fd()
    }
}

/// Exec `argv` through PATH with the environment edits `env` (`None` removes the
/// variable), or die: `unable to exec ARG: REASON`, 127 / 126 (`common::exec`).
pub fn exec_or_die(prog: &str, argv: &[OsString], env: &[(OsString, Option<OsString>)]) -> ! {
    if argv.is_empty() {
        common::rt::exit(common::msg::exit::USAGE)
    }
    // The search path is the one we were started with, whatever the edits.
    let path = common::exec::search_path();
    for (k, v) in env {
        let r = match v {
            Some(v) => common::exec::setenv(k.as_bytes(), v.as_bytes()),
            None => common::exec::unsetenv(k.as_bytes()),
        };
        if let Err(e) = r {
            let name = argv.first().map(OsString::as_os_str).unwrap_or_default();
            common::exec::die_exec(prog, name, e)
        }
    }
    common::exec::exec_path_or_die(prog, argv, &path)
}

/// Clear close-on-exec on an fd we keep for the program we exec.
pub fn make_inheritable(fd: RawFd) -> Result<(), Errno> {
    // SAFETY: fcntl on an fd we own.
    if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } < 0 {
        return Err(Errno::last());
    }
    Ok(())
}
