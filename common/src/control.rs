//! Control bytes: what `supervise/control` and `.s6-svscan/control` accept, and how clients
//! write them (`s6_svc_writectl`).

use crate::cpath::CPath;
use crate::fsio;
use crate::layout;
use nix::errno::Errno;
use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
use nix::sys::stat::{stat, Mode, SFlag};
use nix::unistd::mkfifo;
use std::ffi::OsStr;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;

/// One byte on `supervise/control` (s6 2.15.1; `l` is 2.15.1's reload).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SuperviseCommand {
    /// `a b q h k t i 1 2 y`: send this signal to ./run.
    Signal(SignalCommand),
    /// `p`: SIGSTOP, mark paused.
    Pause,
    /// `c`: SIGCONT, clear paused.
    Continue,
    /// `r`: send the down-signal (the service restarts).
    Restart,
    /// `l`: send the reload-signal.
    Reload,
    /// `P`: SIGSTOP to the process group, mark paused.
    GroupPause,
    /// `C`: SIGCONT to the process group, clear paused.
    GroupContinue,
    /// `K`: SIGKILL to the process group.
    GroupKill,
    /// `o`: run once (start if down, do not restart).
    Once,
    /// `d`: take down, do not restart.
    Down,
    /// `u`: bring up, restart when it dies.
    Up,
    /// `D`: like `d`, and create `./down`.
    DownPersist,
    /// `U`: like `u`, and remove `./down`.
    UpPersist,
    /// `x`: exit the supervisor once the service is down.
    Exit,
    /// `O`: do not restart, do not start.
    OnceAtMost,
    /// `Q`: like `O`, and create `./down`.
    OnceAtMostPersist,
}

/// The signal-only commands (`a b q h k t i 1 2 y`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SignalCommand {
    Alrm,
    Abrt,
    Quit,
    Hup,
    Kill,
    Term,
    Int,
    Usr1,
    Usr2,
    Winch,
}

impl SignalCommand {
    pub fn signal(self) -> i32 {
        match self {
            SignalCommand::Alrm => libc::SIGALRM,
            SignalCommand::Abrt => libc::SIGABRT,
            SignalCommand::Quit => libc::SIGQUIT,
            SignalCommand::Hup => libc::SIGHUP,
            SignalCommand::Kill => libc::SIGKILL,
            SignalCommand::Term => libc::SIGTERM,
            SignalCommand::Int => libc::SIGINT,
            SignalCommand::Usr1 => libc::SIGUSR1,
            SignalCommand::Usr2 => libc::SIGUSR2,
            SignalCommand::Winch => libc::SIGWINCH,
        }
    }
}

impl SignalCommand {
    /// The command that sends `sig`, for the signals `s6-svc -s` accepts (SIGSTOP and
    /// SIGCONT are `p` and `c`, which also mark the service paused / not paused).
    pub fn command_for_signal(sig: i32) -> Option<SuperviseCommand> {
        use SignalCommand as S;
        use SuperviseCommand as C;
        Some(match sig {
            libc::SIGALRM => C::Signal(S::Alrm),
            libc::SIGABRT => C::Signal(S::Abrt),
            libc::SIGQUIT => C::Signal(S::Quit),
            libc::SIGHUP => C::Signal(S::Hup),
            libc::SIGKILL => C::Signal(S::Kill),
            libc::SIGTERM => C::Signal(S::Term),
            libc::SIGINT => C::Signal(S::Int),
            libc::SIGUSR1 => C::Signal(S::Usr1),
            libc::SIGUSR2 => C::Signal(S::Usr2),
            libc::SIGWINCH => C::Signal(S::Winch),
            libc::SIGSTOP => C::Pause,
            libc::SIGCONT => C::Continue,
            _ => return None,
        })
    }
}

