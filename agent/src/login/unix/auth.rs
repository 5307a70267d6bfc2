//! The three libssh2 authentication calls that carry a secret, made through libssh2-sys.
//!
//! ssh2's safe wrappers copy a password, key or passphrase into a `CString` (and a
//! keyboard-interactive answer into a `String`) that is dropped without being wiped. These
//! calls instead hand libssh2 a pointer and a length into our own zeroizing buffers, so the
//! only plaintext copies are the ones libssh2 makes while building the packet, and OpenSSL's
//! while it decrypts a PEM or PKCS#8 key (see `scrub_stack`).
#![allow(unsafe_code)]

use crate::secret::SecretBytes;
use libssh2_sys as raw;
use ssh2::{Error, Session};
use std::ffi::{c_char, c_int, c_uint, c_void};
use std::panic::{AssertUnwindSafe, catch_unwind};

fn check(ptr: *mut raw::LIBSSH2_SESSION, rc: c_int) -> Result<(), Error> {
    if rc >= 0 {
        Ok(())
    } else {
        Err(Error::from_session_error_raw(ptr, rc))
    }
}

fn c_len(len: usize) -> Result<c_uint, Error> {
    c_uint::try_from(len).map_err(|_| {
        Error::new(
            ssh2::ErrorCode::Session(raw::LIBSSH2_ERROR_INVAL),
            "value too long",
        )
    })
}

/// The `password` method (RFC 4252 section 8).
pub(super) fn password(session: &Session, user: &str, password: &SecretBytes) -> Result<(), Error> {
    let user_len = c_len(user.len())?;
    let password_len = c_len(password.len())?;
    let mut guard = session.raw();
    let ptr: *mut raw::LIBSSH2_SESSION = &mut *guard;
    // SAFETY: both buffers outlive the call and libssh2 reads exactly the given lengths; a
    // blocking session returns only when the method is decided.
    let rc = unsafe {
        raw::libssh2_userauth_password_ex(
            ptr,
            user.as_ptr().cast::<c_char>(),
            user_len,
            password.expose().as_ptr().cast::<c_char>(),
            password_len,
            None,
        )
    };
    check(ptr, rc)
}

/// What the keyboard-interactive callback saw, besides the password it gave.
#[derive(Debug, Default)]
pub(super) struct Conversation {
    /// INFO_REQUEST rounds the server sent.
    pub rounds: u32,
    /// Whether the password was given to a hidden prompt.
    pub answered: bool,
    /// Prompts we had no answer for (e.g. a one-time code), in the server's words.
    pub unanswered: Vec<String>,
}

struct Answers<'a> {
    password: &'a [u8],
    conversation: Conversation,
}

/// The `keyboard-interactive` method (RFC 4256), giving the password to the first hidden
/// prompt, once (a round without prompts, as some PAM stacks send first, does not count).
/// Other prompts get an empty answer and are reported, so the password goes only to the
/// prompt that asks for it and is never sent twice in one attempt.
pub(super) fn keyboard_interactive(
    session: &Session,
    user: &str,
    password: &SecretBytes,
) -> (Result<(), Error>, Conversation) {
    let user_len = match c_len(user.len()) {
        Ok(len) => len,
        Err(e) => return (Err(e), Conversation::default()),
    };
    let mut answers = Answers {
        password: password.expose(),
        conversation: Conversation::default(),
    };
    let mut guard = session.raw();
    let ptr: *mut raw::LIBSSH2_SESSION = &mut *guard;
    // SAFETY: the session's abstract slot points at `answers` only for the duration of this
    // blocking call, and is restored before `answers` goes out of scope. The callback runs on
    // this thread, inside the call.
    let rc = unsafe {
        let slot = raw::libssh2_session_abstract(ptr);
        let previous = *slot;
        *slot = (&mut answers as *mut Answers).cast::<c_void>();
        let rc = raw::libssh2_userauth_keyboard_interactive_ex(
            ptr,
            user.as_ptr().cast::<c_char>(),
            user_len,
            Some(respond),
        );
        *slot = previous;
        rc
    };
    (check(ptr, rc), answers.conversation)
}

