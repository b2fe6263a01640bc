//! Control bytes: over any byte string, every byte either is not a command or maps to one that
//! maps back to the same byte; NUL is never a supervise command; `to_byte` always lands in the
//! documented alphabets.
#![no_main]

use common::control::{SuperviseCommand, SvscanCommand};
use libfuzzer_sys::fuzz_target;

const SUPERVISE_BYTES: &[u8] = b"abqhkti12ypcrlPCKoduDUxOQ";
const SVSCAN_BYTES: &[u8] = b"zabhitqnN";

fuzz_target!(|data: &[u8]| {
    let mut commands = Vec::new();
    for &b in data {
        match SuperviseCommand::from_byte(b) {
            Some(c) => {
                assert_ne!(b, 0);
                assert!(SUPERVISE_BYTES.contains(&b));
                assert_eq!(c.to_byte(), b);
                assert_eq!(SuperviseCommand::from_byte(c.to_byte()), Some(c));
                if let SuperviseCommand::Signal(s) = c {
                    assert!(s.signal() > 0 && s.signal() < 32);
                }
                commands.push(c);
            }
            None => assert!(!SUPERVISE_BYTES.contains(&b)),
        }
        match SvscanCommand::from_byte(b) {
            Some(c) => {
                assert!(SVSCAN_BYTES.contains(&b));
                assert_eq!(c.to_byte(), b);
                assert_eq!(SvscanCommand::from_byte(c.to_byte()), Some(c));
            }
            None => assert!(!SVSCAN_BYTES.contains(&b)),
        }
    }
    // Re-encoding the recognised commands gives the input with the unknown bytes dropped.
    let kept: Vec<u8> = data
        .iter()
        .copied()
        .filter(|b| SUPERVISE_BYTES.contains(b))
        .collect();
    let reencoded: Vec<u8> = commands.iter().map(|c| c.to_byte()).collect();
    assert_eq!(reencoded, kept);
});
