//! Small byte-string helpers the parsers share, so that they need no index arithmetic, and
//! the decimal numbers the clients print.

/// `s` split at the first `sep`: what is before it and what is after it (the separator
/// itself in neither); `None` when `s` holds no `sep`.
pub fn split_once(s: &[u8], sep: u8) -> Option<(&[u8], &[u8])> {
    let i = s.iter().position(|&b| b == sep)?;
    let (head, tail) = s.split_at_checked(i)?;
    Some((head, tail.get(1..)?))
}

/// A number in decimal, formatted on the stack: what `to_string()` gives, without std's
/// formatting machinery (a client prints a few numbers per run, and `fmt` costs more
/// instructions than the rest of the line).
pub struct Decimal {
    buf: [u8; 20],
    start: usize,
}

impl Decimal {
    pub fn u64(mut n: u64) -> Decimal {
        let mut d = Decimal {
            buf: [0; 20],
            start: 20,
        };
        loop {
            d.start -= 1;
            if let Some(slot) = d.buf.get_mut(d.start) {
                *slot = b'0' + (n % 10) as u8;
            }
            n /= 10;
            if n == 0 || d.start == 0 {
                return d;
            }
        }
    }

    pub fn as_str(&self) -> &str {
        std::str::from_utf8(self.buf.get(self.start..).unwrap_or(&[])).unwrap_or("")
    }
}

/// Append `n` in decimal (with a `-` when negative) to `s`.
pub fn push_i64(s: &mut String, n: i64) {
    if n < 0 {
        s.push('-');
    }
    s.push_str(Decimal::u64(n.unsigned_abs()).as_str());
}

/// Append `n` in decimal to `s`.
pub fn push_u64(s: &mut String, n: u64) {
    s.push_str(Decimal::u64(n).as_str());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_is_to_string() {
        for n in [0u64, 1, 9, 10, 99, 100, 4242, u32::MAX as u64, u64::MAX] {
            assert_eq!(Decimal::u64(n).as_str(), n.to_string());
        }
        for n in [0i64, -1, 1, -4242, i64::MIN, i64::MAX] {
            let mut s = String::new();
            push_i64(&mut s, n);
            assert_eq!(s, n.to_string());
        }
    }

    #[test]
    fn split_once_at_the_first_separator() {
        assert_eq!(split_once(b"a=b=c", b'='), Some((&b"a"[..], &b"b=c"[..])));
        assert_eq!(split_once(b"=", b'='), Some((&b""[..], &b""[..])));
        assert_eq!(split_once(b"abc", b'='), None);
        assert_eq!(split_once(b"", b'='), None);
    }
}
