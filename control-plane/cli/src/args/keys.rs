//! `sealscan keys`: the person's signing key (docs/signed-records.md).
use clap::Subcommand;

#[derive(Subcommand)]
pub enum KeysCmd {
    /// Make your Ed25519 signing key on this machine, encrypted under a passphrase in the
    /// profile directory; only its public key ever leaves it.
    Create,
    /// Show your signing key's public key and fingerprint (no passphrase needed).
    Show,
}
