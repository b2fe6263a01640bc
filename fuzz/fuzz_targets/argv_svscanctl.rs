//! `s6-svscanctl`'s command line (`svscan::svscanctl::parse`): arguments are the input split
//! at NUL bytes. Never panics; an accepted line yields at most 64 bytes, each a svscan
//! control byte, and a scandir taken from the arguments; pure.
#![no_main]

use common::SvscanCommand;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let args = common::cli::argv_from_nul_split(data);
    let r = svscan::svscanctl::parse(&args);
    assert_eq!(r, svscan::svscanctl::parse(&args));
    if let Ok((bytes, dir)) = r {
        assert!(bytes.len() <= 64);
        for &b in &bytes {
            assert!(SvscanCommand::from_byte(b).is_some(), "byte {b:#x}");
        }
        assert!(args.contains(&dir));
    }
});
