//! skalibs 2.15's `gol` option parser ("get options long"), used by the 2.15 versions of
//! s6-notifyoncheck, s6-ftrig-wait/-listen1/-listen, the sd_notify bridges and others.
//!
//! Short options as usual (`-t 300`, `-t300`, clusters like `-df`), long options as
//! `--flag` (booleans) or `--name=value` (options with a value; `--name value` is not a
//! thing). `--` ends the options and is consumed; the first argument not starting with `-`,
//! or a lone `-`, ends them and is kept. A value option that is the last argument, or is
//! followed by `--`, is silently left unset. Pure: it only looks at the arguments.
//!
//! [`parse`] gives the options in command-line order; [`parse_table`] gathers them as
//! skalibs' `gol_main` leaves them (a bit per boolean, the last value of each option).

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::os::unix::ffi::OsStrExt;

/// An option: its short letter (0 for none), its long name ("" for none), and the caller's
/// identifier reported back in [`Item`].
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub short: u8,
    pub long: &'static str,
    pub id: u8,
}

impl Spec {
    pub const fn new(short: u8, long: &'static str, id: u8) -> Spec {
        Spec { short, long, id }
    }
}

/// One option found, in command-line order (so that "the last one wins" is the caller's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Flag(u8),
    Arg(u8, &'a OsStr),
}

/// What skalibs' `GOL_main` dies with (exit 100), as `fatal: TEXT`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GolError {
    /// `-X` where X is no known letter.
    UnknownShort(u8),
    /// `--name` that is no boolean.
    UnknownBoolean(OsString),
    /// `--name=value` that is no value option (the whole argument).
    UnknownWithArg(OsString),
    /// `--=value`.
    Invalid(OsString),
}

impl fmt::Display for GolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GolError::UnknownShort(c) => write!(
                f,
                "unrecognized short option: {}",
                String::from_utf8_lossy(&[*c])
            ),
            GolError::UnknownBoolean(a) => {
                write!(f, "unrecognized boolean option: {}", a.to_string_lossy())
            }
            GolError::UnknownWithArg(a) => write!(
                f,
                "unrecognized option with argument: {}",
                a.to_string_lossy()
            ),
            GolError::Invalid(a) => write!(f, "invalid option: {}", a.to_string_lossy()),
        }
    }
}

impl GolError {
    /// The message as raw bytes (the argument is not made UTF-8 as [`fmt::Display`] does).
    pub fn to_bytes(&self) -> Vec<u8> {
        let (head, arg): (&[u8], &[u8]) = match self {
            GolError::UnknownShort(c) => {
                return [&b"unrecognized short option: "[..], &[*c]].concat();
            }
            GolError::UnknownBoolean(a) => (b"unrecognized boolean option: ", a.as_bytes()),
            GolError::UnknownWithArg(a) => (b"unrecognized option with argument: ", a.as_bytes()),
            GolError::Invalid(a) => (b"invalid option: ", a.as_bytes()),
        };
        [head, arg].concat()
    }
}

/// The options found, as skalibs' `gol_main` leaves them: bit `id` of `flags` for each
/// boolean seen, the last value of each value option (indexed by its id), and where the
/// operands start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table<'a> {
    pub flags: u64,
    pub values: Vec<Option<&'a OsStr>>,
    pub operands: usize,
}

impl<'a> Table<'a> {
    /// Whether the boolean of id `id` was given.
    pub fn flag(&self, id: u8) -> bool {
        id < 64 && self.flags & (1 << id) != 0
    }

    /// The value of the option of id `id`, if given.
    pub fn value(&self, id: u8) -> Option<&'a OsStr> {
        self.values.get(id as usize).copied().flatten()
    }
}

/// [`parse`], gathered into a [`Table`]. Boolean ids must be below 64.
pub fn parse_table<'a>(
    args: &'a [OsString],
    bools: &[Spec],
    vals: &[Spec],
) -> Result<Table<'a>, GolError> {
    let (items, operands) = parse(args, bools, vals)?;
    let n = vals.iter().map(|s| s.id as usize + 1).max().unwrap_or(0);
    let mut t = Table {
        flags: 0,
        values: vec![None; n],
        operands,
    };
    for item in items {
        match item {
            Item::Flag(id) if id < 64 => t.flags |= 1 << id,
            Item::Flag(_) => {}
            Item::Arg(id, v) => {
                // Always there: `values` has a slot for every value option's id.
                if let Some(slot) = t.values.get_mut(id as usize) {
                    *slot = Some(v);
                }
            }
        }
    }
    Ok(t)
}

