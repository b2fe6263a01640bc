//! skalibs 2.15's `gol` option parser, for the 2.15-only programs of this crate
//! (s6-svscanboot, s6-background-watch): short options with clusters and attached values,
//! `--name=value` and `--flag` long options, `--` ends the options, so does the first
//! argument not starting with `-` (or a lone `-`). An option that needs a value but is last
//! (or followed by `--`) is left unset.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

/// A boolean option: short letter, long name.
pub struct Bool {
    pub short: u8,
    pub long: &'static str,
}

/// An option with a value: short letter, long name.
pub struct Arg {
    pub short: u8,
    pub long: &'static str,
}

/// What was found: the booleans set (by index), the values (by index), the operands' start.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    pub bools: Vec<bool>,
    pub args: Vec<Option<OsString>>,
    pub operands: usize,
}

/// A parse error, with the message s6 prints (after `fatal: `).
#[derive(Debug, PartialEq, Eq)]
pub struct GolError(pub Vec<u8>);

/// Parse `args` (without the program name). Pure.
pub fn parse(args: &[OsString], bools: &[Bool], with_arg: &[Arg]) -> Result<Parsed, GolError> {
    let mut p = Parsed {
        bools: vec![false; bools.len()],
        args: vec![None; with_arg.len()],
        operands: args.len(),
    };
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_bytes();
        if a == b"--" {
            p.operands = i + 1;
            return Ok(p);
        }
        if a.first() != Some(&b'-') || a.len() == 1 {
            p.operands = i;
            return Ok(p);
        }
        if let Some(long) = a.strip_prefix(b"--") {
            match long.iter().position(|&c| c == b'=') {
                Some(0) => return Err(GolError([&b"invalid option: --"[..], long].concat())),
                Some(eq) => {
                    let (name, value) = (&long[..eq], &long[eq + 1..]);
                    let Some(k) = with_arg.iter().position(|o| o.long.as_bytes() == name) else {
                        return Err(GolError(
                            [&b"unrecognized option with argument: --"[..], long].concat(),
                        ));
                    };
                    p.args[k] = Some(OsStr::from_bytes(value).to_os_string());
                }
                None => {
                    let Some(k) = bools.iter().position(|o| o.long.as_bytes() == long) else {
                        return Err(GolError(
                            [&b"unrecognized boolean option: --"[..], long].concat(),
                        ));
                    };
                    p.bools[k] = true;
                }
            }
            i += 1;
            continue;
        }
        let mut j = 1;
        while j < a.len() {
            let c = a[j];
            if let Some(k) = bools.iter().position(|o| o.short == c) {
                p.bools[k] = true;
                j += 1;
                continue;
            }
            let Some(k) = with_arg.iter().position(|o| o.short == c) else {
                return Err(GolError(
                    [&b"unrecognized short option: "[..], &[c]].concat(),
                ));
            };
            if j + 1 < a.len() {
                p.args[k] = Some(OsStr::from_bytes(&a[j + 1..]).to_os_string());
            } else if let Some(next) = args.get(i + 1).filter(|n| n.as_bytes() != b"--") {
                p.args[k] = Some(next.clone());
                i += 1;
            }
            break;
        }
        i += 1;
    }
    Ok(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: &[Bool] = &[Bool {
        short: b'u',
        long: "user",
    }];
    const A: &[Arg] = &[
        Arg {
            short: b't',
            long: "timeout",
        },
        Arg {
            short: b'd',
            long: "notification-fd",
        },
    ];

    fn v(a: &[&str]) -> Vec<OsString> {
        a.iter().map(OsString::from).collect()
    }

    #[test]
    fn shapes() {
        let p = parse(&v(&["-ut300", "--notification-fd=4", "x", "-t"]), B, A).unwrap();
        assert_eq!(p.bools, vec![true]);
        assert_eq!(p.args, vec![Some("300".into()), Some("4".into())]);
        assert_eq!(p.operands, 2);
        let p = parse(&v(&["-t", "5", "--", "-x"]), B, A).unwrap();
        assert_eq!(p.args[0], Some("5".into()));
        assert_eq!(p.operands, 3);
        let p = parse(&v(&["-t", "--", "a"]), B, A).unwrap();
        assert_eq!(p.args[0], None);
        let p = parse(&v(&["-"]), B, A).unwrap();
        assert_eq!(p.operands, 0);
        assert_eq!(
            parse(&v(&["-x"]), B, A),
            Err(GolError(b"unrecognized short option: x".to_vec()))
        );
        assert_eq!(
            parse(&v(&["--nope"]), B, A),
            Err(GolError(b"unrecognized boolean option: --nope".to_vec()))
        );
        assert_eq!(
            parse(&v(&["--nope=1"]), B, A),
            Err(GolError(
                b"unrecognized option with argument: --nope=1".to_vec()
            ))
        );
        assert_eq!(
            parse(&v(&["--=1"]), B, A),
            Err(GolError(b"invalid option: --=1".to_vec()))
        );
    }
}