impl SuperviseCommand {
    /// Every command, in s6's option-string order.
    pub const ALL: [SuperviseCommand; 25] = {
        use SignalCommand as S;
        use SuperviseCommand as C;
        [
            C::Signal(S::Alrm),
            C::Signal(S::Abrt),
            C::Signal(S::Quit),
            C::Signal(S::Hup),
            C::Signal(S::Kill),
            C::Signal(S::Term),
            C::Signal(S::Int),
            C::Signal(S::Usr1),
            C::Signal(S::Usr2),
            C::Signal(S::Winch),
            C::Pause,
            C::Continue,
            C::Restart,
            C::Reload,
            C::GroupPause,
            C::GroupContinue,
            C::GroupKill,
            C::Once,
            C::Down,
            C::Up,
            C::DownPersist,
            C::UpPersist,
            C::Exit,
            C::OnceAtMost,
            C::OnceAtMostPersist,
        ]
    };

    /// Parse one control byte; unknown bytes are `None` (s6-supervise ignores them silently).
    pub fn from_byte(b: u8) -> Option<SuperviseCommand> {
        use SignalCommand as S;
        use SuperviseCommand as C;
        Some(match b {
            b'a' => C::Signal(S::Alrm),
            b'b' => C::Signal(S::Abrt),
            b'q' => C::Signal(S::Quit),
            b'h' => C::Signal(S::Hup),
            b'k' => C::Signal(S::Kill),
            b't' => C::Signal(S::Term),
            b'i' => C::Signal(S::Int),
            b'1' => C::Signal(S::Usr1),
            b'2' => C::Signal(S::Usr2),
            b'y' => C::Signal(S::Winch),
            b'p' => C::Pause,
            b'c' => C::Continue,
            b'r' => C::Restart,
            b'l' => C::Reload,
            b'P' => C::GroupPause,
            b'C' => C::GroupContinue,
            b'K' => C::GroupKill,
            b'o' => C::Once,
            b'd' => C::Down,
            b'u' => C::Up,
            b'D' => C::DownPersist,
            b'U' => C::UpPersist,
            b'x' => C::Exit,
            b'O' => C::OnceAtMost,
            b'Q' => C::OnceAtMostPersist,
            _ => return None,
        })
    }

    /// The byte on the wire (exhaustive: a new command cannot be forgotten here).
    pub fn to_byte(self) -> u8 {
        use SignalCommand as S;
        use SuperviseCommand as C;
        match self {
            C::Signal(S::Alrm) => b'a',
            C::Signal(S::Abrt) => b'b',
            C::Signal(S::Quit) => b'q',
            C::Signal(S::Hup) => b'h',
            C::Signal(S::Kill) => b'k',
            C::Signal(S::Term) => b't',
            C::Signal(S::Int) => b'i',
            C::Signal(S::Usr1) => b'1',
            C::Signal(S::Usr2) => b'2',
            C::Signal(S::Winch) => b'y',
            C::Pause => b'p',
            C::Continue => b'c',
            C::Restart => b'r',
            C::Reload => b'l',
            C::GroupPause => b'P',
            C::GroupContinue => b'C',
            C::GroupKill => b'K',
            C::Once => b'o',
            C::Down => b'd',
            C::Up => b'u',
            C::DownPersist => b'D',
            C::UpPersist => b'U',
            C::Exit => b'x',
            C::OnceAtMost => b'O',
            C::OnceAtMostPersist => b'Q',
        }
    }

    /// Every command, in s6's option-string order.
    pub fn all() -> impl Iterator<Item = SuperviseCommand> {
        SuperviseCommand::ALL.into_iter()
    }
}

