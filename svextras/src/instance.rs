//! The instance programs: `s6-instance-maker` writes an instanced service (a service whose
//! run script is an s6-svscan on its `instance/` directory), `s6-instance-create` /
//! `-delete` add and remove instances (copies of `template/` in `instances/NAME`, linked
//! as `instance/NAME`), `-control` and `-status` are s6-svc and s6-svstat on an instance,
//! `-list` names them.

use crate::link;
use crate::scripts::{self, LoggerSpec};
use crate::svlink::parse_link_args;
use crate::util::{b, cat, execlineb_path, hiercopy, rm_rf};
use common::cli::{fatal_bytes, fatal_sys_bytes};
use common::cli::{uint0_scan, GetOpt, Opt};
use nix::errno::Errno;
use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// An instance name s6 accepts: not empty, no leading `.`, no space, tab, FF, CR or LF.
pub fn valid_instance_name(n: &[u8]) -> bool {
    n.first().is_some_and(|&c| c != b'.') && !n.iter().any(|c| b" \t\x0c\r\n".contains(c))
}

/// s6's `s6_instance_chdirservice`: chdir to `SVC/instance` and check that an s6-svscan runs
/// there.
fn chdir_service(prog: &str, svc: &[u8]) {
    if svc.is_empty() {
        fatal_bytes(prog, 100, &[b"invalid service path"]);
    }
    let dir = cat(svc, b"/instance");
    if let Err(e) = nix::unistd::chdir(&dir) {
        fatal_sys_bytes(prog, 111, &[b"chdir to ", b(&dir)], e);
    }
    match link::svscan_running(Path::new(".s6-svscan/lock")) {
        Ok(true) => {}
        Ok(false) => fatal_bytes(prog, 1, &[b"instanced service not running on ", svc]),
        Err(link::LockCheckError::Open(e)) => {
            fatal_sys_bytes(prog, 111, &[b"open ", b(&dir), b"/.s6-svscan/lock"], e)
        }
        Err(link::LockCheckError::Check(e)) => fatal_sys_bytes(
            prog,
            111,
            &[b"check lock on ", b(&dir), b"/.s6-svscan/lock"],
            e,
        ),
    }
}

fn args() -> Vec<OsString> {
    common::rt::args_os().into_iter().skip(1).collect()
}

// ---------------------------------------------------------------------------------------
// s6-instance-maker

pub const MAKER: &str = "s6-instance-maker";
pub const MAKER_USAGE: &str = "s6-instance-maker [ -c max ] [ -u user ] [ -l loguser ] [ -L logdir ] [ -t stamptype ] [ -n nfiles ] [ -s filesize ] [ -S maxsize ] [ -P prefix ] [ -r service[/logger[/pipeline]] ] template dir";
pub const MAKER_HELP: &str = "\
s6-instance-maker [ -c max ] [ -u user ] [ -l loguser ] [ -L logdir ] [ -t stamptype ] [ -n nfiles ] [ -s filesize ] [ -S maxsize ] [ -P prefix ] [ -r service[/logger[/pipeline]] ] template dir
Write an instanced service at dir whose instances are copies of template.
  -c max        at most max instances (default 500)
  -u user       run the instances' s6-svscan as user
  -L logdir     add a logger (s6-log) writing to logdir; -l loguser runs it as loguser
  -t stamptype  0 none, 1 TAI64N (default), 2 ISO 8601, 3 both
  -n nfiles     -s filesize  -S maxsize  -P prefix: the logger's archive settings
  -r svc[/logger[/pipeline]]  write s6-rc source definitions instead
";

/// s6-instance-maker's settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MakerArgs {
    pub max: u32,
    pub user: Vec<u8>,
    pub logger: LoggerSpec,
    pub logdir: Option<Vec<u8>>,
    pub rc: Option<Vec<u8>>,
    pub template: OsString,
    pub dir: OsString,
}

