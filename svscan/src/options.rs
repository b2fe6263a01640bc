//! Command line of `s6-svscan`, parsed the way s6 2.15.1 does (skalibs `gol`): clustered short
//! options (`-C5`, `-C 5`), long options only as `--name=value`, `--` ends the options, the
//! first non-option is the scandir. 2.11's `-c maxservices` is also accepted so that images
//! written for 2.11 still start (it counts a service and its logger as one slot, so it is
//! translated to twice as many services).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

pub const USAGE: &str = "s6-svscan [ -C services_max ] [ -L name_max ] [ -t timeout ] [ -d notif ] [ -X consoleholder ] scandir";
/// `--help` (our extension, like `--version`; s6 rejects both).
pub const HELP: &str = "\
s6-svscan [ -C services_max ] [ -L name_max ] [ -t timeout ] [ -d notif ] [ -X consoleholder ] scandir
Supervise every service directory of scandir (one s6-supervise each, and one for its log/,
linked by a pipe), obey s6-svscanctl commands on .s6-svscan/control, run .s6-svscan/finish
or .s6-svscan/crash when it exits.
  -C services_max   --services-max=   most services (a logger counts too), default 1000
  -L name_max       --name-max=       longest service name, default 251
  -t timeout        --timeout=        rescan every timeout ms (default 0: on command only)
  -d notif          --notification-fd=  write a newline to fd notif once ready
  -X consoleholder  --console-holder= fd holding the console, stderr of s6-svscan-log
";

/// Default and bounds of `-C` (s6 2.15.1).
pub const MAX_DEFAULT: u32 = 1000;
pub const MAX_MIN: u32 = 4;
pub const MAX_MAX: u32 = 160_000;
/// Default and bounds of `-L`.
pub const NAMEMAX_DEFAULT: u32 = 251;
pub const NAMEMAX_MIN: u32 = 11;
pub const NAMEMAX_MAX: u32 = 1019;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Options {
    /// Maximum number of services (each logger counts).
    pub max: u32,
    /// Maximum length of a scandir entry name.
    pub namemax: u32,
    /// Periodic rescan, in milliseconds (`None`: only on demand).
    pub timeout_ms: Option<u64>,
    /// Readiness notification fd (already checked to be >= 3; openness is checked by the caller).
    pub notif: Option<i32>,
    /// Console holder fd (>= 3).
    pub console: Option<i32>,
    pub scandir: OsString,
}

#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum OptError {
    /// Print the usage string, exit 100.
    #[error("usage")]
    Usage,
    /// `fatal: <text>`, exit 100.
    #[error("{0}")]
    Fatal(String),
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Opt {
    Max,
    MaxPairs,
    NameMax,
    Timeout,
    Notif,
    Console,
}

const SHORT: [(u8, Opt); 6] = [
    (b'C', Opt::Max),
    (b'c', Opt::MaxPairs),
    (b'L', Opt::NameMax),
    (b't', Opt::Timeout),
    (b'd', Opt::Notif),
    (b'X', Opt::Console),
];

const LONG: [(&str, Opt); 5] = [
    ("services-max", Opt::Max),
    ("name-max", Opt::NameMax),
    ("timeout", Opt::Timeout),
    ("notification-fd", Opt::Notif),
    ("console-holder", Opt::Console),
];

/// skalibs `uint320_scan`/`uint0_scan`: the whole string is decimal digits and fits 32 bits.
fn scan_u32(s: &[u8]) -> Option<u32> {
    if s.is_empty() || !s.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(s).ok()?.parse::<u32>().ok()
}

fn lossy(s: &[u8]) -> String {
    String::from_utf8_lossy(s).into_owned()
}

/// The raw value given to each option (the last one wins).
#[derive(Default)]
struct Values<'a> {
    max: Option<&'a [u8]>,
    max_pairs: Option<&'a [u8]>,
    namemax: Option<&'a [u8]>,
    timeout: Option<&'a [u8]>,
    notif: Option<&'a [u8]>,
    console: Option<&'a [u8]>,
}

impl<'a> Values<'a> {
    fn slot(&mut self, o: Opt) -> &mut Option<&'a [u8]> {
        match o {
            Opt::Max => &mut self.max,
            Opt::MaxPairs => &mut self.max_pairs,
            Opt::NameMax => &mut self.namemax,
            Opt::Timeout => &mut self.timeout,
            Opt::Notif => &mut self.notif,
            Opt::Console => &mut self.console,
        }
    }
}

