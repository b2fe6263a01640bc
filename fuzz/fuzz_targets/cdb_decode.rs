//! `common::cdb` and the access-rule records: any bytes read as a cdb never panic; the
//! records found by traversal, written again by our writer, are all found by lookup with
//! their first value, and every rule record decodes without panicking.
#![no_main]

use common::accessrules::{decode_rule, lookup_cdb};
use common::cdb::{Cdb, Writer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let c = Cdb::from_bytes(data.to_vec());
    for key in ["uid/self", "uid/0", "gid/0", "uid/default"] {
        let _ = lookup_cdb(&c, key);
    }
    let mut w = Writer::new();
    let mut recs = Vec::new();
    for r in c.records().take(1000) {
        let Ok((k, v)) = r else { break };
        let _ = decode_rule(v);
        let _ = c.find(k);
        if w.add(k, v).is_ok() {
            recs.push((k.to_vec(), v.to_vec()));
        }
    }
    let Ok(bytes) = w.finish() else { return };
    let again = Cdb::from_bytes(bytes);
    let got: Vec<_> = again.records().map(|r| r.expect("our own cdb traverses")).collect();
    assert_eq!(got.len(), recs.len());
    for (k, _) in &recs {
        let first = &recs.iter().find(|(k2, _)| k2 == k).expect("present").1;
        assert_eq!(again.find(k).expect("our own cdb is valid"), Some(&first[..]));
    }
});