extern "C" fn respond(
    _username: *const c_char,
    _username_len: c_int,
    _instruction: *const c_char,
    _instruction_len: c_int,
    num_prompts: c_int,
    prompts: *const raw::LIBSSH2_USERAUTH_KBDINT_PROMPT,
    responses: *mut raw::LIBSSH2_USERAUTH_KBDINT_RESPONSE,
    abstrakt: *mut *mut c_void,
) {
    // A panic must not unwind into C; libssh2 then sends empty answers.
    let _ = catch_unwind(AssertUnwindSafe(|| {
        let Ok(count) = usize::try_from(num_prompts) else {
            return;
        };
        if abstrakt.is_null() || prompts.is_null() || responses.is_null() {
            return;
        }
        // SAFETY: libssh2 passes the session's abstract slot, which `keyboard_interactive`
        // set to its `Answers` for the duration of the call; `prompts` and `responses` hold
        // `num_prompts` entries each.
        let (answers, prompts, responses) = unsafe {
            let answers = (*abstrakt).cast::<Answers>();
            if answers.is_null() {
                return;
            }
            (
                &mut *answers,
                std::slice::from_raw_parts(prompts, count),
                std::slice::from_raw_parts_mut(responses, count),
            )
        };
        answers.conversation.rounds += 1;
        for (prompt, response) in prompts.iter().zip(responses.iter_mut()) {
            let hidden = prompt.echo == 0;
            let answer: &[u8] = if hidden && !answers.conversation.answered {
                answers.conversation.answered = true;
                answers.password
            } else {
                answers.conversation.unanswered.push(prompt_text(prompt));
                &[]
            };
            // libssh2 frees each answer with free(3) after sending it.
            // SAFETY: a fresh allocation of at least answer.len() bytes.
            unsafe {
                let text = libc::malloc(answer.len().max(1)).cast::<c_char>();
                if text.is_null() {
                    response.text = std::ptr::null_mut();
                    response.length = 0;
                    continue;
                }
                std::ptr::copy_nonoverlapping(answer.as_ptr().cast::<c_char>(), text, answer.len());
                response.text = text;
                response.length = c_uint::try_from(answer.len()).unwrap_or(0);
            }
        }
    }));
}

/// The prompt in the server's words, trimmed and bounded for a cause line.
fn prompt_text(prompt: &raw::LIBSSH2_USERAUTH_KBDINT_PROMPT) -> String {
    if prompt.text.is_null() {
        return String::new();
    }
    // SAFETY: libssh2 gives `length` bytes at `text`.
    let bytes = unsafe { std::slice::from_raw_parts(prompt.text, prompt.length) };
    let text = super::proof::printable(&String::from_utf8_lossy(bytes));
    text.trim().chars().take(160).collect()
}

/// The `publickey` method with the private key in memory; libssh2 derives the public key.
/// `key` and `passphrase` are copied into NUL-terminated zeroizing buffers of final size
/// because libssh2's PEM parsers and its passphrase handling want C strings.
pub(super) fn publickey(
    session: &Session,
    user: &str,
    key: &SecretBytes,
    passphrase: Option<&SecretBytes>,
    certificate: Option<&str>,
) -> Result<(), Error> {
    let key_z = nul_terminated(key);
    // The certificate is public: libssh2 offers it (its type names the method) and signs with
    // the private key.
    let certificate = certificate.map(|c| format!("{c}\n"));
    let passphrase_z = passphrase.map(nul_terminated);
    let mut guard = session.raw();
    let ptr: *mut raw::LIBSSH2_SESSION = &mut *guard;
    // SAFETY: every buffer outlives the blocking call; lengths are exact and the C strings
    // are NUL-terminated.
    let rc = unsafe {
        raw::libssh2_userauth_publickey_frommemory(
            ptr,
            user.as_ptr().cast::<c_char>(),
            user.len(),
            certificate
                .as_ref()
                .map_or(std::ptr::null(), |c| c.as_ptr().cast::<c_char>()),
            certificate.as_ref().map_or(0, String::len),
            key_z.expose().as_ptr().cast::<c_char>(),
            key.len(),
            passphrase_z
                .as_ref()
                .map(|p| p.expose().as_ptr().cast::<c_char>())
                .unwrap_or(std::ptr::null()),
        )
    };
    // OpenSSL decrypts PEM keys with the passphrase in stack buffers it does not always
    // wipe; those frames were below this one, so overwrite that dead stack now.
    scrub_stack();
    check(ptr, rc)
}

/// Zeroes the stack just below the caller's frame, where the library calls it made ran.
#[inline(never)]
fn scrub_stack() {
    let mut area = [0u8; 64 * 1024];
    zeroize::Zeroize::zeroize(&mut area[..]);
    std::hint::black_box(&area);
}

fn nul_terminated(secret: &SecretBytes) -> SecretBytes {
    let mut out = SecretBytes::zeroed(secret.len() + 1);
    if let Some(head) = out.expose_mut().get_mut(..secret.len()) {
        head.copy_from_slice(secret.expose());
    }
    out
}