/// Logger options shared with s6-usertree-maker; false for an unknown option or bad number.
fn logger_option(l: &mut LoggerSpec, o: Opt<'_>) -> Option<bool> {
    match o {
        Opt::Arg(b'l', a) => l.loguser = Some(a.as_bytes().to_vec()),
        Opt::Arg(b't', a) => l.stamptype = uint0_scan(a)?,
        Opt::Arg(b'n', a) => l.nfiles = uint0_scan(a)?,
        Opt::Arg(b's', a) => l.filesize = common::cli::uint640_scan(a)?,
        Opt::Arg(b'S', a) => l.maxsize = common::cli::uint640_scan(a)?,
        Opt::Arg(b'P', a) => l.prefix = Some(a.as_bytes().to_vec()),
        _ => return Some(false),
    }
    Some(true)
}

pub fn default_logger() -> LoggerSpec {
    LoggerSpec {
        loguser: None,
        logdir: Vec::new(),
        stamptype: 1,
        nfiles: 10,
        filesize: 1_000_000,
        maxsize: 0,
        prefix: None,
    }
}

/// Parse s6-instance-maker's arguments; `None` is a usage error. Pure.
pub fn parse_maker_args(args: &[OsString]) -> Option<MakerArgs> {
    let mut g = GetOpt::new(args, "u:l:L:c:t:n:s:S:P:r:");
    let mut m = MakerArgs {
        max: 500,
        user: Vec::new(),
        logger: default_logger(),
        logdir: None,
        rc: None,
        template: OsString::new(),
        dir: OsString::new(),
    };
    while let Some(o) = g.next_opt() {
        let o = o.ok()?;
        match o {
            Opt::Arg(b'u', a) => m.user = a.as_bytes().to_vec(),
            Opt::Arg(b'L', a) => m.logdir = Some(a.as_bytes().to_vec()),
            Opt::Arg(b'c', a) => m.max = uint0_scan(a)?,
            Opt::Arg(b'r', a) => m.rc = Some(a.as_bytes().to_vec()),
            o => {
                if !logger_option(&mut m.logger, o)? {
                    return None;
                }
            }
        }
    }
    let [template, dir, ..] = g.rest() else {
        return None;
    };
    m.template = template.clone();
    m.dir = dir.clone();
    Some(m)
}

pub fn maker_main() -> ! {
    let args = args();
    common::cli::help_or_version(&args, MAKER_HELP);
    let Some(mut m) = parse_maker_args(&args) else {
        common::Prog::new(MAKER).usage(MAKER_USAGE)
    };
    if let Some(l) = &m.logdir {
        if l.first() != Some(&b'/') {
            fatal_bytes(MAKER, 100, &[b"logdir must be absolute"]);
        }
    }
    if m.logger.stamptype > 3 {
        fatal_bytes(MAKER, 100, &[b"stamptype must be 0, 1, 2 or 3"]);
    }
    if m.user.iter().any(|c| b" \t\n".contains(c)) {
        fatal_bytes(MAKER, 100, &[b"invalid user"]);
    }
    m.max = m.max.clamp(1, 90000);
    if m.logdir.is_some() && m.rc.is_none() {
        // the loggers are services of the instances' s6-svscan too
        m.max <<= 1;
    }
    let rc = match &m.rc {
        None => None,
        Some(r) => match scripts::parse_rc(r, m.logdir.is_some(), false) {
            Ok(n) => Some(n),
            Err(e) => fatal_bytes(MAKER, 100, &[e.text(false).as_bytes()]),
        },
    };
    let execlineb = execlineb_path();
    let run = scripts::instance_run(&execlineb, &m.user, m.max);
    let dir = m.dir.as_bytes();
    if let Some(l) = &m.logdir {
        m.logger.logdir = l.clone();
    }
    let copy_template = |svdir: &[u8]| {
        let t = cat(svdir, b"/template");
        if let Err(e) = hiercopy(Path::new(&m.template), &t) {
            fatal_sys_bytes(
                MAKER,
                111,
                &[
                    b"copy file hierarchy from ",
                    m.template.as_bytes(),
                    b" to ",
                    b(&t),
                ],
                e,
            );
        }
    };
    match rc {
        Some(rc) => {
            scripts::mkdir_maybe(MAKER, dir);
            let svdir = [dir, b"/", &rc.service].concat();
            scripts::write_service(
                MAKER,
                &svdir,
                &run,
                Some(rc.logger.as_deref().unwrap_or(b"")),
            );
            copy_template(&svdir);
            if let Some(lg) = &rc.logger {
                let ldir = [dir, b"/", lg].concat();
                scripts::write_logger(
                    MAKER,
                    &ldir,
                    &execlineb,
                    &m.logger,
                    Some((&rc.service, rc.pipeline.as_deref())),
                );
            }
        }
        None => {
            scripts::write_service(MAKER, dir, &run, None);
            for sub in [&b"/instance"[..], b"/instances"] {
                let p = cat(dir, sub);
                if let Err(e) = common::fsio::mkdir_exact(&p, 0o755) {
                    fatal_sys_bytes(MAKER, 111, &[b"mkdir ", b(&p)], e);
                }
            }
            copy_template(dir);
            if m.logdir.is_some() {
                let ldir = [dir, b"/log"].concat();
                scripts::write_logger(MAKER, &ldir, &execlineb, &m.logger, None);
            }
        }
    }
    common::rt::exit(0)
}

