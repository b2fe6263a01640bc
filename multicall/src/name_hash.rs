//! The hash of the program names, shared by build.rs (which chooses the seed and fills the
//! slots) and find() in main.rs: FNV-1a, 32 bits, from a seed, two bytes a step.

/// The hash of `name` from `seed`.
pub fn name_hash(seed: u32, name: &[u8]) -> u32 {
    let step = |h: u32, w: u32| (h ^ w).wrapping_mul(0x0100_0193);
    let mut pairs = name.chunks_exact(2);
    let mut h = seed;
    for pair in pairs.by_ref() {
        if let [a, b] = *pair {
            h = step(h, u32::from(a) | u32::from(b) << 8);
        }
    }
    match *pairs.remainder() {
        [last] => step(h, u32::from(last)),
        _ => h,
    }
}
