//! Giving freed heap back to the OS after work that allocates in proportion to the cluster: the
//! initial list of every watch and each healing pass (a snapshot of every pod, decoded from the
//! packed cache, and the diagnosis over it). glibc's malloc keeps what such work frees in its
//! arenas, between the long-lived objects allocated meanwhile, so the process would stay at the
//! high-water mark of its largest pass instead of what it keeps (bench/controller-memory.sh).

/// Returns the free pages of every malloc arena to the OS (`malloc_trim(0)`; glibc only, where
/// it also releases free pages inside the heap, not only at its top). Costs a walk of the free
/// lists: milliseconds after a pass over 150,000 pods.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)] // a plain libc call; no safe wrapper exists
    // SAFETY: malloc_trim only reads and updates malloc's own state, under malloc's locks.
    unsafe {
        libc::malloc_trim(0);
    }
}