/// Parse `argv` (including `argv[0]`).
pub fn parse(argv: &[OsString]) -> Result<Options, OptError> {
    let args: Vec<&[u8]> = argv.iter().skip(1).map(|a| a.as_bytes()).collect();
    let (vals, scandir) = scan(&args)?;
    let Some(scandir) = scandir else {
        return Err(OptError::Usage);
    };
    let mut opts = convert(&vals)?;
    opts.scandir = OsStr::from_bytes(scandir).to_os_string();
    Ok(opts)
}

/// Walk the options (`gol`): their raw values, and the first operand (the scandir).
fn scan<'a>(args: &[&'a [u8]]) -> Result<(Values<'a>, Option<&'a [u8]>), OptError> {
    let mut vals = Values::default();
    let mut rest = args.iter().copied();
    while let Some(a) = rest.next() {
        let Some(after_dash) = a.strip_prefix(b"-").filter(|r| !r.is_empty()) else {
            return Ok((vals, Some(a)));
        };
        match after_dash.strip_prefix(b"-") {
            Some([]) => return Ok((vals, rest.next())),
            Some(body) => long_option(a, body, &mut vals)?,
            None => {
                // No boolean options: the first letter of a cluster always takes a value,
                // glued (`-C5`) or as the next argument (`-C 5`, unless that is `--`).
                let (&letter, glued) = after_dash.split_first().unwrap_or((&0, &[]));
                let Some(&(_, o)) = SHORT.iter().find(|(c, _)| *c == letter) else {
                    return Err(OptError::Fatal(format!(
                        "unrecognized short option: {}",
                        lossy(&[letter])
                    )));
                };
                if !glued.is_empty() {
                    *vals.slot(o) = Some(glued);
                } else if let Some(next) = rest.clone().next().filter(|n| *n != b"--") {
                    rest.next();
                    *vals.slot(o) = Some(next);
                }
            }
        }
    }
    Ok((vals, None))
}

/// `--name=value` (`body` is after the `--`; `a` the whole argument, for messages).
fn long_option<'a>(a: &[u8], body: &'a [u8], vals: &mut Values<'a>) -> Result<(), OptError> {
    let Some(eq) = body.iter().position(|&c| c == b'=') else {
        return Err(OptError::Fatal(format!(
            "unrecognized boolean option: {}",
            lossy(a)
        )));
    };
    let (name, value) = body.split_at(eq);
    let value = value.get(1..).unwrap_or(&[]);
    if name.is_empty() {
        return Err(OptError::Fatal(format!("invalid option: {}", lossy(a))));
    }
    match LONG.iter().find(|(n, _)| n.as_bytes() == name) {
        Some(&(_, o)) => {
            *vals.slot(o) = Some(value);
            Ok(())
        }
        None => Err(OptError::Fatal(format!(
            "unrecognized option with argument: {}",
            lossy(a)
        ))),
    }
}

