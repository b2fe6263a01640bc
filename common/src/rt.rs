//! A light program entry for `#![no_main]` binaries: what the Rust runtime's `main` shim
//! does that our programs rely on, without the rest (reading `/proc/self/maps` for the main
//! thread's stack guard, an alternate signal stack and SIGSEGV/SIGBUS handlers). Fewer
//! system calls at every start and fewer dirty pages in every long-lived supervisor.
//!
//! Arguments and environment still work: on Linux/glibc std takes them from `.init_array`.
//! `std::process::exit` still flushes stdout.

/// The Rust runtime's start-up, kept: closed fds 0-2 are reopened on `/dev/null`
/// (read-write, as std does), and SIGPIPE is ignored (so writes report EPIPE; children
/// started with `std::process::Command` get it back at its default, as before).
pub fn start(main: fn() -> !) -> ! {
    // SAFETY: poll/open/signal on fixed arguments, before any other code runs.
    unsafe {
        let mut pfds = [0, 1, 2].map(|fd| libc::pollfd {
            fd,
            events: 0,
            revents: 0,
        });
        loop {
            if libc::poll(pfds.as_mut_ptr(), 3, 0) != -1 {
                for p in &pfds {
                    if p.revents & libc::POLLNVAL != 0 && !reopen_null() {
                        libc::abort();
                    }
                }
                break;
            }
            match nix::errno::Errno::last() {
                nix::errno::Errno::EINTR => continue,
                nix::errno::Errno::EINVAL
                | nix::errno::Errno::EAGAIN
                | nix::errno::Errno::ENOMEM => {
                    for fd in 0..3 {
                        if libc::fcntl(fd, libc::F_GETFD) == -1
                            && nix::errno::Errno::last() == nix::errno::Errno::EBADF
                            && !reopen_null()
                        {
                            libc::abort();
                        }
                    }
                    break;
                }
                _ => libc::abort(),
            }
        }
        if libc::signal(libc::SIGPIPE, libc::SIG_IGN) == libc::SIG_ERR {
            libc::abort();
        }
    }
    main()
}

fn reopen_null() -> bool {
    // SAFETY: open of a constant NUL-terminated path.
    unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR, 0) != -1 }
}

/// Entry of a binary whose first line is `#![cfg_attr(not(test), no_main)]`:
/// `common::entry!(krate::main_fn);`. Under `cargo test` the bin keeps the test harness's
/// own `main` (this expands to nothing there).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[cfg(not(test))]
        #[no_mangle]
        extern "C" fn main(
            _argc: ::std::ffi::c_int,
            _argv: *const *const ::std::ffi::c_char,
        ) -> ::std::ffi::c_int {
            $crate::rt::start($main)
        }
    };
}
