//! s6-fdholderd's request decoder: never panics; every accepted request re-encodes (as the
//! clients encode it) to the very bytes it came from.
#![no_main]

use fdholder::proto::{self, decode, Request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, msg)) = data.split_first() else {
        return;
    };
    let nfds = (ctl & 0x0f) as usize;
    let dumping = (ctl >> 4) as u32;
    let Ok(req) = decode(msg, nfds, dumping) else {
        return;
    };
    let again = match &req {
        Request::Store { limit, id } => proto::encode_store(limit, id),
        Request::Delete { id } => proto::encode_delete(id),
        Request::Retrieve { delete, id } => {
            let mut v = proto::encode_retrieve(id, *delete);
            // Any non-zero delete byte means delete.
            v[1] = msg[1];
            v
        }
        Request::List => b"L".to_vec(),
        Request::GetDump => b"?".to_vec(),
        Request::SetDump { count } => proto::encode_setdump(*count),
        Request::SetDumpData { entries } => {
            assert_eq!(entries.len(), nfds);
            let mut v = vec![b'.'];
            for (limit, id) in entries {
                proto::push_description(&mut v, limit, id);
            }
            v
        }
    };
    assert_eq!(again, msg);
});
