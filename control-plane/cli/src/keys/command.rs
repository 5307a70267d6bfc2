//! `sealscan keys create|show`, kept here so the binary only dispatches to it.

use super::{KeyError, PublicInfo, create, show};
use crate::args::keys::KeysCmd;
use std::path::Path;
use zeroize::Zeroizing;

/// Runs `cmd`; `new_passphrase` asks for a new passphrase (twice on a terminal). Returns the
/// lines to print.
pub fn run(
    profile_dir: &Path,
    cmd: &KeysCmd,
    user: &str,
    new_passphrase: &dyn Fn(&str) -> Result<Zeroizing<String>, String>,
) -> Result<Vec<String>, String> {
    let shown = |i: &PublicInfo, verb: &str| {
        vec![
            format!("{verb} {}", i.path.display()),
            format!("fingerprint: {}", i.fingerprint),
            format!(
                "public key:  {}",
                i.public_key
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect::<String>()
            ),
        ]
    };
    match cmd {
        KeysCmd::Show => show(profile_dir)
            .map(|i| shown(&i, "signing key"))
            .map_err(|e| e.to_string()),
        KeysCmd::Create => {
            // Refuse before asking for a passphrase that would not be used.
            match show(profile_dir) {
                Err(KeyError::Missing { .. }) => {}
                Ok(i) => return Err(KeyError::Exists { path: i.path }.to_string()),
                Err(e) => return Err(e.to_string()),
            }
            let passphrase = new_passphrase("Passphrase for the new signing key: ")?;
            let made =
                create(profile_dir, passphrase.as_bytes(), user).map_err(|e| e.to_string())?;
            let mut lines = shown(&made, "created");
            lines.push(
                "Keep the passphrase: nobody can recover the key without it. Only the public \
                 key is ever sent; a Manager certifies it before you can sign records."
                    .into(),
            );
            Ok(lines)
        }
    }
}
