//! The event letters s6-supervise writes to `event/` and its listeners read (spec
//! supervise.md, "events").

/// One event of a supervised service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceEvent {
    /// `s`: the supervisor started.
    Start,
    /// `u`: ./run was spawned.
    Up,
    /// `U`: ./run notified readiness.
    Ready,
    /// `d`: ./run died (./finish may be running).
    Down,
    /// `D`: ./finish ended (or there was none): down and ready.
    DownReady,
    /// `O`: ./finish exited 125: the service will not be restarted.
    PermanentFailure,
    /// `x`: the supervisor exits.
    Exit,
}

impl ServiceEvent {
    /// Every event.
    pub const ALL: [ServiceEvent; 7] = [
        ServiceEvent::Start,
        ServiceEvent::Up,
        ServiceEvent::Ready,
        ServiceEvent::Down,
        ServiceEvent::DownReady,
        ServiceEvent::PermanentFailure,
        ServiceEvent::Exit,
    ];

    /// The byte on the wire.
    pub const fn byte(self) -> u8 {
        match self {
            ServiceEvent::Start => b's',
            ServiceEvent::Up => b'u',
            ServiceEvent::Ready => b'U',
            ServiceEvent::Down => b'd',
            ServiceEvent::DownReady => b'D',
            ServiceEvent::PermanentFailure => b'O',
            ServiceEvent::Exit => b'x',
        }
    }

    /// The event a byte stands for; anything else is `None` (listeners ignore it).
    pub const fn from_byte(b: u8) -> Option<ServiceEvent> {
        Some(match b {
            b's' => ServiceEvent::Start,
            b'u' => ServiceEvent::Up,
            b'U' => ServiceEvent::Ready,
            b'd' => ServiceEvent::Down,
            b'D' => ServiceEvent::DownReady,
            b'O' => ServiceEvent::PermanentFailure,
            b'x' => ServiceEvent::Exit,
            _ => return None,
        })
    }
}

/// At most this many events go out in one notification.
pub const MAX_BATCH: usize = 2;

/// A short run of events sent in one write (`dD`, `OD`), as bytes without allocating.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventBytes {
    buf: [u8; MAX_BATCH],
    len: usize,
}

impl EventBytes {
    /// The bytes of `events` (those past [`MAX_BATCH`] are dropped: a caller bug the tests
    /// catch).
    pub fn new(events: &[ServiceEvent]) -> EventBytes {
        let mut e = EventBytes {
            buf: [0; MAX_BATCH],
            len: 0,
        };
        for (slot, ev) in e.buf.iter_mut().zip(events) {
            *slot = ev.byte();
            e.len += 1;
        }
        e
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_roundtrip() {
        let all: Vec<u8> = ServiceEvent::ALL.iter().map(|e| e.byte()).collect();
        assert_eq!(all, b"suUdDOx");
        for b in 0..=255u8 {
            if let Some(e) = ServiceEvent::from_byte(b) {
                assert_eq!(e.byte(), b);
            }
        }
        assert_eq!(ServiceEvent::from_byte(b'z'), None);
    }

    #[test]
    fn batches() {
        use ServiceEvent as E;
        assert_eq!(EventBytes::new(&[E::Down, E::DownReady]).as_bytes(), b"dD");
        assert_eq!(
            EventBytes::new(&[E::PermanentFailure, E::DownReady]).as_bytes(),
            b"OD"
        );
        assert_eq!(EventBytes::new(&[E::Up]).as_bytes(), b"u");
    }
}