// ---------------------------------------------------------------------------------------
// s6-instance-create / -delete

pub const CREATE: &str = "s6-instance-create";
pub const CREATE_USAGE: &str =
    "s6-instance-create [ -d | -D ] [ -f ] [ -P ] [ -t timeout ] service instancename";
pub const CREATE_HELP: &str = "\
s6-instance-create [ -d | -D ] [ -f ] [ -P ] [ -t timeout ] service instancename
Create instance instancename of the instanced service and wait until it is supervised.
  -d          do not start it    -D  do not start it, and leave a ./down file
  -f          force the mode of an existing event/    -P  make event/ public
  -t timeout  give up after timeout milliseconds (exit 99)
";

pub fn create_main() -> ! {
    let args = args();
    common::cli::help_or_version(&args, CREATE_HELP);
    let Some(mut a) = parse_link_args(&args) else {
        common::Prog::new(CREATE).usage(CREATE_USAGE)
    };
    a.opts.keep_relative = true;
    let [svc, name, ..] = a.operands.as_slice() else {
        common::Prog::new(CREATE).usage(CREATE_USAGE)
    };
    let (svc, name) = (svc.as_bytes(), name.as_bytes());
    if !valid_instance_name(name) {
        fatal_bytes(CREATE, 100, &[b"invalid instance name"]);
    }
    for sub in [&b"/instances"[..], b"/instance"] {
        let p = cat(svc, sub);
        match common::fsio::mkdir_exact(&p, 0o755) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => fatal_sys_bytes(CREATE, 111, &[b"mkdir ", b(&p)], e),
        }
    }
    chdir_service(CREATE, svc);
    let deadline = common::deadline::from_ms(a.timeout);
    let rel = [&b"../instances/"[..], name].concat();
    let shown = [svc, b"/instances/", name].concat();
    match std::fs::metadata(cat(&rel, b"")) {
        Ok(m) if m.is_dir() => fatal_bytes(
            CREATE,
            100,
            &[b"instance appears to already exist at ", &shown],
        ),
        Ok(_) => fatal_bytes(
            CREATE,
            100,
            &[b"unexpected file preventing instance creation at ", &shown],
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => fatal_sys_bytes(CREATE, 111, &[b"stat ", &shown], common::msg::errno_of(&e)),
    }
    let relp = cat(&rel, b"");
    if let Err(e) = hiercopy(Path::new("../template"), &relp) {
        rm_rf(&relp);
        fatal_sys_bytes(CREATE, 111, &[b"copy ", svc, b"/template to ", &shown], e);
    }
    if let Err(e) = link::link(b".", &rel, name, a.opts, deadline) {
        rm_rf(&relp);
        let code = if e == Errno::ETIMEDOUT { 99 } else { 111 };
        fatal_sys_bytes(
            CREATE,
            code,
            &[b"create instance of ", svc, b" named ", name],
            e,
        );
    }
    common::rt::exit(0)
}

