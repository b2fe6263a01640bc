//! The daemon's state, without I/O: the held fds (id, fd, expiry) and the rights a client's
//! rule gives it, and what each request does to them ([`serve`]).

use crate::proto::{self, Request, MAX_FDS};
use common::tai::Tai64n;
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::OwnedFd;

/// One held fd.
#[derive(Debug)]
pub struct Held {
    pub id: Vec<u8>,
    pub fd: OwnedFd,
    pub limit: Tai64n,
}

/// The held fds, in storage order (what `list` and `getdump` show).
#[derive(Debug)]
pub struct Store {
    entries: Vec<Held>,
    max: usize,
}

impl Store {
    pub fn new(max: usize) -> Store {
        Store {
            entries: Vec::new(),
            max,
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn max(&self) -> usize {
        self.max
    }

    pub fn iter(&self) -> impl Iterator<Item = &Held> {
        self.entries.iter()
    }

    fn position(&self, id: &[u8]) -> Option<usize> {
        self.entries.iter().position(|h| h.id == id)
    }

    pub fn contains(&self, id: &[u8]) -> bool {
        self.position(id).is_some()
    }

    pub fn get(&self, id: &[u8]) -> Option<&Held> {
        self.entries.iter().find(|h| h.id == id)
    }

    /// Take an fd out (the caller closes or hands it on).
    pub fn remove(&mut self, id: &[u8]) -> Option<Held> {
        self.position(id).map(|i| self.entries.remove(i))
    }

    /// Store as `S` does: the expiry is nudged by 1 ns until no other fd has it.
    pub fn insert_unique(&mut self, id: Vec<u8>, fd: OwnedFd, mut limit: Tai64n) {
        while self.entries.iter().any(|h| h.limit == limit) {
            limit = nudge(limit);
        }
        self.entries.push(Held { id, fd, limit });
    }

    /// Store as setdump does: an fd already held under the same id is closed and replaced.
    pub fn insert_replace(&mut self, id: Vec<u8>, fd: OwnedFd, limit: Tai64n) {
        drop(self.remove(&id));
        self.entries.push(Held { id, fd, limit });
    }

    /// The earliest expiry.
    pub fn next_expiry(&self) -> Option<Tai64n> {
        self.entries.iter().map(|h| h.limit).min()
    }

    /// Close and forget every fd whose expiry is not after `now`; how many went.
    pub fn expire(&mut self, now: Tai64n) -> usize {
        let before = self.entries.len();
        self.entries.retain(|h| h.limit > now);
        before - self.entries.len()
    }
}

/// One nanosecond later (wrapping, as skalibs' arithmetic does, whatever a client sent).
fn nudge(t: Tai64n) -> Tai64n {
    if t.nanos >= 999_999_999 {
        Tai64n {
            secs: t.secs.wrapping_add(1),
            nanos: 0,
        }
    } else {
        Tai64n {
            secs: t.secs,
            nanos: t.nanos + 1,
        }
    }
}

/// A compiled POSIX extended regex (unanchored, as regexec matches anywhere).
pub struct Regex(Box<libc::regex_t>);

impl Regex {
    /// Compile; the error is regerror's text.
    pub fn new(pattern: &[u8]) -> Result<Regex, String> {
        let pat = CString::new(pattern).map_err(|_| "embedded NUL".to_string())?;
        // SAFETY: regex_t is plain data that regcomp fills in.
        let mut re: Box<libc::regex_t> = Box::new(unsafe { std::mem::zeroed() });
        // SAFETY: regcomp on a valid C string into our regex_t.
        let r =
            unsafe { libc::regcomp(&mut *re, pat.as_ptr(), libc::REG_EXTENDED | libc::REG_NOSUB) };
        if r != 0 {
            let mut buf = [0u8; 256];
            // SAFETY: regerror writes at most buf.len() bytes, NUL-terminated.
            unsafe { libc::regerror(r, &*re, buf.as_mut_ptr().cast(), buf.len()) };
            let text = buf.split(|&b| b == 0).next().unwrap_or_default();
            let text = String::from_utf8_lossy(text).into_owned();
            // A failed regcomp leaves nothing to free.
            std::mem::forget(re);
            return Err(text);
        }
        Ok(Regex(re))
    }

    pub fn matches(&self, s: &[u8]) -> bool {
        let Ok(s) = CString::new(s) else {
            return false;
        };
        // SAFETY: regexec on our compiled regex and a valid C string, no match array.
        unsafe { libc::regexec(&*self.0, s.as_ptr(), 0, std::ptr::null_mut(), 0) == 0 }
    }
}

impl Drop for Regex {
    fn drop(&mut self) {
        // SAFETY: self.0 was filled by a successful regcomp and is freed once.
        unsafe { libc::regfree(&mut *self.0) }
    }
}

/// What a client may do, from its allowing rule's environment.
#[derive(Default)]
pub struct Rights {
    pub retrieve: Option<Regex>,
    pub store: Option<Regex>,
    pub list: bool,
    pub getdump: bool,
    pub setdump: bool,
}

/// An invalid regex in the rule: variable, value, regerror text.
#[derive(Debug, PartialEq, Eq)]
pub struct BadRegex {
    pub var: &'static str,
    pub value: Vec<u8>,
    pub error: String,
}

impl Rights {
    /// s6-fdholderd's `parse_env`: the first setting of each regex variable counts; the
    /// flags are granted by any setting (even empty); unsetting entries grant nothing.
    pub fn from_env(env: &[u8]) -> Result<Rights, BadRegex> {
        use common::accessrules::EnvModif;
        let mut r = Rights::default();
        for e in common::accessrules::env_entries(env) {
            let EnvModif::Set(name, value) = e else {
                continue;
            };
            match name {
                b"S6_FDHOLDER_GETDUMP" => r.getdump = true,
                b"S6_FDHOLDER_SETDUMP" => r.setdump = true,
                b"S6_FDHOLDER_LIST" => r.list = true,
                b"S6_FDHOLDER_RETRIEVE_REGEX" | b"S6_FDHOLDER_STORE_REGEX" => {
                    let (slot, var) = if name == b"S6_FDHOLDER_RETRIEVE_REGEX" {
                        (&mut r.retrieve, "S6_FDHOLDER_RETRIEVE_REGEX")
                    } else {
                        (&mut r.store, "S6_FDHOLDER_STORE_REGEX")
                    };
                    if slot.is_none() {
                        *slot = Some(Regex::new(value).map_err(|error| BadRegex {
                            var,
                            value: value.to_vec(),
                            error,
                        })?);
                    }
                }
                _ => {}
            }
        }
        Ok(r)
    }

    fn may_store(&self, id: &[u8]) -> bool {
        self.store.as_ref().is_some_and(|re| re.matches(id))
    }

    fn may_retrieve(&self, id: &[u8]) -> bool {
        self.retrieve.as_ref().is_some_and(|re| re.matches(id))
    }
}

/// One message to send: data and the fds that go with it (closed once sent).
#[derive(Debug)]
pub struct Outgoing {
    pub data: Vec<u8>,
    pub fds: Vec<OwnedFd>,
}

impl Outgoing {
    fn status(e: u8) -> Outgoing {
        Outgoing {
            data: vec![e],
            fds: Vec::new(),
        }
    }
}

fn errno_byte(e: Errno) -> u8 {
    e as i32 as u8
}

/// Carry out one request for a client with `rights` and `dumping` descriptions still
/// expected from its setdump: the answers to send.
pub fn serve(
    store: &mut Store,
    rights: &Rights,
    dumping: &mut u32,
    req: Request,
    fds: Vec<OwnedFd>,
) -> Vec<Outgoing> {
    let st = |e: Errno| vec![Outgoing::status(errno_byte(e))];
    match req {
        Request::Store { limit, id } => {
            if !rights.may_store(&id) {
                return st(Errno::EPERM);
            }
            if store.len() >= store.max() {
                return st(Errno::ENFILE);
            }
            if store.contains(&id) {
                return st(Errno::EBUSY);
            }
            let Some(fd) = fds.into_iter().next() else {
                return st(Errno::EPROTO);
            };
            store.insert_unique(id, fd, limit);
            vec![Outgoing::status(0)]
        }
        Request::Delete { id } => {
            if !rights.may_store(&id) {
                return st(Errno::EPERM);
            }
            match store.remove(&id) {
                None => st(Errno::ENOENT),
                Some(_) => vec![Outgoing::status(0)],
            }
        }
        Request::Retrieve { delete, id } => {
            if !rights.may_retrieve(&id) || (delete && !rights.may_store(&id)) {
                return st(Errno::EPERM);
            }
            let fd = if delete {
                store.remove(&id).map(|h| Ok(h.fd))
            } else {
                store.get(&id).map(|h| h.fd.try_clone())
            };
            match fd {
                None => st(Errno::ENOENT),
                Some(Err(e)) => st(common::msg::errno_of(&e)),
                Some(Ok(fd)) => vec![Outgoing {
                    data: vec![0],
                    fds: vec![fd],
                }],
            }
        }
        Request::List => {
            if !rights.list {
                return st(Errno::EPERM);
            }
            vec![Outgoing {
                data: proto::encode_list(store.iter().map(|h| h.id.as_slice())),
                fds: Vec::new(),
            }]
        }
        Request::GetDump => {
            if !rights.getdump {
                return st(Errno::EPERM);
            }
            let mut head = vec![0u8];
            head.extend_from_slice(&proto::dump_messages(store.len()).to_be_bytes());
            head.extend_from_slice(&(store.len() as u32).to_be_bytes());
            let mut out = vec![Outgoing {
                data: head,
                fds: Vec::new(),
            }];
            let all: Vec<&Held> = store.iter().collect();
            for chunk in all.chunks(MAX_FDS) {
                let mut data = Vec::new();
                let mut cfds = Vec::with_capacity(chunk.len());
                for h in chunk {
                    match h.fd.try_clone() {
                        Ok(fd) => cfds.push(fd),
                        Err(e) => return st(common::msg::errno_of(&e)),
                    }
                    proto::push_description(&mut data, &h.limit, &h.id);
                }
                out.push(Outgoing { data, fds: cfds });
            }
            out
        }
        Request::SetDump { count } => {
            if !rights.setdump {
                return st(Errno::EPERM);
            }
            if count as u64 + store.len() as u64 > store.max() as u64 {
                return st(Errno::ENFILE);
            }
            *dumping = count;
            let mut data = vec![0u8];
            data.extend_from_slice(&proto::dump_messages(count as usize).to_be_bytes());
            vec![Outgoing {
                data,
                fds: Vec::new(),
            }]
        }
        Request::SetDumpData { entries } => {
            if !rights.setdump {
                return st(Errno::EPERM);
            }
            if store.len() + entries.len() > store.max() {
                return st(Errno::ENFILE);
            }
            let n = entries.len() as u32;
            for ((limit, id), fd) in entries.into_iter().zip(fds) {
                store.insert_replace(id, fd, limit);
            }
            *dumping = dumping.saturating_sub(n);
            st(if *dumping > 0 {
                Errno::EAGAIN
            } else {
                Errno::from_raw(0)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pipe_fd() -> OwnedFd {
        nix::unistd::pipe().unwrap().0
    }

    fn full_rights() -> Rights {
        Rights::from_env(
            b"S6_FDHOLDER_STORE_REGEX=^pipe:\0S6_FDHOLDER_RETRIEVE_REGEX=^pipe:r\0S6_FDHOLDER_LIST=\0S6_FDHOLDER_GETDUMP=\0S6_FDHOLDER_SETDUMP=\0",
        )
        .unwrap()
    }

    fn status(o: &[Outgoing]) -> u8 {
        assert_eq!(o.len(), 1);
        o[0].data[0]
    }

    #[test]
    fn rights_from_env() {
        let r = Rights::from_env(b"S6_FDHOLDER_LIST\0S6_FDHOLDER_GETDUMP=\0").unwrap();
        assert!(!r.list && r.getdump && !r.setdump);
        assert!(r.store.is_none() && r.retrieve.is_none());
        let r =
            Rights::from_env(b"S6_FDHOLDER_STORE_REGEX=x\0S6_FDHOLDER_STORE_REGEX=(\0").unwrap();
        assert!(r.may_store(b"axb") && !r.may_store(b"y"));
        let e = Rights::from_env(b"S6_FDHOLDER_RETRIEVE_REGEX=(\0")
            .err()
            .unwrap();
        assert_eq!(e.var, "S6_FDHOLDER_RETRIEVE_REGEX");
        assert_eq!(e.value, b"(");
    }

    #[test]
    fn store_retrieve_delete() {
        let mut s = Store::new(10);
        let r = full_rights();
        let mut d = 0;
        let t = Tai64n {
            secs: 100,
            nanos: 0,
        };
        let req = |id: &str| Request::Store {
            limit: t,
            id: id.as_bytes().to_vec(),
        };
        assert_eq!(
            status(&serve(&mut s, &r, &mut d, req("other"), vec![pipe_fd()])),
            libc::EPERM as u8
        );
        assert_eq!(
            status(&serve(&mut s, &r, &mut d, req("pipe:r1"), vec![pipe_fd()])),
            0
        );
        assert_eq!(
            status(&serve(&mut s, &r, &mut d, req("pipe:r1"), vec![pipe_fd()])),
            libc::EBUSY as u8
        );
        assert_eq!(
            status(&serve(&mut s, &r, &mut d, req("pipe:r2"), vec![pipe_fd()])),
            0
        );
        // Expiries are unique.
        let limits: Vec<_> = s.iter().map(|h| h.limit).collect();
        assert_eq!(
            limits[1],
            Tai64n {
                secs: 100,
                nanos: 1
            }
        );
        let get = |id: &str, delete| Request::Retrieve {
            delete,
            id: id.as_bytes().to_vec(),
        };
        let o = serve(&mut s, &r, &mut d, get("pipe:r1", false), vec![]);
        assert_eq!((o[0].data.as_slice(), o[0].fds.len()), (&[0u8][..], 1));
        assert_eq!(s.len(), 2);
        let o = serve(&mut s, &r, &mut d, get("pipe:r1", true), vec![]);
        assert_eq!(o[0].fds.len(), 1);
        assert_eq!(s.len(), 1);
        assert_eq!(
            status(&serve(&mut s, &r, &mut d, get("pipe:r1", false), vec![])),
            libc::ENOENT as u8
        );
        assert_eq!(
            status(&serve(&mut s, &r, &mut d, get("pipe:x", false), vec![])),
            libc::EPERM as u8
        );
        let del = |id: &str| Request::Delete {
            id: id.as_bytes().to_vec(),
        };
        assert_eq!(
            status(&serve(&mut s, &r, &mut d, del("pipe:r2"), vec![])),
            0
        );
        assert_eq!(
            status(&serve(&mut s, &r, &mut d, del("pipe:r2"), vec![])),
            libc::ENOENT as u8
        );
        assert!(s.is_empty());
    }

    #[test]
    fn extreme_limits_do_not_overflow() {
        let mut s = Store::new(10);
        let max = Tai64n {
            secs: u64::MAX,
            nanos: u32::MAX,
        };
        s.insert_unique(b"a".to_vec(), pipe_fd(), max);
        s.insert_unique(b"b".to_vec(), pipe_fd(), max);
        assert_eq!(s.len(), 2);
        assert_eq!(s.expire(Tai64n::now()), 1);
    }

    #[test]
    fn full_store_and_expiry() {
        let mut s = Store::new(1);
        let r = full_rights();
        let mut d = 0;
        let req = |id: &str, secs| Request::Store {
            limit: Tai64n { secs, nanos: 0 },
            id: id.as_bytes().to_vec(),
        };
        assert_eq!(
            status(&serve(
                &mut s,
                &r,
                &mut d,
                req("pipe:a", 5),
                vec![pipe_fd()]
            )),
            0
        );
        assert_eq!(
            status(&serve(
                &mut s,
                &r,
                &mut d,
                req("pipe:b", 9),
                vec![pipe_fd()]
            )),
            libc::ENFILE as u8
        );
        assert_eq!(s.next_expiry(), Some(Tai64n { secs: 5, nanos: 0 }));
        assert_eq!(s.expire(Tai64n { secs: 4, nanos: 0 }), 0);
        assert_eq!(s.expire(Tai64n { secs: 5, nanos: 0 }), 1);
    }

    #[test]
    fn dumps() {
        let mut s = Store::new(600);
        let r = full_rights();
        let mut d = 0;
        let o = serve(&mut s, &r, &mut d, Request::SetDump { count: 300 }, vec![]);
        assert_eq!(o[0].data, [0, 0, 0, 0, 2]);
        assert_eq!(d, 300);
        let entries: Vec<_> = (0..253)
            .map(|i| (Tai64n { secs: i, nanos: 0 }, format!("id{i}").into_bytes()))
            .collect();
        let fds = (0..253).map(|_| pipe_fd()).collect();
        let o = serve(&mut s, &r, &mut d, Request::SetDumpData { entries }, fds);
        assert_eq!(status(&o), libc::EAGAIN as u8);
        let entries: Vec<_> = (0..47)
            .map(|i| (Tai64n { secs: i, nanos: 0 }, format!("id{i}").into_bytes()))
            .collect();
        let fds = (0..47).map(|_| pipe_fd()).collect();
        let o = serve(&mut s, &r, &mut d, Request::SetDumpData { entries }, fds);
        assert_eq!(status(&o), 0);
        // The second batch replaced ids 0..47 of the first.
        assert_eq!(s.len(), 253);
        let o = serve(&mut s, &r, &mut d, Request::GetDump, vec![]);
        assert_eq!(o.len(), 2);
        assert_eq!(o[0].data, [0, 0, 0, 0, 1, 0, 0, 0, 253]);
        assert_eq!(o[1].fds.len(), 253);
        let descs = proto::decode_descriptions(&o[1].data, 253).unwrap();
        assert_eq!(descs.len(), 253);
    }
}
