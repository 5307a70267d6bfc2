//! The locked memory arena that holds the appliance identity key.
//!
//! One private anonymous mapping, locked in RAM (`mlock`), left out of core dumps
//! (`MADV_DONTDUMP`) and zero-filled in any child after `fork` (`MADV_WIPEONFORK`). Secrets are
//! handed out as [`Slot`]s of a fixed size carved from it; a slot is wiped when it is dropped
//! and the whole mapping is wiped again before it is unmapped.
//!
//! Only this mapping is locked, never the whole process (`mlockall`): a small arena fits in the
//! kernel's default 8 MiB `RLIMIT_MEMLOCK`, so the agent needs no `CAP_IPC_LOCK`, and a failure
//! to lock is reported, never silently tolerated.
#![allow(unsafe_code)]

use nix::errno::Errno;
use nix::sys::mman::{MapFlags, ProtFlags, mlock, mmap_anonymous, munlock, munmap};
use nix::sys::resource::{Resource, getrlimit};
use std::ffi::c_void;
use std::fmt;
use std::num::NonZeroUsize;
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};
use zeroize::Zeroize;

/// Default arena size: 256 KiB. Large enough for the 32-byte identity key plus, later, the
/// plaintexts of a full scan wave (a 4096-bit RSA private key in PEM is about 3.3 KiB, so some
/// sixty of those at once), and small enough to use only 1/32 of the default 8 MiB
/// `RLIMIT_MEMLOCK`, leaving room for anything else in the process that locks memory.
pub const DEFAULT_ARENA_SIZE: usize = 256 * 1024;

/// Largest arena that [`Arena::with_capacity`] accepts: half the default `RLIMIT_MEMLOCK`.
pub const MAX_ARENA_SIZE: usize = 4 * 1024 * 1024;

/// Slots are carved in blocks of this many bytes. Each slot starts on a block boundary, so two
/// secrets never share a cache line.
pub const BLOCK_SIZE: usize = 64;

/// Why the arena could not be created or could not serve an allocation.
#[derive(Debug, thiserror::Error)]
pub enum ArenaError {
    #[error(
        "cannot lock the {size_kib} KiB key arena in memory: mlock failed with {errno}. \
         RLIMIT_MEMLOCK is {soft} (soft) / {hard} (hard) and the agent must be allowed to lock \
         at least {size_kib} KiB more than it already holds. Raise the limit: under systemd \
         set LimitMEMLOCK=16M in the [Service] section of sealscan-agent.service; in a shell \
         run `ulimit -l 16384` (as root, or raise the hard limit in \
         /etc/security/limits.conf) before starting the agent. The agent refuses to start \
         without locked memory so the identity key can never be swapped to disk"
    )]
    Lock {
        errno: Errno,
        size_kib: usize,
        soft: LimitText,
        hard: LimitText,
    },
    #[error("cannot map the {size_kib} KiB key arena: mmap failed with {errno}")]
    Map { errno: Errno, size_kib: usize },
    #[error(
        "cannot protect the key arena: madvise({advice}) failed with {errno}; this kernel \
         lacks it (MADV_DONTDUMP needs Linux 3.4, MADV_WIPEONFORK Linux 4.14)"
    )]
    Advise { advice: &'static str, errno: Errno },
    #[error(
        "arena size {requested} bytes is out of range: expected 1 to {max} bytes",
        max = MAX_ARENA_SIZE
    )]
    Size { requested: usize },
    #[error("cannot allocate an empty slot from the key arena")]
    EmptySlot,
    #[error(
        "the key arena is full: {requested} bytes requested, {free} bytes free in {total} \
         (too many secrets held at once)"
    )]
    Full {
        requested: usize,
        free: usize,
        total: usize,
    },
}

/// An `RLIMIT_MEMLOCK` value as operators read it: bytes in KiB, or "unlimited".
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LimitText(pub u64);

impl fmt::Display for LimitText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == nix::sys::resource::RLIM_INFINITY {
            f.write_str("unlimited")
        } else {
            write!(f, "{} KiB", self.0 / 1024)
        }
    }
}

/// The locked mapping. Shared by the [`Arena`] handle and every live [`Slot`], so it is
/// unmapped only once nothing points into it.
struct Region {
    base: NonNull<u8>,
    len: usize,
    /// One flag per block: `true` while a slot owns it.
    used: Mutex<Vec<bool>>,
}

// SAFETY: the mapping is plain memory owned by this process. Concurrent access is partitioned
// by the allocator: each block belongs to at most one `Slot`, and a slot hands out `&mut [u8]`
// only through `&mut self`.
unsafe impl Send for Region {}
// SAFETY: as for `Send` above.
unsafe impl Sync for Region {}

