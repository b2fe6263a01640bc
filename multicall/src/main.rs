//! `s6-rs`: the one binary of the suite. It runs the program its `argv[0]` names (basename:
//! `s6-svc`, `svc`, ...), as busybox does; `s6-rs PROGRAM ARGS...` runs PROGRAM too. The
//! table comes from `programs.list` (build.rs): this crate is the only one that knows every
//! program, and the only `main`. Its global allocator is `common::alloc` (the
//! `global-allocator` feature of `common`).

#![cfg_attr(not(test), no_main)]
// Under `cargo test` there is no `main` (the harness brings its own), so nothing is called.
#![cfg_attr(test, allow(dead_code))]

/// One program: its name (in `NAMES`) and its entry. The name sets (`s6-svc`, `svc`, the
/// aliases) are read from programs.list by scripts/install.
struct Program {
    name_at: u16,
    name_len: u8,
    entry: fn() -> !,
}

impl Program {
    fn name(&self) -> &'static [u8] {
        let at = usize::from(self.name_at);
        NAMES
            .get(at..at + usize::from(self.name_len))
            .unwrap_or_default()
    }
}

include!(concat!(env!("OUT_DIR"), "/programs.rs"));

/// The names' hash (src/name_hash.rs), from NAME_SEED, which build.rs chose so that no two
/// names share a slot.
mod name_hash;
use name_hash::name_hash;

/// The program called `name`.
fn find(name: &[u8]) -> Option<&'static Program> {
    let slot = SLOTS.get((name_hash(NAME_SEED, name) >> (32 - SLOT_BITS)) as usize)?;
    let program = PROGRAMS.get(usize::from(*slot).checked_sub(1)?)?;
    same_bytes(program.name(), name).then_some(program)
}

/// `a == b` by whole words (two overlapping ones for 4 to 16 bytes): the C library's memcmp
/// goes byte by byte, and this runs at every program start.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    fn word<const N: usize>(s: &[u8], at: usize) -> [u8; N] {
        s.get(at..at + N)
            .and_then(|w| w.try_into().ok())
            .unwrap_or([0; N])
    }
    let n = a.len();
    if n != b.len() {
        return false;
    }
    match n {
        0..=3 => a.iter().zip(b).all(|(p, q)| p == q),
        4..=8 => word::<4>(a, 0) == word::<4>(b, 0) && word::<4>(a, n - 4) == word::<4>(b, n - 4),
        9..=16 => word::<8>(a, 0) == word::<8>(b, 0) && word::<8>(a, n - 8) == word::<8>(b, n - 8),
        _ => a == b,
    }
}

/// The binary's own name: called by it, the first argument names the program.
const OWN_NAME: &[u8] = b"s6-rs";

/// s6's exit code for a usage error.
const EXIT_USAGE: i32 = common::msg::exit::USAGE;

/// `s6-rs status` is `s6-rs-status`: our own programs are installed as `s6-rs-NAME`.
fn find_own_subcommand(name: &[u8]) -> Option<&'static Program> {
    let mut full = [0u8; 64];
    let prefix = b"s6-rs-";
    let len = prefix.len() + name.len();
    let buf = full.get_mut(..len)?;
    let (head, tail) = buf.split_at_mut(prefix.len());
    head.copy_from_slice(prefix);
    tail.copy_from_slice(name);
    find(buf)
}

fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

fn dispatch() -> ! {
    // The C library has already found argv[0]'s basename.
    let name = common::rt::program_name();
    if let Some(p) = find(name) {
        (p.entry)()
    }
    let argv0 = common::rt::arg(0).unwrap_or_default();
    if name == OWN_NAME {
        match common::rt::arg(1) {
            Some(b"--version") => {
                println!("{}", common::msg::VERSION);
                std::process::exit(0)
            }
            Some(b"--help") => {
                print_list(&mut std::io::stdout());
                std::process::exit(0)
            }
            Some(prog) => {
                let prog = basename(prog);
                if let Some(p) = find(prog).or_else(|| find_own_subcommand(prog)) {
                    common::rt::shift_args();
                    (p.entry)()
                }
            }
            None => {}
        }
    }
    if let Some(p) = linked_program(argv0) {
        (p.entry)()
    }
    print_list(&mut std::io::stderr());
    std::process::exit(EXIT_USAGE)
}

