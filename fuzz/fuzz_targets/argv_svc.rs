//! `s6-svc`'s command line (`svc::svc::parse_args`): arguments are the input split at NUL
//! bytes. Never panics; an accepted line has a non-empty first servicedir, at most
//! `MAX_COMMANDS` command letters, each of them a supervise control byte; parsing is pure
//! (same answer twice).
#![no_main]

use common::SuperviseCommand;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args = common::cli::argv_from_nul_split(data);
    let r = svc::svc::parse_args(&args);
    assert_eq!(r, svc::svc::parse_args(&args));
    if let Ok(req) = r {
        assert!(!req.dirs.is_empty());
        assert!(!req.dirs[0].is_empty());
        assert!(req.commands.len() <= svc::svc::MAX_COMMANDS);
        for &c in req.commands.iter() {
            assert!(SuperviseCommand::from_byte(c).is_some(), "command {c:#x}");
        }
        // The servicedirs are the tail of the arguments, verbatim.
        let tail = args.len() - req.dirs.len();
        assert!(args[tail..]
            .iter()
            .map(|a| a.as_os_str())
            .eq(req.dirs.iter().map(|d| d.as_os_str())));
    }
});
