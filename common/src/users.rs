//! The user and group databases as libc reads them (`getpwnam`, `getgrnam`, a `getgrent`
//! walk for supplementary groups, so NSS modules work as for s6), and skalibs' scanners for
//! uid/gid numbers and gid lists (`uid0_scan`, `gid_scanlist`), shared by s6-envuidgid,
//! s6-applyuidgid, s6-setuidgid and whatever else drops privileges (s6-svperms, chpst).

use nix::errno::Errno;
use std::ffi::CString;

/// `NGROUPS_MAX` on Linux: the most supplementary groups a process can have.
pub const NGROUPS_MAX: usize = 65536;

/// A passwd entry's ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct User {
    pub uid: u32,
    pub gid: u32,
}

/// `getpwnam(name)`: `None` when there is no such user (or the name holds a NUL).
pub fn user_by_name(name: &[u8]) -> Option<User> {
    let c = CString::new(name).ok()?;
    // SAFETY: c is a valid C string; the result points into libc's static storage, read at
    // once (single-threaded programs).
    let pw = unsafe { libc::getpwnam(c.as_ptr()) };
    if pw.is_null() {
        return None;
    }
    // SAFETY: non-null: a valid passwd entry.
    let pw = unsafe { &*pw };
    Some(User {
        uid: pw.pw_uid,
        gid: pw.pw_gid,
    })
}

/// `getgrnam(name)`: the gid, `None` when there is no such group.
pub fn group_by_name(name: &[u8]) -> Option<u32> {
    let c = CString::new(name).ok()?;
    // SAFETY: as in user_by_name.
    let gr = unsafe { libc::getgrnam(c.as_ptr()) };
    if gr.is_null() {
        return None;
    }
    // SAFETY: non-null: a valid group entry.
    Some(unsafe { (*gr).gr_gid })
}

/// `errno` values that, after a failed lookup, still mean "no such entry" (POSIX lists them
/// for `getpwnam_r`; some NSS modules leave them behind).
fn means_not_found(e: Errno) -> bool {
    matches!(
        e as i32,
        0 | libc::ENOENT | libc::ESRCH | libc::EBADF | libc::EPERM
    )
}

/// [`user_by_name`] telling a database error (`Err`) from a missing user (`Ok(None)`).
pub fn lookup_user(name: &[u8]) -> Result<Option<User>, Errno> {
    Errno::clear();
    match user_by_name(name) {
        Some(u) => Ok(Some(u)),
        None if means_not_found(Errno::last()) => Ok(None),
        None => Err(Errno::last()),
    }
}

/// [`group_by_name`] telling a database error (`Err`) from a missing group (`Ok(None)`).
pub fn lookup_group(name: &[u8]) -> Result<Option<u32>, Errno> {
    Errno::clear();
    match group_by_name(name) {
        Some(g) => Ok(Some(g)),
        None if means_not_found(Errno::last()) => Ok(None),
        None => Err(Errno::last()),
    }
}

/// The gids of every group of the group database whose member list names `user`, in database
/// order, at most `max` of them (the primary group is not added): s6-envuidgid's GIDLIST.
pub fn supplementary_groups(user: &[u8], max: usize) -> Result<Vec<u32>, Errno> {
    let mut out = Vec::new();
    // SAFETY: setgrent/getgrent/endgrent walk libc's group database; each entry is read
    // before the next call; single-threaded programs.
    unsafe { libc::setgrent() };
    let result = loop {
        if out.len() >= max {
            break Ok(());
        }
        Errno::clear();
        // SAFETY: as above.
        let gr = unsafe { libc::getgrent() };
        if gr.is_null() {
            let e = Errno::last();
            break match e as i32 {
                0 => Ok(()),
                // Some libcs report the end of the database as ENOENT.
                libc::ENOENT => Ok(()),
                _ => Err(e),
            };
        }
        // SAFETY: non-null: a valid group entry whose gr_mem is a NULL-terminated array of
        // C strings.
        let (gid, mut member) = unsafe { ((*gr).gr_gid, (*gr).gr_mem) };
        while !member.is_null() {
            // SAFETY: member points into the NULL-terminated gr_mem array.
            let m = unsafe { *member };
            if m.is_null() {
                break;
            }
            // SAFETY: a non-null gr_mem entry is a C string.
            if unsafe { std::ffi::CStr::from_ptr(m) }.to_bytes() == user {
                out.push(gid);
                break;
            }
            // SAFETY: not past the NULL terminator (checked above).
            member = unsafe { member.add(1) };
        }
    };
    // SAFETY: closes the walk opened above.
    unsafe { libc::endgrent() };
    result.map(|()| out)
}

