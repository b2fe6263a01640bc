//! Test-only helpers shared by the crates' unit tests: compiled only for common's own tests
//! and for crates that enable the `testing` feature in their `[dev-dependencies]`, so none
//! of it ships in a program.

use std::ffi::OsString;

/// A command line from string literals, for the parser tests of every program.
pub fn os_args(v: &[&str]) -> Vec<OsString> {
    v.iter().map(OsString::from).collect()
}

/// The pieces [`pseudo_random_argv`] builds arguments from: option markers, the letters and
/// values the tools' parsers take, empty and non-UTF-8 bytes.
const ARGV_PIECES: &[&[u8]] = &[
    b"-",
    b"--",
    b"-w",
    b"-T",
    b"-s",
    b"-o",
    b"-t",
    b"-n",
    b"",
    b" ",
    b"u",
    b"U",
    b"x",
    b"1",
    b"99999999999",
    b",",
    b"up",
    b"\xff",
    b"--help",
    b"--json",
    b"d",
    b"-uwd",
];

/// `count` deterministic pseudo-random command lines (0 to 5 arguments of 1 to 3 pieces of
/// [`ARGV_PIECES`] each, xorshift64), for the "parser never panics" tests of every program;
/// the fuzz targets explore the same space at length.
pub fn pseudo_random_argv(count: usize) -> Vec<Vec<OsString>> {
    use std::os::unix::ffi::OsStringExt;
    let mut seed: u64 = 0x9e3779b97f4a7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut pick = |n: usize| (next() % n.max(1) as u64) as usize;
    (0..count)
        .map(|_| {
            let n = pick(6);
            (0..n)
                .map(|_| {
                    let k = pick(3) + 1;
                    let mut v = Vec::new();
                    for _ in 0..k {
                        if let Some(piece) = ARGV_PIECES.get(pick(ARGV_PIECES.len())) {
                            v.extend_from_slice(piece);
                        }
                    }
                    OsString::from_vec(v)
                })
                .collect()
        })
        .collect()
}
