//! The suite's global allocator: small blocks packed into the free end of the last page of
//! `.bss`, then into one lazily mapped arena; the rest from the C library.
//!
//! Why: a supervisor runs once per service, forever, and its few hundred bytes of live heap
//! (its name, paths, the poll's event buffer) would otherwise be spread by musl's allocator
//! over several anonymous pages, each a private page of every supervisor. Here blocks of up
//! to [`MAX_CLASS`] bytes are handed out by a bump pointer and recycled through one free
//! list per power-of-two size class, first from the **tail**: the bytes between the end of
//! the program's statics (the linker's `_end`) and the end of that page. That page is dirty
//! in every process anyway (the statics and `.data` live on it: the kernel zeroes the part
//! of `.data`'s last file page past its end), so a daemon whose live heap fits there has no
//! heap page at all. When the tail is full the bump pointer moves to an **arena** of
//! [`ARENA_SIZE`] bytes, mapped on first need (anonymous, so a page of it that is never
//! reached costs nothing). Larger blocks, and every block once the arena is used up, come
//! from `System`.
//!
//! The programs are single-threaded; a spin lock keeps the allocator sound anyway.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

/// The largest block served by this allocator.
pub const MAX_CLASS: usize = 2048;
/// Size classes: 16, 32, ..., MAX_CLASS.
const MIN_SHIFT: u32 = 4;
const CLASSES: usize = (MAX_CLASS.trailing_zeros() - MIN_SHIFT + 1) as usize;
/// The arena's size: untouched pages of it are never faulted in.
const ARENA_SIZE: usize = 256 * 1024;
const PAGE: usize = 4096;

/// Where blocks come from: one region at a time, the bump pointer moving from the tail to the
/// arena once (addresses, not offsets).
struct State {
    /// Whether the tail has been set up (the global allocator finds its tail on first use).
    ready: bool,
    /// The first never-used byte of the current region, and the region's end.
    bump: usize,
    limit: usize,
    /// The highest `bump` in the arena since the last [`trim`]: pages up to there may be
    /// dirty (0 while the bump pointer is in the tail).
    peak: usize,
    /// The tail `[tail.0, tail.1)` and the arena `[arena, arena + ARENA_SIZE)` (0: none yet;
    /// `usize::MAX`: it could not be mapped, every further block is `System`'s).
    tail: (usize, usize),
    arena: usize,
    /// Head of each class's free list (a block's first word links to the next), or null.
    free: [*mut u8; CLASSES],
}

/// The allocator. There is one, [`ALLOCATOR`]: its tail is the rest of the page of `_end`,
/// which a second instance would share, so none can be made outside this module.
pub struct SmallAlloc {
    lock: AtomicBool,
    state: UnsafeCell<State>,
}

// SAFETY: `state` is only touched with `lock` held (see `with_state`), and the memory it
// hands out is the tail (ours: past every static) or the arena (mapped by us).
unsafe impl Sync for SmallAlloc {}

extern "C" {
    /// The end of the program's statics, defined by the linker (GNU ld and lld alike).
    static _end: u8;
}

impl SmallAlloc {
    /// The global allocator: its tail is the rest of the page that holds `_end`.
    const fn new() -> SmallAlloc {
        SmallAlloc {
            lock: AtomicBool::new(false),
            state: UnsafeCell::new(State {
                ready: false,
                bump: 0,
                limit: 0,
                peak: 0,
                tail: (0, 0),
                arena: 0,
                free: [std::ptr::null_mut(); CLASSES],
            }),
        }
    }

    /// An allocator whose tail is `[start, start + len)` (tests: a buffer of their own).
    ///
    /// # Safety
    /// That memory is writable, used by nothing else, and outlives the allocator and every
    /// block it hands out.
    #[cfg(test)]
    unsafe fn over(start: *mut u8, len: usize) -> SmallAlloc {
        let a = SmallAlloc::new();
        let lo = (start as usize).next_multiple_of(1 << MIN_SHIFT);
        let hi = (start as usize + len).max(lo);
        a.with_state(|st| {
            st.ready = true;
            st.tail = (lo, hi);
            st.bump = lo;
            st.limit = hi;
        });
        a
    }

