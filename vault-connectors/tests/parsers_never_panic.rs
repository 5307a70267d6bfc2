//! The public parsers take attacker-shaped bodies: mutated and truncated versions of real
//! answers must give a value or an error, never a panic. (A fuzz target can call the same
//! functions; this deterministic run keeps the property in the ordinary test suite.)

use sealscan_vault::{rest, soap};

const REST_BODIES: &[&str] = &[
    r#"{"access_token":"AgJx","token_type":"bearer","expires_in":1199}"#,
    r#"{"total":3,"hasNext":true,"nextSkip":2,"records":[{"id":42,"name":"db","folderId":7,"active":true}]}"#,
    r#"{"id":10,"name":"u","items":[{"itemId":1,"slug":"username","itemValue":"x\u0041"},{"slug":"private-key","isFile":true,"fileAttachmentId":5}]}"#,
    r#"{"errorCode":"API_AccessDenied","message":"Access Denied"}"#,
    r#""S3cr3t!\n""#,
];

const SOAP_BODIES: &[&str] = &[
    r#"<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><AuthenticateResponse xmlns="urn:thesecretserver.com"><AuthenticateResult><Errors/><Token>Qm9n</Token></AuthenticateResult></AuthenticateResponse></soap:Body></soap:Envelope>"#,
    r#"<s:Envelope xmlns:s="x"><s:Body><GetSecretResult><Errors><string>a &amp; b</string></Errors><Secret><Items><SecretItem><Value><![CDATA[p<w]]></Value><Id>1</Id><FieldName>Password</FieldName></SecretItem></Items><Id>4</Id></Secret></GetSecretResult></s:Body></s:Envelope>"#,
    r#"<r><SearchSecretsResult><SecretSummaries><SecretSummary><SecretId>10</SecretId><SecretName>n</SecretName></SecretSummary></SecretSummaries></SearchSecretsResult></r>"#,
    r#"<r><DownloadFileAttachmentByItemIdResult><Errors/><FileAttachment>S0VZ</FileAttachment></DownloadFileAttachmentByItemIdResult></r>"#,
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..=rng.below(4) {
        let at = rng.below(v.len() + 1);
        match rng.below(4) {
            0 if !v.is_empty() => {
                let i = rng.below(v.len());
                v[i] = rng.next() as u8;
            }
            1 => v.truncate(at),
            2 => v.insert(at, b"{}[]<>\"&;\\/:,0\xff"[rng.below(15)]),
            _ => {
                let copy: Vec<u8> = v[at..].iter().take(rng.below(40)).copied().collect();
                v.splice(at..at, copy);
            }
        }
    }
    v
}

#[test]
fn rest_parsers_survive_mutated_bodies() {
    let mut rng = Rng(0x5EA1_5CA7);
    for _ in 0..4000 {
        let base = REST_BODIES[rng.below(REST_BODIES.len())].as_bytes();
        let body = mutate(&mut rng, base);
        let _ = rest::parse::token(&body);
        let _ = rest::parse::error_body(&body);
        let _ = rest::parse::search_page(&body);
        let _ = rest::parse::folder_page(&body);
        let _ = rest::parse::secret(&body);
        let _ = rest::parse::field_text(&body);
        let _ = rest::parse::state(&body);
    }
}

#[test]
fn soap_parsers_survive_mutated_bodies() {
    let mut rng = Rng(0xC0FF_EE11);
    for _ in 0..4000 {
        let base = SOAP_BODIES[rng.below(SOAP_BODIES.len())].as_bytes();
        let body = mutate(&mut rng, base);
        let _ = soap::parse::document(&body);
        let _ = soap::parse::fault(&body);
        let _ = soap::parse::authenticate(&body);
        let _ = soap::parse::search(&body);
        let _ = soap::parse::folders(&body);
        let _ = soap::parse::get_secret(&body);
        let _ = soap::parse::download(&body);
    }
}