/// One byte on `.s6-svscan/control`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SvscanCommand {
    /// `z`: reap now.
    Reap,
    /// `a`: rescan now.
    Rescan,
    /// `b`: abort: exec finish without waiting for supervisors.
    Abort,
    /// `h`: rescan, then kill inactive supervisors.
    RescanPrune,
    /// `i`: like `t`.
    Interrupt,
    /// `t`: terminate: kill all (loggers with SIGHUP), wait, exec finish.
    Terminate,
    /// `q`: quit: kill all with SIGTERM, wait, exec finish.
    Quit,
    /// `n`: kill inactive supervisors (loggers with SIGHUP).
    Prune,
    /// `N`: kill inactive supervisors, all with SIGTERM.
    PruneHard,
}

impl SvscanCommand {
    /// The command letters as one option string (`s6-svscanctl`'s).
    pub const LETTERS: &'static str = "zabhitqnN";

    /// Every command, in s6's option-string order.
    pub const ALL: [SvscanCommand; 9] = [
        SvscanCommand::Reap,
        SvscanCommand::Rescan,
        SvscanCommand::Abort,
        SvscanCommand::RescanPrune,
        SvscanCommand::Interrupt,
        SvscanCommand::Terminate,
        SvscanCommand::Quit,
        SvscanCommand::Prune,
        SvscanCommand::PruneHard,
    ];

    /// Parse one byte; unknown bytes are `None` (s6-svscan warns about them).
    pub fn from_byte(b: u8) -> Option<SvscanCommand> {
        Some(match b {
            b'z' => SvscanCommand::Reap,
            b'a' => SvscanCommand::Rescan,
            b'b' => SvscanCommand::Abort,
            b'h' => SvscanCommand::RescanPrune,
            b'i' => SvscanCommand::Interrupt,
            b't' => SvscanCommand::Terminate,
            b'q' => SvscanCommand::Quit,
            b'n' => SvscanCommand::Prune,
            b'N' => SvscanCommand::PruneHard,
            _ => return None,
        })
    }

    pub fn to_byte(self) -> u8 {
        match self {
            SvscanCommand::Reap => b'z',
            SvscanCommand::Rescan => b'a',
            SvscanCommand::Abort => b'b',
            SvscanCommand::RescanPrune => b'h',
            SvscanCommand::Interrupt => b'i',
            SvscanCommand::Terminate => b't',
            SvscanCommand::Quit => b'q',
            SvscanCommand::Prune => b'n',
            SvscanCommand::PruneHard => b'N',
        }
    }

    pub fn all() -> impl Iterator<Item = SvscanCommand> {
        SvscanCommand::ALL.into_iter()
    }
}

/// Why a control write failed, in the three classes s6's clients report differently.
#[derive(Debug, thiserror::Error, PartialEq, Eq, Clone, Copy)]
pub enum ControlError {
    /// No reader on the FIFO, or no control directory at all.
    #[error("supervisor not listening")]
    NotListening,
    /// The control directory exists but is broken (e.g. `control` missing): s6 prints
    /// `something is wrong with the DIR/SUB directory`.
    #[error("{}", crate::msg::StrError(*.0))]
    Broken(Errno),
    /// Any other system error (the directory is missing, not a directory, permission...).
    #[error("{}", crate::msg::StrError(*.0))]
    Io(Errno),
}

/// Write `bytes` to `<dir>/<sub>/control` as s6's clients do: non-blocking open (ENXIO means
/// nobody listens), then one blocking write of all bytes. Zero bytes only probe for a reader.
/// `sub` is `supervise` or `.s6-svscan`.
pub fn send<D: AsRef<OsStr> + ?Sized>(
    dir: &D,
    sub: &str,
    bytes: &[u8],
) -> Result<(), ControlError> {
    let dir = dir.as_ref();
    let ctl = CPath::concat(&[
        dir.as_bytes(),
        b"/",
        sub.as_bytes(),
        b"/",
        layout::CONTROL_NAME.as_bytes(),
    ]);
    let fd = match ctl.open(
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENXIO) => return Err(ControlError::NotListening),
        Err(e @ (Errno::ENOENT | Errno::ENOTDIR | Errno::EISDIR)) => {
            return Err(why_no_fifo(dir, sub, e))
        }
        Err(e) => return Err(ControlError::Io(e)),
    };
    if bytes.is_empty() {
        return Ok(());
    }
    let fl = OFlag::from_bits_truncate(fcntl(&fd, FcntlArg::F_GETFL).map_err(ControlError::Io)?);
    fcntl(&fd, FcntlArg::F_SETFL(fl & !OFlag::O_NONBLOCK)).map_err(ControlError::Io)?;
    fsio::write_all(&fd, bytes).map_err(ControlError::Io)
}