/// For a name we do not know: the program a chain of symbolic links from `argv0` leads to
/// (`mysvc -> s6-svc -> s6-rs`), as it would with one binary per program, where any link to
/// `s6-svc` runs s6-svc (and one to `s6-alias` says `unknown alias: NAME`). Only `argv0`s
/// that are paths are followed; the program still sees its argv[0] unchanged.
fn linked_program(argv0: &[u8]) -> Option<&'static Program> {
    use std::os::unix::ffi::OsStrExt;
    use std::path::{Path, PathBuf};
    if !argv0.contains(&b'/') {
        return None;
    }
    let mut path = PathBuf::from(std::ffi::OsStr::from_bytes(argv0));
    for _ in 0..8 {
        let target = std::fs::read_link(&path).ok()?;
        let name = basename(target.as_os_str().as_bytes());
        if let Some(p) = find(name) {
            return Some(p);
        }
        path = match path.parent() {
            Some(dir) if target.is_relative() => dir.join(&target),
            _ => target,
        };
        if path.as_path() == Path::new("") {
            return None;
        }
    }
    None
}

fn print_list(out: &mut dyn std::io::Write) {
    let mut text = Vec::with_capacity(2048);
    text.extend_from_slice(
        b"usage: s6-rs PROGRAM [ARGS...], or call it by a program's name\nprograms:",
    );
    for p in &PROGRAMS {
        text.push(b' ');
        text.extend_from_slice(p.name());
    }
    text.push(b'\n');
    let _ = out.write_all(&text);
    let _ = out.flush();
}

#[cfg(not(test))]
#[no_mangle]
extern "C" fn main(argc: std::ffi::c_int, argv: *const *const std::ffi::c_char) -> std::ffi::c_int {
    common::rt::set_args(argc, argv);
    common::rt::start(dispatch)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_finds_its_program() {
        for p in &PROGRAMS {
            let found = find(p.name()).map(|f| f.name());
            assert_eq!(
                found,
                Some(p.name()),
                "{}",
                String::from_utf8_lossy(p.name())
            );
        }
        assert!(PROGRAMS.len() > 100);
    }

    #[test]
    fn other_names_find_nothing() {
        for name in [
            &b""[..],
            b"s6-rs",
            b"s6-sv",
            b"s6-svcx",
            b"xs6-svc",
            b"S6-SVC",
            b"s6-svscanctl\0",
        ] {
            assert!(find(name).is_none(), "{}", String::from_utf8_lossy(name));
        }
        // Every prefix and every one-byte change of every name is either another program or
        // nothing, never a different program's entry under this name.
        for p in &PROGRAMS {
            let name = p.name();
            for len in 0..name.len() {
                if let Some(f) = find(&name[..len]) {
                    assert_eq!(f.name(), &name[..len]);
                }
            }
            let mut changed = name.to_vec();
            for i in 0..changed.len() {
                changed[i] ^= 0x20;
                if let Some(f) = find(&changed) {
                    assert_eq!(f.name(), &changed[..]);
                }
                changed[i] ^= 0x20;
            }
        }
    }

    #[test]
    fn same_bytes_is_slice_equality() {
        let names: [&[u8]; 12] = [
            b"abcdefghijklmnopq",
            b"abcdefghijklmnopr",
            b"s6-fdholder-list",
            b"s6-fdholder-lisu",
            b"",
            b"a",
            b"s6-svc",
            b"s6-svcx",
            b"s6-svscanctl",
            b"s6-svscanctk",
            b"abcdefgh",
            b"abcdefgi",
        ];
        for a in names {
            for b in names {
                assert_eq!(same_bytes(a, b), a == b, "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn names_are_sorted_and_unique() {
        for pair in PROGRAMS.windows(2) {
            assert!(pair[0].name() < pair[1].name());
        }
    }
}
