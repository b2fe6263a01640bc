//! Decoding raw `waitpid()` statuses (Linux encoding) the way s6 reads them.

/// What a raw wait status says about a process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitStatus {
    Exited(u8),
    Signaled {
        signal: u8,
        core: bool,
    },
    /// Stopped/continued or otherwise unexpected encodings (never stored by s6 in practice).
    Other(i32),
}

impl WaitStatus {
    pub fn from_raw(raw: i32) -> WaitStatus {
        let low = raw & 0x7f;
        if low == 0 {
            WaitStatus::Exited(((raw >> 8) & 0xff) as u8)
        } else if low != 0x7f {
            WaitStatus::Signaled {
                signal: low as u8,
                core: raw & 0x80 != 0,
            }
        } else {
            WaitStatus::Other(raw)
        }
    }

    pub fn exited(code: u8) -> i32 {
        (code as i32) << 8
    }

    pub fn signaled(sig: u8) -> i32 {
        sig as i32 & 0x7f
    }

    /// `WIFSIGNALED`
    pub fn is_signaled(&self) -> bool {
        matches!(self, WaitStatus::Signaled { .. })
    }

    /// `WEXITSTATUS` (as the C macro computes it for any status).
    pub fn exit_code(raw: i32) -> u8 {
        ((raw >> 8) & 0xff) as u8
    }

    /// `WTERMSIG` (as the C macro computes it for any status: 0 for normal exits).
    pub fn term_sig(raw: i32) -> u8 {
        (raw & 0x7f) as u8
    }

    /// Whether this is a normal exit with this code.
    pub fn is_exit(raw: i32, code: u8) -> bool {
        WaitStatus::from_raw(raw) == WaitStatus::Exited(code)
    }

    /// The two numbers s6-supervise gives ./finish for a death of ./run: the exit code, or
    /// 256 for a signal death; then `WTERMSIG` (0 for a normal exit).
    pub fn finish_args(raw: i32) -> (u16, u8) {
        let code = match WaitStatus::from_raw(raw) {
            WaitStatus::Signaled { .. } => 256,
            _ => u16::from(WaitStatus::exit_code(raw)),
        };
        (code, WaitStatus::term_sig(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode() {
        assert_eq!(WaitStatus::from_raw(0x0300), WaitStatus::Exited(3));
        assert_eq!(
            WaitStatus::from_raw(0x000f),
            WaitStatus::Signaled {
                signal: 15,
                core: false
            }
        );
        assert_eq!(
            WaitStatus::from_raw(0x0086),
            WaitStatus::Signaled {
                signal: 6,
                core: true
            }
        );
        assert_eq!(WaitStatus::from_raw(0x137f), WaitStatus::Other(0x137f));
        assert_eq!(
            WaitStatus::from_raw(WaitStatus::exited(255)),
            WaitStatus::Exited(255)
        );
        assert_eq!(WaitStatus::term_sig(0x0300), 0);
        assert_eq!(WaitStatus::exit_code(0x0300), 3);
        assert!(WaitStatus::is_exit(125 << 8, 125) && !WaitStatus::is_exit(0x007d, 125));
        assert_eq!(WaitStatus::finish_args(0x0300), (3, 0));
        assert_eq!(WaitStatus::finish_args(0x000f), (256, 15));
        assert_eq!(WaitStatus::finish_args(0x0089), (256, 9));
    }
}
