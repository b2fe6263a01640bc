//! Reads `programs.list` (the one table of the suite's programs) and
//! * writes `$OUT_DIR/programs.rs`: the dispatch table of `s6-rs`, sorted by name;
//! * makes every name a symbolic link to `s6-rs` in the profile directory
//!   (`target/<profile>/`, `target/<triple>/<profile>/`), so that `cargo build` leaves each
//!   program runnable under each of its names, as an install does.

// A build script fails the build by panicking: that is how it reports a bad programs.list.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const BINARY: &str = "s6-rs";

fn main() {
    println!("cargo:rerun-if-changed=programs.list");
    println!("cargo:rerun-if-changed=build.rs");
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

    let mut code = String::from(
        "/// Every program name, sorted, with its entry and its name set.\n\
         static PROGRAMS: &[Program] = &[\n",
    );
    for (name, (entry, set)) in &names {
        writeln!(
            code,
            "    Program {{ name: b\"{name}\", set: NameSet::{set}, entry: {entry} }},"
        )
        .unwrap();
    }
    code.push_str("];\n\n");
    // A `match` on the name: rustc compares lengths first, then the few names of that
    // length (a binary search costs a memcmp per step; this runs at every program start).
    code.push_str(
        "/// The program called `name`.\nfn find(name: &[u8]) -> Option<&'static Program> {\n    let i = match name {\n",
    );
    for (i, name) in names.keys().enumerate() {
        writeln!(code, "        b\"{name}\" => {i},").unwrap();
    }
    code.push_str("        _ => return None,\n    };\n    PROGRAMS.get(i)\n}\n");
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
