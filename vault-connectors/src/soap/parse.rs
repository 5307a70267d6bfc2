//! Parsers for the SOAP web service's answers (SOAP 1.1, namespace `urn:thesecretserver.com`).
//!
//! The body is read into a small tree with bounded depth and size; every text node is a
//! wiping [`SecretBytes`] because `Value`, `Token` and `FileAttachment` elements carry secrets.
//! Element names are matched by local name, so any namespace prefix is accepted.

use base64::Engine;
use quick_xml::events::Event;
use zeroize::Zeroizing;

use crate::body::ExactWriter;
use crate::error::sanitize;
use sealscan_protocols::secret::SecretBytes;

pub use crate::rest::parse::ParseError;

const MAX_DEPTH: usize = 64;
const MAX_NODES: usize = 100_000;

/// An element: local name, its own text, its child elements.
#[derive(Debug)]
pub struct Node {
    pub name: String,
    pub text: SecretBytes,
    pub children: Vec<Node>,
}

impl Node {
    /// The first element with this local name, depth first (including `self`).
    pub fn find(&self, name: &str) -> Option<&Node> {
        if self.name == name {
            return Some(self);
        }
        self.children.iter().find_map(|c| c.find(name))
    }

    pub fn child(&self, name: &str) -> Option<&Node> {
        self.children.iter().find(|c| c.name == name)
    }

    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Node> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// Text of a non-secret element, trimmed.
    pub fn plain(&self) -> String {
        String::from_utf8_lossy(self.text.expose())
            .trim()
            .to_string()
    }

    fn child_plain(&self, name: &str) -> Option<String> {
        self.child(name).map(Node::plain)
    }

    fn child_i64(&self, name: &str) -> Option<i64> {
        self.child_plain(name).and_then(|t| t.parse().ok())
    }

    fn child_bool(&self, name: &str) -> bool {
        self.child_plain(name)
            .is_some_and(|t| t.eq_ignore_ascii_case("true"))
    }
}

struct Open {
    name: String,
    /// Element text arrives in pieces (text, entities, CDATA), so it grows; every outgrown
    /// buffer is wiped.
    text: ExactWriter,
    children: Vec<Node>,
}

/// Reads a whole XML document into a tree.
pub fn document(body: &[u8]) -> Result<Node, ParseError> {
    let text =
        std::str::from_utf8(body).map_err(|_| ParseError("SOAP answer is not UTF-8".into()))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let mut stack: Vec<Open> = vec![Open {
        name: String::new(),
        text: ExactWriter::with_capacity(16),
        children: Vec::new(),
    }];
    let mut nodes = 0usize;
    let err = |what: String| ParseError(format!("SOAP answer is not well-formed XML: {what}"));
    loop {
        let event = reader
            .read_event()
            .map_err(|e| err(sanitize(&e.to_string())))?;
        match event {
            Event::Start(start) => {
                nodes += 1;
                if stack.len() > MAX_DEPTH || nodes > MAX_NODES {
                    return Err(ParseError(
                        "SOAP answer is nested too deep or too large".into(),
                    ));
                }
                stack.push(Open {
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    text: ExactWriter::with_capacity(16),
                    children: Vec::new(),
                });
            }
            Event::Empty(start) => {
                nodes += 1;
                if nodes > MAX_NODES {
                    return Err(ParseError("SOAP answer is too large".into()));
                }
                let node = Node {
                    name: String::from_utf8_lossy(start.local_name().as_ref()).into_owned(),
                    text: SecretBytes::copy_from(b""),
                    children: Vec::new(),
                };
                if let Some(top) = stack.last_mut() {
                    top.children.push(node);
                }
            }
            Event::End(end) => {
                if stack.len() < 2 {
                    return Err(err("a closing tag without its opening tag".into()));
                }
                let Some(open) = stack.pop() else {
                    return Err(err("unbalanced tags".into()));
                };
                if end.local_name().as_ref() != open.name.as_bytes() {
                    return Err(err(format!(
                        "</{}> closes <{}>",
                        sanitize(&String::from_utf8_lossy(end.local_name().as_ref())),
                        open.name
                    )));
                }
                let node = Node {
                    name: open.name,
                    text: SecretBytes::copy_from(open.text.as_bytes()),
                    children: open.children,
                };
                if let Some(top) = stack.last_mut() {
                    top.children.push(node);
                }
            }
            Event::Text(t) => {
                let value = t.unescape().map_err(|e| err(sanitize(&e.to_string())))?;
                let value = Zeroizing::new(value.into_owned());
                if let Some(top) = stack.last_mut() {
                    top.text.push(value.as_bytes());
                }
            }
            Event::CData(c) => {
                if let Some(top) = stack.last_mut() {
                    top.text.push(&c);
                }
            }
            Event::Eof => break,
            // Declarations, comments, processing instructions, doctypes carry nothing we read.
            _ => {}
        }
    }
    if stack.len() != 1 {
        return Err(err("the document ends inside an element".into()));
    }
    let root = stack.pop().map(|o| o.children).unwrap_or_default();
    let mut root = root;
    match root.len() {
        1 => Ok(root.remove(0)),
        _ => Err(ParseError("SOAP answer has no single root element".into())),
    }
}

