//! `supervise/death_tally`: decoding never panics; a whole number of records round-trips byte
//! for byte, anything else is empty (as s6 treats it); every record describes itself.
#![no_main]

use common::dtally::{pack_all, unpack_all, DeathRecord, RECORD_LEN};
use common::tai::parse_label;
use common::wait::WaitStatus;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let recs = unpack_all(data);
    if data.len().is_multiple_of(RECORD_LEN) {
        assert_eq!(recs.len(), data.len() / RECORD_LEN);
        assert_eq!(pack_all(&recs), data);
    } else {
        assert!(recs.is_empty());
    }
    for r in &recs {
        let mut b = [0u8; RECORD_LEN];
        b.copy_from_slice(&r.pack());
        assert_eq!(DeathRecord::unpack(&b), *r);
        for numeric in [false, true] {
            let line = r.describe(numeric);
            let (label, rest) = line.split_once(' ').expect("label then description");
            assert_eq!(parse_label(label), Some(r.stamp));
            if r.sig != 0 {
                let what = rest.strip_prefix("signal ").expect("signal line");
                if numeric {
                    assert_eq!(what, r.sig.to_string());
                } else {
                    assert!(what.starts_with("SIG"));
                }
            } else {
                assert_eq!(rest, format!("exitcode {}", r.exitcode));
            }
        }
    }
    // The record s6-supervise would append for any wait status matches the status decoding.
    if data.len() >= 2 {
        let wstat = u16::from_be_bytes([data[0], data[1]]) as i32;
        let stamp = recs.first().map(|r| r.stamp).unwrap_or_default();
        let rec = DeathRecord::from_wstat(stamp, wstat);
        match WaitStatus::from_raw(wstat) {
            WaitStatus::Signaled { signal, .. } => {
                assert_eq!(rec.sig, signal);
                assert_eq!(rec.exitcode, 128u8.wrapping_add(signal));
            }
            _ => {
                assert_eq!(rec.sig, 0);
                assert_eq!(rec.exitcode, WaitStatus::exit_code(wstat));
            }
        }
    }
});