/// Check and convert the raw values (s6's bounds and messages); `scandir` is left empty.
fn convert(vals: &Values<'_>) -> Result<Options, OptError> {
    let num = |v: Option<&[u8]>, name: &str| -> Result<Option<u32>, OptError> {
        match v {
            None => Ok(None),
            Some(v) => scan_u32(v)
                .map(Some)
                .ok_or_else(|| OptError::Fatal(format!("{name} must be an unsigned integer"))),
        }
    };
    let mut max = MAX_DEFAULT;
    if let Some(pairs) = num(vals.max_pairs, "maxservices")? {
        max = pairs.saturating_mul(2).clamp(MAX_MIN, MAX_MAX);
    }
    if let Some(m) = num(vals.max, "services_max")? {
        max = m.clamp(MAX_MIN, MAX_MAX);
    }
    let namemax = num(vals.namemax, "name_max")?
        .map_or(NAMEMAX_DEFAULT, |n| n.clamp(NAMEMAX_MIN, NAMEMAX_MAX));
    let timeout_ms = num(vals.timeout, "timeout")?
        .filter(|&t| t > 0)
        .map(u64::from);
    let fd = |v: Option<&[u8]>, name: &str| -> Result<Option<i32>, OptError> {
        match num(v, name)? {
            None => Ok(None),
            Some(n) if n < 3 => Err(OptError::Fatal(format!("{name} must be 3 or more"))),
            Some(n) => i32::try_from(n)
                .map(Some)
                .map_err(|_| OptError::Fatal(format!("{name} must be an unsigned integer"))),
        }
    };
    Ok(Options {
        max,
        namemax,
        timeout_ms,
        notif: fd(vals.notif, "notif")?,
        console: fd(vals.console, "consoleholder")?,
        scandir: OsString::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(args: &[&str]) -> Result<Options, OptError> {
        let v: Vec<OsString> = std::iter::once("s6-svscan")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        parse(&v)
    }

    fn fatal(s: &str) -> Result<Options, OptError> {
        Err(OptError::Fatal(s.to_string()))
    }

    #[test]
    fn defaults_and_scandir() {
        let o = p(&["/run/service"]).unwrap();
        assert_eq!(o.max, 1000);
        assert_eq!(o.namemax, 251);
        assert_eq!(o.timeout_ms, None);
        assert_eq!(o.notif, None);
        assert_eq!(o.scandir, OsString::from("/run/service"));
        assert_eq!(p(&[]), Err(OptError::Usage));
        assert_eq!(p(&["-C", "5"]), Err(OptError::Usage));
        assert_eq!(p(&["-C"]), Err(OptError::Usage));
        assert_eq!(p(&["--", "-x"]).unwrap().scandir, OsString::from("-x"));
        assert_eq!(p(&["-"]).unwrap().scandir, OsString::from("-"));
    }

    #[test]
    fn short_forms_and_clamping() {
        let o = p(&["-C5", "-L", "11", "-t", "400", "dir"]).unwrap();
        assert_eq!((o.max, o.namemax, o.timeout_ms), (5, 11, Some(400)));
        assert_eq!(p(&["-C", "1", "d"]).unwrap().max, 4);
        assert_eq!(p(&["-C", "999999", "d"]).unwrap().max, 160_000);
        assert_eq!(p(&["-L", "1", "d"]).unwrap().namemax, 11);
        assert_eq!(p(&["-L", "5000", "d"]).unwrap().namemax, 1019);
        assert_eq!(p(&["-t", "0", "d"]).unwrap().timeout_ms, None);
        // 2.11 compatibility: -c counts pairs.
        assert_eq!(p(&["-c", "500", "d"]).unwrap().max, 1000);
        assert_eq!(p(&["-c", "1", "d"]).unwrap().max, 4);
        // A value-taking option ends its cluster.
        assert_eq!(
            p(&["-tC", "d"]),
            fatal("timeout must be an unsigned integer")
        );
        // An option at the end of a cluster takes the next argument, unless it is "--".
        assert_eq!(p(&["-C", "--", "d"]).unwrap().max, 1000);
    }

    #[test]
    fn long_forms() {
        let o = p(&[
            "--timeout=400",
            "--services-max=10",
            "--name-max=100",
            "--notification-fd=5",
            "--console-holder=6",
            "s",
        ])
        .unwrap();
        assert_eq!(o.timeout_ms, Some(400));
        assert_eq!(o.max, 10);
        assert_eq!(o.namemax, 100);
        assert_eq!(o.notif, Some(5));
        assert_eq!(o.console, Some(6));
        assert_eq!(
            p(&["--bogus=1", "s"]),
            fatal("unrecognized option with argument: --bogus=1")
        );
        assert_eq!(
            p(&["--timeout", "s"]),
            fatal("unrecognized boolean option: --timeout")
        );
        assert_eq!(p(&["--=1", "s"]), fatal("invalid option: --=1"));
    }

    #[test]
    fn errors() {
        assert_eq!(p(&["-Z", "s"]), fatal("unrecognized short option: Z"));
        assert_eq!(p(&["-s", "s"]), fatal("unrecognized short option: s"));
        assert_eq!(
            p(&["-C", "x", "s"]),
            fatal("services_max must be an unsigned integer")
        );
        assert_eq!(
            p(&["-L", "x", "s"]),
            fatal("name_max must be an unsigned integer")
        );
        assert_eq!(
            p(&["-t", "x", "s"]),
            fatal("timeout must be an unsigned integer")
        );
        assert_eq!(
            p(&["-t", "99999999999", "s"]),
            fatal("timeout must be an unsigned integer")
        );
        assert_eq!(p(&["-d", "1", "s"]), fatal("notif must be 3 or more"));
        assert_eq!(
            p(&["-d", "x", "s"]),
            fatal("notif must be an unsigned integer")
        );
        assert_eq!(
            p(&["-X", "2", "s"]),
            fatal("consoleholder must be 3 or more")
        );
        assert_eq!(
            p(&["-c", "x", "s"]),
            fatal("maxservices must be an unsigned integer")
        );
    }
}
