//! Access rules for Unix-socket servers, as s6's `s6_accessrules_*` check them
//! (s6-ipcserver-access, s6-fdholderd).
//!
//! A client (uid U, gid G) is looked up under the keys `uid/self` (only when U is the
//! checker's euid), `uid/U`, `gid/self` (only when G is its egid), `gid/G`, `uid/default`;
//! the first key that exists decides. There is no `gid/default`.
//!
//! Backends: a rules directory (`KEY/allow` readable allows, even beside a `deny`; else a
//! readable `KEY/deny` denies; `KEY/env/` an envdir and `KEY/exec` a command for allowed
//! clients), or a cdb whose record for KEY is `D` (deny) or `A`, u16 BE envlen, env, u16 BE
//! execlen, exec (allow). The env is a sequence of `NAME=value\0` (set) and `NAME\0` (unset)
//! entries, see [`Params::env_entries`].

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::unistd::{access, AccessFlags};

use crate::cdb::Cdb;

/// Largest env part, and largest exec part, of a rule.
pub const MAX_PART: usize = 4096;
/// Largest value read from one envdir file (skalibs' `MAXVARSIZE`).
pub const MAX_VAR: usize = 4095;

/// What an allowing rule gives the client.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Params {
    /// `NAME=value\0` and `NAME\0` entries, in the order the rule lists them.
    pub env: Vec<u8>,
    /// The exec string (raw bytes; empty for none).
    pub exec: Vec<u8>,
}

/// One entry of a rule's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum EnvModif<'a> {
    /// `NAME=value`
    Set(&'a [u8], &'a [u8]),
    /// `NAME` alone: unset it.
    Unset(&'a [u8]),
}

impl Params {
    /// The entries of [`Params::env`]; a trailing piece without its NUL is ignored.
    pub fn env_entries(&self) -> impl Iterator<Item = EnvModif<'_>> {
        env_entries(&self.env)
    }
}

/// The entries of a packed env (`NAME=value\0` / `NAME\0`), ignoring an unterminated tail.
pub fn env_entries(env: &[u8]) -> impl Iterator<Item = EnvModif<'_>> {
    // Everything before the last NUL; nothing at all when there is no NUL.
    let complete = env.iter().rposition(|&b| b == 0).and_then(|i| env.get(..i));
    complete
        .into_iter()
        .flat_map(|c| c.split(|&b| b == 0))
        .map(|e| match crate::bytes::split_once(e, b'=') {
            Some((name, value)) => EnvModif::Set(name, value),
            None => EnvModif::Unset(e),
        })
}

/// The verdict of one key or of a whole check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow(Params),
    Deny,
    NotFound,
}

/// Where the rules are.
#[derive(Debug, Clone, Copy)]
pub enum Rules<'a> {
    /// `-i rulesdir`, read anew at each check.
    Dir(&'a Path),
    /// `-x rulesfile`, already loaded.
    Cdb(&'a Cdb),
}

impl Rules<'_> {
    /// Look up one key (`uid/0`, `gid/self`, ...).
    pub fn lookup(&self, key: &str) -> Result<Decision, Errno> {
        match self {
            Rules::Dir(d) => lookup_dir(d, key),
            Rules::Cdb(c) => lookup_cdb(c, key),
        }
    }
}

/// The keys tried for (uid, gid), in order, given the checker's euid and egid.
pub fn uidgid_keys(uid: u32, gid: u32, euid: u32, egid: u32) -> Vec<String> {
    let mut keys = Vec::with_capacity(5);
    if uid == euid {
        keys.push("uid/self".to_owned());
    }
    keys.push(format!("uid/{uid}"));
    if gid == egid {
        keys.push("gid/self".to_owned());
    }
    keys.push(format!("gid/{gid}"));
    keys.push("uid/default".to_owned());
    keys
}

/// Check a client against `rules`, `self` meaning the calling process's effective ids.
pub fn check_uidgid(rules: Rules<'_>, uid: u32, gid: u32) -> Result<Decision, Errno> {
    let euid = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    check_uidgid_as(rules, uid, gid, euid, egid)
}

