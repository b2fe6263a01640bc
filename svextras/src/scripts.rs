//! The execline run scripts that s6-instance-maker, s6-usertree-maker and s6-svscanboot
//! write, byte for byte as s6 2.15.1 writes them (with an empty program prefix: programs are
//! found through PATH), and the files around them. Pure functions of their parameters,
//! except [`write_service`] / [`write_logger`], which write the directories.

use crate::util::{b, cat, quote};
use common::cli::fatal_sys_bytes;
use nix::errno::Errno;
use std::path::Path;

/// `#!EXECLINEB ARGS\n`.
fn shebang(execlineb: &[u8], args: &[u8]) -> Vec<u8> {
    let mut v = b"#!".to_vec();
    v.extend_from_slice(execlineb);
    v.push(b' ');
    v.extend_from_slice(args);
    v.push(b'\n');
    v
}

/// The run script of an instanced service: an s6-svscan on `instance/` (`max` is the value
/// given to `-C`), under `s6-setuidgid USER` when `user` is not empty.
pub fn instance_run(execlineb: &[u8], user: &[u8], max: u32) -> Vec<u8> {
    let mut v = shebang(execlineb, b"-P");
    v.extend_from_slice(b"\nfdmove -c 2 1\n");
    if !user.is_empty() {
        v.extend_from_slice(b"s6-setuidgid ");
        v.extend_from_slice(&quote(user));
        v.push(b'\n');
    }
    v.extend_from_slice(format!("s6-svscan -d3 -C{max} -- instance\n").as_bytes());
    v
}

/// The s6-log settings of a generated logger.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggerSpec {
    pub loguser: Option<Vec<u8>>,
    pub logdir: Vec<u8>,
    pub stamptype: u32,
    pub nfiles: u32,
    pub filesize: u64,
    pub maxsize: u64,
    pub prefix: Option<Vec<u8>>,
}

/// The run script of a generated logger (s6's `s6_auto_write_logrun`).
pub fn logger_run(execlineb: &[u8], l: &LoggerSpec) -> Vec<u8> {
    let mut v = shebang(execlineb, b"-P");
    if let Some(u) = &l.loguser {
        v.extend_from_slice(b"s6-setuidgid ");
        v.extend_from_slice(&quote(u));
        v.push(b'\n');
    }
    v.extend_from_slice(b"s6-log -bd3 -- ");
    if l.stamptype & 1 != 0 {
        v.extend_from_slice(b"t ");
    }
    if l.stamptype & 2 != 0 {
        v.extend_from_slice(b"T ");
    }
    v.extend_from_slice(format!("n{} s{} ", l.nfiles, l.filesize).as_bytes());
    if l.maxsize != 0 {
        v.extend_from_slice(format!("S{} ", l.maxsize).as_bytes());
    }
    if let Some(p) = &l.prefix {
        v.push(b'p');
        v.extend_from_slice(p);
        v.push(b' ');
    }
    v.extend_from_slice(&quote(&l.logdir));
    v.push(b'\n');
    v
}

/// What a user tree's run script needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserTree {
    pub user: Vec<u8>,
    pub scandir: Vec<u8>,
    pub path: Vec<u8>,
    pub envdir: Option<Vec<u8>>,
    pub vars: Vec<Vec<u8>>,
}

