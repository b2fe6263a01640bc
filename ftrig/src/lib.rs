//! The fifodir tools and the readiness helpers of s6 2.15.1, as drop-ins:
//!
//! * [`fifotools`]: `s6-mkfifodir`, `s6-cleanfifodir`, `s6-ftrig-notify`.
//! * [`ftrigwait`]: `s6-ftrig-wait`, `s6-ftrig-listen1`, `s6-ftrig-listen` — subscribe to
//!   fifodirs and wait for the received bytes to match POSIX extended regexps
//!   (`common::regex`, the C library's regcomp/regexec).
//! * [`ftrigrd`]: `s6-ftrigrd`, the libexec helper of libs6's `ftrigr` library (sass
//!   protocol on fds 0/1 and `SKALIBS_CHILD_SPAWN_FDS`), for programs linked with
//!   skarnet's libs6 such as s6-rc's `s6-rc-init`; ours never spawn it.
//! * [`notifyoncheck`]: `s6-notifyoncheck`, readiness from a polling check.
//! * [`sdnotify`]: `s6-notify-socket-from-fd` and `s6-notify-fd-from-socket`, the bridges
//!   to and from systemd's NOTIFY_SOCKET protocol.
//! * [`permafailon`]: `s6-permafailon`, a `./finish` that stops a service failing too often.
//!
//! The 2.15 programs parse options with skalibs' `gol` (`common::gol`); messages are
//! `common::cli`'s, the notification-fd lookup is `common::servicedir::resolve_notification_fd`,
//! and the exec of the rest of the command line is `common::exec` (skalibs' `xexec0`: exit
//! 127 not found, 126 otherwise; the signal mask is passed on as inherited, SIGPIPE gets its
//! inherited disposition back).
//!
//! Deliberate differences from s6:
//! * Our listeners subscribe in-process (they never spawn `s6-ftrigrd`); the FIFOs and bytes in the
//!   fifodir are s6's, so s6's own notifiers and listeners interoperate with ours.
//! * Notifiers (`s6-ftrig-notify`, `s6-cleanfifodir`) do not follow symlinks nor write into
//!   anything but a FIFO in the fifodir (see `common::fifodir`).
//! * `s6-ftrigrd` speaks only the pipe mode of the protocol (how libs6 spawns it).
//!
//! Upstream `s6-ftrigrd` (sass server) bugs not copied, see [`ftrigrd`]: events reported
//! under the wrong id, a one-shot's FIFO kept until exit and a crash on the next
//! subscription, a double answer to the cancel of an unknown id.
//! * `--help` / `--version` as the first argument (s6 rejects both).
//!
//! Upstream bugs not copied (the conformance suite asserts the sensible behaviour):
//! * 2.11's `s6-cleanfifodir` compares names against the wrong length and never removes
//!   anything: ours removes stale (readerless) subscriber FIFOs.
//! * 2.15.1's `s6-notify-fd-from-socket` helper polls the notification fd instead of the
//!   socket, so it never reports readiness: ours waits on the socket and writes the newline
//!   on the first `READY=1` line.
//! * 2.15.1's `s6-notify-socket-from-fd` sends to a NUL-padded abstract address for
//!   `NOTIFY_SOCKET=@name`: ours uses the exact address length.
//! * 2.15.1's `s6-notifyoncheck` names `waiting-time` in the error for a bad `-n`: ours says
//!   `tries must be an unsigned integer`.
//! * `s6-notifyoncheck -t` abandons a check that runs too long without killing it, as s6
//!   does (the documentation says it is killed); a later exit of that check is ignored.

pub mod fifotools;
pub mod ftrigrd;
pub mod ftrigwait;
pub mod notifyoncheck;
pub mod permafailon;
pub mod sdnotify;

use std::ffi::OsString;

/// The arguments after argv[0], once `--help` / `--version` have been handled.
fn args(help: &str) -> Vec<OsString> {
    let mut a = common::rt::args_os();
    if !a.is_empty() {
        a.remove(0);
    }
    common::cli::help_or_version(&a, help);
    a
}

const MKFIFODIR_HELP: &str = "s6-mkfifodir [ -f ] [ -g gid ] fifodir
Create a fifodir (mode 01733, or 03730 with group gid).
  -f      force the mode (and group) on an existing directory
  -g gid  restrict subscribing to group gid";
const CLEANFIFODIR_HELP: &str = "s6-cleanfifodir fifodir
Remove the subscriber FIFOs of fifodir that nobody reads.";
const NOTIFY_HELP: &str = "s6-ftrig-notify fifodir message
Send message to every subscriber of fifodir.";
const WAIT_HELP: &str = "s6-ftrig-wait [ -t timeout ] fifodir regexp
Subscribe to fifodir, wait until the received bytes match regexp (POSIX ERE), print them.
  -t ms, --timeout=ms  give up after ms milliseconds (exit 99); 0 = never";
const LISTEN1_HELP: &str = "s6-ftrig-listen1 [ -t timeout ] fifodir regexp prog...
Subscribe to fifodir, spawn prog..., wait until the received bytes match regexp, print them.
  -t ms, --timeout=ms  give up after ms milliseconds (exit 1); 0 = never";
