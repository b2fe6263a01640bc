//! The fd-holder wire protocol, pure: requests (first data byte `S D R L ? ! .`), their
//! decoding with s6-fdholderd's checks, the answers, fd descriptions in dumps, and the
//! clients' text forms (list quoting, `S6_FD*` variables, transferdump's `-t`).

use common::tai::Tai64n;
use nix::errno::Errno;

/// Longest identifier.
pub const ID_MAX: usize = 255;
/// Length of a packed TAIN.
pub const TAIN_LEN: usize = 12;
/// Most fds in one message (and so in one dump message).
pub const MAX_FDS: usize = common::unixmsg::MAX_FDS;
/// "No expiry": now + 2^61 s. Limits beyond now + 2^60 s are shown as none.
pub const INFINITE_SECS: u64 = 1 << 61;
/// Largest request a daemon accepts: a setdump message of MAX_FDS full descriptions.
pub const MAX_REQUEST: u32 = 1 + (MAX_FDS * (TAIN_LEN + 2 + ID_MAX)) as u32;

/// One decoded request (the fds travel beside it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    Store { limit: Tai64n, id: Vec<u8> },
    Delete { id: Vec<u8> },
    Retrieve { delete: bool, id: Vec<u8> },
    List,
    GetDump,
    SetDump { count: u32 },
    SetDumpData { entries: Vec<(Tai64n, Vec<u8>)> },
}

/// The packed TAIN at the start of `b`, and what follows it.
fn take_tain(b: &[u8]) -> Option<(Tai64n, &[u8])> {
    let (t, rest) = b.split_first_chunk::<TAIN_LEN>()?;
    Some((Tai64n::unpack(t), rest))
}

/// The big-endian u32 at the start of `b`.
fn u32_at(b: &[u8]) -> Option<u32> {
    b.first_chunk::<4>().map(|n| u32::from_be_bytes(*n))
}

/// `idlen id NUL` at the start of `b`, which must end exactly there when `whole`: the id
/// and the bytes used. An id is 1-255 bytes without NUL.
fn id_at(b: &[u8], whole: bool) -> Option<(Vec<u8>, usize)> {
    let (&idlen, rest) = b.split_first()?;
    let idlen = idlen as usize;
    let used = 1 + idlen + 1;
    if b.len() < used || (whole && b.len() != used) {
        return None;
    }
    let (id, rest) = rest.split_at_checked(idlen)?;
    if rest.first() != Some(&0) || id.is_empty() || id.contains(&0) {
        return None;
    }
    Some((id.to_vec(), used))
}

/// Decode one request as s6-fdholderd checks it: `nfds` fds came with it, and `dumping`
/// descriptions are still expected from a setdump in progress. EPROTO for anything
/// malformed (the daemon then drops the connection).
pub fn decode(data: &[u8], nfds: usize, dumping: u32) -> Result<Request, Errno> {
    let bad = Err(Errno::EPROTO);
    let Some((&op, s)) = data.split_first() else {
        return bad;
    };
    if op != b'.' && dumping > 0 {
        return bad;
    }
    match op {
        b'S' => {
            if s.len() < TAIN_LEN + 3 || nfds != 1 {
                return bad;
            }
            let Some((limit, rest)) = take_tain(s) else {
                return bad;
            };
            let Some((id, _)) = id_at(rest, true) else {
                return bad;
            };
            Ok(Request::Store { limit, id })
        }
        b'D' => match id_at(s, true) {
            Some((id, _)) if nfds == 0 => Ok(Request::Delete { id }),
            _ => bad,
        },
        b'R' => {
            if s.len() < 4 || nfds != 0 {
                return bad;
            }
            let Some((&delete, rest)) = s.split_first() else {
                return bad;
            };
            match id_at(rest, true) {
                Some((id, _)) => Ok(Request::Retrieve {
                    delete: delete != 0,
                    id,
                }),
                None => bad,
            }
        }
        b'L' | b'?' => {
            if !s.is_empty() || nfds != 0 {
                return bad;
            }
            Ok(if op == b'L' {
                Request::List
            } else {
                Request::GetDump
            })
        }
        b'!' => match (s.len(), nfds, u32_at(s)) {
            (4, 0, Some(count)) => Ok(Request::SetDump { count }),
            _ => bad,
        },
        b'.' => {
            if nfds == 0 || nfds as u64 > dumping as u64 || s.len() < nfds * (TAIN_LEN + 3) {
                return bad;
            }
            let entries = decode_descriptions(s, nfds).ok_or(Errno::EPROTO)?;
            Ok(Request::SetDumpData { entries })
        }
        _ => bad,
    }
}

/// `n` fd descriptions (TAIN, idlen, id, NUL), exactly filling `b`.
pub fn decode_descriptions(mut b: &[u8], n: usize) -> Option<Vec<(Tai64n, Vec<u8>)>> {
    let mut out = Vec::with_capacity(n.min(MAX_FDS));
    for _ in 0..n {
        if b.len() < TAIN_LEN + 3 {
            return None;
        }
        let (limit, rest) = take_tain(b)?;
        let (id, used) = id_at(rest, false)?;
        out.push((limit, id));
        b = rest.get(used..)?;
    }
    b.is_empty().then_some(out)
}