impl Region {
    fn blocks(&self) -> std::sync::MutexGuard<'_, Vec<bool>> {
        // The flags are only ever flipped whole, so a panic elsewhere cannot leave them torn.
        self.used.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn as_void(&self) -> NonNull<c_void> {
        self.base.cast()
    }
}

impl Drop for Region {
    fn drop(&mut self) {
        // SAFETY: no `Slot` is alive (each holds an `Arc<Region>`), so nothing else refers to
        // the mapping; `base..base+len` is exactly the range mmap returned.
        unsafe {
            std::slice::from_raw_parts_mut(self.base.as_ptr(), self.len).zeroize();
            let _ = munlock(self.as_void(), self.len);
            let _ = munmap(self.as_void(), self.len);
        }
    }
}

/// A handle on the locked arena. Cheap to clone; every clone serves slots from the same
/// mapping.
#[derive(Clone)]
pub struct Arena {
    region: Arc<Region>,
}

impl Arena {
    /// Maps, protects and locks an arena of [`DEFAULT_ARENA_SIZE`] bytes.
    pub fn new() -> Result<Self, ArenaError> {
        Self::with_capacity(DEFAULT_ARENA_SIZE)
    }

    /// Maps, protects and locks an arena of at least `size` bytes (rounded up to whole pages).
    pub fn with_capacity(size: usize) -> Result<Self, ArenaError> {
        if size == 0 || size > MAX_ARENA_SIZE {
            return Err(ArenaError::Size { requested: size });
        }
        let page = page_size();
        let len = size.div_ceil(page) * page;
        let size_kib = len / 1024;
        let nonzero = NonZeroUsize::new(len).ok_or(ArenaError::Size { requested: size })?;
        // SAFETY: a fresh anonymous private mapping; no existing memory is affected.
        let base = unsafe {
            mmap_anonymous(
                None,
                nonzero,
                ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
                MapFlags::MAP_PRIVATE | MapFlags::MAP_ANONYMOUS,
            )
        }
        .map_err(|errno| ArenaError::Map { errno, size_kib })?;
        // From here on the region owns the mapping, so every early return unmaps it.
        let region = Region {
            base: base.cast(),
            len,
            used: Mutex::new(vec![false; len / BLOCK_SIZE]),
        };
        advise(&region, libc::MADV_DONTDUMP, "MADV_DONTDUMP")?;
        advise(&region, libc::MADV_WIPEONFORK, "MADV_WIPEONFORK")?;
        // SAFETY: locks exactly the range we mapped.
        if let Err(errno) = unsafe { mlock(region.as_void(), len) } {
            let (soft, hard) = getrlimit(Resource::RLIMIT_MEMLOCK).unwrap_or((0, 0));
            return Err(ArenaError::Lock {
                errno,
                size_kib,
                soft: LimitText(soft),
                hard: LimitText(hard),
            });
        }
        Ok(Self {
            region: Arc::new(region),
        })
    }

    /// Total size of the mapping in bytes.
    pub fn capacity(&self) -> usize {
        self.region.len
    }

    /// Bytes not owned by any slot.
    pub fn free(&self) -> usize {
        self.region.blocks().iter().filter(|u| !**u).count() * BLOCK_SIZE
    }

    /// Start and end addresses of the mapping, so diagnostics and tests can find it in
    /// `/proc/self/smaps`.
    pub fn address_range(&self) -> std::ops::Range<usize> {
        let start = self.region.base.as_ptr() as usize;
        start..start + self.region.len
    }

    /// A zero-filled slot of exactly `len` bytes, to be written in place.
    pub fn alloc(&self, len: usize) -> Result<Slot, ArenaError> {
        if len == 0 {
            return Err(ArenaError::EmptySlot);
        }
        let needed = len.div_ceil(BLOCK_SIZE);
        let mut used = self.region.blocks();
        let mut run = 0;
        let mut found = None;
        for (i, taken) in used.iter().enumerate() {
            run = if *taken { 0 } else { run + 1 };
            if run == needed {
                found = Some(i + 1 - needed);
                break;
            }
        }
        let Some(first) = found else {
            let free = used.iter().filter(|u| !**u).count() * BLOCK_SIZE;
            return Err(ArenaError::Full {
                requested: len,
                free,
                total: self.region.len,
            });
        };
        for flag in used.iter_mut().skip(first).take(needed) {
            *flag = true;
        }
        drop(used);
        Ok(Slot {
            region: Arc::clone(&self.region),
            offset: first * BLOCK_SIZE,
            len,
            span: needed * BLOCK_SIZE,
        })
    }
}

