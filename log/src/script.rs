//! The s6-log logging script: a pure two-pass parser from the arguments to a typed
//! [`Script`] (selection groups, actions, logdir settings). Pass 1 looks at first characters
//! and lengths only; pass 2 parses values and compiles regexes, as s6 does, so that a
//! script with both kinds of errors reports the pass-1 one.

use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;

use crate::regex::{Regex, RegexError};

/// How a processor command is run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Processor {
    /// `!CMD`: `execlineb -Pc CMD` (execlineb from PATH, as 2.15).
    Execline(Vec<u8>),
    /// `?CMD`: `/bin/sh -c CMD`.
    Shell(Vec<u8>),
}

/// The settings a logdir takes from the control directives before it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogdirSpec {
    pub path: Vec<u8>,
    /// `n`: archives kept.
    pub nmax: u32,
    /// `s`: rotation size.
    pub size: u32,
    /// `S`: total size of archives (0 = no limit).
    pub total_max: u64,
    /// `l`: tolerance.
    pub tolerance: u32,
    /// `r`: retry delay, ms.
    pub retry_ms: u32,
    /// `R`: periodic rotation, seconds (0 = never).
    pub period_secs: u32,
    pub processor: Option<Processor>,
}

/// What an action does with a selected line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ActionKind {
    /// `1`
    Stdout,
    /// `2`, with the `E` size (0 = unlimited).
    Alert(u32),
    /// `=FILE`, with the `^` size (0 = unpadded).
    Status { path: Vec<u8>, size: u32 },
    /// A logdir, by index in [`Script::logdirs`].
    Logdir(usize),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Action {
    pub kind: ActionKind,
    pub tai: bool,
    pub iso: bool,
    /// `pTEXT`: TEXT (a space follows it in records).
    pub prefix: Option<Vec<u8>>,
}

#[derive(Debug)]
pub enum Selector {
    Plus(Regex),
    Minus(Regex),
    /// `f`
    Fallback,
}

#[derive(Debug, Default)]
pub struct Group {
    pub selectors: Vec<Selector>,
    pub actions: Vec<Action>,
}

#[derive(Debug, Default)]
pub struct Script {
    pub groups: Vec<Group>,
    pub logdirs: Vec<LogdirSpec>,
    /// Selection directives after the last action (s6 warns, then ignores them).
    pub extraneous: bool,
    /// Whether any action wants a TAI64N / a local-time stamp (the clock is read once per
    /// line only then, and the local time computed only for `T`).
    pub needs_tai: bool,
    pub needs_iso: bool,
}

/// Errors of the script, with s6's wording (`s6-log: fatal: ` + Display), all exit 100
/// except `NoMemory` (111).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScriptError {
    #[error("unrecognized directive: {}", String::from_utf8_lossy(.0))]
    Unrecognized(Vec<u8>),
    #[error("syntax error at directive: {}", String::from_utf8_lossy(.0))]
    Syntax(Vec<u8>),
    #[error("no action directive specified")]
    NoAction,
    #[error("directive {} conflicts with previous s directive", String::from_utf8_lossy(.0))]
    Conflict(Vec<u8>),
    #[error("unable to initialize script: Cannot allocate memory")]
    NoMemory,
}

/// A pass-2 error, with the logdirs the script named before the faulty directive (s6 has
/// initialised those when it reports the error).
#[derive(Debug)]
pub struct Pass2Error {
    pub error: ScriptError,
    pub logdirs_before: Vec<LogdirSpec>,
}

/// Which dialect of the script to accept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dialect {
    /// 2.15's `R` directive.
    pub periodic: bool,
}

pub const DEFAULT_DIALECT: Dialect = Dialect { periodic: true };

/// Pass 1: first characters and lengths. Returns the number of actions.
pub fn check(args: &[OsString], dialect: Dialect) -> Result<usize, ScriptError> {
    let mut actions = 0;
    for a in args {
        let b = a.as_bytes();
        let bad = || ScriptError::Syntax(b.to_vec());
        match b.first() {
            Some(b'+' | b'-' | b'n' | b's' | b'S' | b'l' | b'r' | b'E' | b'^' | b'p' | b'!')
            | Some(b'?') => {}
            Some(b'R') if dialect.periodic => {}
            Some(b'f' | b't' | b'T') => {
                if b.len() > 1 {
                    return Err(bad());
                }
            }
            Some(b'1' | b'2') => {
                if b.len() > 1 {
                    return Err(bad());
                }
                actions += 1;
            }
            Some(b'=') => {
                if b.len() == 1 {
                    return Err(bad());
                }
                actions += 1;
            }
            Some(b'/' | b'.') => actions += 1,
            _ => return Err(ScriptError::Unrecognized(b.to_vec())),
        }
    }
    if actions == 0 {
        return Err(ScriptError::NoAction);
    }
    Ok(actions)
}

