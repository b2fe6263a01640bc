//! `s6-svscan`'s command line (`svscan::options::parse`, argv[0] included): the input split
//! at NUL bytes. Never panics; accepted values are within s6's bounds (-C, -L clamped, -t
//! positive, fds >= 3) and the scandir is one of the arguments; parsing is pure.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::ffi::OsString;
use svscan::options::{parse, MAX_MAX, MAX_MIN, NAMEMAX_MAX, NAMEMAX_MIN};

fuzz_target!(|data: &[u8]| {
    let mut argv = vec![OsString::from("s6-svscan")];
    argv.extend(common::cli::argv_from_nul_split(data));
    let r = parse(&argv);
    assert_eq!(r, parse(&argv));
    if let Ok(o) = r {
        assert!((MAX_MIN..=MAX_MAX).contains(&o.max));
        assert!((NAMEMAX_MIN..=NAMEMAX_MAX).contains(&o.namemax));
        assert!(o.timeout_ms.is_none_or(|t| t > 0));
        assert!(o.notif.is_none_or(|fd| fd >= 3));
        assert!(o.console.is_none_or(|fd| fd >= 3));
        assert!(argv[1..].contains(&o.scandir));
    }
});