    fn owns(st: &State, ptr: *mut u8) -> bool {
        let p = ptr as usize;
        (st.tail.0..st.tail.1).contains(&p)
            || (st.arena != 0
                && st.arena != usize::MAX
                && (st.arena..st.arena + ARENA_SIZE).contains(&p))
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        while self
            .lock
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            std::hint::spin_loop();
        }
        // SAFETY: the lock is held: no other reference to the state exists.
        let st = unsafe { &mut *self.state.get() };
        if !st.ready {
            st.ready = true;
            // SAFETY: only the address of the linker's symbol is taken (an unsafe operation
            // before Rust 1.82).
            #[allow(unused_unsafe)]
            let end = unsafe { std::ptr::addr_of!(_end) } as usize;
            let lo = end.next_multiple_of(1 << MIN_SHIFT);
            let hi = end.next_multiple_of(PAGE).max(lo);
            st.tail = (lo, hi);
            st.bump = lo;
            st.limit = hi;
        }
        let r = f(st);
        self.lock.store(false, Ordering::Release);
        r
    }

    /// A fresh block of `size` bytes (a class size) from the bump pointer, moving it to the
    /// arena (mapped now) when the current region is full. None: `System`'s turn.
    fn bump(st: &mut State, size: usize) -> Option<*mut u8> {
        let start = st.bump.next_multiple_of(1 << MIN_SHIFT);
        if let Some(end) = start.checked_add(size).filter(|&e| e <= st.limit) {
            st.bump = end;
            if st.arena != 0 && st.arena != usize::MAX {
                st.peak = st.peak.max(end);
            }
            return Some(start as *mut u8);
        }
        if st.arena != 0 {
            return None; // the arena is full, or could not be mapped
        }
        // SAFETY: an anonymous private mapping, no address hint.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                ARENA_SIZE,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if p == libc::MAP_FAILED {
            st.arena = usize::MAX;
            return None;
        }
        // What was left of the tail stays unused; its free blocks stay on their lists.
        st.arena = p as usize;
        st.bump = st.arena + size;
        st.limit = st.arena + ARENA_SIZE;
        st.peak = st.bump;
        Some(p.cast())
    }
}

impl SmallAlloc {
    /// Give back the arena's pages above the last live block: free blocks at the top are
    /// returned to the bump pointer, then the pages past it are dropped (they read as zero
    /// again, like any page never touched). A daemon calls this once its start-up is done,
    /// so that what start-up alone needed stops being private memory. The tail is never
    /// given back (it shares its page with the statics).
    pub fn trim(&self) {
        let range = self.with_state(|st| {
            while pop_top_free(st) {}
            if st.arena == 0 || st.arena == usize::MAX {
                return None;
            }
            let (from, to) = (st.bump, st.peak);
            st.peak = st.bump;
            Some((from, to))
        });
        let Some((from, to)) = range else { return };
        let start = from.next_multiple_of(PAGE);
        let end = to.next_multiple_of(PAGE);
        if end > start {
            // SAFETY: [start, end) is whole pages inside the arena, above every live block;
            // MADV_DONTNEED on private anonymous memory only makes them read as zero.
            unsafe {
                libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
            }
        }
    }
}

/// Take the free block that ends at the bump pointer, if any, off its list and lower the
/// bump pointer to its start. Whether one was found.
fn pop_top_free(st: &mut State) -> bool {
    let bump = st.bump;
    for (class, head) in st.free.iter_mut().enumerate() {
        let size = 1usize << (class as u32 + MIN_SHIFT);
        // The list head, then the first word of each free block (its link to the next).
        let mut link: *mut *mut u8 = head;
        loop {
            // SAFETY: link is the list head or the first word of a free block (at least 16
            // bytes, 16-aligned), which holds the next block or null.
            let block = unsafe { link.read() };
            if block.is_null() {
                break;
            }
            if block as usize + size == bump {
                // SAFETY: block is a free block: its first word is its link.
                let next = unsafe { block.cast::<*mut u8>().read() };
                // SAFETY: as for the read of link above; unlinks block.
                unsafe { link.write(next) };
                st.bump = bump - size;
                return true;
            }
            link = block.cast::<*mut u8>();
        }
    }
    false
}

/// The suite's allocator: the global allocator of the multi-call binary (feature
/// `global-allocator`, which only `multicall` turns on).
#[cfg_attr(feature = "global-allocator", global_allocator)]
pub static ALLOCATOR: SmallAlloc = SmallAlloc::new();

/// [`SmallAlloc::trim`] on the global allocator (nothing to give back where it is not the
/// global allocator).
pub fn trim() {
    ALLOCATOR.trim()
}

/// The class index and size of a layout, or `None` when it is not served by the arena.
///
/// Blocks are 16-aligned (any block of a class may serve any layout of that class); the rare
/// layouts that want more are System's.
fn class_of(layout: Layout) -> Option<(usize, usize)> {
    let need = layout.size().max(1 << MIN_SHIFT);
    if need > MAX_CLASS || layout.align() > 1 << MIN_SHIFT {
        return None;
    }
    let size = need.next_power_of_two();
    Some(((size.trailing_zeros() - MIN_SHIFT) as usize, size))
}

