//! Reads `programs.list` (the one table of the suite's programs) and
//! * writes `$OUT_DIR/programs.rs`: the dispatch table of `s6-rs`, sorted by name;
//! * makes every name a symbolic link to `s6-rs` in the profile directory
//!   (`target/<profile>/`, `target/<triple>/<profile>/`), so that `cargo build` leaves each
//!   program runnable under each of its names, as an install does.

// A build script fails the build by panicking: that is how it reports a bad programs.list.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const BINARY: &str = "s6-rs";

/// The hash find() uses, the same file as src/main.rs's.
#[path = "src/name_hash.rs"]
mod name_hash;
use name_hash::name_hash;

fn main() {
    println!("cargo:rerun-if-changed=programs.list");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=src/name_hash.rs");
    // The static build links through scripts/link-hot, which reads hot.list.
    println!("cargo:rerun-if-changed=hot.list");
    println!("cargo:rerun-if-changed=../scripts/link-hot");
    let list = std::fs::read_to_string("programs.list").expect("read programs.list");
    // name -> (entry, set)
    let mut names: BTreeMap<String, (String, &'static str)> = BTreeMap::new();
    for (n, line) in list.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let mut words = line.split_whitespace();
        let entry = words.next().expect("entry");
        let mut sets = ["S6", "Short"].into_iter();
        for word in words {
            let set = sets.next().unwrap_or("Alias");
            if word == "-" {
                continue;
            }
            assert!(
                !word.contains('/') && word != BINARY,
                "programs.list:{}: bad name {word}",
                n + 1
            );
            if let Some((other, other_set)) = names.get(word) {
                // An alias that is also a short name (`svc`, `setuidgid`): s6's alias would
                // exec the s6 program; the short name runs that same program directly.
                if other == entry || set == "Alias" {
                    continue;
                }
                assert!(
                    *other_set == "Alias",
                    "programs.list:{}: {word} is already {other}",
                    n + 1
                );
            }
            names.insert(word.to_string(), (entry.to_string(), set));
        }
    }

    // The names, one after another, and a table sorted by name that points into them: small,
    // since the whole of it is mapped at every program start (scripts/link-hot).
    let count = names.len();
    assert!(
        count < 255,
        "programs.list: {count} names; find() indexes them with a u8"
    );
    let mut blob = String::new();
    let mut code = String::from(
        "/// Every program name, sorted, with its entry.\nstatic PROGRAMS: [Program; ",
    );
    writeln!(code, "{count}] = [").unwrap();
    for (name, (entry, _set)) in &names {
        writeln!(
            code,
            "    Program {{ name_at: {}, name_len: {}, entry: {entry} }},",
            blob.len(),
            name.len()
        )
        .unwrap();
        blob.push_str(name);
    }
    code.push_str("];\n\n");
    writeln!(
        code,
        "/// The program names of PROGRAMS, one after another.\nstatic NAMES: [u8; {}] = *b\"{blob}\";\n",
        blob.len()
    )
    .unwrap();

    // find(): a perfect hash. FNV-1a of the name from a seed chosen here so that no two names
    // share a slot; a slot holds index + 1 into PROGRAMS, and the name is then compared. A few
    // dozen instructions and 2 KiB of table, where a `match` on 150 names was 15 KB of code.
    // Each table size gets a bounded search (150 names in 2,048 slots: some 200 seeds, where
    // 1,024 slots need millions); more names take a table twice the size, not a build that
    // never ends.
    let (slot_bits, seed, slots) = (11..=16u32)
        .find_map(|bits| {
            (0x811c_9dc5u32..0x811c_9dc5 + (1 << 16)).find_map(|seed| {
                let mut slots = vec![0u8; 1 << bits];
                for (i, name) in names.keys().enumerate() {
                    let slot =
                        &mut slots[(name_hash(seed, name.as_bytes()) >> (32 - bits)) as usize];
                    if *slot != 0 {
                        return None;
                    }
                    *slot = u8::try_from(i + 1).unwrap();
                }
                Some((bits, seed, slots))
            })
        })
        .expect("no perfect hash for programs.list in 2^16 slots");
    writeln!(
        code,
        "const NAME_SEED: u32 = {seed:#x};\nconst SLOT_BITS: u32 = {slot_bits};"
    )
    .unwrap();
    writeln!(code, "/// Index + 1 into PROGRAMS by the name's hash; 0: no program.\nstatic SLOTS: [u8; {}] = {slots:?};", slots.len()).unwrap();
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("OUT_DIR"));
    std::fs::write(out.join("programs.rs"), code).expect("write programs.rs");

    // OUT_DIR is <profile dir>/build/multicall-<hash>/out.
    if let Some(profile) = out.ancestors().nth(3) {
        for name in names.keys() {
            link(profile, name);
        }
    }
}

fn link(dir: &Path, name: &str) {
    let path = dir.join(name);
    if std::fs::read_link(&path).is_ok_and(|t| t == Path::new(BINARY)) {
        return;
    }
    // A file of an older build (one binary per program) or a stale link.
    let _ = std::fs::remove_file(&path);
    if let Err(e) = std::os::unix::fs::symlink(BINARY, &path) {
        println!("cargo:warning=unable to link {}: {e}", path.display());
    }
}