pub const DELETE: &str = "s6-instance-delete";
pub const DELETE_USAGE: &str = "s6-instance-delete [ -X ] [ -t timeout ] service instancename";
pub const DELETE_HELP: &str = "\
s6-instance-delete [ -X ] [ -t timeout ] service instancename
Stop and remove instance instancename of the instanced service.
  -X          do not wait for its supervisor to exit
  -t timeout  stop waiting after timeout milliseconds
";

pub fn delete_main() -> ! {
    let args = args();
    common::cli::help_or_version(&args, DELETE_HELP);
    let Some((wait, timeout, ops)) = crate::svlink::parse_unlink_args(&args) else {
        common::Prog::new(DELETE).usage(DELETE_USAGE)
    };
    let [svc, name, ..] = ops.as_slice() else {
        common::Prog::new(DELETE).usage(DELETE_USAGE)
    };
    let (svc, name) = (svc.as_bytes(), name.as_bytes());
    if !valid_instance_name(name) {
        fatal_bytes(DELETE, 100, &[b"invalid instance name"]);
    }
    chdir_service(DELETE, svc);
    if let Err(e) = link::unlink(b".", name, wait, common::deadline::from_ms(timeout)) {
        fatal_sys_bytes(
            DELETE,
            111,
            &[b"prepare deletion of instance ", name, b" of service ", svc],
            e,
        );
    }
    rm_rf(&cat(b"../instances/", name));
    common::rt::exit(0)
}

// ---------------------------------------------------------------------------------------
// s6-instance-control / -status / -list

pub const CONTROL: &str = "s6-instance-control";
pub const CONTROL_USAGE: &str = "s6-instance-control [ -wu | -wU | -wd | -wD | -wr | -wR ] [ -T timeout ] [ -abqhkti12pcyroduDUxO ] service instancename";
pub const CONTROL_HELP: &str = "\
s6-instance-control [ -wu | -wU | -wd | -wD | -wr | -wR ] [ -T timeout ] [ -abqhkti12pcyroduDUxO ] service instancename
s6-svc with the same options on the instance instancename of the instanced service.
";

/// Why s6-instance-control / -status refuse their arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrontError {
    Usage,
    TooMany,
    NullField,
    InvalidService,
    InvalidInstance,
}

/// Check s6-instance-control's arguments as s6 does; Ok(index of the service operand). Pure.
pub fn check_control_args(args: &[OsString]) -> Result<usize, FrontError> {
    let mut g = GetOpt::new(args, "abqhkti12pcyroduDUxOT:w:");
    let mut commands = 1u32;
    while let Some(o) = g.next_opt() {
        match o.map_err(|_| FrontError::Usage)? {
            Opt::Flag(_) => {
                if commands >= 63 {
                    return Err(FrontError::TooMany);
                }
                commands += 1;
            }
            Opt::Arg(b'T', a) => {
                uint0_scan(a).ok_or(FrontError::Usage)?;
            }
            Opt::Arg(_, a) => {
                // -w: the first letter must be one of dDuUrR
                match a.as_bytes().first() {
                    Some(c) if b"dDuUrR".contains(c) => {}
                    _ => return Err(FrontError::Usage),
                }
            }
        }
    }
    check_operands(args, g.rest())
}

fn check_operands(args: &[OsString], rest: &[OsString]) -> Result<usize, FrontError> {
    let [svc, name, ..] = rest else {
        return Err(FrontError::Usage);
    };
    if svc.is_empty() {
        return Err(FrontError::InvalidService);
    }
    if !valid_instance_name(name.as_bytes()) {
        return Err(FrontError::InvalidInstance);
    }
    Ok(args.len() - rest.len())
}

/// s6-instance-status's `-o` check (which, as in s6, accepts any non-empty field name:
/// s6-svstat reports unknown ones). Returns the new field count.
fn count_fields(arg: &[u8], mut n: u32) -> Result<u32, FrontError> {
    let mut rest = arg;
    while !rest.is_empty() {
        let pos = rest.iter().position(|&c| c == b',').unwrap_or(rest.len());
        if pos == 0 {
            return Err(FrontError::NullField);
        }
        if n >= 16 {
            return Err(FrontError::TooMany);
        }
        n += 1;
        rest = rest.get(pos + 1..).unwrap_or_default();
    }
    Ok(n)
}

