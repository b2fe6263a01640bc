//! `s6-softlimit`: set resource limits, in command-line order, then exec prog.
//!
//! As in s6, unknown options are ignored (skalibs' `subgetopt` reports them and the program
//! goes on), and each option is applied as soon as it is read: a bad value is a usage error
//! only when its turn comes.

use common::exec::exec_prog;
use common::msg::{exit, Prog, StrError};
use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

pub const PROG: &str = "s6-softlimit";
pub const USAGE: &str = "s6-softlimit [ -H | -h ] [ -a allbytes ] [ -c corebytes ] [ -d databytes ] [ -f filebytes ] [ -l lockbytes ] [ -m membytes ] [ -o openfiles ] [ -p processes ] [ -r residentbytes ] [ -s stackbytes ] [ -t cpusecs ] prog...";
pub const HELP: &str = "\
s6-softlimit [ -H | -h ] [ -a allbytes ] [ -c corebytes ] [ -d databytes ] [ -f filebytes ] [ -l lockbytes ] [ -m membytes ] [ -o openfiles ] [ -p processes ] [ -r residentbytes ] [ -s stackbytes ] [ -t cpusecs ] prog...
Set resource limits (soft ones, capped at the hard ones), then exec prog. A value of = means the hard limit.
  -h              the following options set the hard limit only
  -H              the following options set both limits
  -a -c -d -f -l  address space, core, data, file size, locked memory (bytes)
  -m              data, stack, locked memory and address space at once
  -o -p -P        open files, processes, real-time priority
  -r -s -t        resident set, stack (bytes), cpu time (seconds)";

/// Which limits the following options set (s6's `what`): soft 1, hard 2.
const SOFT: u8 = 1;
const HARD: u8 = 2;

/// One step of the command line, in order.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'a> {
    /// `-h` (hard only) / `-H` (both).
    Which(u8),
    /// Set these resources to this value (unchecked yet).
    Set(&'static [ResourceId], &'a OsStr),
}

/// A resource (nix's portable names for `RLIMIT_*`).
pub type ResourceId = nix::sys::resource::Resource;

const AS: &[ResourceId] = &[ResourceId::RLIMIT_AS];
const CORE: &[ResourceId] = &[ResourceId::RLIMIT_CORE];
const DATA: &[ResourceId] = &[ResourceId::RLIMIT_DATA];
const FSIZE: &[ResourceId] = &[ResourceId::RLIMIT_FSIZE];
const MEMLOCK: &[ResourceId] = &[ResourceId::RLIMIT_MEMLOCK];
const MEM: &[ResourceId] = &[
    ResourceId::RLIMIT_DATA,
    ResourceId::RLIMIT_STACK,
    ResourceId::RLIMIT_MEMLOCK,
    ResourceId::RLIMIT_AS,
];
const NOFILE: &[ResourceId] = &[ResourceId::RLIMIT_NOFILE];
const NPROC: &[ResourceId] = &[ResourceId::RLIMIT_NPROC];
const RTPRIO: &[ResourceId] = &[ResourceId::RLIMIT_RTPRIO];
const RSS: &[ResourceId] = &[ResourceId::RLIMIT_RSS];
const STACK: &[ResourceId] = &[ResourceId::RLIMIT_STACK];
const CPU: &[ResourceId] = &[ResourceId::RLIMIT_CPU];

fn resources(letter: u8) -> Option<&'static [ResourceId]> {
    Some(match letter {
        b'a' => AS,
        b'c' => CORE,
        b'd' => DATA,
        b'f' => FSIZE,
        b'l' => MEMLOCK,
        b'm' => MEM,
        b'o' => NOFILE,
        b'p' => NPROC,
        b'P' => RTPRIO,
        b'r' => RSS,
        b's' => STACK,
        b't' => CPU,
        _ => return None,
    })
}

/// skalibs' `subgetopt` over `hHa:c:d:f:l:m:o:P:p:r:s:t:`, unknown letters skipped: the
/// steps and prog.
pub fn parse_args<A: AsRef<OsStr>>(args: &[A]) -> (Vec<Step<'_>>, &[A]) {
    // Usually one step per word: one allocation.
    let mut steps = Vec::with_capacity(args.len());
    // What is left of the command line: options are taken off its front.
    let mut rest = args;
    'words: while let Some((arg, after)) = rest.split_first() {
        let opts = match arg.as_ref().as_bytes() {
            [b'-', opts @ ..] if !opts.is_empty() => opts,
            _ => break,
        };
        rest = after;
        if opts == b"-" {
            break;
        }
        let mut letters = opts.iter();
        while let Some(&c) = letters.next() {
            match c {
                b'h' => steps.push(Step::Which(HARD)),
                b'H' => steps.push(Step::Which(SOFT | HARD)),
                _ => {
                    if let Some(res) = resources(c) {
                        let attached = letters.as_slice();
                        let value = if !attached.is_empty() {
                            OsStr::from_bytes(attached)
                        } else if let Some((v, after_value)) = rest.split_first() {
                            rest = after_value;
                            v.as_ref()
                        } else {
                            // A missing argument is reported and ignored.
                            break 'words;
                        };
                        steps.push(Step::Set(res, value));
                        continue 'words;
                    }
                }
            }
        }
    }
    (steps, rest)
}

