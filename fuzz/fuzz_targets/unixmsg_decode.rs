//! `common::unixmsg::Receiver`: any byte stream, fed in any chunking, yields messages whose
//! framing re-encodes to the bytes consumed, or a refusal; never a panic.
#![no_main]

use common::unixmsg::{encode, Receiver, HEADER_LEN};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let max = 1u32 << (split % 20);
    let cut = (split as usize * 7) % (rest.len() + 1);
    let mut rx = Receiver::new(max);
    let mut consumed = Vec::new();
    for chunk in [&rest[..cut], &rest[cut..]] {
        rx.push(chunk, []);
        loop {
            match rx.next_message() {
                Ok(Some(m)) => {
                    assert!(m.data.len() <= max as usize);
                    assert!(m.fds.is_empty());
                    consumed.extend(encode(&m.data, 0).unwrap());
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
    // What was consumed is exactly a prefix of the input, framed as we would frame it.
    assert_eq!(&rest[..consumed.len()], &consumed[..]);
    assert_eq!(rx.buffered(), rest.len() - consumed.len());
    assert!(rx.buffered() < HEADER_LEN || rx.buffered() < HEADER_LEN + max as usize);
});
