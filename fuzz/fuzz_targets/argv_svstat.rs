//! `s6-svstat` and `s6-svok` command lines (`svstat::svstat::parse_args`,
//! `svstat::svok::parse_args`, `parse_field_list`): arguments are the input split at NUL
//! bytes. Never panics; an accepted line names at least one servicedir taken verbatim from
//! the arguments, in order, and at most `MAX_FIELDS` fields; parsing is pure.
#![no_main]

use libfuzzer_sys::fuzz_target;
use svstat::svstat::{Field, Mode};

fuzz_target!(|data: &[u8]| {
    let args = common::cli::argv_from_nul_split(data);
    let r = svstat::svstat::parse_args(&args);
    assert_eq!(r, svstat::svstat::parse_args(&args));
    if let Ok(req) = r {
        assert!(!req.dirs.is_empty());
        // The servicedirs are arguments taken verbatim, in order (our long options may
        // stand anywhere, so they are a subsequence of the arguments, not always a tail).
        let mut rest = args.iter();
        assert!(req.dirs.iter().all(|d| rest.any(|a| a == d)));
        if let Mode::Fields { fields, .. } = &req.mode {
            assert!(fields.len() <= svstat::svstat::MAX_FIELDS);
            for f in fields {
                assert_eq!(Field::from_name(f.name().as_bytes()), Some(*f));
            }
        }
    }
    // A raw -o list.
    let mut fields = Vec::new();
    if svstat::svstat::parse_field_list(data, &mut fields).is_ok() {
        assert!(fields.len() <= svstat::svstat::MAX_FIELDS);
    }
    // s6-svok takes the first argument as the servicedir.
    match svstat::svok::parse_args(&args) {
        svstat::svok::Request::Check(d) => assert_eq!(Some(d), args.first().map(|a| a.as_os_str())),
        svstat::svok::Request::Usage => assert!(args.is_empty()),
        svstat::svok::Request::Help => assert_eq!(args[0], "--help"),
    }
});
