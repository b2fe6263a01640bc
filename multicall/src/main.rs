//! `s6-rs`: the one binary of the suite. It runs the program its `argv[0]` names (basename:
//! `s6-svc`, `svc`, ...), as busybox does; `s6-rs PROGRAM ARGS...` runs PROGRAM too. The
//! table comes from `programs.list` (build.rs): this crate is the only one that knows every
//! program, and the only `main`. Its global allocator is `common::alloc` (the
//! `global-allocator` feature of `common`).

#![cfg_attr(not(test), no_main)]
// Under `cargo test` there is no `main` (the harness brings its own), so nothing is called.
#![cfg_attr(test, allow(dead_code))]

/// Which installed name set a name belongs to (`scripts/install` chooses the sets).
#[allow(dead_code)] // the sets are read by scripts/install from programs.list; kept for `s6-rs --list`
#[derive(Clone, Copy, PartialEq, Eq)]
enum NameSet {
    /// The names s6 installs (`s6-svc`).
    S6,
    /// The short names (`svc`).
    Short,
    /// The runit and daemontools faces (`sv`, `chpst`, `setuidgid`).
    Alias,
}

struct Program {
    name: &'static [u8],
    #[allow(dead_code)]
    set: NameSet,
    entry: fn() -> !,
}

include!(concat!(env!("OUT_DIR"), "/programs.rs"));

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
    for p in PROGRAMS {
        text.push(b' ');
        text.extend_from_slice(p.name);
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