// SAFETY: every block handed out is its class's size (a power of two at least the layout's
// size) of the arena, aligned to the layout, used by nobody else until it is freed (or
// resized in place, when it is the last block before the bump pointer); everything else is
// System's.
unsafe impl GlobalAlloc for SmallAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let Some((class, size)) = class_of(layout) else {
            // SAFETY: forwarded as given.
            return unsafe { System.alloc(layout) };
        };
        let block = self.with_state(|st| {
            let head = st.free.get_mut(class)?;
            if !head.is_null() {
                let block = *head;
                // SAFETY: a free block's first word holds the next free block (written
                // by `dealloc`); blocks are at least 16 bytes and 16-aligned.
                *head = unsafe { block.cast::<*mut u8>().read() };
                return Some(block);
            }
            SmallAlloc::bump(st, size)
        });
        match block {
            Some(b) => b,
            // SAFETY: forwarded as given.
            None => unsafe { System.alloc(layout) },
        }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if class_of(layout).is_none() {
            // The C library's calloc knows fresh pages are zero already: a large zeroed
            // buffer (a logger's input buffer) costs no memory until it is written.
            // SAFETY: forwarded as given.
            return unsafe { System.alloc_zeroed(layout) };
        }
        // SAFETY: the caller's layout, forwarded as given.
        let p = unsafe { self.alloc(layout) };
        if !p.is_null() {
            // SAFETY: p is a fresh block of at least layout.size() bytes.
            unsafe { p.write_bytes(0, layout.size()) };
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let ours = self.with_state(|st| {
            if !SmallAlloc::owns(st, ptr) {
                return false;
            }
            let Some((class, size)) = class_of(layout) else {
                return true; // unreachable: only class-sized blocks are ours
            };
            if ptr as usize + size == st.bump {
                // The last block handed out: give its room back to the bump pointer.
                st.bump = ptr as usize;
                return true;
            }
            if let Some(head) = st.free.get_mut(class) {
                // SAFETY: the block is ours, free from now on, and 16-aligned.
                unsafe { ptr.cast::<*mut u8>().write(*head) };
                *head = ptr;
            }
            true
        });
        if !ours {
            // SAFETY: not ours, so it came from System.alloc with this layout.
            unsafe { System.dealloc(ptr, layout) }
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: the caller guarantees that new_size with layout's alignment is a valid
        // layout (non-zero, not overflowing isize once rounded up).
        let new = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let (old_class, new_class) = (class_of(layout), class_of(new));
        // Some(true): done in place; Some(false): ours, to be moved; None: System's.
        let in_place = self.with_state(|st| {
            if !SmallAlloc::owns(st, ptr) {
                return None;
            }
            if new_class.is_some_and(|(c, _)| Some(c) == old_class.map(|(c, _)| c)) {
                return Some(true); // the block already has room
            }
            // The last block handed out grows (or shrinks) in place: a growing Vec or
            // String leaves no trail of smaller free blocks behind it.
            if let (Some((_, old_size)), Some((_, new_size))) = (old_class, new_class) {
                let (p, end) = (ptr as usize, ptr as usize + new_size);
                if p + old_size == st.bump && end <= st.limit {
                    st.bump = end;
                    if st.arena != 0 && st.arena != usize::MAX {
                        st.peak = st.peak.max(end);
                    }
                    return Some(true);
                }
            }
            Some(false)
        });
        match in_place {
            Some(true) => return ptr,
            Some(false) => {}
            None if old_class.is_none() && new_class.is_none() => {
                // A large block of System's stays with System (its realloc may grow in place).
                // SAFETY: forwarded as given.
                return unsafe { System.realloc(ptr, layout, new_size) };
            }
            None => {}
        }
        // Between System and ours, or between two classes of ours.
        // SAFETY: ptr is a live block of `layout` (the caller's guarantee), `new` is valid.
        unsafe { self.move_block(ptr, layout, new) }
    }
}

impl SmallAlloc {
    /// Move a block to a fresh one of layout `new`: allocate, copy, free the old one (kept
    /// when the allocation fails). Null when it fails.
    ///
    /// # Safety
    /// `ptr` is a live block of this allocator, allocated with `layout`; `new` has a non-zero
    /// size.
    unsafe fn move_block(&self, ptr: *mut u8, layout: Layout, new: Layout) -> *mut u8 {
        // SAFETY: new is a valid, non-zero-sized layout (the caller's guarantee).
        let fresh = unsafe { self.alloc(new) };
        if !fresh.is_null() {
            // SAFETY: two distinct live blocks, of at least layout.size() and new.size()
            // bytes.
            unsafe { std::ptr::copy_nonoverlapping(ptr, fresh, layout.size().min(new.size())) };
            // SAFETY: ptr was allocated with layout and is not used again.
            unsafe { self.dealloc(ptr, layout) };
        }
        fresh
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        let l = |s, a| Layout::from_size_align(s, a).unwrap();
        assert_eq!(class_of(l(1, 1)), Some((0, 16)));
        assert_eq!(class_of(l(17, 8)), Some((1, 32)));
        assert_eq!(class_of(l(8, 16)), Some((0, 16)));
        assert_eq!(class_of(l(8, 64)), None);
        assert_eq!(class_of(l(2048, 8)), Some((CLASSES - 1, 2048)));
        assert_eq!(class_of(l(2049, 8)), None);
        assert_eq!(class_of(l(8, 4096)), None);
    }

