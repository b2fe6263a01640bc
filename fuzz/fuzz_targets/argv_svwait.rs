//! `s6-svwait`, `s6-svlisten1` and `s6-svlisten` command lines (`svc::svwait::parse_args`,
//! `unquoted_block_args`); the first byte picks the program, the rest split at NUL bytes is
//! the arguments. Never panics; accepted lines have the shape each program needs (svlisten1:
//! one servicedir and a program; svlisten: a terminated block and a program); -o is never
//! kept with a restart wait under svlisten; parsing is pure.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svc::svwait::{parse_args, unquoted_block_args, Kind};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let kind = match sel % 3 {
        0 => Kind::Svwait,
        1 => Kind::Svlisten1,
        _ => Kind::Svlisten,
    };
    let args = common::cli::argv_from_nul_split(rest);
    let r = parse_args(kind, &args);
    assert_eq!(r, parse_args(kind, &args));
    if let Ok(req) = &r {
        match kind {
            Kind::Svwait => assert!(req.prog.is_empty()),
            Kind::Svlisten1 => {
                assert_eq!(req.dirs.len(), 1);
                assert!(!req.prog.is_empty());
                assert!(args.ends_with(&req.prog));
            }
            Kind::Svlisten => {
                assert!(!req.prog.is_empty());
                assert!(args.ends_with(&req.prog));
                if req.want.is_restart() {
                    assert!(!req.or);
                }
                assert!(req.dirs.len() < args.len());
            }
        }
    }
    let unq = unquoted_block_args(&args);
    for (_, a) in &unq {
        assert!(!a.as_encoded_bytes().starts_with(b" "));
    }
});