/// The run script of s6-usertree-maker's service.
pub fn usertree_run(execlineb: &[u8], t: &UserTree) -> Vec<u8> {
    let u = quote(&t.user);
    let mut v = shebang(execlineb, b"-P");
    let mut put = |parts: &[&[u8]]| {
        for p in parts {
            v.extend_from_slice(p);
        }
    };
    put(&[b"fdmove -c 2 1\nemptyenv -p\nexport USER ", &u, b"\n"]);
    put(&[b"s6-envuidgid -i -- ", &u, b"\n"]);
    put(&[b"s6-applyuidgid -U --\n"]);
    put(&[b"backtick -in HOME { homeof ", &u, b" }\n"]);
    if let Some(e) = &t.envdir {
        put(&[b"s6-envdir -i -- ", &quote(e), b"\n"]);
        if !t.vars.is_empty() {
            put(&[b"multisubstitute\n{\n"]);
            for var in &t.vars {
                let q = quote(var);
                put(&[b"  importas -D \"\" -- ", &q, b" ", &q, b"\n"]);
            }
            put(&[b"}\n"]);
        }
    }
    put(&[b"multisubstitute\n{\n  importas -i USER USER\n  importas -i HOME HOME\n  importas -i UID UID\n  importas -i GID GID\n  importas -i GIDLIST GIDLIST\n}\n"]);
    if t.envdir.is_some() {
        for var in &t.vars {
            let q = quote(var);
            put(&[b"export ", &q, b" ${", &q, b"}\n"]);
        }
    }
    put(&[b"export PATH ", &quote(&t.path), b"\n"]);
    put(&[b"s6-svscan -d3 -- ", &quote(&t.scandir), b"\n"]);
    v
}

/// The run script of s6-svscanboot's catch-all logger.
pub fn catchall_run(execlineb: &[u8], user: Option<&[u8]>, options: &[u8], dir: &[u8]) -> Vec<u8> {
    let mut v = shebang(execlineb, b"-s1");
    v.extend_from_slice(b"fdmove -c 1 2\nredirfd -rnb 0 fifo\n");
    if let Some(u) = user {
        v.extend_from_slice(b"s6-setuidgid ");
        v.extend_from_slice(&quote(u));
        v.push(b'\n');
    }
    v.extend_from_slice(b"exec -c\ns6-log -bpd3 -- ");
    v.extend_from_slice(options);
    v.push(b' ');
    v.extend_from_slice(&quote(dir));
    v.push(b'\n');
    v
}

/// chmod `path` to `mode | x where r` from 0666 & ~umask (what s6 does to generated run
/// scripts), warning when the umask leaves the owner unable to read it.
fn make_executable(prog: &str, path: &Path) {
    let m = !crate::util::current_umask() & 0o666;
    let mode = m | ((m >> 2) & 0o111);
    if let Err(e) = nix::sys::stat::fchmodat(
        nix::fcntl::AT_FDCWD,
        path,
        nix::sys::stat::Mode::from_bits_truncate(mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    ) {
        fatal_sys_bytes(prog, 111, &[b"chmod ", b(path)], e);
    }
    if m & 0o400 == 0 {
        common::cli::warn_bytes(
            prog,
            &[b"weird umask, check permissions manually on ", b(path)],
        );
    }
}

fn write_or_die(prog: &str, path: &Path, data: &[u8]) {
    if let Err(e) = crate::util::write_file(path, data) {
        fatal_sys_bytes(prog, 111, &[b"write to ", b(path)], e);
    }
}

/// s6's `s6_auto_write_service`: `dir/` (0755), `notification-fd` = `3\n`, `run`. With
/// `rc_logger` (an s6-rc source definition) also `type` and, for a non-empty logger name,
/// `producer-for`; `run` is then left non-executable.
pub fn write_service(prog: &str, dir: &[u8], run: &[u8], rc_logger: Option<&[u8]>) {
    let d = cat(dir, b"");
    if let Err(e) = common::fsio::mkdir_exact(&d, 0o755) {
        fatal_sys_bytes(prog, 111, &[b"mkdir ", dir], e);
    }
    write_or_die(prog, &cat(dir, b"/notification-fd"), b"3\n");
    let runf = cat(dir, b"/run");
    write_or_die(prog, &runf, run);
    match rc_logger {
        Some(l) => {
            write_or_die(prog, &cat(dir, b"/type"), b"longrun\n");
            if !l.is_empty() {
                write_or_die(prog, &cat(dir, b"/producer-for"), &[l, b"\n"].concat());
            }
        }
        None => make_executable(prog, &runf),
    }
}

/// s6's `s6_auto_write_logger`: `dir/` (0755) with `notification-fd` and the logger's run
/// script; as an s6-rc definition (`rc` = (service it consumes for, pipeline name)) also
/// `type`, `consumer-for`, `pipeline-name`.
pub fn write_logger(
    prog: &str,
    dir: &[u8],
    execlineb: &[u8],
    l: &LoggerSpec,
    rc: Option<(&[u8], Option<&[u8]>)>,
) {
    let d = cat(dir, b"");
    if let Err(e) = common::fsio::mkdir_exact(&d, 0o755) {
        fatal_sys_bytes(prog, 111, &[b"mkdir ", dir], e);
    }
    write_or_die(prog, &cat(dir, b"/notification-fd"), b"3\n");
    let runf = cat(dir, b"/run");
    write_or_die(prog, &runf, &logger_run(execlineb, l));
    match rc {
        Some((svc, pipeline)) => {
            write_or_die(prog, &cat(dir, b"/type"), b"longrun\n");
            write_or_die(prog, &cat(dir, b"/consumer-for"), &[svc, b"\n"].concat());
            if let Some(p) = pipeline {
                write_or_die(prog, &cat(dir, b"/pipeline-name"), &[p, b"\n"].concat());
            }
        }
        None => make_executable(prog, &runf),
    }
}

/// Why an `-r service[/logger[/pipeline]]` argument is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RcError {
    Newlines,
    EmptyService,
    Malformed,
    EmptyLogger,
    LoggerWithoutLogdir,
    EmptyPipeline,
    Slashes,
    LogdirWithoutLogger,
}

