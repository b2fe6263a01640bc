//! `s6-svdt`'s command line (`svstat::svdt::parse_args`): arguments are the input split at
//! NUL bytes. Never panics; an accepted line has a servicedir taken from the arguments and a
//! record limit within `MAX_ENTRIES`; parsing is pure.
#![no_main]

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
    let r = svstat::svdt::parse_args(&args);
    assert_eq!(r, svstat::svdt::parse_args(&args));
    if let Ok(req) = r {
        assert!(req.max <= svstat::svdt::MAX_ENTRIES);
        assert!(args.contains(&req.dir));
    }
});