/// Check s6-instance-status's arguments as s6 does; Ok(index of the service operand). Pure.
pub fn check_status_args(args: &[OsString]) -> Result<usize, FrontError> {
    let mut g = GetOpt::new(args, "no:uwNrpest");
    let mut n = 0u32;
    while let Some(o) = g.next_opt() {
        match o.map_err(|_| FrontError::Usage)? {
            Opt::Flag(b'n') => {}
            Opt::Flag(_) => {
                if n >= 16 {
                    return Err(FrontError::TooMany);
                }
                n += 1;
            }
            Opt::Arg(_, a) => n = count_fields(a.as_bytes(), n)?,
        }
    }
    check_operands(args, g.rest())
}

/// The argv to exec: `tool`, the options as given, `SVC/instance/NAME`; `None` if the two
/// operands are not at `svc_index`. Pure.
pub fn front_argv(tool: &str, args: &[OsString], svc_index: usize) -> Option<Vec<OsString>> {
    let (opts, operands) = args.split_at_checked(svc_index)?;
    let [svc, name, ..] = operands else {
        return None;
    };
    let mut v: Vec<OsString> = Vec::with_capacity(svc_index + 2);
    v.push(tool.into());
    v.extend_from_slice(opts);
    let target = [svc.as_bytes(), b"/instance/", name.as_bytes()].concat();
    v.push(OsString::from_vec(target));
    Some(v)
}

fn front_main(
    prog: &str,
    usage: &str,
    help: &str,
    tool: &str,
    too_many: &str,
    check: fn(&[OsString]) -> Result<usize, FrontError>,
) -> ! {
    let args = args();
    common::cli::help_or_version(&args, help);
    match check(&args) {
        Ok(i) => match front_argv(tool, &args, i) {
            Some(argv) => common::exec::exec_or_die(prog, &argv),
            None => common::Prog::new(prog).usage(usage),
        },
        Err(FrontError::Usage) => common::Prog::new(prog).usage(usage),
        Err(FrontError::TooMany) => fatal_bytes(prog, 100, &[too_many.as_bytes()]),
        Err(FrontError::NullField) => fatal_bytes(prog, 100, &[b"invalid null option field"]),
        Err(FrontError::InvalidService) => fatal_bytes(prog, 100, &[b"invalid service name"]),
        Err(FrontError::InvalidInstance) => fatal_bytes(prog, 100, &[b"invalid instance name"]),
    }
}

pub fn control_main() -> ! {
    front_main(
        CONTROL,
        CONTROL_USAGE,
        CONTROL_HELP,
        "s6-svc",
        "too many commands",
        check_control_args,
    )
}

pub const STATUS: &str = "s6-instance-status";
pub const STATUS_USAGE: &str = "s6-instance-status [ -uwNrpest | -o up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor ] [ -n ] service name";
pub const STATUS_HELP: &str = "\
s6-instance-status [ -uwNrpest | -o up,wantedup,normallyup,ready,paused,pid,exitcode,signal,signum,updownsince,readysince,updownfor,readyfor ] [ -n ] service name
s6-svstat with the same options on the instance name of the instanced service.
";

pub fn status_main() -> ! {
    front_main(
        STATUS,
        STATUS_USAGE,
        STATUS_HELP,
        "s6-svstat",
        "too many option fields",
        check_status_args,
    )
}

pub const LIST: &str = "s6-instance-list";
pub const LIST_USAGE: &str = "s6-instance-list service";
pub const LIST_HELP: &str = "\
s6-instance-list service
Print the names of the instances of the instanced service, one per line.
";