impl RcError {
    /// The message; `logger_required` is s6-usertree-maker's wording of [`RcError::Malformed`].
    pub fn text(self, logger_required: bool) -> &'static str {
        match self {
            RcError::Newlines => "newlines are forbidden in s6-rc names",
            RcError::EmptyService => "service name cannot be empty",
            RcError::Malformed if logger_required => {
                "argument to -r must be: service/logger or service/logger/pipeline"
            }
            RcError::Malformed => {
                "argument to -r must be: service or service/logger or service/logger/pipeline"
            }
            RcError::EmptyLogger => "logger name cannot be empty",
            RcError::LoggerWithoutLogdir => "logger specified (-r) but logdir not specified (-L)",
            RcError::EmptyPipeline => "pipeline name cannot be empty",
            RcError::Slashes => "slashes are forbidden in s6-rc names",
            RcError::LogdirWithoutLogger => {
                "logdir specified (-L) but logger name not specified (-r)"
            }
        }
    }
}

/// The parts of an `-r` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RcNames {
    pub service: Vec<u8>,
    pub logger: Option<Vec<u8>>,
    pub pipeline: Option<Vec<u8>>,
}

/// Split and check `-r service[/logger[/pipeline]]` in s6's order. `has_logdir`: whether
/// `-L` was given (s6-instance-maker); `logger_required`: s6-usertree-maker. Pure.
pub fn parse_rc(arg: &[u8], has_logdir: bool, logger_required: bool) -> Result<RcNames, RcError> {
    if arg.contains(&b'\n') {
        return Err(RcError::Newlines);
    }
    if arg.first() == Some(&b'/') {
        return Err(RcError::EmptyService);
    }
    let Some((service, rest)) = split_once(arg, b'/') else {
        if logger_required {
            return Err(RcError::Malformed);
        }
        if has_logdir {
            return Err(RcError::LogdirWithoutLogger);
        }
        return Ok(RcNames {
            service: arg.to_vec(),
            logger: None,
            pipeline: None,
        });
    };
    let service = service.to_vec();
    match rest.first() {
        None => return Err(RcError::Malformed),
        Some(b'/') => return Err(RcError::EmptyLogger),
        Some(_) => {}
    }
    if !has_logdir && !logger_required {
        return Err(RcError::LoggerWithoutLogdir);
    }
    let (logger, pipeline) = match split_once(rest, b'/') {
        None => (rest.to_vec(), None),
        Some((logger, p)) => {
            if p.is_empty() {
                return Err(RcError::EmptyPipeline);
            }
            if p.contains(&b'/') {
                return Err(RcError::Slashes);
            }
            (logger.to_vec(), Some(p.to_vec()))
        }
    };
    Ok(RcNames {
        service,
        logger: Some(logger),
        pipeline,
    })
}

