//! Statements about appliances and about the appliance's own rules: an appliance approval
//! signed by a certified Manager, and the root-signed policy that is the only way to loosen a
//! check (no control-plane row can).

use super::error::Result;
use super::fields::{Arity, FieldSpec, Schema, Writer, bool_value, bytes32, identifier, u64_value};
use super::signed::StatementType;
use super::statement::Statement;

use Arity::{Optional, Required};

const fn field(tag: u8, name: &'static str, arity: Arity) -> FieldSpec {
    FieldSpec { tag, name, arity }
}

/// Signed by a certified Manager: this appliance id holds this X25519 key and may receive
/// sealed secrets and rewraps.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApplianceApproval {
    pub appliance_id: String,
    pub public_key: [u8; 32],
    pub approved_at: u64,
    pub signer_certificate: [u8; 32],
}

static APPROVAL: Schema = Schema {
    statement: "appliance approval",
    fields: &[
        field(1, "appliance id", Required),
        field(2, "appliance public key", Required),
        field(3, "approved at", Required),
        field(4, "signer certificate", Required),
    ],
};

impl Statement for ApplianceApproval {
    const KIND: StatementType = StatementType::ApplianceApproval;

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        w.field(1, self.appliance_id.as_bytes());
        w.field(2, &self.public_key);
        w.field(3, &self.approved_at.to_be_bytes());
        w.field(4, &self.signer_certificate);
        w.finish()
    }

    fn decode(body: &[u8]) -> Result<Self> {
        let f = APPROVAL.parse(body)?;
        Ok(ApplianceApproval {
            appliance_id: f.map_required(1, identifier)?.to_string(),
            public_key: f.map_required(2, bytes32)?,
            approved_at: f.map_required(3, u64_value)?,
            signer_certificate: f.map_required(4, bytes32)?,
        })
    }
}

/// Signed by the root: the checks this subscription loosens. Without one (or with every flag
/// off) the appliance applies the strict default.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Policy {
    /// Only goes up; the appliance keeps the highest it has accepted.
    pub number: u64,
    pub issued_at: u64,
    /// Windows records may use NTLMv2 (`ntlm` or `negotiate`).
    pub allow_ntlm: bool,
    /// Vault records may turn TLS verification off.
    pub allow_vault_without_tls_verification: bool,
    /// Unix records may use host-key policy `off`.
    pub allow_host_key_policy_off: bool,
}

static POLICY: Schema = Schema {
    statement: "policy statement",
    fields: &[
        field(1, "number", Required),
        field(2, "issued at", Required),
        field(3, "allow ntlm", Optional),
        field(4, "allow vault without tls verification", Optional),
        field(5, "allow host key policy off", Optional),
    ],
};

impl Statement for Policy {
    const KIND: StatementType = StatementType::Policy;

    fn encode(&self) -> Vec<u8> {
        let mut w = Writer::new(Vec::new());
        w.field(1, &self.number.to_be_bytes());
        w.field(2, &self.issued_at.to_be_bytes());
        // A flag is written only when set: one encoding per policy.
        for (tag, on) in [
            (3, self.allow_ntlm),
            (4, self.allow_vault_without_tls_verification),
            (5, self.allow_host_key_policy_off),
        ] {
            if on {
                w.field(tag, &[1]);
            }
        }
        w.finish()
    }

    fn decode(body: &[u8]) -> Result<Self> {
        let f = POLICY.parse(body)?;
        Ok(Policy {
            number: f.map_required(1, u64_value)?,
            issued_at: f.map_required(2, u64_value)?,
            allow_ntlm: f.map_one(3, bool_value)?.unwrap_or(false),
            allow_vault_without_tls_verification: f.map_one(4, bool_value)?.unwrap_or(false),
            allow_host_key_policy_off: f.map_one(5, bool_value)?.unwrap_or(false),
        })
    }
}
