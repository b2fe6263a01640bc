//! Control bytes: what `supervise/control` and `.s6-svscan/control` accept, and how clients
//! write them (`s6_svc_writectl`).

use crate::fsio;
use nix::errno::Errno;
use nix::fcntl::{fcntl, open, FcntlArg, OFlag};
use nix::sys::stat::Mode;
use std::path::Path;

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

const SUPERVISE_TABLE: [(u8, SuperviseCommand); 26] = {
    use SignalCommand as S;
    use SuperviseCommand as C;
    [
        (b'a', C::Signal(S::Alrm)),
        (b'b', C::Signal(S::Abrt)),
        (b'q', C::Signal(S::Quit)),
        (b'h', C::Signal(S::Hup)),
        (b'k', C::Signal(S::Kill)),
        (b't', C::Signal(S::Term)),
        (b'i', C::Signal(S::Int)),
        (b'1', C::Signal(S::Usr1)),
        (b'2', C::Signal(S::Usr2)),
        (b'y', C::Signal(S::Winch)),
        (b'p', C::Pause),
        (b'c', C::Continue),
        (b'r', C::Restart),
        (b'l', C::Reload),
        (b'P', C::GroupPause),
        (b'C', C::GroupContinue),
        (b'K', C::GroupKill),
        (b'o', C::Once),
        (b'd', C::Down),
        (b'u', C::Up),
        (b'D', C::DownPersist),
        (b'U', C::UpPersist),
        (b'x', C::Exit),
        (b'O', C::OnceAtMost),
        (b'Q', C::OnceAtMostPersist),
        // Sentinel so the table length is explicit; never matched (0 is not a command).
        (0, C::Exit),
    ]
};

impl SuperviseCommand {
    /// Parse one control byte; unknown bytes are `None` (s6-supervise ignores them silently).
    pub fn from_byte(b: u8) -> Option<SuperviseCommand> {
        if b == 0 {
            return None;
        }
        SUPERVISE_TABLE
            .iter()
            .find(|(c, _)| *c == b)
            .map(|&(_, cmd)| cmd)
    }

    pub fn to_byte(self) -> u8 {
        SUPERVISE_TABLE
            .iter()
            .find(|(_, c)| *c == self)
            .map(|&(b, _)| b)
            .unwrap_or(b'x')
    }

    /// Every command, in table order.
    pub fn all() -> impl Iterator<Item = SuperviseCommand> {
        SUPERVISE_TABLE[..25].iter().map(|&(_, c)| c)
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

const SVSCAN_TABLE: [(u8, SvscanCommand); 9] = [
    (b'z', SvscanCommand::Reap),
    (b'a', SvscanCommand::Rescan),
    (b'b', SvscanCommand::Abort),
    (b'h', SvscanCommand::RescanPrune),
    (b'i', SvscanCommand::Interrupt),
    (b't', SvscanCommand::Terminate),
    (b'q', SvscanCommand::Quit),
    (b'n', SvscanCommand::Prune),
    (b'N', SvscanCommand::PruneHard),
];

impl SvscanCommand {
    /// Parse one byte; unknown bytes are `None` (s6-svscan warns about them).
    pub fn from_byte(b: u8) -> Option<SvscanCommand> {
        SVSCAN_TABLE
            .iter()
            .find(|(c, _)| *c == b)
            .map(|&(_, cmd)| cmd)
    }

    pub fn to_byte(self) -> u8 {
        SVSCAN_TABLE
            .iter()
            .find(|(_, c)| *c == self)
            .map(|&(b, _)| b)
            .unwrap_or(b'z')
    }

    pub fn all() -> impl Iterator<Item = SvscanCommand> {
        SVSCAN_TABLE.iter().map(|&(_, c)| c)
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
pub fn send(dir: &Path, sub: &str, bytes: &[u8]) -> Result<(), ControlError> {
    let ctl = dir.join(sub).join("control");
    let fd = match open(
        &ctl,
        OFlag::O_WRONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(Errno::ENXIO) => return Err(ControlError::NotListening),
        Err(e @ (Errno::ENOENT | Errno::ENOTDIR | Errno::EISDIR)) => {
            // Tell "nothing there" from "something broken there", as s6 does.
            let d = open(
                dir,
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            )
            .map_err(ControlError::Io)?;
            drop(d);
            return match open(
                &dir.join(sub),
                OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
                Mode::empty(),
            ) {
                Err(Errno::ENOENT) => Err(ControlError::NotListening),
                _ => Err(ControlError::Broken(e)),
            };
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
    fn svscan_bytes_roundtrip() {
        let all: Vec<u8> = SvscanCommand::all().map(|c| c.to_byte()).collect();
        assert_eq!(all, b"zabhitqnN");
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