    #[test]
    fn blocks_are_aligned_distinct_recycled_and_overflow_to_the_arena_then_system() {
        // A private instance whose tail is a buffer of the test's.
        let mut tail = vec![0u8; 1024];
        // SAFETY: the buffer outlives `a` and every block (the test ends with both).
        let a = unsafe { SmallAlloc::over(tail.as_mut_ptr(), tail.len()) };
        let in_tail =
            |p: *mut u8| a.with_state(|st| (st.tail.0..st.tail.1).contains(&(p as usize)));
        let owns = |p: *mut u8| a.with_state(|st| SmallAlloc::owns(st, p));
        // The GlobalAlloc API on this private instance; every block the test frees or
        // resizes is one it got from `a`, with the layout it gives.
        // SAFETY: every layout of this test has a non-zero size.
        let alloc = |l: Layout| unsafe { a.alloc(l) };
        // SAFETY: p came from `a` with layout l (see above).
        let dealloc = |p: *mut u8, l: Layout| unsafe { a.dealloc(p, l) };
        // SAFETY: p came from `a` with layout l; n is non-zero (see above).
        let realloc = |p: *mut u8, l: Layout, n: usize| unsafe { a.realloc(p, l, n) };
        let l = Layout::from_size_align(24, 8).unwrap();
        let p = alloc(l);
        let q = alloc(l);
        assert!(in_tail(p) && in_tail(q) && p != q);
        assert_eq!(p as usize % 16, 0);
        // SAFETY: p is a live block of 24 bytes.
        unsafe { p.write_bytes(0xAA, 24) };
        dealloc(p, l);
        assert_eq!(alloc(l), p, "the freed block is reused");
        // The last block grows in place, and its room returns to the bump pointer.
        let t = alloc(l);
        assert_eq!(realloc(t, l, 500), t);
        let big_l = Layout::from_size_align(500, 8).unwrap();
        dealloc(t, big_l);
        assert_eq!(alloc(l), t);
        // realloc within the class keeps the block; across classes moves and copies.
        // SAFETY: q is a live block of 24 bytes.
        unsafe { q.write_bytes(7, 24) };
        assert_eq!(realloc(q, l, 30), q);
        let r = realloc(q, l, 100);
        assert!(owns(r) && r != q);
        // SAFETY: r is a live block of 100 bytes, its first 24 copied from q.
        assert_eq!(unsafe { std::slice::from_raw_parts(r, 24) }, &[7u8; 24]);
        // trim: free blocks at the top go back to the bump pointer.
        let before = a.with_state(|st| st.bump);
        let x = alloc(l);
        let y = alloc(big_l);
        dealloc(x, l);
        dealloc(y, big_l);
        a.trim();
        assert_eq!(a.with_state(|st| st.bump), before);
        // Large blocks are System's.
        let big = Layout::from_size_align(10_000, 8).unwrap();
        let b = alloc(big);
        assert!(!b.is_null() && !owns(b));
        dealloc(b, big);
        // A block the tail has no room for comes from the arena, mapped now.
        let chunk = Layout::from_size_align(2048, 8).unwrap();
        let c = alloc(chunk);
        assert!(owns(c) && !in_tail(c));
        // SAFETY: c is a live block of 2048 bytes.
        unsafe { c.write_bytes(1, 2048) };
        // The tail's blocks are still recycled.
        dealloc(p, l);
        assert_eq!(alloc(l), p);
        // trim gives back the arena's pages above the last live block.
        let d = alloc(chunk);
        let e = alloc(chunk);
        // SAFETY: e is a live block of 2048 bytes.
        unsafe { e.write_bytes(1, 2048) };
        dealloc(e, chunk);
        dealloc(d, chunk);
        a.trim();
        assert_eq!(
            a.with_state(|st| (st.bump, st.peak)),
            (c as usize + 2048, c as usize + 2048)
        );
        // Fill the arena: then blocks come from System.
        let mut last = std::ptr::null_mut();
        for _ in 0..(ARENA_SIZE / 2048 + 1) {
            last = alloc(chunk);
        }
        assert!(!last.is_null() && !owns(last));
        dealloc(last, chunk);
    }
}