/// Append one fd description.
pub fn push_description(out: &mut Vec<u8>, limit: &Tai64n, id: &[u8]) {
    out.extend_from_slice(&limit.pack());
    out.push(id.len() as u8);
    out.extend_from_slice(id);
    out.push(0);
}

/// Number of messages a dump of `n` fds takes.
pub fn dump_messages(n: usize) -> u32 {
    n.div_ceil(MAX_FDS) as u32
}

/// Whether an id can be sent: ENAMETOOLONG over 255 bytes (checked before sending, as s6
/// does; an empty one is sent and makes the daemon drop the connection).
pub fn check_id(id: &[u8]) -> Result<(), Errno> {
    if id.len() > ID_MAX {
        Err(Errno::ENAMETOOLONG)
    } else {
        Ok(())
    }
}

fn with_id(head: &[u8], id: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(head.len() + id.len() + 2);
    v.extend_from_slice(head);
    v.push(id.len() as u8);
    v.extend_from_slice(id);
    v.push(0);
    v
}

pub fn encode_store(limit: &Tai64n, id: &[u8]) -> Vec<u8> {
    let mut head = vec![b'S'];
    head.extend_from_slice(&limit.pack());
    with_id(&head, id)
}

pub fn encode_delete(id: &[u8]) -> Vec<u8> {
    with_id(b"D", id)
}

pub fn encode_retrieve(id: &[u8], delete: bool) -> Vec<u8> {
    with_id(&[b'R', delete as u8], id)
}

pub fn encode_setdump(count: u32) -> Vec<u8> {
    let mut v = vec![b'!'];
    v.extend_from_slice(&count.to_be_bytes());
    v
}

/// The list answer: `\0`, u32 BE count, the ids NUL-terminated.
pub fn encode_list<'a>(ids: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut v = vec![0, 0, 0, 0, 0];
    let mut n: u32 = 0;
    for id in ids {
        v.extend_from_slice(id);
        v.push(0);
        n += 1;
    }
    if let Some(count) = v.get_mut(1..5) {
        count.copy_from_slice(&n.to_be_bytes());
    }
    v
}

/// A 1-byte answer: Ok(()) for 0, the errno otherwise; EPROTO if it is not 1 byte.
pub fn decode_status(data: &[u8]) -> Result<(), Errno> {
    match data {
        [0] => Ok(()),
        [e] => Err(Errno::from_raw(*e as i32)),
        _ => Err(Errno::EPROTO),
    }
}

/// The list answer's ids.
pub fn decode_list(data: &[u8]) -> Result<Vec<Vec<u8>>, Errno> {
    match data.first() {
        None => return Err(Errno::EPROTO),
        Some(&e) if e != 0 => return Err(Errno::from_raw(e as i32)),
        _ => {}
    }
    let Some((n, body)) = data
        .get(1..)
        .and_then(|b| b.split_first_chunk::<4>())
        .map(|(n, body)| (u32::from_be_bytes(*n) as usize, body))
    else {
        return Err(Errno::EPROTO);
    };
    if body.iter().filter(|&&b| b == 0).count() != n || (n > 0 && body.last() != Some(&0)) {
        return Err(Errno::EPROTO);
    }
    Ok(body
        .split(|&b| b == 0)
        .take(n)
        .map(|s| s.to_vec())
        .collect())
}

/// A `\0` + u32 (+ u32) header answer (setdump: 5 bytes, getdump: 9 bytes): the numbers.
pub fn decode_counts(data: &[u8], len: usize) -> Result<(u32, u32), Errno> {
    match data.first() {
        None => return Err(Errno::EPROTO),
        Some(&e) if e != 0 => return Err(Errno::from_raw(e as i32)),
        _ => {}
    }
    if data.len() != len {
        return Err(Errno::EPROTO);
    }
    let a = data.get(1..).and_then(u32_at).ok_or(Errno::EPROTO)?;
    let b = if len >= 9 {
        data.get(5..).and_then(u32_at).ok_or(Errno::EPROTO)?
    } else {
        0
    };
    Ok((a, b))
}

/// s6-fdholder-list's quoting of an id (skalibs' `string_quote_nodelim_mustquote`).
pub fn quote_id(id: &[u8], out: &mut Vec<u8>) {
    for &c in id {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            7..=13 => {
                out.push(b'\\');
                if let Some(&letter) = b"abtnvfr".get((c - 7) as usize) {
                    out.push(letter);
                }
            }
            0..=6 | 0x0e..=0x1f | 0x7f..=0xff => {
                out.extend_from_slice(format!("\\0x{c:02x}").as_bytes());
            }
            _ => out.push(c),
        }
    }
}