impl fmt::Debug for Arena {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Arena")
            .field("capacity", &self.capacity())
            .field("free", &self.free())
            .finish()
    }
}

fn advise(region: &Region, advice: libc::c_int, name: &'static str) -> Result<(), ArenaError> {
    // SAFETY: advises exactly the range we mapped; neither advice changes its contents.
    let rc = unsafe { libc::madvise(region.base.as_ptr().cast(), region.len, advice) };
    if rc == 0 {
        Ok(())
    } else {
        Err(ArenaError::Advise {
            advice: name,
            errno: Errno::last(),
        })
    }
}

fn page_size() -> usize {
    nix::unistd::sysconf(nix::unistd::SysconfVar::PAGE_SIZE)
        .ok()
        .flatten()
        .and_then(|p| usize::try_from(p).ok())
        .filter(|p| *p > 0)
        .unwrap_or(4096)
}

/// A fixed-size piece of the locked arena holding one secret. Its size is set when it is
/// allocated and never changes, so no reallocation can leave a copy behind; it is wiped when
/// dropped. `Debug` prints `[REDACTED]`.
pub struct Slot {
    region: Arc<Region>,
    offset: usize,
    len: usize,
    /// Whole blocks owned, wiped together on release.
    span: usize,
}

impl Slot {
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn expose(&self) -> &[u8] {
        // SAFETY: `offset..offset+len` lies inside the mapping, is owned by this slot alone,
        // and the mapping outlives `self` through the `Arc`.
        unsafe { std::slice::from_raw_parts(self.region.base.as_ptr().add(self.offset), self.len) }
    }

    pub fn expose_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `expose`, and `&mut self` makes the borrow exclusive.
        unsafe {
            std::slice::from_raw_parts_mut(self.region.base.as_ptr().add(self.offset), self.len)
        }
    }

    /// The slot as a fixed-size array, when it is exactly `N` bytes long (the identity key is
    /// handed to the envelope code as `&[u8; 32]`).
    pub fn as_array<const N: usize>(&self) -> Option<&[u8; N]> {
        self.expose().try_into().ok()
    }

    /// Address of the slot's first byte, for tests that check the wipe through
    /// `/proc/self/mem`.
    pub fn address(&self) -> usize {
        self.region.base.as_ptr() as usize + self.offset
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        // SAFETY: the whole span belongs to this slot until the flags below are cleared.
        let span = unsafe {
            std::slice::from_raw_parts_mut(self.region.base.as_ptr().add(self.offset), self.span)
        };
        span.zeroize();
        let first = self.offset / BLOCK_SIZE;
        let mut used = self.region.blocks();
        for flag in used.iter_mut().skip(first).take(self.span / BLOCK_SIZE) {
            *flag = false;
        }
    }
}

impl fmt::Debug for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_do_not_overlap_and_are_returned() {
        let arena = Arena::with_capacity(4096).expect("arena");
        let total = arena.free();
        let mut a = arena.alloc(32).expect("a");
        let mut b = arena.alloc(100).expect("b");
        a.expose_mut().fill(0xaa);
        b.expose_mut().fill(0xbb);
        assert!(a.expose().iter().all(|x| *x == 0xaa));
        assert!(b.expose().iter().all(|x| *x == 0xbb));
        assert_eq!(arena.free(), total - 64 - 128);
        drop(a);
        drop(b);
        assert_eq!(arena.free(), total);
    }

    #[test]
    fn full_arena_is_a_clear_error() {
        let arena = Arena::with_capacity(4096).expect("arena");
        let _all = arena.alloc(arena.capacity()).expect("whole arena");
        let err = arena.alloc(1).expect_err("no room left");
        assert!(err.to_string().contains("arena is full"), "{err}");
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert!(matches!(
            Arena::with_capacity(0),
            Err(ArenaError::Size { .. })
        ));
        assert!(matches!(
            Arena::with_capacity(MAX_ARENA_SIZE + 1),
            Err(ArenaError::Size { .. })
        ));
        let arena = Arena::with_capacity(4096).expect("arena");
        assert!(matches!(arena.alloc(0), Err(ArenaError::EmptySlot)));
    }

    #[test]
    fn as_array_needs_the_exact_length() {
        let arena = Arena::with_capacity(4096).expect("arena");
        let slot = arena.alloc(32).expect("slot");
        assert!(slot.as_array::<32>().is_some());
        assert!(slot.as_array::<16>().is_none());
        assert_eq!(format!("{slot:?}"), "[REDACTED]");
    }
}
