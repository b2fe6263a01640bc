//! Deadlines of s6's `-t millisecs` options, and the poll timeout left until one.

use std::time::{Duration, Instant};

/// The deadline of a `-t millisecs` option: `ms` from now, 0 meaning none (infinite).
pub fn from_ms(ms: u32) -> Option<Instant> {
    (ms != 0).then(|| Instant::now() + Duration::from_millis(ms.into()))
}

/// The timeout to give `poll` until `deadline` (`Some(None)`: wait forever), or `None` once
/// it has passed.
pub fn time_left(deadline: Option<Instant>) -> Option<Option<Duration>> {
    match deadline {
        None => Some(None),
        Some(d) => {
            let now = Instant::now();
            (now < d).then(|| Some(d - now))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_forever_and_past_is_none() {
        assert_eq!(from_ms(0), None);
        assert_eq!(time_left(None), Some(None));
        assert!(time_left(from_ms(60_000)).is_some_and(|t| t.is_some()));
        assert_eq!(
            time_left(Some(Instant::now() - Duration::from_millis(1))),
            None
        );
    }
}