/// transferdump's `-t FROM:TO` (each part empty or decimal ms; a lone `FROM` is allowed).
pub fn parse_transfer_timeouts(s: &[u8]) -> Option<(u32, u32)> {
    let digits = s.iter().take_while(|c| c.is_ascii_digit()).count();
    let num = |b: &[u8]| -> Option<u32> {
        b.iter().try_fold(0u32, |a, &d| {
            a.checked_mul(10)?.checked_add((d - b'0') as u32)
        })
    };
    let (head, rest) = s.split_at_checked(digits)?;
    let from = if digits == 0 { 0 } else { num(head)? };
    if digits == 0 && rest.first() != Some(&b':') {
        return None;
    }
    if rest.is_empty() {
        return Some((from, 0));
    }
    let to = rest.strip_prefix(b":")?;
    if to.is_empty() {
        return Some((from, 0));
    }
    if !to.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some((from, num(to)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(secs: u64) -> Tai64n {
        Tai64n { secs, nanos: 7 }
    }

    #[test]
    fn requests_round_trip() {
        assert_eq!(
            decode(&encode_store(&t(5), b"pipe:x"), 1, 0),
            Ok(Request::Store {
                limit: t(5),
                id: b"pipe:x".to_vec()
            })
        );
        assert_eq!(
            decode(&encode_delete(b"a"), 0, 0),
            Ok(Request::Delete { id: b"a".to_vec() })
        );
        assert_eq!(
            decode(&encode_retrieve(b"ab", true), 0, 0),
            Ok(Request::Retrieve {
                delete: true,
                id: b"ab".to_vec()
            })
        );
        assert_eq!(decode(b"L", 0, 0), Ok(Request::List));
        assert_eq!(decode(b"?", 0, 0), Ok(Request::GetDump));
        assert_eq!(
            decode(&encode_setdump(3), 0, 0),
            Ok(Request::SetDump { count: 3 })
        );
        let mut d = vec![b'.'];
        push_description(&mut d, &t(1), b"one");
        push_description(&mut d, &t(2), b"two");
        assert_eq!(
            decode(&d, 2, 2),
            Ok(Request::SetDumpData {
                entries: vec![(t(1), b"one".to_vec()), (t(2), b"two".to_vec())]
            })
        );
    }

    #[test]
    fn malformed_requests_are_eproto() {
        let e = Err(Errno::EPROTO);
        assert_eq!(decode(b"", 0, 0), e);
        assert_eq!(decode(b"Z", 0, 0), e);
        assert_eq!(decode(&encode_store(&t(5), b"x"), 0, 0), e);
        assert_eq!(decode(&encode_store(&t(5), b""), 1, 0), e);
        assert_eq!(decode(&encode_delete(b""), 0, 0), e);
        assert_eq!(decode(&encode_delete(b"a"), 1, 0), e);
        assert_eq!(decode(b"L!", 0, 0), e);
        assert_eq!(decode(b"L", 0, 1), e);
        let mut d = encode_delete(b"abc");
        d[1] = 9;
        assert_eq!(decode(&d, 0, 0), e);
        let mut d = encode_delete(b"abc");
        *d.last_mut().unwrap() = b'x';
        assert_eq!(decode(&d, 0, 0), e);
        let mut d = vec![b'.'];
        push_description(&mut d, &t(1), b"one");
        assert_eq!(decode(&d, 1, 0), e);
        d.push(0);
        assert_eq!(decode(&d, 1, 1), e);
    }

    #[test]
    fn answers() {
        let l = encode_list([b"a".as_slice(), b"bc"].into_iter());
        assert_eq!(l, b"\0\0\0\0\x02a\0bc\0");
        assert_eq!(
            decode_list(&l).unwrap(),
            vec![b"a".to_vec(), b"bc".to_vec()]
        );
        assert_eq!(decode_list(&[0, 0, 0, 0, 0]).unwrap().len(), 0);
        assert_eq!(decode_list(&[1]), Err(Errno::EPERM));
        assert_eq!(decode_status(&[0]), Ok(()));
        assert_eq!(decode_status(&[16]), Err(Errno::EBUSY));
        assert_eq!(decode_status(&[0, 0]), Err(Errno::EPROTO));
        assert_eq!(decode_counts(&[0, 0, 0, 0, 1, 0, 0, 0, 2], 9), Ok((1, 2)));
        assert_eq!(dump_messages(0), 0);
        assert_eq!(dump_messages(253), 1);
        assert_eq!(dump_messages(254), 2);
    }

    #[test]
    fn list_quoting() {
        let mut o = Vec::new();
        quote_id(b"a b\"$\\\n\x01\x7f\xff", &mut o);
        assert_eq!(o, b"a b\"$\\\\\\n\\0x01\\0x7f\\0xff");
    }

    #[test]
    fn transfer_timeouts() {
        let p = |s: &str| parse_transfer_timeouts(s.as_bytes());
        assert_eq!(p("5"), Some((5, 0)));
        assert_eq!(p("5:"), Some((5, 0)));
        assert_eq!(p(":7"), Some((0, 7)));
        assert_eq!(p("5:7"), Some((5, 7)));
        assert_eq!(p(":"), Some((0, 0)));
        assert_eq!(p(""), None);
        assert_eq!(p("5;7"), None);
        assert_eq!(p("-5"), None);
        assert_eq!(p("5:x"), None);
        assert_eq!(p("5:+7"), None);
    }
}