/// A value: a decimal 64-bit number, or `=` (`None`).
#[derive(Debug, PartialEq, Eq, Clone, Copy)]
pub enum Value {
    Equal,
    Number(u64),
}

pub fn parse_value(v: &[u8]) -> Option<Value> {
    if v == b"=" {
        return Some(Value::Equal);
    }
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    v.iter()
        .try_fold(0u64, |acc, &d| {
            acc.checked_mul(10)?.checked_add((d - b'0') as u64)
        })
        .map(Value::Number)
}

/// The new (soft, hard) pair from the current one.
pub fn new_limits(cur: (u64, u64), value: Value, which: u8) -> (u64, u64) {
    let (mut soft, mut hard) = cur;
    match value {
        Value::Equal => {
            if which & HARD != 0 {
                hard = libc::RLIM_INFINITY;
            }
            if which & SOFT != 0 {
                soft = hard;
            }
        }
        Value::Number(n) => {
            if which & HARD != 0 {
                hard = n;
            }
            if which & SOFT != 0 {
                soft = n.min(hard);
            }
        }
    }
    (soft, hard)
}

pub fn main() -> ! {
    let args = common::rt::arguments();
    common::cli::help_or_version(&args, HELP);
    let prog = Prog::new(PROG);
    let (steps, rest) = parse_args(&args);
    let mut which = SOFT;
    for step in steps {
        match step {
            Step::Which(w) => which = w,
            Step::Set(res, v) => {
                for &r in res {
                    let cur = match nix::sys::resource::getrlimit(r) {
                        Ok(c) => c,
                        Err(e) => prog.fatal(
                            exit::SYSTEM,
                            format_args!("unable to getrlimit: {}", StrError(e)),
                        ),
                    };
                    let Some(value) = parse_value(v.as_bytes()) else {
                        prog.usage(USAGE)
                    };
                    let (soft, hard) = new_limits(cur, value, which);
                    if let Err(e) = nix::sys::resource::setrlimit(r, soft, hard) {
                        prog.fatal(
                            exit::SYSTEM,
                            format_args!("unable to setrlimit: {}", StrError(e)),
                        );
                    }
                }
            }
        }
    }
    if rest.is_empty() {
        prog.usage(USAGE);
    }
    exec_prog(PROG, rest)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn parse_in_order_unknown_ignored() {
        let a = os(&["-o", "5", "-h", "-m100", "-x", "-Pq", "prog", "-o", "1"]);
        let (steps, rest) = parse_args(&a);
        assert_eq!(
            steps,
            vec![
                Step::Set(NOFILE, OsStr::new("5")),
                Step::Which(HARD),
                Step::Set(MEM, OsStr::new("100")),
                Step::Set(RTPRIO, OsStr::new("q")),
            ]
        );
        assert_eq!(rest, &a[6..]);
        let a = os(&["-o"]);
        let (steps, rest) = parse_args(&a);
        assert!(steps.is_empty() && rest.is_empty());
        let a = os(&["--", "-o"]);
        assert_eq!(parse_args(&a).1, &a[1..]);
        for a in common::cli::pseudo_random_argv(2000) {
            let _ = parse_args(&a);
        }
    }

    #[test]
    fn values_and_limits() {
        assert_eq!(parse_value(b"="), Some(Value::Equal));
        assert_eq!(parse_value(b"100"), Some(Value::Number(100)));
        for bad in ["x", "1x", "", "-1", "=x", "==", "18446744073709551616"] {
            assert_eq!(parse_value(bad.as_bytes()), None, "{bad}");
        }
        let inf = libc::RLIM_INFINITY;
        assert_eq!(new_limits((64, 1024), Value::Equal, SOFT), (1024, 1024));
        assert_eq!(
            new_limits((64, 1024), Value::Number(5000), SOFT),
            (1024, 1024)
        );
        assert_eq!(
            new_limits((100, 1024), Value::Number(200), HARD),
            (100, 200)
        );
        assert_eq!(
            new_limits((100, 1024), Value::Number(150), SOFT | HARD),
            (150, 150)
        );
        assert_eq!(
            new_limits((100, 1024), Value::Equal, SOFT | HARD),
            (inf, inf)
        );
        assert_eq!(new_limits((100, 1024), Value::Equal, HARD), (100, inf));
    }
}
