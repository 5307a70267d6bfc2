//! HPKE (RFC 9180) base-mode single-shot open for the envelope's one suite:
//! DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20-Poly1305 (0x0020, 0x0001, 0x0003).
//!
//! Why not `hpke::single_shot_open`: its Decap recomputes `pkR = pk(skR)` from the private key
//! on every call (RFC 9180 section 4.1 needs `pkRm` in the KEM context), an X25519 base-point
//! multiplication that costs about a quarter of an open. The appliance's public key is fixed
//! and already known to [`super::RecipientKey`], so this Decap takes it instead. Everything
//! else is RFC 9180 to the letter; the tests check it against the `hpke` crate's seal and the
//! published envelope vectors reproduce through it.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce, Tag};
use hkdf::Hkdf;
use sha2::Sha256;
use x25519_dalek::{PublicKey, StaticSecret};
use zeroize::Zeroizing;

use super::wire::{AEAD_ID, CONTENT_KEY_LEN, ENC_LEN, KDF_ID, KEM_ID, TAG_LEN, WRAPPED_LEN};
use crate::identity::PUBLIC_KEY_LEN;

const VERSION_LABEL: &[u8] = b"HPKE-v1";
const KEM_SUITE_ID: [u8; 5] = [b'K', b'E', b'M', (KEM_ID >> 8) as u8, KEM_ID as u8];
const HPKE_SUITE_ID: [u8; 10] = [
    b'H',
    b'P',
    b'K',
    b'E',
    (KEM_ID >> 8) as u8,
    KEM_ID as u8,
    (KDF_ID >> 8) as u8,
    KDF_ID as u8,
    (AEAD_ID >> 8) as u8,
    AEAD_ID as u8,
];
const MODE_BASE: u8 = 0x00;
const AEAD_KEY_LEN: usize = 32;
const AEAD_NONCE_LEN: usize = 12;

/// Why an open failed; the caller maps every case to the same authentication error, so a
/// forger learns nothing from which step refused.
#[derive(Debug)]
pub(crate) struct OpenFailed;

/// Opens a wrapped content key: Decap with the recipient's private and (known) public key,
/// the base-mode key schedule with `info`, then the AEAD open with `aad` at sequence 0.
pub(crate) fn open_content_key(
    private_key: &[u8; 32],
    public_key: &[u8; PUBLIC_KEY_LEN],
    enc: &[u8; ENC_LEN],
    info: &[u8],
    wrapped: &[u8; WRAPPED_LEN],
    aad: &[u8],
) -> Result<Zeroizing<[u8; CONTENT_KEY_LEN]>, OpenFailed> {
    let shared_secret = decap(private_key, public_key, enc)?;
    let (key, base_nonce) = key_schedule(&shared_secret, info)?;
    let (body, tag) = wrapped.split_at(CONTENT_KEY_LEN);
    let mut content_key = Zeroizing::new([0u8; CONTENT_KEY_LEN]);
    content_key.copy_from_slice(body);
    // Sequence number 0: the nonce is base_nonce itself (RFC 9180 section 5.2).
    ChaCha20Poly1305::new(Key::from_slice(key.as_slice()))
        .decrypt_in_place_detached(
            Nonce::from_slice(&base_nonce),
            aad,
            content_key.as_mut_slice(),
            Tag::from_slice(tag),
        )
        .map_err(|_| OpenFailed)?;
    debug_assert_eq!(tag.len(), TAG_LEN);
    Ok(content_key)
}

/// RFC 9180 section 4.1 Decap, with `pkRm` supplied instead of recomputed.
fn decap(
    private_key: &[u8; 32],
    public_key: &[u8; PUBLIC_KEY_LEN],
    enc: &[u8; ENC_LEN],
) -> Result<Zeroizing<[u8; 32]>, OpenFailed> {
    let secret = StaticSecret::from(*private_key);
    let dh = secret.diffie_hellman(&PublicKey::from(*enc));
    // "Senders and recipients MUST check whether the shared secret is the all-zero value and
    // abort if so" (RFC 9180 section 7.1.4), as the hpke crate does; this check is constant
    // time.
    if !dh.was_contributory() {
        return Err(OpenFailed);
    }
    let mut kem_context = [0u8; ENC_LEN + PUBLIC_KEY_LEN];
    kem_context[..ENC_LEN].copy_from_slice(enc);
    kem_context[ENC_LEN..].copy_from_slice(public_key);
    // ExtractAndExpand(dh, kem_context).
    let eae_prk = labeled_extract(&KEM_SUITE_ID, b"", b"eae_prk", dh.as_bytes());
    let mut shared_secret = Zeroizing::new([0u8; 32]);
    labeled_expand(
        &KEM_SUITE_ID,
        &eae_prk,
        b"shared_secret",
        &kem_context,
        shared_secret.as_mut_slice(),
    )?;
    Ok(shared_secret)
}

type AeadKey = Zeroizing<[u8; AEAD_KEY_LEN]>;