/// mkdir DIR 0755 (umask 0), an existing one being fine (the `-r` layouts).
pub fn mkdir_maybe(prog: &str, dir: &[u8]) {
    match common::fsio::mkdir_exact(&cat(dir, b""), 0o755) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => fatal_sys_bytes(prog, 111, &[b"mkdir ", dir], e),
    }
}

/// `s` split around its first `sep`: (before, after), without the separator.
fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&c| c == sep)?;
    let (before, after) = s.split_at_checked(i)?;
    Some((before, after.get(1..)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_script() {
        assert_eq!(
            instance_run(b"/bin/execlineb", b"", 500),
            b"#!/bin/execlineb -P\n\nfdmove -c 2 1\ns6-svscan -d3 -C500 -- instance\n"
        );
        assert_eq!(
            instance_run(b"/x/execlineb", b"bob", 7),
            b"#!/x/execlineb -P\n\nfdmove -c 2 1\ns6-setuidgid \"bob\"\ns6-svscan -d3 -C7 -- instance\n"
        );
    }

    #[test]
    fn logger_script() {
        let mut l = LoggerSpec {
            loguser: None,
            logdir: b"/var/log/x".to_vec(),
            stamptype: 1,
            nfiles: 10,
            filesize: 1000000,
            maxsize: 0,
            prefix: None,
        };
        assert_eq!(
            logger_run(b"/e", &l),
            b"#!/e -P\ns6-log -bd3 -- t n10 s1000000 \"/var/log/x\"\n"
        );
        l.stamptype = 3;
        l.maxsize = 5;
        l.prefix = Some(b"pre".to_vec());
        l.loguser = Some(b"log".to_vec());
        assert_eq!(
            logger_run(b"/e", &l),
            b"#!/e -P\ns6-setuidgid \"log\"\ns6-log -bd3 -- t T n10 s1000000 S5 ppre \"/var/log/x\"\n"
        );
    }

    #[test]
    fn rc_names() {
        assert_eq!(parse_rc(b"a\nb", false, false), Err(RcError::Newlines));
        assert_eq!(parse_rc(b"/a", false, false), Err(RcError::EmptyService));
        assert_eq!(parse_rc(b"a/", true, false), Err(RcError::Malformed));
        assert_eq!(parse_rc(b"a//", true, false), Err(RcError::EmptyLogger));
        assert_eq!(
            parse_rc(b"a/b", false, false),
            Err(RcError::LoggerWithoutLogdir)
        );
        assert_eq!(parse_rc(b"a/b/", true, false), Err(RcError::EmptyPipeline));
        assert_eq!(parse_rc(b"a/b/c/d", true, false), Err(RcError::Slashes));
        assert_eq!(
            parse_rc(b"a", true, false),
            Err(RcError::LogdirWithoutLogger)
        );
        assert_eq!(parse_rc(b"a", false, true), Err(RcError::Malformed));
        let r = parse_rc(b"a/b/c", true, false).unwrap();
        assert_eq!(r.logger.as_deref(), Some(&b"b"[..]));
        assert_eq!(r.pipeline.as_deref(), Some(&b"c"[..]));
        assert_eq!(parse_rc(b"a", false, false).unwrap().logger, None);
    }
}
