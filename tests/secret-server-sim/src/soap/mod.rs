//! The legacy SOAP web service, `webservices/SSWebService.asmx`: SOAP 1.1 (and 1.2)
//! envelopes, plus ASMX's HTTP GET / POST form (`SSWebService.asmx/<Method>`), which
//! returns the bare result element. Tokens are shared with the REST API.

mod methods;
mod xml;

use std::sync::Arc;

use axum::Extension;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::server::Source;
use crate::state::Shared;

pub(crate) const NAMESPACE: &str = "urn:thesecretserver.com";
const SOAP11: &str = "http://schemas.xmlsoap.org/soap/envelope/";
const SOAP12: &str = "http://www.w3.org/2003/05/soap-envelope";
const XSI: &str = "http://www.w3.org/2001/XMLSchema-instance";
const XSD: &str = "http://www.w3.org/2001/XMLSchema";

pub(crate) fn routes() -> Router<Arc<Shared>> {
    let mut router = Router::new();
    // IIS resolves paths case-insensitively; these are the spellings clients use.
    for base in [
        "/webservices/SSWebService.asmx",
        "/webservices/sswebservice.asmx",
        "/WebServices/SSWebService.asmx",
    ] {
        router = router.route(base, post(envelope).get(service_page)).route(
            &format!("{base}/{{method}}"),
            get(form_call).post(form_call),
        );
    }
    router
}

/// A call's parameters, whichever binding carried them.
pub(crate) struct Call {
    pub(crate) method: String,
    pub(crate) params: xml::Element,
}

fn xml_response(status: StatusCode, content_type: &'static str, body: String) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

#[derive(Clone, Copy)]
enum Version {
    Soap11,
    Soap12,
}

impl Version {
    fn namespace(self) -> &'static str {
        match self {
            Version::Soap11 => SOAP11,
            Version::Soap12 => SOAP12,
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Version::Soap11 => "text/xml; charset=utf-8",
            Version::Soap12 => "application/soap+xml; charset=utf-8",
        }
    }
}

/// The 500 SOAP Fault ASMX sends for requests it cannot read.
fn fault(version: Version, client_fault: bool, text: &str) -> Response {
    let mut body = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"{}\" \
         xmlns:xsi=\"{XSI}\" xmlns:xsd=\"{XSD}\"><soap:Body><soap:Fault>",
        version.namespace()
    );
    let who = if client_fault { "Client" } else { "Server" };
    match version {
        Version::Soap11 => {
            xml::leaf(&mut body, "faultcode", &format!("soap:{who}"));
            xml::leaf(&mut body, "faultstring", text);
            body.push_str("<detail /></soap:Fault>");
        }
        Version::Soap12 => {
            let code = if client_fault { "Sender" } else { "Receiver" };
            body.push_str(&format!(
                "<soap:Code><soap:Value>soap:{code}</soap:Value></soap:Code><soap:Reason>"
            ));
            body.push_str(&format!(
                "<soap:Text xml:lang=\"en\">{}</soap:Text></soap:Reason><soap:Detail /></soap:Fault>",
                xml::escape(text)
            ));
        }
    }
    body.push_str("</soap:Body></soap:Envelope>");
    xml_response(
        StatusCode::INTERNAL_SERVER_ERROR,
        version.content_type(),
        body,
    )
}

