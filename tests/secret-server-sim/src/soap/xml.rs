//! A small XML tree reader (quick-xml events, namespaces reduced to local names) and the
//! escaping writer the SOAP responses use.

use quick_xml::Reader;
use quick_xml::events::Event;

#[derive(Debug, Default, Clone)]
pub(crate) struct Element {
    pub(crate) name: String,
    pub(crate) children: Vec<Element>,
    pub(crate) text: String,
}

impl Element {
    pub(crate) fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    pub(crate) fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.as_str())
    }
}

/// The local part of a qualified name: SOAP prefixes vary between clients.
fn local_name(raw: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(raw).map_err(|_| "element name is not UTF-8".to_string())?;
    Ok(text.rsplit(':').next().unwrap_or(text).to_string())
}

/// Parses a document into its root element. DTDs are refused (no entity games); the size of
/// the input bounds the tree.
pub(crate) fn parse(text: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(text);
    reader.config_mut().trim_text(true);
    let mut stack: Vec<Element> = Vec::new();
    loop {
        match reader.read_event() {
            Err(e) => return Err(format!("malformed XML: {e}")),
            Ok(Event::Eof) => {
                return Err("XML document ended before its root element closed".into());
            }
            Ok(Event::DocType(_)) => return Err("DTDs are not accepted".into()),
            Ok(Event::Start(start)) => {
                stack.push(Element {
                    name: local_name(start.name().as_ref())?,
                    ..Element::default()
                });
            }
            Ok(Event::Empty(start)) => {
                let element = Element {
                    name: local_name(start.name().as_ref())?,
                    ..Element::default()
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(element),
                    None => return Ok(element),
                }
            }
            Ok(Event::Text(t)) => {
                let value = t.unescape().map_err(|e| format!("bad text: {e}"))?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(&value);
                }
            }
            Ok(Event::CData(c)) => {
                let value =
                    std::str::from_utf8(&c).map_err(|_| "CDATA is not UTF-8".to_string())?;
                if let Some(top) = stack.last_mut() {
                    top.text.push_str(value);
                }
            }
            Ok(Event::End(_)) => {
                let Some(done) = stack.pop() else {
                    return Err("closing tag without an opening tag".into());
                };
                match stack.last_mut() {
                    Some(parent) => parent.children.push(done),
                    None => return Ok(done),
                }
            }
            Ok(_) => {}
        }
    }
}

pub(crate) fn escape(text: &str) -> String {
    quick_xml::escape::partial_escape(text).into_owned()
}

/// Appends `<name>text</name>`, escaped.
pub(crate) fn leaf(out: &mut String, name: &str, text: &str) {
    out.push('<');
    out.push_str(name);
    out.push('>');
    out.push_str(&escape(text));
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// Appends `<name xsi:nil="true" />`.
pub(crate) fn nil(out: &mut String, name: &str) {
    out.push('<');
    out.push_str(name);
    out.push_str(" xsi:nil=\"true\" />");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_soap_request() {
        let doc = parse(
            "<?xml version=\"1.0\"?><soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\
             <soap:Body><Authenticate xmlns=\"urn:thesecretserver.com\"><username>a&amp;b</username>\
             <password><![CDATA[p<w]]></password><organization/></Authenticate></soap:Body></soap:Envelope>",
        )
        .expect("parses");
        assert_eq!(doc.name, "Envelope");
        let op = &doc.child("Body").expect("body").children[0];
        assert_eq!(op.name, "Authenticate");
        assert_eq!(op.child_text("username"), Some("a&b"));
        assert_eq!(op.child_text("password"), Some("p<w"));
        assert_eq!(op.child_text("organization"), Some(""));
    }

    #[test]
    fn refuses_broken_documents() {
        for bad in [
            "<a><b></a>",
            "<a>",
            "<!DOCTYPE x [<!ENTITY e \"x\">]><a>&e;</a>",
            "</a>",
        ] {
            assert!(parse(bad).is_err(), "{bad} should be refused");
        }
    }
}
