//! `s6-rs`: the one binary of the suite. It runs the program its `argv[0]` names (basename:
//! `s6-svc`, `svc`, ...), as busybox does; `s6-rs PROGRAM ARGS...` runs PROGRAM too. The
//! table comes from `programs.list` (build.rs): this crate is the only one that knows every
//! program, and the only `main`.

#![cfg_attr(not(test), no_main)]
// The test build has no C `main`, the only way into the dispatch table.
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

fn find(name: &[u8]) -> Option<&'static Program> {
    PROGRAMS
        .binary_search_by(|p| p.name.cmp(name))
        .ok()
        .and_then(|i| PROGRAMS.get(i))
}

fn basename(path: &[u8]) -> &[u8] {
    path.rsplit(|&b| b == b'/').next().unwrap_or(path)
}

fn dispatch() -> ! {
    let argv0 = common::rt::arg(0).unwrap_or_default();
    let name = basename(argv0);
    if let Some(p) = find(name) {
        (p.entry)()
    }
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
                if let Some(p) = find(basename(prog)) {
                    common::rt::shift_args();
                    (p.entry)()
                }
            }
            None => {}
        }
    }
    print_list(&mut std::io::stderr());
    std::process::exit(EXIT_USAGE)
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