/// Parse `args` (without the program name) against the boolean options `bools` and the
/// value options `vals`. Returns the options found and the index of the first operand.
pub fn parse<'a>(
    args: &'a [OsString],
    bools: &[Spec],
    vals: &[Spec],
) -> Result<(Vec<Item<'a>>, usize), GolError> {
    let mut items = Vec::new();
    let mut i = 0;
    while let Some(arg) = args.get(i) {
        // An operand, or a lone `-`, ends the options.
        let Some(cluster) = arg.as_bytes().strip_prefix(b"-").filter(|c| !c.is_empty()) else {
            return Ok((items, i));
        };
        if let Some(body) = cluster.strip_prefix(b"-") {
            if body.is_empty() {
                return Ok((items, i + 1));
            }
            match crate::bytes::split_once(body, b'=') {
                Some((b"", _)) => return Err(GolError::Invalid(arg.clone())),
                Some((name, value)) => {
                    let spec = vals
                        .iter()
                        .find(|s| !s.long.is_empty() && s.long.as_bytes() == name)
                        .ok_or_else(|| GolError::UnknownWithArg(arg.clone()))?;
                    items.push(Item::Arg(spec.id, OsStr::from_bytes(value)));
                }
                None => {
                    let spec = bools
                        .iter()
                        .find(|s| !s.long.is_empty() && s.long.as_bytes() == body)
                        .ok_or_else(|| GolError::UnknownBoolean(arg.clone()))?;
                    items.push(Item::Flag(spec.id));
                }
            }
            i += 1;
            continue;
        }
        let mut rest = cluster;
        while let Some((&c, tail)) = rest.split_first() {
            if let Some(spec) = vals.iter().find(|s| s.short != 0 && s.short == c) {
                if !tail.is_empty() {
                    items.push(Item::Arg(spec.id, OsStr::from_bytes(tail)));
                } else if let Some(next) = args.get(i + 1).filter(|n| n.as_bytes() != b"--") {
                    i += 1;
                    items.push(Item::Arg(spec.id, next.as_os_str()));
                }
                break;
            }
            let spec = bools
                .iter()
                .find(|s| s.short != 0 && s.short == c)
                .ok_or(GolError::UnknownShort(c))?;
            items.push(Item::Flag(spec.id));
            rest = tail;
        }
        i += 1;
    }
    Ok((items, i))
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: [Spec; 2] = [Spec::new(b'd', "doublefork", 1), Spec::new(b'f', "", 2)];
    const V: [Spec; 2] = [Spec::new(b't', "timeout", 10), Spec::new(b'3', "", 11)];

    use crate::cli::os_args as args;

    #[test]
    fn shapes() {
        let a = args(&[
            "-dt300",
            "-f",
            "--timeout=5",
            "--doublefork",
            "-3",
            "4",
            "prog",
            "-x",
        ]);
        let (items, i) = parse(&a, &B, &V).unwrap();
        assert_eq!(i, 6);
        assert_eq!(
            items,
            vec![
                Item::Flag(1),
                Item::Arg(10, OsStr::new("300")),
                Item::Flag(2),
                Item::Arg(10, OsStr::new("5")),
                Item::Flag(1),
                Item::Arg(11, OsStr::new("4")),
            ]
        );
        let a = args(&["-t", "--", "x"]);
        assert_eq!(parse(&a, &B, &V).unwrap(), (vec![], 2));
        let a = args(&["-t"]);
        assert_eq!(parse(&a, &B, &V).unwrap(), (vec![], 1));
        let a = args(&["-", "x"]);
        assert_eq!(parse(&a, &B, &V).unwrap(), (vec![], 0));
    }

    #[test]
    fn errors() {
        let e = |v: &[&str]| parse(&args(v), &B, &V).unwrap_err().to_string();
        assert_eq!(e(&["-x"]), "unrecognized short option: x");
        assert_eq!(e(&["--nope"]), "unrecognized boolean option: --nope");
        assert_eq!(e(&["--timeout"]), "unrecognized boolean option: --timeout");
        assert_eq!(
            e(&["--nope=1"]),
            "unrecognized option with argument: --nope=1"
        );
        assert_eq!(e(&["--=1"]), "invalid option: --=1");
    }

    #[test]
    fn table_last_value_wins() {
        let a = args(&["-t1", "--timeout=2", "-d", "x"]);
        let t = parse_table(&a, &B, &V).unwrap();
        assert_eq!(t.value(10), Some(OsStr::new("2")));
        assert_eq!(t.value(11), None);
        assert!(t.flag(1) && !t.flag(2));
        assert_eq!(t.operands, 3);
    }

    #[test]
    fn error_bytes_keep_the_argument() {
        use std::os::unix::ffi::OsStringExt;
        let bad = OsString::from_vec(b"--\xff".to_vec());
        let e = parse(&[bad], &B, &V).unwrap_err();
        assert_eq!(e.to_bytes(), b"unrecognized boolean option: --\xff");
        let e = parse(&args(&["-x"]), &B, &V).unwrap_err();
        assert_eq!(e.to_bytes(), b"unrecognized short option: x");
    }

    // svextras' former copy of this parser, its cases.
    #[test]
    fn svextras_shapes() {
        const SB: [Spec; 1] = [Spec::new(b'u', "user", 0)];
        const SV: [Spec; 2] = [
            Spec::new(b't', "timeout", 0),
            Spec::new(b'd', "notification-fd", 1),
        ];
        let a = args(&["-ut300", "--notification-fd=4", "x", "-t"]);
        let t = parse_table(&a, &SB, &SV).unwrap();
        assert!(t.flag(0));
        assert_eq!(
            t.values,
            vec![Some(OsStr::new("300")), Some(OsStr::new("4"))]
        );
        assert_eq!(t.operands, 2);
        let a = args(&["-t", "5", "--", "-x"]);
        let t = parse_table(&a, &SB, &SV).unwrap();
        assert_eq!(t.value(0), Some(OsStr::new("5")));
        assert_eq!(t.operands, 3);
        let a = args(&["-t", "--", "a"]);
        assert_eq!(parse_table(&a, &SB, &SV).unwrap().value(0), None);
        assert_eq!(parse_table(&args(&["-"]), &SB, &SV).unwrap().operands, 0);
        let e = |v: &[&str]| parse(&args(v), &SB, &SV).unwrap_err().to_bytes();
        assert_eq!(e(&["-x"]), b"unrecognized short option: x");
        assert_eq!(e(&["--nope"]), b"unrecognized boolean option: --nope");
        assert_eq!(
            e(&["--nope=1"]),
            b"unrecognized option with argument: --nope=1"
        );
        assert_eq!(e(&["--=1"]), b"invalid option: --=1");
    }

    #[test]
    fn never_panics() {
        for argv in crate::cli::pseudo_random_argv(2000) {
            let _ = parse(&argv, &B, &V);
            let _ = parse_table(&argv, &B, &V);
        }
    }
}
