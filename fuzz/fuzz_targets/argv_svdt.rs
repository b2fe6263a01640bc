//! `s6-svdt`'s command line (`svstat::svdt::parse_args`): arguments are the input split at
//! NUL bytes. Never panics; an accepted line has a servicedir taken from the arguments and a
//! record limit within `MAX_ENTRIES`; parsing is pure.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args = common::cli::argv_from_nul_split(data);
    let r = svstat::svdt::parse_args(&args);
    assert_eq!(r, svstat::svdt::parse_args(&args));
    if let Ok(req) = r {
        assert!(req.max <= svstat::svdt::MAX_ENTRIES);
        assert!(args.contains(&req.dir));
    }
});