async fn envelope(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let version = if content_type.starts_with("application/soap+xml") {
        Version::Soap12
    } else if content_type.starts_with("text/xml") {
        Version::Soap11
    } else {
        return xml_response(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "text/plain; charset=utf-8",
            "SOAP requests need Content-Type text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2).\n"
                .to_string(),
        );
    };
    let Ok(text) = std::str::from_utf8(&body) else {
        return fault(
            version,
            true,
            "Server was unable to read request. ---> The body is not UTF-8.",
        );
    };
    let doc = match xml::parse(text) {
        Ok(d) => d,
        Err(e) => {
            return fault(
                version,
                true,
                &format!("Server was unable to read request. ---> {e}"),
            );
        }
    };
    let Some(operation) = (doc.name == "Envelope")
        .then(|| doc.child("Body"))
        .flatten()
        .and_then(|b| b.children.first())
    else {
        return fault(
            version,
            true,
            "Server was unable to read request. ---> No SOAP Envelope/Body with an operation.",
        );
    };
    if let Version::Soap11 = version {
        let action = headers
            .get("soapaction")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .trim()
            .trim_matches('"')
            .to_string();
        let expected = format!("{NAMESPACE}/{}", operation.name);
        if action != expected {
            return fault(
                version,
                true,
                &format!("Server did not recognize the value of HTTP Header SOAPAction: {action}."),
            );
        }
    }
    let call = Call {
        method: operation.name.clone(),
        params: operation.clone(),
    };
    match methods::run(&shared, source, &call) {
        Ok(result) => {
            let mut out = format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><soap:Envelope xmlns:soap=\"{}\" \
                 xmlns:xsi=\"{XSI}\" xmlns:xsd=\"{XSD}\"><soap:Body><{m}Response xmlns=\"{NAMESPACE}\"><{m}Result>",
                version.namespace(),
                m = call.method
            );
            out.push_str(&result.inner);
            out.push_str(&format!(
                "</{m}Result></{m}Response></soap:Body></soap:Envelope>",
                m = call.method
            ));
            xml_response(StatusCode::OK, version.content_type(), out)
        }
        Err(methods::CallError::UnknownMethod) => fault(
            version,
            true,
            &format!(
                "Server did not recognize the value of HTTP Header SOAPAction: {NAMESPACE}/{}.",
                call.method
            ),
        ),
        Err(methods::CallError::BadParameter(p)) => fault(
            version,
            true,
            &format!(
                "Server was unable to read request. ---> Parameter {p} is missing or not valid."
            ),
        ),
    }
}

/// `GET SSWebService.asmx` (and `?wsdl`): the service is there; no WSDL is simulated.
async fn service_page(RawQuery(query): RawQuery) -> Response {
    let wants_wsdl = query.is_some_and(|q| q.eq_ignore_ascii_case("wsdl"));
    if wants_wsdl {
        return xml_response(
            StatusCode::NOT_IMPLEMENTED,
            "text/plain; charset=utf-8",
            "secret-server-sim does not serve a WSDL; see docs/secret-server-sim.md for the operations.\n"
                .to_string(),
        );
    }
    xml_response(
        StatusCode::OK,
        "text/html; charset=utf-8",
        "<html><head><title>SSWebService Web Service</title></head><body><h1>SSWebService</h1></body></html>\n"
            .to_string(),
    )
}

/// ASMX's HTTP GET / POST form binding: parameters in the query or a form body, the bare
/// result element back.
async fn form_call(
    State(shared): State<Arc<Shared>>,
    Extension(source): Extension<Source>,
    Path(method): Path<String>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> Response {
    let mut params = xml::Element {
        name: method.clone(),
        ..xml::Element::default()
    };
    let body_text = std::str::from_utf8(&body).unwrap_or("");
    for source_text in [query.as_deref().unwrap_or(""), body_text] {
        for (k, v) in form_urlencoded::parse(source_text.as_bytes()) {
            params.children.push(xml::Element {
                name: k.into_owned(),
                text: v.into_owned(),
                ..xml::Element::default()
            });
        }
    }
    let call = Call {
        method: method.clone(),
        params,
    };
    match methods::run(&shared, source, &call) {
        Ok(result) => {
            let out = format!(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><{t} xmlns:xsi=\"{XSI}\" xmlns:xsd=\"{XSD}\" xmlns=\"{NAMESPACE}\">{}</{t}>",
                result.inner,
                t = result.type_name
            );
            xml_response(StatusCode::OK, "text/xml; charset=utf-8", out)
        }
        Err(methods::CallError::UnknownMethod) => xml_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            format!(
                "System.InvalidOperationException: {method} Web Service method name is not valid.\n"
            ),
        ),
        Err(methods::CallError::BadParameter(p)) => xml_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain; charset=utf-8",
            format!("System.InvalidOperationException: Missing or invalid parameter: {p}.\n"),
        ),
    }
}
