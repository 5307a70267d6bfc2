//! Vault connectors: fetch target credentials live from a customer vault.