pub fn list_main() -> ! {
    let args = args();
    common::cli::help_or_version(&args, LIST_HELP);
    let mut g = GetOpt::new(&args, "");
    if g.next_opt().is_some() {
        common::Prog::new(LIST).usage(LIST_USAGE);
    }
    let Some(svc) = g.rest().first() else {
        common::Prog::new(LIST).usage(LIST_USAGE)
    };
    let svc = svc.as_bytes();
    chdir_service(LIST, svc);
    let fail = |e: Errno| -> ! { fatal_sys_bytes(LIST, 111, &[b"readdir ", svc, b"/instance"], e) };
    let rd = std::fs::read_dir(".").unwrap_or_else(|e| fail(common::msg::errno_of(&e)));
    let mut out = Vec::new();
    for ent in rd {
        let ent = ent.unwrap_or_else(|e| fail(common::msg::errno_of(&e)));
        let n = ent.file_name();
        if n.as_bytes().first() == Some(&b'.') {
            continue;
        }
        out.extend_from_slice(n.as_bytes());
        out.push(b'\n');
    }
    if let Err(e) = common::fsio::write_all(std::io::stdout(), &out) {
        fatal_sys_bytes(LIST, 111, &[b"write to stdout"], e);
    }
    common::rt::exit(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    use common::cli::os_args as v;

    #[test]
    fn instance_names() {
        assert!(valid_instance_name(b"web1"));
        for bad in [
            &b""[..],
            b".x",
            b"a b",
            b"a\tb",
            b"a\nb",
            b"a\x0cb",
            b"a\rb",
        ] {
            assert!(!valid_instance_name(bad));
        }
    }

    #[test]
    fn control_args() {
        assert_eq!(
            check_control_args(&v(&["-wd", "-T", "5000", "-d", "s", "n"])),
            Ok(4)
        );
        assert_eq!(
            check_control_args(&v(&["-wx", "s", "n"])),
            Err(FrontError::Usage)
        );
        assert_eq!(
            check_control_args(&v(&["-T", "x", "s", "n"])),
            Err(FrontError::Usage)
        );
        assert_eq!(
            check_control_args(&v(&["-u", "", "n"])),
            Err(FrontError::InvalidService)
        );
        assert_eq!(
            check_control_args(&v(&["-u", "s", ".n"])),
            Err(FrontError::InvalidInstance)
        );
        assert_eq!(check_control_args(&v(&["s"])), Err(FrontError::Usage));
        let many = format!("-{}", "u".repeat(62));
        assert_eq!(check_control_args(&v(&[&many, "s", "n"])), Ok(1));
        let many = format!("-{}", "u".repeat(63));
        assert_eq!(
            check_control_args(&v(&[&many, "s", "n"])),
            Err(FrontError::TooMany)
        );
        let argv = front_argv("s6-svc", &v(&["-u", "s", "n", "extra"]), 1).unwrap();
        assert_eq!(argv, v(&["s6-svc", "-u", "s/instance/n"]));
    }

    #[test]
    fn status_args() {
        assert_eq!(check_status_args(&v(&["-o", "up,pid", "s", "n"])), Ok(2));
        assert_eq!(
            check_status_args(&v(&["-o", "up,,pid", "s", "n"])),
            Err(FrontError::NullField)
        );
        assert_eq!(check_status_args(&v(&["-o", "bogus", "s", "n"])), Ok(2));
        let f = vec!["up"; 17].join(",");
        assert_eq!(
            check_status_args(&v(&["-o", &f, "s", "n"])),
            Err(FrontError::TooMany)
        );
        assert_eq!(
            check_status_args(&v(&["-x", "s", "n"])),
            Err(FrontError::Usage)
        );
    }

    #[test]
    fn maker_args() {
        let m = parse_maker_args(&v(&["-c", "10", "-L", "/l", "t", "d"])).unwrap();
        assert_eq!(m.max, 10);
        assert_eq!(m.logdir.as_deref(), Some(&b"/l"[..]));
        assert!(parse_maker_args(&v(&["-c", "x", "t", "d"])).is_none());
        assert!(parse_maker_args(&v(&["t"])).is_none());
        assert!(parse_maker_args(&v(&["-z", "t", "d"])).is_none());
    }
}
