//! The identity key file: how it is written, and every way a bad one is refused without
//! being changed.

use sealscan_agent::arena::Arena;
use sealscan_agent::identity::{
    IdentityError, IdentityKey, KEY_FILE_HEADER, Keygen, key_path, load_or_generate,
};
use sealscan_protocols::identity::fingerprint;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;

fn arena() -> Arena {
    // Small arenas: these tests only hold a key or two.
    Arena::with_capacity(4096).expect("arena")
}

fn new_key(dir: &Path) -> (IdentityKey, std::path::PathBuf) {
    let arena = arena();
    match load_or_generate(&arena, dir).expect("keygen") {
        Keygen::Created(key) => (key, key_path(dir)),
        Keygen::Existing(_) => panic!("a fresh directory has no key"),
    }
}

#[test]
fn generated_key_file_is_0600_66_bytes_and_loads_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (key, path) = new_key(dir.path());
    let meta = std::fs::metadata(&path).expect("key file");
    assert_eq!(meta.mode() & 0o7777, 0o600);
    assert_eq!(meta.len(), 66);
    let bytes = std::fs::read(&path).expect("read");
    assert!(bytes.starts_with(KEY_FILE_HEADER));
    assert_eq!(&bytes[KEY_FILE_HEADER.len()..], key.private_key());

    let loaded = IdentityKey::load(&arena(), &path).expect("load");
    assert_eq!(loaded.public_key(), key.public_key());
    assert_eq!(loaded.fingerprint(), fingerprint(key.public_key()));
    assert_ne!(key.public_key(), key.private_key());
}

#[test]
fn existing_key_is_kept_not_replaced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (first, path) = new_key(dir.path());
    let before = std::fs::read(&path).expect("read");
    match load_or_generate(&arena(), dir.path()).expect("second keygen") {
        Keygen::Existing(key) => assert_eq!(key.public_key(), first.public_key()),
        Keygen::Created(_) => panic!("an existing key was replaced"),
    }
    let err = first
        .save_new(&path)
        .expect_err("save_new never overwrites");
    assert!(err.to_string().contains("cannot create"), "{err}");
    assert_eq!(std::fs::read(&path).expect("read"), before);
}

#[test]
fn group_or_world_readable_key_is_refused_with_the_fix() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, path) = new_key(dir.path());
    for mode in [0o644, 0o640, 0o604, 0o620] {
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        let err = IdentityKey::load(&arena(), &path).expect_err("refused");
        assert!(matches!(err, IdentityError::Permissions { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains(&format!("chmod 600 {}", path.display())),
            "{text}"
        );
        assert!(text.contains(&format!("{mode:04o}")), "{text}");
        // Refusing changes nothing.
        let meta = std::fs::metadata(&path).expect("still there");
        assert_eq!(meta.mode() & 0o777, mode);
    }
}

#[test]
fn missing_key_says_to_run_keygen() {
    let dir = tempfile::tempdir().expect("tempdir");
    let err = IdentityKey::load(&arena(), &key_path(dir.path())).expect_err("no key");
    assert!(
        err.to_string().contains("run `sealscan-agent keygen`"),
        "{err}"
    );
}

#[test]
fn symlink_and_directory_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, real) = new_key(dir.path());
    let link = dir.path().join("link.key");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let err = IdentityKey::load(&arena(), &link).expect_err("symlink refused");
    assert!(err.to_string().contains("not a regular file"), "{err}");

    let subdir = dir.path().join("adir");
    std::fs::create_dir(&subdir).expect("mkdir");
    std::fs::set_permissions(&subdir, std::fs::Permissions::from_mode(0o700)).expect("chmod");
    let err = IdentityKey::load(&arena(), &subdir).expect_err("directory refused");
    assert!(err.to_string().contains("not a regular file"), "{err}");
}

fn write_0600(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).expect("write");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
}

#[test]
fn malformed_files_are_refused_and_left_alone() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("identity.key");
    let mut wrong_header = b"sealscan-agent x25519 identity v9\n".to_vec();
    wrong_header.extend_from_slice(&[7u8; 32]);
    let mut zero = KEY_FILE_HEADER.to_vec();
    zero.extend_from_slice(&[0u8; 32]);
    let mut short = KEY_FILE_HEADER.to_vec();
    short.extend_from_slice(&[7u8; 31]);
    let mut long = KEY_FILE_HEADER.to_vec();
    long.extend_from_slice(&[7u8; 33]);
    let cases: [(&[u8], &str); 5] = [
        (&wrong_header, "first line"),
        (&zero, "all zero"),
        (&short, "66 bytes"),
        (&long, "66 bytes"),
        (b"", "66 bytes"),
    ];
    for (bytes, expected) in cases {
        write_0600(&path, bytes);
        let err = IdentityKey::load(&arena(), &path).expect_err("refused");
        let text = err.to_string();
        assert!(matches!(err, IdentityError::Malformed { .. }), "{text}");
        assert!(text.contains(expected), "{expected:?} not in {text}");
        assert!(text.contains("not a sealscan key file"), "{text}");
        assert_eq!(std::fs::read(&path).expect("read"), bytes);
    }
    // keygen does not paper over a broken key either.
    let err = load_or_generate(&arena(), dir.path()).expect_err("keygen refuses");
    assert!(err.to_string().contains("not a sealscan key file"), "{err}");
}

#[test]
fn keys_land_in_the_arena_and_leave_it_wiped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (_, path) = new_key(dir.path());
    let arena = arena();
    let free = arena.free();
    let key = IdentityKey::load(&arena, &path).expect("load");
    assert!(
        arena
            .address_range()
            .contains(&(key.private_key().as_ptr() as usize))
    );
    assert!(arena.free() < free);
    drop(key);
    assert_eq!(arena.free(), free);
}

#[test]
fn keygen_as_root_gives_the_key_to_the_state_directory_owner() {
    assert!(
        nix::unistd::geteuid().is_root(),
        "this test checks what root's keygen does; run the tests as root"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let nobody = nix::unistd::User::from_name("nobody")
        .expect("passwd lookup")
        .expect("the nobody user exists on Debian");
    std::os::unix::fs::chown(
        dir.path(),
        Some(nobody.uid.as_raw()),
        Some(nobody.gid.as_raw()),
    )
    .expect("chown the state dir");
    let (_, path) = new_key(dir.path());
    let meta = std::fs::metadata(&path).expect("key file");
    assert_eq!(
        (meta.uid(), meta.gid()),
        (nobody.uid.as_raw(), nobody.gid.as_raw())
    );
    assert_eq!(meta.mode() & 0o7777, 0o600);
}