/// [`check_uidgid`] with the checker's ids given.
pub fn check_uidgid_as(
    rules: Rules<'_>,
    uid: u32,
    gid: u32,
    euid: u32,
    egid: u32,
) -> Result<Decision, Errno> {
    for key in uidgid_keys(uid, gid, euid, egid) {
        match rules.lookup(&key)? {
            Decision::NotFound => continue,
            d => return Ok(d),
        }
    }
    Ok(Decision::NotFound)
}

fn absent(e: Errno) -> bool {
    e == Errno::ENOENT || e == Errno::EACCES
}

/// The directory backend for one key.
pub fn lookup_dir(dir: &Path, key: &str) -> Result<Decision, Errno> {
    let base = dir.join(key);
    match access(&base.join("allow"), AccessFlags::R_OK) {
        Ok(()) => {}
        Err(e) if absent(e) => {
            return match access(&base.join("deny"), AccessFlags::R_OK) {
                Ok(()) => Ok(Decision::Deny),
                Err(e) if absent(e) => Ok(Decision::NotFound),
                Err(e) => Err(e),
            };
        }
        Err(e) => return Err(e),
    }
    let mut params = Params::default();
    match read_envdir(&base.join("env"), &mut params.env) {
        Ok(()) | Err(Errno::ENOENT) => {}
        Err(e) => return Err(e),
    }
    match read_exec(&base.join("exec")) {
        Ok(x) => params.exec = x,
        Err(e) if absent(e) => {}
        Err(e) => return Err(e),
    }
    Ok(Decision::Allow(params))
}

/// Up to [`MAX_PART`] bytes of an `exec` file.
pub fn read_exec(path: &Path) -> Result<Vec<u8>, Errno> {
    let mut buf = vec![0u8; MAX_PART];
    let n = crate::fsio::read_prefix(path, &mut buf)?;
    buf.truncate(n);
    Ok(buf)
}

/// The value an envdir file sets, from its first [`MAX_VAR`] bytes: `None` for an empty
/// file (unset), else its first line without trailing spaces, tabs and CRs, NULs turned
/// into newlines.
pub fn envdir_value(content: &[u8]) -> Option<Vec<u8>> {
    if content.is_empty() {
        return None;
    }
    let content = content.get(..MAX_VAR).unwrap_or(content);
    // `split` yields at least one piece: the first line, or all of it without a newline.
    let line = content.split(|&b| b == b'\n').next().unwrap_or(content);
    let end = line
        .iter()
        .rposition(|&b| b != b' ' && b != b'\t' && b != b'\r')
        .map_or(0, |i| i + 1);
    Some(
        line.iter()
            .take(end)
            .map(|&b| if b == 0 { b'\n' } else { b })
            .collect(),
    )
}

/// Read an envdir (skalibs' `envdir`) and append its entries to `out` as `NAME=value\0` or
/// `NAME\0`. Entries starting with `.` or containing `=` are skipped. On error `out` is left
/// as it was; a missing directory is `ENOENT`, a file vanishing during the read `EIDRM`.
pub fn read_envdir(dir: &Path, out: &mut Vec<u8>) -> Result<(), Errno> {
    let base = out.len();
    let r = read_envdir_inner(dir, out);
    if r.is_err() {
        out.truncate(base);
    }
    r
}

fn read_envdir_inner(dir: &Path, out: &mut Vec<u8>) -> Result<(), Errno> {
    let rd = std::fs::read_dir(dir).map_err(|e| crate::msg::errno_of(&e))?;
    let mut buf = vec![0u8; MAX_VAR];
    for ent in rd {
        let ent = ent.map_err(|e| crate::msg::errno_of(&e))?;
        let name = ent.file_name();
        let nb = name.as_bytes();
        if nb.first() == Some(&b'.') || nb.contains(&b'=') {
            continue;
        }
        let path: PathBuf = dir.join(OsStr::from_bytes(nb));
        let n = match crate::fsio::read_prefix(&path, &mut buf) {
            Ok(n) => n,
            Err(Errno::ENOENT) => return Err(Errno::EIDRM),
            Err(e) => return Err(e),
        };
        out.extend_from_slice(nb);
        if let Some(v) = envdir_value(buf.get(..n).unwrap_or(&[])) {
            out.push(b'=');
            out.extend_from_slice(&v);
        }
        out.push(0);
    }
    Ok(())
}

