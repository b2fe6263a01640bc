//! The fd-holder clients' answer decoders (status byte, list, counts, dump descriptions):
//! never panic, and a decoded list re-encodes to a prefix of its input.
#![no_main]

use fdholder::proto;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = proto::decode_status(data);
    let _ = proto::decode_counts(data, 5);
    let _ = proto::decode_counts(data, 9);
    if let Ok(ids) = proto::decode_list(data) {
        // Bytes after the last id are ignored (as s6's client ignores them).
        let again = proto::encode_list(ids.iter().map(|i| i.as_slice()));
        assert!(data.starts_with(&again));
    }
    for n in 0..4 {
        if let Some(d) = proto::decode_descriptions(data, n) {
            let mut again = Vec::new();
            for (limit, id) in &d {
                proto::push_description(&mut again, limit, id);
            }
            assert_eq!(again, data);
        }
    }
    let mut quoted = Vec::new();
    proto::quote_id(data, &mut quoted);
    // The listing is printable ASCII whatever the id.
    assert!(quoted.iter().all(|&c| (0x20..0x7f).contains(&c)));
    let _ = proto::parse_transfer_timeouts(data);
});
