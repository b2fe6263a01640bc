//! Every message s6-supervise prints after startup, as `thiserror` values whose text is s6's
//! (`s6-supervise DIR: warning: TEXT` / `fatal: TEXT`).

use common::msg::StrError;
use nix::errno::Errno;

/// Warnings: the supervisor carries on.
#[derive(Debug, thiserror::Error)]
pub enum Warning {
    #[error("unable to spawn ./run (waiting 60 seconds): {}", StrError(*.0))]
    SpawnRun(Errno),
    #[error("unable to spawn ./finish: {}", StrError(*.0))]
    SpawnFinish(Errno),
    #[error("unable to write status file: {}", StrError(*.0))]
    StatusWrite(Errno),
    #[error("unable to read supervise/death_tally: {}", StrError(*.0))]
    TallyRead(Errno),
    #[error("unable to write supervise/death_tally: {}", StrError(*.0))]
    TallyWrite(Errno),
    #[error("unable to create ./down file: {}", StrError(*.0))]
    DownCreate(Errno),
    #[error("unable to unlink ./down file: {}", StrError(*.0))]
    DownUnlink(Errno),
    #[error("unable to open supervise/service-lock for writing (waiting 60 seconds): {}", StrError(*.0))]
    ServiceLockOpen(Errno),
    #[error("unable to read lock state on supervise/service-lock (waiting 60 seconds): {}", StrError(*.0))]
    ServiceLockState(Errno),
    #[error("another instance of the service is already running, child will block")]
    ServiceLockBusy,
    #[error("unable to create notification pipe (waiting 60 seconds): {}", StrError(*.0))]
    NotifyPipe(Errno),
    #[error("unable to start service: notification-fd and lock-fd are the same")]
    SameFd,
    #[error("invalid notification-fd")]
    InvalidNotifyFd,
    #[error("invalid lock-fd")]
    InvalidLockFd,
    #[error("finish script lifetime reached maximum value - sending it a SIGKILL")]
    FinishTimeout,
    #[error("can't happen: timeout while the service is up!")]
    UpTimeout,
    #[error("unable to open /dev/null for {0}: {err}", err = StrError(*.1))]
    DevNull(&'static str, Errno),
}

/// Fatal errors after startup: exit 111.
#[derive(Debug, thiserror::Error)]
pub enum Fatal {
    #[error("unable to access ./down: {}", StrError(*.0))]
    AccessDown(Errno),
    #[error("unable to iopause: {}", StrError(*.0))]
    Iopause(Errno),
    #[error("unable to read supervise/control: {}", StrError(*.0))]
    ReadControl(Errno),
    #[error("unable to wait_pid_nohang: {}", StrError(*.0))]
    Wait(Errno),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts() {
        assert_eq!(
            Warning::SpawnRun(Errno::EACCES).to_string(),
            "unable to spawn ./run (waiting 60 seconds): Permission denied"
        );
        assert_eq!(
            Warning::SpawnRun(Errno::EBADF).to_string(),
            "unable to spawn ./run (waiting 60 seconds): Bad file descriptor"
        );
        assert_eq!(
            Warning::SpawnFinish(Errno::EACCES).to_string(),
            "unable to spawn ./finish: Permission denied"
        );
        assert_eq!(
            Warning::FinishTimeout.to_string(),
            "finish script lifetime reached maximum value - sending it a SIGKILL"
        );
        assert_eq!(
            Warning::ServiceLockOpen(Errno::ENOENT).to_string(),
            "unable to open supervise/service-lock for writing (waiting 60 seconds): No such file or directory"
        );
        assert_eq!(
            Fatal::ReadControl(Errno::EIO).to_string(),
            "unable to read supervise/control: Input/output error"
        );
    }
}