/// The cdb backend for one key. A corrupt file is an error with errno 0 (what s6 prints);
/// malformed rule data is EINVAL.
pub fn lookup_cdb(cdb: &Cdb, key: &str) -> Result<Decision, Errno> {
    match cdb.find(key.as_bytes()) {
        // skalibs' cdb_find fails on a corrupt file without setting errno: s6 then reports
        // the errno left over, 0 in practice ("Success"); we report exactly that.
        Err(_) => Err(Errno::from_raw(0)),
        Ok(None) => Ok(Decision::NotFound),
        Ok(Some(data)) => decode_rule(data),
    }
}

/// Decode a cdb rule record as s6's cdb backend does: `D` denies, a well-formed `A` record
/// allows, another first byte is "not found", anything malformed is EINVAL.
pub fn decode_rule(data: &[u8]) -> Result<Decision, Errno> {
    if data.len() > 5 + 2 * MAX_PART {
        return Err(Errno::EINVAL);
    }
    let Some((&kind, rest)) = data.split_first() else {
        return Err(Errno::EINVAL);
    };
    match kind {
        b'D' => return Ok(Decision::Deny),
        b'A' => {}
        _ => return Ok(Decision::NotFound),
    }
    // rest: u16 BE envlen, env, u16 BE execlen, exec; nothing after.
    let (env, rest) = be16_prefixed(rest).ok_or(Errno::EINVAL)?;
    let (exec, rest) = be16_prefixed(rest).ok_or(Errno::EINVAL)?;
    if env.len() > MAX_PART || exec.len() > MAX_PART || !rest.is_empty() {
        return Err(Errno::EINVAL);
    }
    Ok(Decision::Allow(Params {
        env: env.to_vec(),
        exec: exec.to_vec(),
    }))
}

/// A part prefixed by its u16 BE length, and what follows it; `None` when `b` is too short.
fn be16_prefixed(b: &[u8]) -> Option<(&[u8], &[u8])> {
    let (len, rest) = b.split_first_chunk::<2>()?;
    rest.split_at_checked(usize::from(u16::from_be_bytes(*len)))
}