const LISTEN_HELP: &str =
    "s6-ftrig-listen [ -a | -o ] [ -t timeout ] fifodir1 regexp1 ... \"\" prog...
Subscribe to every fifodir, spawn prog..., wait until the regexps match.
  -a, --and            wait for all of them (default)
  -o, --or             wait for one of them
  -t ms, --timeout=ms  give up after ms milliseconds (exit 1); 0 = never";
const NOTIFYONCHECK_HELP: &str = "s6-notifyoncheck [ -d ] [ -3 fd ] [ -s initialsleep ] [ -T globaltimeout ] [ -t localtimeout ] [ -w waitingtime ] [ -n tries ] [ -c \"checkprog...\" ] prog...
Exec prog...; meanwhile poll a check and report readiness when it first succeeds.
  -d, --doublefork          the checker is not a child of prog
  -3 fd, --notification-fd= write the notification to fd (default: ./notification-fd)
  -s ms, --initial-sleep=   sleep before the first check (default 10)
  -T ms, --global-timeout=  give up after ms in total (0 = never, default)
  -t ms, --local-timeout=   give up an attempt after ms (0 = never, default)
  -w ms, --waiting-time=    pause between attempts (default 1000)
  -n n, --tries=            at most n attempts (0 = unlimited; default 7)
  -c str, --check-program=  the check is execlineb -Pc str (default ./data/check)";
const PERMAFAILON_HELP: &str = "s6-permafailon seconds deathcount statuslist prog...
As ./finish: exit 125 (permanent failure) if deathcount deaths matching statuslist (exit
codes, ranges a-b, signal names) happened in the last seconds seconds; else exec prog...";
const SOCKET_FROM_FD_HELP: &str =
    "s6-notify-socket-from-fd [ -d fd ] [ -f ] [ -t timeout ] [ -k ] prog...
Exec prog...; when it writes a newline to fd, send READY=1 to $NOTIFY_SOCKET.
  -d fd, --notification-fd=fd  the descriptor prog writes to (default 1)
  -f, --no-doublefork          the helper is a child of prog (--doublefork: not)
  -t ms, --timeout=ms          give up after ms milliseconds (exit 99); 0 = never
  -k, --keep-environment       keep NOTIFY_SOCKET in prog's environment";
const FD_FROM_SOCKET_HELP: &str = "s6-notify-fd-from-socket [ -f ] [ -3 fd ] [ -t timeout ] prog...
Exec prog... with a NOTIFY_SOCKET; on READY=1, write a newline to the notification fd.
  -f, --no-doublefork           the helper is a child of prog (--doublefork: not)
  -3 fd, --notification-fd=fd   the notification fd (default: ./notification-fd)
  -t ms, --timeout=ms           give up after ms milliseconds (exit 99); 0 = never";

/// Entry point of `s6-mkfifodir`.
pub fn mkfifodir_main() -> ! {
    fifotools::mkfifodir_main(&args(MKFIFODIR_HELP))
}

/// Entry point of `s6-cleanfifodir`.
pub fn cleanfifodir_main() -> ! {
    fifotools::cleanfifodir_main(&args(CLEANFIFODIR_HELP))
}

/// Entry point of `s6-ftrig-notify`.
pub fn ftrig_notify_main() -> ! {
    fifotools::notify_main(&args(NOTIFY_HELP))
}

/// Entry point of `s6-ftrig-wait`.
pub fn ftrig_wait_main() -> ! {
    ftrigwait::main(ftrigwait::Kind::Wait, &args(WAIT_HELP))
}

/// Entry point of `s6-ftrig-listen1`.
pub fn ftrig_listen1_main() -> ! {
    ftrigwait::main(ftrigwait::Kind::Listen1, &args(LISTEN1_HELP))
}

/// Entry point of `s6-ftrig-listen`.
pub fn ftrig_listen_main() -> ! {
    ftrigwait::main(ftrigwait::Kind::Listen, &args(LISTEN_HELP))
}

/// Entry point of `s6-ftrigrd` (libs6's helper; reads no arguments).
pub fn ftrigrd_main() -> ! {
    ftrigrd::main()
}

/// Entry point of `s6-notifyoncheck`.
pub fn notifyoncheck_main() -> ! {
    notifyoncheck::main(&args(NOTIFYONCHECK_HELP))
}

/// Entry point of `s6-permafailon`.
pub fn permafailon_main() -> ! {
    permafailon::main(&args(PERMAFAILON_HELP))
}

/// Entry point of `s6-notify-socket-from-fd`.
pub fn notify_socket_from_fd_main() -> ! {
    sdnotify::socket_from_fd_main(&args(SOCKET_FROM_FD_HELP))
}

/// Entry point of `s6-notify-fd-from-socket`.
pub fn notify_fd_from_socket_main() -> ! {
    sdnotify::fd_from_socket_main(&args(FD_FROM_SOCKET_HELP))
}