/// Tell "nothing there" from "something broken there", as s6 does, once the control FIFO
/// could not be opened (`e`): no `dir` is an error of its own, no `dir/sub` means no
/// supervisor ever ran there, anything else is a broken `dir/sub`. Out of line: it is the
/// error path of every client's control write.
#[cold]
#[inline(never)]
fn why_no_fifo(dir: &OsStr, sub: &str, e: Errno) -> ControlError {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    if let Err(e) = CPath::new(dir).open(flags, Mode::empty()) {
        return ControlError::Io(e);
    }
    match CPath::sub(dir, sub).open(flags, Mode::empty()) {
        Err(Errno::ENOENT) => ControlError::NotListening,
        _ => ControlError::Broken(e),
    }
}

/// The step of [`open_fifo`] that failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FifoStep {
    Mkfifo,
    Stat,
    OpenRead,
    OpenWrite,
}

impl FifoStep {
    /// What s6 says it was unable to do (`unable to <this>: <errno>`).
    pub fn describe(self, path: &str) -> String {
        match self {
            FifoStep::Mkfifo => format!("mkfifo {path}"),
            FifoStep::Stat => format!("stat {path}"),
            FifoStep::OpenRead => format!("open {path} for reading"),
            FifoStep::OpenWrite => format!("open {path} for writing"),
        }
    }
}

/// Why the control FIFO could not be set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FifoError {
    /// Something that is not a FIFO has the name.
    NotFifo,
    Sys(FifoStep, Errno),
}

/// A supervisor's control FIFO, both ends open: the write end is never used, it keeps the
/// reader from ever seeing end-of-file when a client closes.
#[derive(Debug)]
pub struct ControlFifo {
    pub read: OwnedFd,
    pub keep_open: OwnedFd,
}