/// Encode a rule as a cdb record (`D`, or `A` + env + exec); `None` for
/// [`Decision::NotFound`] or parts longer than 65535 bytes.
pub fn encode_rule(d: &Decision) -> Option<Vec<u8>> {
    match d {
        Decision::NotFound => None,
        Decision::Deny => Some(b"D".to_vec()),
        Decision::Allow(p) => {
            let envlen = u16::try_from(p.env.len()).ok()?;
            let execlen = u16::try_from(p.exec.len()).ok()?;
            let mut v = Vec::with_capacity(5 + p.env.len() + p.exec.len());
            v.push(b'A');
            v.extend_from_slice(&envlen.to_be_bytes());
            v.extend_from_slice(&p.env);
            v.extend_from_slice(&execlen.to_be_bytes());
            v.extend_from_slice(&p.exec);
            Some(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdb::Writer;
    use std::fs;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "common-accessrules-{}-{}",
            name,
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn key_order() {
        assert_eq!(
            uidgid_keys(0, 0, 0, 0),
            ["uid/self", "uid/0", "gid/self", "gid/0", "uid/default"]
        );
        assert_eq!(uidgid_keys(5, 6, 0, 0), ["uid/5", "gid/6", "uid/default"]);
    }

    #[test]
    fn envdir_values() {
        assert_eq!(envdir_value(b""), None);
        assert_eq!(envdir_value(b"\n"), Some(vec![]));
        assert_eq!(envdir_value(b"a b \t\r\nsecond"), Some(b"a b".to_vec()));
        assert_eq!(envdir_value(b"x\0y"), Some(b"x\ny".to_vec()));
        assert_eq!(envdir_value(&[b'z'; 5000]).unwrap().len(), MAX_VAR);
    }

    #[test]
    fn rule_codec() {
        let p = Params {
            env: b"A=1\0B\0".to_vec(),
            exec: b"echo hi".to_vec(),
        };
        let enc = encode_rule(&Decision::Allow(p.clone())).unwrap();
        assert_eq!(&enc[..3], b"A\0\x06");
        assert_eq!(decode_rule(&enc).unwrap(), Decision::Allow(p.clone()));
        let entries: Vec<_> = p.env_entries().collect();
        assert_eq!(entries, [EnvModif::Set(b"A", b"1"), EnvModif::Unset(b"B")]);
        assert_eq!(decode_rule(b"D").unwrap(), Decision::Deny);
        assert_eq!(decode_rule(b"Dxyz").unwrap(), Decision::Deny);
        assert_eq!(decode_rule(b"X").unwrap(), Decision::NotFound);
        assert_eq!(decode_rule(b""), Err(Errno::EINVAL));
        assert_eq!(decode_rule(b"A\0\0\0"), Err(Errno::EINVAL));
        assert_eq!(decode_rule(b"A\0\0\0\0x"), Err(Errno::EINVAL));
        assert_eq!(decode_rule(b"A\0\x09\0\0"), Err(Errno::EINVAL));
        assert_eq!(
            decode_rule(b"A\0\0\0\0").unwrap(),
            Decision::Allow(Params::default())
        );
    }

    #[test]
    fn decode_never_panics() {
        let mut x: u32 = 1;
        for len in 0..64 {
            for _ in 0..64 {
                let v: Vec<u8> = (0..len)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 17;
                        x ^= x << 5;
                        if x & 3 == 0 {
                            b'A'
                        } else {
                            (x >> 8) as u8 & 7
                        }
                    })
                    .collect();
                let _ = decode_rule(&v);
            }
        }
    }

    #[test]
    fn directory_backend() {
        let d = scratch("dir");
        fs::create_dir_all(d.join("uid/0/env")).unwrap();
        fs::write(d.join("uid/0/allow"), "").unwrap();
        fs::write(d.join("uid/0/deny"), "").unwrap();
        fs::write(d.join("uid/0/env/X"), "hello  \nworld").unwrap();
        fs::write(d.join("uid/0/env/EMPTY"), "\n").unwrap();
        fs::write(d.join("uid/0/env/GONE"), "").unwrap();
        fs::write(d.join("uid/0/env/.hidden"), "x").unwrap();
        fs::write(d.join("uid/0/env/A=B"), "x").unwrap();
        fs::write(d.join("uid/0/exec"), "echo yes").unwrap();
        fs::create_dir_all(d.join("gid/7")).unwrap();
        fs::write(d.join("gid/7/deny"), "").unwrap();
        std::os::unix::fs::symlink("0", d.join("uid/self")).unwrap();
        let rules = Rules::Dir(&d);
        let Decision::Allow(p) = check_uidgid_as(rules, 0, 0, 1, 1).unwrap() else {
            panic!("uid 0 allowed")
        };
        assert_eq!(p.exec, b"echo yes");
        let mut e: Vec<_> = p.env_entries().collect();
        e.sort();
        assert_eq!(
            e,
            [
                EnvModif::Set(b"EMPTY", b""),
                EnvModif::Set(b"X", b"hello"),
                EnvModif::Unset(b"GONE"),
            ]
        );
        assert_eq!(check_uidgid_as(rules, 3, 7, 1, 1).unwrap(), Decision::Deny);
        assert_eq!(
            check_uidgid_as(rules, 3, 8, 1, 1).unwrap(),
            Decision::NotFound
        );
        // uid/self -> 0 applies to the checker's own uid
        assert!(matches!(
            check_uidgid_as(rules, 9, 9, 9, 1).unwrap(),
            Decision::Allow(_)
        ));
        // a missing rules directory finds nothing
        assert_eq!(
            check_uidgid_as(Rules::Dir(&d.join("nope")), 0, 0, 0, 0).unwrap(),
            Decision::NotFound
        );
        fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn cdb_backend() {
        let mut w = Writer::new();
        w.add(b"uid/5", b"D").unwrap();
        w.add(b"gid/5", b"A\0\x04X=1\0\0\0").unwrap();
        w.add(b"uid/default", b"A\0\0\0\x02hi").unwrap();
        let c = Cdb::from_bytes(w.finish().unwrap());
        let r = Rules::Cdb(&c);
        assert_eq!(check_uidgid_as(r, 5, 5, 0, 0).unwrap(), Decision::Deny);
        assert_eq!(
            check_uidgid_as(r, 6, 5, 0, 0).unwrap(),
            Decision::Allow(Params {
                env: b"X=1\0".to_vec(),
                exec: vec![]
            })
        );
        assert_eq!(
            check_uidgid_as(r, 6, 6, 0, 0).unwrap(),
            Decision::Allow(Params {
                env: vec![],
                exec: b"hi".to_vec()
            })
        );
    }
}
