//! `s6-svc`'s command line (`svc::svc::parse_args`): arguments are the input split at NUL
//! bytes. Never panics; an accepted line has a non-empty first servicedir, at most
//! `MAX_COMMANDS` command letters, each of them a supervise control byte; parsing is pure
//! (same answer twice).
#![no_main]

use common::SuperviseCommand;
use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;

fn argv(data: &[u8]) -> Vec<OsString> {
    if data.is_empty() {
        return Vec::new();
    }
    data.split(|&b| b == 0)
        .map(|a| OsString::from_vec(a.to_vec()))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let args = argv(data);
    let r = svc::svc::parse_args(&args);
    assert_eq!(r, svc::svc::parse_args(&args));
    if let Ok(req) = r {
        assert!(!req.dirs.is_empty());
        assert!(!req.dirs[0].is_empty());
        assert!(req.commands.len() <= svc::svc::MAX_COMMANDS);
        for &c in &req.commands {
            assert!(SuperviseCommand::from_byte(c).is_some(), "command {c:#x}");
        }
        // The servicedirs are the tail of the arguments, verbatim.
        assert!(args.ends_with(&req.dirs));
    }
});
