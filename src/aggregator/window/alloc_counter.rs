//! A global allocator for the test binary that counts, per thread, the bytes and allocations
//! made, so tests can assert what a code path allocates without interference from tests
//! running on other threads.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    static NET_BYTES: Cell<i64> = const { Cell::new(0) };
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

fn record(bytes: i64, allocations: u64) {
    // `try_with`: the allocator may run while this thread's locals are being torn down.
    let _ = NET_BYTES.try_with(|c| c.set(c.get() + bytes));
    let _ = ALLOCATIONS.try_with(|c| c.set(c.get() + allocations));
}

struct Counting;

// SAFETY: every method forwards to `System` with the caller's arguments unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size() as i64, 1);
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size() as i64, 1);
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        record(-(layout.size() as i64), 0);
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size as i64 - layout.size() as i64, 1);
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Runs `f` and returns its result, the net bytes it left allocated on this thread, and the
/// number of allocations (and reallocations) it made.
pub fn measure<R>(f: impl FnOnce() -> R) -> (R, i64, u64) {
    let (bytes, count) = (NET_BYTES.with(Cell::get), ALLOCATIONS.with(Cell::get));
    let result = f();
    (result, NET_BYTES.with(Cell::get) - bytes, ALLOCATIONS.with(Cell::get) - count)
}
