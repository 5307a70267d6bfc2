//! What the subscription's root signs with `sealscan signing` (docs/signed-records.md): its
//! declaration, and trust lists that certify people's keys. Pure functions over the unlocked
//! key and what the server holds; the command uploads their answer.
//!
//! A trust list is extended only from one this key signed itself: a list the server made up
//! (or one under another root) is refused, never re-signed.

use sealscan_api::records::SigningMaterial;
use sealscan_protocols::signing::{
    RootDeclaration, Signed, SignerRole, SigningKey, Statement, TrustList, UserCertificate, open,
};

/// The root's declaration naming `recovery_key`, and a first trust list (number 1) with no
/// certificates: what `sealscan signing declare` uploads.
pub fn declare(
    root: &SigningKey,
    subscription_id: &str,
    recovery_key: [u8; 32],
    now: u64,
) -> Result<SigningMaterial, String> {
    let fp = root.fingerprint();
    let declaration = RootDeclaration {
        subscription_id: subscription_id.to_string(),
        recovery_key,
        issued_at: now,
    }
    .sign_checked(root, &fp)
    .map_err(|e| format!("the root declaration: {e}"))?;
    let list = TrustList {
        number: 1,
        issued_at: now,
        certificates: Vec::new(),
        revoked: Vec::new(),
    }
    .sign_checked(root, &fp)
    .map_err(|e| format!("the trust list: {e}"))?;
    Ok(SigningMaterial {
        root_declaration: Some(declaration.to_text()),
        trust_list: Some(list.to_text()),
        revocations: Vec::new(),
    })
}

/// A certificate of `public_key` for `user_id` in `role`, valid `days` from `now`.
pub struct Certify<'a> {
    pub user_id: &'a str,
    pub role: SignerRole,
    pub public_key: [u8; 32],
    pub now: u64,
    pub days: u64,
}

/// The next trust list: the stored one (which must verify as this root's) with the new
/// certificate added (one for the same key replaced), numbered one higher.
pub fn certify(
    root: &SigningKey,
    stored: &SigningMaterial,
    c: &Certify<'_>,
) -> Result<SigningMaterial, String> {
    let text = stored.trust_list.as_deref().ok_or(
        "the control plane holds no trust list: declare the root first with `sealscan signing \
         declare`",
    )?;
    let signed = Signed::from_text(text).map_err(|e| format!("the stored trust list: {e}"))?;
    let opened = open::<TrustList>(&signed).map_err(|e| format!("the stored trust list: {e}"))?;
    if opened.signer != root.public_key() || opened.root != root.fingerprint() {
        return Err(
            "the stored trust list is not signed by your key: only the subscription's root \
             certifies keys (or the control plane's copy was replaced)"
                .into(),
        );
    }
    let mut list = opened.statement;
    if c.days == 0 || c.days > 3650 {
        return Err("--days is between 1 and 3650".into());
    }
    let fp = root.fingerprint();
    let certificate = UserCertificate {
        user_id: c.user_id.to_string(),
        role: c.role,
        public_key: c.public_key,
        not_before: c.now.saturating_sub(300),
        not_after: c.now.saturating_add(c.days * 86_400),
    }
    .sign_checked(root, &fp)
    .map_err(|e| format!("the certificate: {e}"))?;
    list.certificates.retain(|s| {
        open::<UserCertificate>(s).map_or(true, |o| o.statement.public_key != c.public_key)
    });
    list.certificates.push(certificate);
    list.number = list
        .number
        .checked_add(1)
        .ok_or("the trust list number cannot go higher")?;
    list.issued_at = c.now;
    Ok(SigningMaterial {
        root_declaration: None,
        trust_list: Some(
            list.sign_checked(root, &fp)
                .map_err(|e| format!("the trust list: {e}"))?
                .to_text(),
        ),
        revocations: Vec::new(),
    })
}

/// A public key given as 64 hex digits.
pub fn public_key_hex(text: &str) -> Result<[u8; 32], String> {
    let bytes = hex::decode(text.trim()).map_err(|_| {
        "--public-key is the 64 hex digits `sealscan keys show` prints as its public key"
            .to_string()
    })?;
    bytes.try_into().map_err(|_| {
        "--public-key is the 64 hex digits `sealscan keys show` prints as its public key".into()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_declared_root_certifies_keys_in_rising_lists_and_refuses_a_foreign_list() {
        let root = SigningKey::from_seed(&[1; 32]);
        let first = declare(&root, "sub", [2; 32], 1000).unwrap();
        assert!(declare(&root, "", [2; 32], 1000).is_err());
        let alice = [3; 32];
        let c = Certify {
            user_id: "u-alice",
            role: SignerRole::Manager,
            public_key: alice,
            now: 2000,
            days: 30,
        };
        let next = certify(&root, &first, &c).unwrap();
        let list =
            open::<TrustList>(&Signed::from_text(next.trust_list.as_deref().unwrap()).unwrap())
                .unwrap();
        assert_eq!(list.statement.number, 2);
        assert_eq!(list.statement.certificates.len(), 1);
        // Certifying the same key again replaces its certificate.
        let again = certify(&root, &next, &c).unwrap();
        let list =
            open::<TrustList>(&Signed::from_text(again.trust_list.as_deref().unwrap()).unwrap())
                .unwrap();
        assert_eq!(
            (list.statement.number, list.statement.certificates.len()),
            (3, 1)
        );
        let stranger = SigningKey::from_seed(&[9; 32]);
        let err = certify(&stranger, &first, &c).err().unwrap();
        assert!(err.contains("not signed by your key"), "{err}");
        let err = certify(&root, &SigningMaterial::default(), &c)
            .err()
            .unwrap();
        assert!(err.contains("declare the root"), "{err}");
        assert!(public_key_hex("zz").is_err());
        assert_eq!(public_key_hex(&hex::encode(alice)).unwrap(), alice);
        let _ = TrustList::KIND;
    }
}
