//! The memory allocator. burn allocates a fresh output, often tens of MB, for every tensor op.
//! glibc's malloc serves such sizes with mmap and unmaps them on free, so each op page-faults
//! its output in again: a third of SAE training time, measured with perf. The default feature
//! `mimalloc` makes mimalloc the global allocator (in `lib.rs`), and [`retain_freed_pages`]
//! stops it from returning freed pages to the OS, which it otherwise does a second after a free.
//! With both, a TopK SAE step on 2 cores ran 1.9x faster.

/// Keeps freed pages for reuse instead of returning them to the OS (mimalloc's
/// `purge_delay = -1`), so memory stays at its peak until the process ends: right for batch
/// jobs such as training and harvesting. Called by the heavy entry points; idempotent; a
/// no-op without the `mimalloc` feature.
pub fn retain_freed_pages() {
    #[cfg(feature = "mimalloc")]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        // SAFETY: plain option setters of the linked mimalloc; run once.
        ONCE.call_once(|| unsafe {
            if libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) == DEFAULT_PURGE_DELAY_MS {
                libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
            }
        });
    }
}

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (libmimalloc-sys leaves it unnamed).
#[cfg(feature = "mimalloc")]
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// Its default in mimalloc 3 (`options.c`); if the option at that index reads anything else,
/// the enum has moved and nothing is set.
#[cfg(feature = "mimalloc")]
const DEFAULT_PURGE_DELAY_MS: std::os::raw::c_long = 1000;

#[cfg(all(test, feature = "mimalloc"))]
mod tests {
    use super::*;

    #[test]
    fn purge_delay_is_the_option_we_set() {
        // The index must name purge_delay: before the call it holds the default (unless the
        // environment overrides it), after it -1.
        retain_freed_pages();
        let v = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        assert_eq!(v, -1, "mimalloc option {MI_OPTION_PURGE_DELAY} is not purge_delay");
    }
}