/// The `faultstring` of a SOAP Fault, if the document is one.
pub fn fault(body: &[u8]) -> Option<String> {
    let doc = document(body).ok()?;
    let f = doc.find("Fault")?;
    Some(sanitize(&f.child_plain("faultstring").unwrap_or_default()))
}

fn result<'a>(doc: &'a Node, name: &str) -> Result<&'a Node, ParseError> {
    doc.find(name)
        .ok_or_else(|| ParseError(format!("SOAP answer has no {name} element")))
}

fn errors(result: &Node) -> Vec<String> {
    result
        .child("Errors")
        .map(|e| {
            e.children_named("string")
                .map(|s| sanitize(&s.plain()))
                .collect()
        })
        .unwrap_or_default()
}

/// `AuthenticateResult`.
#[derive(Debug)]
pub struct Authenticated {
    pub errors: Vec<String>,
    pub token: Option<SecretBytes>,
}

pub fn authenticate(body: &[u8]) -> Result<Authenticated, ParseError> {
    let doc = document(body)?;
    let r = result(&doc, "AuthenticateResult")?;
    let token = r
        .child("Token")
        .map(|t| SecretBytes::copy_from(trim_ascii(t.text.expose())))
        .filter(|t| !t.is_empty());
    Ok(Authenticated {
        errors: errors(r),
        token,
    })
}

fn trim_ascii(b: &[u8]) -> &[u8] {
    b.trim_ascii()
}

/// A `SecretSummary`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub id: i64,
    pub name: String,
    pub folder_id: Option<i64>,
}

#[derive(Debug)]
pub struct Searched {
    pub errors: Vec<String>,
    pub summaries: Vec<Summary>,
}

/// `SearchSecretsResult` or `SearchSecretsByFolderResult`.
pub fn search(body: &[u8]) -> Result<Searched, ParseError> {
    let doc = document(body)?;
    let r = doc
        .find("SearchSecretsResult")
        .or_else(|| doc.find("SearchSecretsByFolderResult"))
        .ok_or_else(|| ParseError("SOAP answer has no SearchSecretsResult element".into()))?;
    let mut summaries = Vec::new();
    if let Some(list) = r.child("SecretSummaries") {
        for s in list.children_named("SecretSummary") {
            let id = s
                .child_i64("SecretId")
                .ok_or_else(|| ParseError("a SecretSummary has no numeric SecretId".into()))?;
            summaries.push(Summary {
                id,
                name: s.child_plain("SecretName").unwrap_or_default(),
                folder_id: s.child_i64("FolderId"),
            });
        }
    }
    Ok(Searched {
        errors: errors(r),
        summaries,
    })
}

/// A folder from `SearchFoldersResult`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folder {
    pub id: i64,
    pub name: String,
}

pub fn folders(body: &[u8]) -> Result<(Vec<String>, Vec<Folder>), ParseError> {
    let doc = document(body)?;
    let r = result(&doc, "SearchFoldersResult")?;
    let mut out = Vec::new();
    if let Some(list) = r.child("Folders") {
        for f in list.children_named("Folder") {
            if let Some(id) = f.child_i64("Id") {
                out.push(Folder {
                    id,
                    name: f.child_plain("Name").unwrap_or_default(),
                });
            }
        }
    }
    Ok((errors(r), out))
}

/// A `SecretItem`.
#[derive(Debug)]
pub struct Item {
    pub id: Option<i64>,
    pub field_name: String,
    pub value: SecretBytes,
    pub is_file: bool,
    pub is_password: bool,
}

