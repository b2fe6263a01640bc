//! s6-sudod's request decoder: never panics, and what it accepts re-encodes to a request
//! that decodes to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sudo::proto::{decode_request, encode_request, BANNER_CLIENT};

fuzz_target!(|data: &[u8]| {
    // Half the inputs get a valid banner, so the decoder's later checks are reached.
    let mut owned;
    let input = if data.first().is_some_and(|b| b & 1 == 1) {
        owned = BANNER_CLIENT.to_vec();
        owned.extend_from_slice(&data[1..]);
        &owned[..]
    } else {
        data
    };
    if let Ok(req) = decode_request(input) {
        let env: Vec<Vec<u8>> = req
            .env
            .iter()
            .map(|(k, v)| [k.as_slice(), b"=", v.as_slice()].concat())
            .collect();
        let again = encode_request(&req.args, &env);
        assert_eq!(decode_request(&again).as_ref(), Ok(&req));
    }
});