/// Create (mode 0600, under the caller's umask) or reuse the control FIFO at `path` and open
/// it non-blocking, reader first, as s6-supervise and s6-svscan do.
pub fn open_fifo(path: &str) -> Result<ControlFifo, FifoError> {
    let path = &crate::fsio::ShortPath(std::path::Path::new(path));
    match mkfifo(path, Mode::from_bits_truncate(0o600)) {
        Ok(()) => {}
        Err(Errno::EEXIST) => {
            let st = stat(path).map_err(|e| FifoError::Sys(FifoStep::Stat, e))?;
            if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT != SFlag::S_IFIFO {
                return Err(FifoError::NotFifo);
            }
        }
        Err(e) => return Err(FifoError::Sys(FifoStep::Mkfifo, e)),
    }
    let read = open(
        path,
        OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| FifoError::Sys(FifoStep::OpenRead, e))?;
    let keep_open = open(
        path,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(|e| FifoError::Sys(FifoStep::OpenWrite, e))?;
    Ok(ControlFifo { read, keep_open })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supervise_bytes_roundtrip() {
        let all: Vec<u8> = SuperviseCommand::all().map(|c| c.to_byte()).collect();
        assert_eq!(all, b"abqhkti12ypcrlPCKoduDUxOQ");
        for b in 0..=255u8 {
            if let Some(c) = SuperviseCommand::from_byte(b) {
                assert_eq!(c.to_byte(), b);
            }
        }
        assert_eq!(SuperviseCommand::from_byte(b'z'), None);
        assert_eq!(SuperviseCommand::from_byte(0), None);
        assert_eq!(
            SuperviseCommand::from_byte(b'k'),
            Some(SuperviseCommand::Signal(SignalCommand::Kill))
        );
        assert_eq!(SignalCommand::Usr2.signal(), libc::SIGUSR2);
    }

    #[test]
    fn signal_commands_match_their_signals() {
        for c in SuperviseCommand::all() {
            if let SuperviseCommand::Signal(s) = c {
                assert_eq!(SignalCommand::command_for_signal(s.signal()), Some(c));
            }
        }
        assert_eq!(
            SignalCommand::command_for_signal(libc::SIGSTOP),
            Some(SuperviseCommand::Pause)
        );
        assert_eq!(
            SignalCommand::command_for_signal(libc::SIGCONT),
            Some(SuperviseCommand::Continue)
        );
        for s in [0, libc::SIGPIPE, libc::SIGSEGV, libc::SIGCHLD, 64, 65] {
            assert_eq!(SignalCommand::command_for_signal(s), None);
        }
    }

    #[test]
    fn fifo_set_up_and_reuse() {
        let d = std::env::temp_dir().join(format!("ctlfifo-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let p = d.join("control");
        let ps = p.to_str().unwrap();
        let f = open_fifo(ps).unwrap();
        drop(f);
        assert!(crate::fifodir::is_fifo(&p));
        open_fifo(ps).unwrap();
        std::fs::remove_file(&p).unwrap();
        std::fs::write(&p, "").unwrap();
        assert_eq!(open_fifo(ps).unwrap_err(), FifoError::NotFifo);
        assert_eq!(
            open_fifo(d.join("none/control").to_str().unwrap()).unwrap_err(),
            FifoError::Sys(FifoStep::Mkfifo, Errno::ENOENT)
        );
        assert_eq!(FifoStep::OpenRead.describe("x"), "open x for reading");
        std::fs::remove_dir_all(&d).unwrap();
    }

    #[test]
    fn svscan_bytes_roundtrip() {
        let all: Vec<u8> = SvscanCommand::all().map(|c| c.to_byte()).collect();
        assert_eq!(all, SvscanCommand::LETTERS.as_bytes());
        for b in 0..=255u8 {
            if let Some(c) = SvscanCommand::from_byte(b) {
                assert_eq!(c.to_byte(), b);
            }
        }
        assert_eq!(SvscanCommand::from_byte(b'u'), None);
    }

    #[test]
    fn send_classifies_errors() {
        let d = std::env::temp_dir().join(format!("control-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        assert_eq!(
            send(&d, "supervise", b"u"),
            Err(ControlError::Io(Errno::ENOENT))
        );
        std::fs::create_dir_all(&d).unwrap();
        assert_eq!(send(&d, "supervise", b"u"), Err(ControlError::NotListening));
        std::fs::create_dir_all(d.join("supervise")).unwrap();
        assert_eq!(
            send(&d, "supervise", b"u"),
            Err(ControlError::Broken(Errno::ENOENT))
        );
        nix::unistd::mkfifo(
            &d.join("supervise/control"),
            Mode::from_bits_truncate(0o600),
        )
        .unwrap();
        assert_eq!(send(&d, "supervise", b"u"), Err(ControlError::NotListening));
        // With a reader, bytes arrive in one piece.
        let r = open(
            &d.join("supervise/control"),
            OFlag::O_RDONLY | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .unwrap();
        send(&d, "supervise", b"ud").unwrap();
        send(&d, "supervise", b"").unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(nix::unistd::read(&r, &mut buf).unwrap(), 2);
        assert_eq!(&buf[..2], b"ud");
        let f = d.join("file");
        std::fs::write(&f, "").unwrap();
        assert_eq!(
            send(&f, "supervise", b"u"),
            Err(ControlError::Io(Errno::ENOTDIR))
        );
        std::fs::remove_dir_all(&d).unwrap();
    }
}