/// skalibs' `uint32_scan`: the value of the leading decimal digits of `s` and how many bytes
/// they take (0: no digit). Digits that would overflow 32 bits are left unread.
pub fn u32_scan(s: &[u8]) -> (u32, usize) {
    let mut v: u32 = 0;
    let mut n = 0;
    for &c in s {
        if !c.is_ascii_digit() {
            break;
        }
        match v
            .checked_mul(10)
            .and_then(|x| x.checked_add((c - b'0') as u32))
        {
            Some(x) => v = x,
            None => break,
        }
        n += 1;
    }
    (v, n)
}

/// skalibs' `uint0_scan` (`uid0_scan`, `gid0_scan`): the whole of `s` is a 32-bit decimal.
pub fn u32_scan_all(s: &[u8]) -> Option<u32> {
    let (v, n) = u32_scan(s);
    (n > 0 && n == s.len()).then_some(v)
}

/// The separators of a gid list: any run of them between two numbers.
fn is_list_sep(c: u8) -> bool {
    matches!(c, b',' | b':' | b';' | b' ' | b'\t' | b'\r' | b'\n')
}

/// skalibs' `gid_scanlist`: numbers separated by runs of `, : ; space tab CR LF`, at most
/// `max`; stops at the first thing that is not a number. Returns the list and the bytes read
/// (0 when `s` does not start with a digit).
pub fn gid_scanlist(s: &[u8], max: usize) -> (Vec<u32>, usize) {
    let mut list = Vec::new();
    let mut len = 0;
    while len < s.len() && list.len() < max {
        let (v, w) = u32_scan(&s[len..]);
        if w == 0 {
            break;
        }
        list.push(v);
        len += w;
        while len < s.len() && is_list_sep(s[len]) {
            len += 1;
        }
    }
    (list, len)
}

/// A gid list as s6 writes it in `GIDLIST`: decimal, comma-separated.
pub fn format_gidlist(list: &[u32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(list.len() * 6);
    for (i, g) in list.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(g.to_string().as_bytes());
    }
    out
}

/// skalibs' `setgroups_and_gid`: the supplementary groups become `gid` followed by `list`
/// (`gid` moved to the front rather than repeated).
pub fn groups_with_gid(gid: u32, list: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(list.len() + 1);
    out.push(gid);
    match list.iter().position(|&g| g == gid) {
        Some(i) => {
            out.extend_from_slice(&list[..i]);
            out.extend_from_slice(&list[i + 1..]);
        }
        None => out.extend_from_slice(list),
    }
    out
}

/// `setgroups(2)` with `list`.
pub fn set_groups(list: &[u32]) -> Result<(), Errno> {
    // SAFETY: list is a valid array of gid_t (u32 on Linux) of the given length.
    let r = unsafe { libc::setgroups(list.len() as _, list.as_ptr() as *const libc::gid_t) };
    if r == -1 {
        return Err(Errno::last());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans() {
        assert_eq!(u32_scan(b"12abc"), (12, 2));
        assert_eq!(u32_scan(b"abc"), (0, 0));
        assert_eq!(u32_scan(b"4294967296"), (429496729, 9));
        assert_eq!(u32_scan_all(b"010"), Some(10));
        assert_eq!(u32_scan_all(b""), None);
        assert_eq!(u32_scan_all(b"+5"), None);
        assert_eq!(u32_scan_all(b"4294967295"), Some(u32::MAX));
        assert_eq!(u32_scan_all(b"4294967296"), None);
    }

    #[test]
    fn lists() {
        assert_eq!(
            gid_scanlist(b"3,5;6 7:8\t9", 100),
            (vec![3, 5, 6, 7, 8, 9], 11)
        );
        assert_eq!(gid_scanlist(b"1,2,x", 100), (vec![1, 2], 4));
        assert_eq!(gid_scanlist(b"x", 100).1, 0);
        assert_eq!(gid_scanlist(b" 1", 100).1, 0);
        assert_eq!(gid_scanlist(b"", 100), (vec![], 0));
        assert_eq!(gid_scanlist(b"1,2,3", 2), (vec![1, 2], 4));
        assert_eq!(format_gidlist(&[13, 14]), b"13,14");
        assert_eq!(format_gidlist(&[]), b"");
        assert_eq!(groups_with_gid(5, &[]), vec![5]);
        assert_eq!(groups_with_gid(5, &[1, 5, 2]), vec![5, 1, 2]);
        assert_eq!(groups_with_gid(5, &[1, 2]), vec![5, 1, 2]);
    }

    #[test]
    fn database() {
        let root = user_by_name(b"root").unwrap();
        assert_eq!(root, User { uid: 0, gid: 0 });
        assert_eq!(group_by_name(b"root"), Some(0));
        assert_eq!(user_by_name(b"s6rs-no-such-user"), None);
        assert_eq!(group_by_name(b"a\0b"), None);
        assert!(supplementary_groups(b"s6rs-no-such-user", 10)
            .unwrap()
            .is_empty());
    }
}
