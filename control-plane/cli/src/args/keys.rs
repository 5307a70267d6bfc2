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

/// `sealscan signing`: what the subscription's root (the Manager Primary Contact's key) signs.
#[derive(Subcommand)]
pub enum SigningCmd {
    /// Show the signing material the control plane holds (root declaration, trust list).
    Show,
    /// Declare your key the subscription's root and upload a first, empty trust list. Pin its
    /// fingerprint (`sealscan keys show`) on each appliance out of band.
    Declare {
        /// The recovery key's public key (64 hex digits): a second key made with
        /// `sealscan keys create` in another profile and kept offline; it can sign a root
        /// change, nothing else.
        #[arg(long, value_name = "HEX")]
        recovery_public_key: String,
        /// The subscription's id as its statements name it (1 to 64 characters, e.g. its
        /// name): it keeps one subscription's statements out of another's.
        #[arg(long)]
        subscription_id: String,
    },
    /// Certify a person's signing key in a new trust list signed by the root (your key).
    Certify {
        /// The person's user id, as certificates name it.
        #[arg(long)]
        user_id: String,
        /// manager or unit_manager.
        #[arg(long, default_value = "manager")]
        role: String,
        /// Their public key as `sealscan keys show` prints it (64 hex digits); compare its
        /// fingerprint with them directly, not through the control plane.
        #[arg(long, value_name = "HEX")]
        public_key: String,
        /// How many days the certificate is valid.
        #[arg(long, default_value_t = 365)]
        days: u64,
    },
}
