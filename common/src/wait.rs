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
    }
}