/// RFC 9180 section 5.1 KeySchedule for mode_base (empty psk and psk_id).
fn key_schedule(
    shared_secret: &[u8; 32],
    info: &[u8],
) -> Result<(AeadKey, [u8; AEAD_NONCE_LEN]), OpenFailed> {
    let psk_id_hash = labeled_extract(&HPKE_SUITE_ID, b"", b"psk_id_hash", b"");
    let info_hash = labeled_extract(&HPKE_SUITE_ID, b"", b"info_hash", info);
    let mut context = [0u8; 1 + 32 + 32];
    context[0] = MODE_BASE;
    context[1..33].copy_from_slice(psk_id_hash.as_slice());
    context[33..].copy_from_slice(info_hash.as_slice());
    let secret = labeled_extract(&HPKE_SUITE_ID, shared_secret, b"secret", b"");
    let mut key = Zeroizing::new([0u8; AEAD_KEY_LEN]);
    labeled_expand(
        &HPKE_SUITE_ID,
        &secret,
        b"key",
        &context,
        key.as_mut_slice(),
    )?;
    let mut base_nonce = [0u8; AEAD_NONCE_LEN];
    labeled_expand(
        &HPKE_SUITE_ID,
        &secret,
        b"base_nonce",
        &context,
        &mut base_nonce,
    )?;
    Ok((key, base_nonce))
}

/// LabeledExtract(salt, label, ikm) = Extract(salt, "HPKE-v1" || suite_id || label || ikm).
fn labeled_extract(suite_id: &[u8], salt: &[u8], label: &[u8], ikm: &[u8]) -> Zeroizing<[u8; 32]> {
    let mut extract = hkdf::HkdfExtract::<Sha256>::new(Some(salt));
    extract.input_ikm(VERSION_LABEL);
    extract.input_ikm(suite_id);
    extract.input_ikm(label);
    extract.input_ikm(ikm);
    let (prk, _) = extract.finalize();
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(&prk);
    out
}

/// LabeledExpand(prk, label, info, L) = Expand(prk, I2OSP(L, 2) || "HPKE-v1" || suite_id ||
/// label || info, L).
fn labeled_expand(
    suite_id: &[u8],
    prk: &[u8; 32],
    label: &[u8],
    info: &[u8],
    out: &mut [u8],
) -> Result<(), OpenFailed> {
    let hkdf = Hkdf::<Sha256>::from_prk(prk).map_err(|_| OpenFailed)?;
    let len = u16::try_from(out.len())
        .map_err(|_| OpenFailed)?
        .to_be_bytes();
    hkdf.expand_multi_info(&[&len, VERSION_LABEL, suite_id, label, info], out)
        .map_err(|_| OpenFailed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use hpke::aead::ChaCha20Poly1305 as HpkeChaCha;
    use hpke::kdf::HkdfSha256;
    use hpke::kem::X25519HkdfSha256;
    use hpke::{Kem, OpModeS, Serializable};
    use rand_core_09::{OsRng, TryRngCore};

    fn seal_with_crate(
        pk: &[u8; 32],
        info: &[u8],
        aad: &[u8],
        plaintext: &[u8; 32],
    ) -> ([u8; 32], [u8; 48]) {
        use hpke::Deserializable;
        let pk = <X25519HkdfSha256 as Kem>::PublicKey::from_bytes(pk).unwrap();
        let mut rng = OsRng.unwrap_err();
        let (enc, ct) = hpke::single_shot_seal::<HpkeChaCha, HkdfSha256, X25519HkdfSha256, _>(
            &OpModeS::Base,
            &pk,
            info,
            plaintext,
            aad,
            &mut rng,
        )
        .unwrap();
        (
            enc.to_bytes().as_slice().try_into().unwrap(),
            ct.as_slice().try_into().unwrap(),
        )
    }

    fn keypair() -> ([u8; 32], [u8; 32]) {
        let mut sk = [0u8; 32];
        OsRng.try_fill_bytes(&mut sk).unwrap();
        let pk = PublicKey::from(&StaticSecret::from(sk)).to_bytes();
        (sk, pk)
    }

    #[test]
    fn opens_what_the_hpke_crate_seals() {
        for round in 0..32u8 {
            let (sk, pk) = keypair();
            let info = vec![round; usize::from(round) * 3];
            let aad = vec![round ^ 0x5a; usize::from(round)];
            let plaintext = [round; 32];
            let (enc, wrapped) = seal_with_crate(&pk, &info, &aad, &plaintext);
            let opened = open_content_key(&sk, &pk, &enc, &info, &wrapped, &aad).unwrap();
            assert_eq!(*opened, plaintext, "round {round}");
        }
    }

    #[test]
    fn refuses_any_changed_input() {
        let (sk, pk) = keypair();
        let (other_sk, other_pk) = keypair();
        let (enc, wrapped) = seal_with_crate(&pk, b"info", b"aad", &[7; 32]);
        assert!(open_content_key(&sk, &pk, &enc, b"info", &wrapped, b"aad").is_ok());
        // A public key that is not the private key's changes the KEM context.
        assert!(open_content_key(&sk, &other_pk, &enc, b"info", &wrapped, b"aad").is_err());
        assert!(open_content_key(&other_sk, &pk, &enc, b"info", &wrapped, b"aad").is_err());
        assert!(open_content_key(&sk, &pk, &enc, b"infO", &wrapped, b"aad").is_err());
        assert!(open_content_key(&sk, &pk, &enc, b"info", &wrapped, b"aaD").is_err());
        for at in [0, 31] {
            let mut bad = enc;
            bad[at] ^= 1;
            assert!(open_content_key(&sk, &pk, &bad, b"info", &wrapped, b"aad").is_err());
        }
        for at in [0, 31, 32, 47] {
            let mut bad = wrapped;
            bad[at] ^= 1;
            assert!(open_content_key(&sk, &pk, &enc, b"info", &bad, b"aad").is_err());
        }
        // The all-zero point gives an all-zero shared secret, which must be refused.
        assert!(open_content_key(&sk, &pk, &[0u8; 32], b"info", &wrapped, b"aad").is_err());
    }
}
