//! Canary test in the style of Sequoia's secret-leak detector: an allocator that never frees
//! keeps every heap copy alive, a key with a known pattern is loaded and used, and then every
//! writable mapping of the process (heap, stacks, statics) is searched for the key. The only
//! place it may be is the locked arena, and only while the key is held.
//!
//! The pattern is computed byte by byte and never materialised in memory by the test itself,
//! so any match is a copy made by the code under test. A deliberate heap copy at the end
//! proves the search finds what it is looking for.
#![allow(unsafe_code)]

use sealscan_agent::arena::Arena;
use sealscan_agent::identity::{IdentityKey, KEY_FILE_HEADER, key_path};
use std::alloc::{GlobalAlloc, Layout, System};
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::{FileExt, PermissionsExt};

/// Never frees, so nothing a heap copy held is overwritten by a later allocation.
struct LeakingAllocator;

// SAFETY: every allocation comes from `System`, unchanged; never freeing is allowed.
unsafe impl GlobalAlloc for LeakingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded unchanged.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}
}

#[global_allocator]
static ALLOCATOR: LeakingAllocator = LeakingAllocator;

/// Byte `i` of the canary key: a sequence that cannot occur by chance.
fn canary(i: usize) -> u8 {
    (0xc3u8 ^ (i as u8).wrapping_mul(37)).wrapping_add(0x11)
}

/// Bytes 4..28 of the key: clamping for X25519 changes only bytes 0 and 31, so any copy of
/// the scalar, clamped or not, contains this run.
const RUN: std::ops::Range<usize> = 4..28;

fn matches_at(haystack: &[u8], at: usize) -> bool {
    RUN.enumerate()
        .all(|(k, i)| haystack.get(at + k).copied() == Some(canary(i)))
}

/// Addresses where the canary run is found, outside `exclude`.
fn find_canary(exclude: Option<std::ops::Range<usize>>, chunk: &mut [u8]) -> Vec<usize> {
    let maps = std::fs::read_to_string("/proc/self/maps").expect("read /proc/self/maps");
    let mem = File::open("/proc/self/mem").expect("open /proc/self/mem");
    let mut found = Vec::new();
    let mut scanned_heap = false;
    let mut scanned_stack = false;
    for line in maps.lines() {
        let mut parts = line.split_whitespace();
        let (Some(range), Some(perms)) = (parts.next(), parts.next()) else {
            continue;
        };
        if !perms.starts_with("rw") {
            continue;
        }
        let Some((start, end)) = range.split_once('-') else {
            continue;
        };
        let (Ok(start), Ok(end)) = (
            usize::from_str_radix(start, 16),
            usize::from_str_radix(end, 16),
        ) else {
            continue;
        };
        scanned_heap |= line.ends_with("[heap]");
        scanned_stack |= line.ends_with("[stack]");
        let overlap = RUN.len() - 1;
        let mut at = start;
        while at < end {
            let len = chunk.len().min(end - at);
            let buf = &mut chunk[..len];
            mem.read_exact_at(buf, at as u64)
                .unwrap_or_else(|e| panic!("read {line}: {e}"));
            for offset in 0..len {
                let address = at + offset;
                if exclude.as_ref().is_some_and(|r| r.contains(&address)) {
                    continue;
                }
                if buf[offset] == canary(RUN.start) && matches_at(buf, offset) {
                    found.push(address);
                }
            }
            if at + len >= end {
                break;
            }
            at += len - overlap;
        }
    }
    assert!(
        scanned_heap && scanned_stack,
        "heap and stack must be scanned:\n{maps}"
    );
    found
}

#[test]
fn loading_and_using_the_key_leaves_no_copy_outside_the_arena() {
    // Allocated before the key exists, so the scan buffer never held an earlier copy.
    let mut chunk = vec![0u8; 1 << 16];
    let dir = tempfile::tempdir().expect("tempdir");
    let path = key_path(dir.path());
    {
        let mut file = File::create(&path).expect("create key file");
        file.set_permissions(std::fs::Permissions::from_mode(0o600))
            .expect("chmod");
        file.write_all(KEY_FILE_HEADER).expect("header");
        for i in 0..32 {
            file.write_all(&[canary(i)]).expect("key byte");
        }
    }
    assert!(
        find_canary(None, &mut chunk).is_empty(),
        "the canary is in memory before the key is loaded: the test itself leaks"
    );

    let arena = Arena::new().expect("arena");
    let key = IdentityKey::load(&arena, &path).expect("load the canary key");
    let fingerprint = key.fingerprint();
    assert_eq!(fingerprint.len(), 39);
    let in_arena = find_canary(None, &mut chunk);
    assert_eq!(
        in_arena.len(),
        1,
        "exactly one copy, in the arena: {in_arena:x?}"
    );
    assert!(arena.address_range().contains(&in_arena[0]));
    let leaks = find_canary(Some(arena.address_range()), &mut chunk);
    assert!(
        leaks.is_empty(),
        "key copies outside the arena at {leaks:x?}"
    );

    drop(key);
    let after = find_canary(None, &mut chunk);
    assert!(
        after.is_empty(),
        "key still in memory after release at {after:x?}"
    );

    // The harness must catch a real leak: copy the key through the heap on purpose.
    let key = IdentityKey::load(&arena, &path).expect("load again");
    let leaked: Vec<u8> = key.private_key().to_vec();
    drop(leaked);
    drop(key);
    let caught = find_canary(None, &mut chunk);
    assert!(
        !caught.is_empty(),
        "a deliberate heap copy was not found: the search is broken"
    );
}
