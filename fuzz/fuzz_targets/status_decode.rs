//! `supervise/status`: any byte string either is too short (and says how short) or decodes to
//! a record that packs back to exactly its first 35 bytes, except the 4 ignored flag bits.
#![no_main]

use common::status::{StatusError, StatusRecord, FLAG_FINISHING, FLAG_PAUSED, STATUS_LEN};
use common::tai::{parse_label, Tai64n};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match StatusRecord::unpack(data) {
        Err(e) => {
            assert!(data.len() < STATUS_LEN);
            assert_eq!(e, StatusError::Short(data.len()));
            assert_eq!(e.errno(), common::Errno::EPIPE);
        }
        Ok(r) => {
            assert!(data.len() >= STATUS_LEN);
            let packed = r.pack();
            assert_eq!(packed[..34], data[..34]);
            // Bits 4-7 of the flags byte are ignored on read and written as 0.
            assert_eq!(packed[34], data[34] & 0x0f);
            assert_eq!(r.flags(), data[34] & 0x0f);
            assert_eq!(StatusRecord::unpack(&packed), Ok(r));
            // Derived views are total and consistent with the flag bits.
            assert_eq!(r.pid_t(), r.pid as u32 as i32);
            // s6 reads the pid as a pid_t: a record whose low 32 bits are 0 is not up.
            assert_eq!(r.is_up(), r.pid_t() != 0 && data[34] & FLAG_FINISHING == 0);
            if r.not_started() {
                assert!(data[34] & FLAG_PAUSED != 0 && !r.is_up());
            }
            let _ = r.wait_status();
            // The textual stamps parse back to the same TAI64N values.
            for t in [r.stamp, r.ready_stamp] {
                let text = t.label().to_string();
                assert_eq!(text.len(), 25);
                assert_eq!(parse_label(&text), Some(t));
                assert_eq!(Tai64n::unpack(&t.pack()), t);
                let _ = t.unix_secs();
                let _ = t.secs_until_wrapping(&r.stamp);
                let _ = t.secs_until(&r.ready_stamp);
            }
        }
    }
});