/// skalibs' `uint0_scan` / `uint640_scan`: all digits, fits.
fn scan_u64(b: &[u8], max: u64) -> Option<u64> {
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let v = b.iter().try_fold(0u64, |acc, &d| {
        acc.checked_mul(10)?.checked_add((d - b'0') as u64)
    })?;
    (v <= max).then_some(v)
}

fn scan_u32(b: &[u8]) -> Option<u32> {
    scan_u64(b, u32::MAX as u64).map(|v| v as u32)
}

pub const SIZE_MIN: u32 = 4096;
pub const SIZE_MAX: u32 = 268_435_455;

/// Both passes. Regexes are compiled here.
pub fn parse(args: &[OsString], dialect: Dialect) -> Result<Script, Pass2Error> {
    if let Err(error) = check(args, dialect) {
        return Err(Pass2Error {
            error,
            logdirs_before: Vec::new(),
        });
    }
    let mut script = Script::default();
    let mut cur = Group::default();
    let mut nmax = 10u32;
    let mut size = 99_999u32;
    let mut total_max = 0u64;
    let mut tolerance = 2000u32;
    let mut retry_ms = 2000u32;
    let mut period_secs = 0u32;
    let mut alert_size = 200u32;
    let mut status_size = 1001u32;
    let mut prefix: Option<Vec<u8>> = None;
    let mut processor: Option<Processor> = None;
    let mut tai = false;
    let mut iso = false;
    // Whether the current group already has an action: a selector then opens a new group.
    let mut have_action = false;
    let mut pending_select = false;
    for a in args {
        let b = a.as_bytes();
        let fail = |e: ScriptError, s: &Script| Pass2Error {
            error: e,
            logdirs_before: s.logdirs.clone(),
        };
        let unrec = || ScriptError::Unrecognized(b.to_vec());
        // Pass 1 refused an empty directive already.
        let Some((&first, rest)) = b.split_first() else {
            return Err(fail(unrec(), &script));
        };
        let u32v = || scan_u32(rest);
        let mut action = None;
        match first {
            c @ (b'+' | b'-' | b'f') => {
                if have_action {
                    script.groups.push(std::mem::take(&mut cur));
                    have_action = false;
                }
                let sel = if c == b'f' {
                    Selector::Fallback
                } else {
                    let re = Regex::new(rest).map_err(|e| match e {
                        RegexError::NoMemory => fail(ScriptError::NoMemory, &script),
                        RegexError::Invalid => fail(unrec(), &script),
                    })?;
                    if c == b'+' {
                        Selector::Plus(re)
                    } else {
                        Selector::Minus(re)
                    }
                };
                cur.selectors.push(sel);
                pending_select = true;
            }
            b'n' => nmax = u32v().ok_or_else(|| fail(unrec(), &script))?,
            b's' => {
                size = u32v()
                    .ok_or_else(|| fail(unrec(), &script))?
                    .clamp(SIZE_MIN, SIZE_MAX)
            }
            b'S' => total_max = scan_u64(rest, u64::MAX).ok_or_else(|| fail(unrec(), &script))?,
            b'l' => {
                let v = u32v().ok_or_else(|| fail(unrec(), &script))?;
                if v > size / 2 {
                    return Err(fail(ScriptError::Conflict(b.to_vec()), &script));
                }
                tolerance = v;
            }
            b'r' => retry_ms = u32v().ok_or_else(|| fail(unrec(), &script))?,
            b'R' => period_secs = u32v().ok_or_else(|| fail(unrec(), &script))?,
            b'E' => alert_size = u32v().ok_or_else(|| fail(unrec(), &script))?,
            b'^' => status_size = u32v().ok_or_else(|| fail(unrec(), &script))?,
            b'p' => prefix = (!rest.is_empty()).then(|| rest.to_vec()),
            b'!' => processor = (!rest.is_empty()).then(|| Processor::Execline(rest.to_vec())),
            b'?' => processor = (!rest.is_empty()).then(|| Processor::Shell(rest.to_vec())),
            b't' => tai = true,
            b'T' => iso = true,
            b'1' => action = Some(ActionKind::Stdout),
            b'2' => action = Some(ActionKind::Alert(alert_size)),
            b'=' => {
                action = Some(ActionKind::Status {
                    path: rest.to_vec(),
                    size: status_size,
                })
            }
            _ => {
                // '/' or '.', the only other first characters pass 1 lets through.
                script.logdirs.push(LogdirSpec {
                    path: b.to_vec(),
                    nmax,
                    size,
                    total_max,
                    tolerance,
                    retry_ms,
                    period_secs,
                    processor: processor.clone(),
                });
                action = Some(ActionKind::Logdir(script.logdirs.len() - 1));
            }
        }
        if let Some(kind) = action {
            script.needs_tai |= tai;
            script.needs_iso |= iso;
            cur.actions.push(Action {
                kind,
                tai,
                iso,
                prefix: prefix.clone(),
            });
            tai = false;
            iso = false;
            have_action = true;
            pending_select = false;
        }
    }
    if have_action {
        script.groups.push(cur);
    }
    script.extraneous = pending_select;
    Ok(script)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    fn err(v: &[&str]) -> ScriptError {
        parse(&args(v), DEFAULT_DIALECT).unwrap_err().error
    }

    #[test]
    fn errors_in_pass_order() {
        assert_eq!(err(&["foo"]), ScriptError::Syntax(b"foo".to_vec()));
        assert_eq!(err(&["e"]), ScriptError::Unrecognized(b"e".to_vec()));
        assert_eq!(err(&["11"]), ScriptError::Syntax(b"11".to_vec()));
        assert_eq!(err(&["="]), ScriptError::Syntax(b"=".to_vec()));
        assert_eq!(err(&["nX", "1"]), ScriptError::Unrecognized(b"nX".to_vec()));
        assert_eq!(err(&["+[", "1"]), ScriptError::Unrecognized(b"+[".to_vec()));
        assert_eq!(err(&["n5", "s5000"]), ScriptError::NoAction);
        assert_eq!(err(&["logs"]), ScriptError::NoAction);
        assert_eq!(
            err(&["logs", "1"]),
            ScriptError::Unrecognized(b"logs".to_vec())
        );
        assert_eq!(
            err(&["s100000", "l60000", "1"]),
            ScriptError::Conflict(b"l60000".to_vec())
        );
        assert_eq!(
            parse(&args(&["R5", "1"]), Dialect { periodic: false })
                .unwrap_err()
                .error,
            ScriptError::Unrecognized(b"R5".to_vec())
        );
    }

    #[test]
    fn later_error_keeps_earlier_logdirs() {
        let e = parse(&args(&["./a", "nX", "./b"]), DEFAULT_DIALECT).unwrap_err();
        assert_eq!(e.logdirs_before.len(), 1);
    }

    #[test]
    fn groups_and_sticky_settings() {
        let s = parse(
            &args(&[
                "n1", "s1", "./a", "t", "pX", "1", "-b", "2", "n3", "!gzip", "/b", "+x",
            ]),
            DEFAULT_DIALECT,
        )
        .unwrap();
        assert_eq!(s.groups.len(), 2);
        assert_eq!(s.groups[0].actions.len(), 2);
        assert!(s.groups[0].actions[1].tai && !s.groups[0].actions[0].tai);
        assert_eq!(s.groups[1].actions.len(), 2);
        assert_eq!(s.logdirs[0].nmax, 1);
        assert_eq!(s.logdirs[0].size, SIZE_MIN);
        assert_eq!(s.logdirs[1].nmax, 3);
        assert_eq!(
            s.logdirs[1].processor,
            Some(Processor::Execline(b"gzip".to_vec()))
        );
        assert_eq!(s.groups[1].actions[0].prefix.as_deref(), Some(&b"X"[..]));
        assert!(s.extraneous && s.needs_tai && !s.needs_iso);
        let s = parse(&args(&["1", "n5"]), DEFAULT_DIALECT).unwrap();
        assert!(!s.extraneous);
    }

    #[test]
    fn never_panics() {
        for args in common::cli::pseudo_random_argv(3000) {
            let _ = parse(&args, DEFAULT_DIALECT);
        }
        // Script-shaped pieces too.
        let pieces = [
            "+[", "-", "f", "n", "s0", "l9999", "^", "=", "=x", "1", "2", "t", "!", "?", "./d",
            "R", "E5",
        ];
        let mut seed = 12345u64;
        for _ in 0..3000 {
            let mut v = Vec::new();
            for _ in 0..(seed % 6) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                v.push(OsString::from(
                    pieces[(seed % pieces.len() as u64) as usize],
                ));
            }
            seed = seed.wrapping_add(0x9e3779b97f4a7c15);
            if let Ok(s) = parse(&v, DEFAULT_DIALECT) {
                assert!(s.groups.iter().map(|g| g.actions.len()).sum::<usize>() > 0);
            }
        }
    }
}