impl Item {
    /// SOAP items carry display names ("Private Key Passphrase"); REST slugs are those,
    /// lowercased, with dashes for spaces.
    pub fn slug(&self) -> String {
        self.field_name
            .split_whitespace()
            .map(str::to_ascii_lowercase)
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// `SecretError`: returned instead of a secret when a comment or an approval is needed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretError {
    pub code: String,
    pub message: String,
    pub allows_response: bool,
}

#[derive(Debug)]
pub struct SecretAnswer {
    pub errors: Vec<String>,
    pub secret_error: Option<SecretError>,
    pub id: Option<i64>,
    pub items: Vec<Item>,
    pub found: bool,
    /// The web service checks such a secret out on `GetSecret`; the caller owes a check-in.
    pub check_out_enabled: bool,
}

/// `GetSecretResult`.
pub fn get_secret(body: &[u8]) -> Result<SecretAnswer, ParseError> {
    let doc = document(body)?;
    let r = result(&doc, "GetSecretResult")?;
    let secret_error = r.child("SecretError").and_then(|e| {
        let code = sanitize(&e.child_plain("ErrorCode").unwrap_or_default());
        let message = sanitize(&e.child_plain("ErrorMessage").unwrap_or_default());
        (!code.is_empty() || !message.is_empty()).then(|| SecretError {
            code,
            message,
            allows_response: e.child_bool("AllowsResponse"),
        })
    });
    let mut items = Vec::new();
    let secret = r.child("Secret");
    if let Some(list) = secret.and_then(|s| s.child("Items")) {
        for i in list.children_named("SecretItem") {
            items.push(Item {
                id: i.child_i64("Id"),
                field_name: i.child_plain("FieldName").unwrap_or_default(),
                value: i
                    .child("Value")
                    .map(|v| v.text.clone())
                    .unwrap_or_else(|| SecretBytes::copy_from(b"")),
                is_file: i.child_bool("IsFile"),
                is_password: i.child_bool("IsPassword"),
            });
        }
    }
    Ok(SecretAnswer {
        errors: errors(r),
        secret_error,
        id: secret.and_then(|s| s.child_i64("Id")),
        found: secret.is_some_and(|s| !s.children.is_empty()),
        check_out_enabled: secret.is_some_and(|s| s.child_bool("CheckOutEnabled")),
        items,
    })
}

/// `DownloadFileAttachmentByItemIdResult`: the file, base64-decoded into a wiping buffer.
pub fn download(body: &[u8]) -> Result<(Vec<String>, Option<SecretBytes>), ParseError> {
    let doc = document(body)?;
    let r = doc
        .find("DownloadFileAttachmentByItemIdResult")
        .or_else(|| doc.find("FileDownloadResult"))
        .ok_or_else(|| {
            ParseError("SOAP answer has no DownloadFileAttachmentByItemIdResult".into())
        })?;
    let errs = errors(r);
    let Some(file) = r.child("FileAttachment") else {
        return Ok((errs, None));
    };
    let encoded: Zeroizing<Vec<u8>> = Zeroizing::new(
        file.text
            .expose()
            .iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect(),
    );
    let engine = base64::engine::general_purpose::STANDARD;
    let mut decoded = Zeroizing::new(vec![0u8; base64::decoded_len_estimate(encoded.len())]);
    let n = engine
        .decode_slice(&encoded[..], &mut decoded[..])
        .map_err(|_| ParseError("FileAttachment is not base64".into()))?;
    let exact = decoded.get(..n).map(SecretBytes::copy_from);
    Ok((errs, exact))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ENV_HEAD: &str = r#"<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>"#;
    const ENV_TAIL: &str = "</soap:Body></soap:Envelope>";

    fn env(inner: &str) -> Vec<u8> {
        format!("{ENV_HEAD}{inner}{ENV_TAIL}").into_bytes()
    }

    #[test]
    fn authenticate_token_and_errors() {
        let ok = authenticate(&env(r#"<AuthenticateResponse xmlns="urn:thesecretserver.com"><AuthenticateResult><Errors/><Token>Qm9n</Token></AuthenticateResult></AuthenticateResponse>"#)).unwrap();
        assert_eq!(ok.token.unwrap().expose(), b"Qm9n");
        assert!(ok.errors.is_empty());
        let bad = authenticate(&env(r#"<AuthenticateResponse xmlns="urn:thesecretserver.com"><AuthenticateResult><Errors><string>Login failed.</string></Errors><Token/></AuthenticateResult></AuthenticateResponse>"#)).unwrap();
        assert!(bad.token.is_none());
        assert_eq!(bad.errors, vec!["Login failed."]);
    }

    #[test]
    fn secret_items_and_secret_error() {
        let a = get_secret(&env(r#"<GetSecretResponse xmlns="urn:thesecretserver.com"><GetSecretResult><Errors/><Secret><Name>db</Name><Items>
          <SecretItem><Value>svc &amp; co</Value><Id>101</Id><FieldName>Username</FieldName><IsFile>false</IsFile><IsPassword>false</IsPassword></SecretItem>
          <SecretItem><Value> p w </Value><Id>102</Id><FieldName>Password</FieldName><IsFile>false</IsFile><IsPassword>true</IsPassword></SecretItem>
          <SecretItem><Value/><Id>103</Id><FieldName>Private Key Passphrase</FieldName><IsFile>false</IsFile></SecretItem>
          </Items><Id>42</Id></Secret></GetSecretResult></GetSecretResponse>"#)).unwrap();
        assert_eq!(a.id, Some(42));
        assert_eq!(a.items[0].value.expose(), b"svc & co");
        assert_eq!(a.items[1].value.expose(), b" p w ");
        assert_eq!(a.items[2].slug(), "private-key-passphrase");
        let e = get_secret(&env(r#"<GetSecretResponse><GetSecretResult><Errors/><SecretError><ErrorCode>REQUIRESCOMMENT</ErrorCode><ErrorMessage>Comment needed</ErrorMessage><AllowsResponse>true</AllowsResponse></SecretError></GetSecretResult></GetSecretResponse>"#)).unwrap();
        assert!(!e.found);
        assert_eq!(e.secret_error.unwrap().code, "REQUIRESCOMMENT");
    }

    #[test]
    fn download_decodes_base64() {
        let (errs, file) = download(&env("<DownloadFileAttachmentByItemIdResponse><DownloadFileAttachmentByItemIdResult><Errors/><FileAttachment>S0VZ\nYnl0ZXM=</FileAttachment><FileName>id</FileName></DownloadFileAttachmentByItemIdResult></DownloadFileAttachmentByItemIdResponse>")).unwrap();
        assert!(errs.is_empty());
        assert_eq!(file.unwrap().expose(), b"KEYbytes");
        assert!(download(&env("<DownloadFileAttachmentByItemIdResult><FileAttachment>!!</FileAttachment></DownloadFileAttachmentByItemIdResult>")).is_err());
    }

    #[test]
    fn hostile_documents_are_refused() {
        assert!(document(b"<a><b></a>").is_err());
        assert!(document(b"<a>").is_err());
        assert!(document(b"\xff\xfe").is_err());
        assert!(document(b"<a/><b/>").is_err());
        assert!(document("<a>".repeat(1000).as_bytes()).is_err());
        assert!(document(b"<!DOCTYPE x [<!ENTITY e \"boom\">]><a>&e;</a>").is_err());
        assert!(search(&env("<SearchSecretsResult><SecretSummaries><SecretSummary><SecretName>x</SecretName></SecretSummary></SecretSummaries></SearchSecretsResult>")).is_err());
        assert!(fault(b"not xml").is_none());
    }

    #[test]
    fn search_and_folders() {
        let s = search(&env("<SearchSecretsResponse><SearchSecretsResult><Errors/><SecretSummaries><SecretSummary><SecretId>10</SecretId><SecretName>unix-root</SecretName><FolderId>2</FolderId></SecretSummary></SecretSummaries></SearchSecretsResult></SearchSecretsResponse>")).unwrap();
        assert_eq!(
            s.summaries,
            vec![Summary {
                id: 10,
                name: "unix-root".into(),
                folder_id: Some(2)
            }]
        );
        let (_, f) = folders(&env("<SearchFoldersResult><Errors/><Folders><Folder><Id>2</Id><Name>Unix</Name></Folder></Folders></SearchFoldersResult>")).unwrap();
        assert_eq!(
            f,
            vec![Folder {
                id: 2,
                name: "Unix".into()
            }]
        );
    }
}
