//! The legacy SOAP web service (SSWebService.asmx) in SOAP 1.1 and the HTTP GET form.

mod common;

use common::*;
use reqwest::{Client, StatusCode};
use secret_server_sim::Sim;

/// Sends one SOAP 1.1 call and returns the status and body text.
async fn soap(client: &Client, sim: &Sim, method: &str, params: &str) -> (StatusCode, String) {
    let envelope = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\
         <soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\" \
         xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><soap:Body>\
         <{method} xmlns=\"urn:thesecretserver.com\">{params}</{method}></soap:Body></soap:Envelope>"
    );
    let r = client
        .post(format!("{}/webservices/SSWebService.asmx", sim.base_url()))
        .header("Content-Type", "text/xml; charset=utf-8")
        .header(
            "SOAPAction",
            format!("\"urn:thesecretserver.com/{method}\""),
        )
        .body(envelope)
        .send()
        .await
        .expect("SOAP call");
    (r.status(), r.text().await.expect("body"))
}

/// The text of the first `<name>` element in a response (responses here are flat enough).
fn element<'a>(xml: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml.get(start..)?.find(&format!("</{name}>"))? + start;
    xml.get(start..end)
}

async fn soap_token(
    client: &Client,
    sim: &Sim,
    user: &str,
    password: &str,
    domain: &str,
) -> (StatusCode, String) {
    soap(
        client,
        sim,
        "Authenticate",
        &format!("<username>{user}</username><password>{password}</password><organization></organization><domain>{domain}</domain>"),
    )
    .await
}

#[tokio::test]
async fn authenticate_and_get_a_secret() {
    let sim = sim().await;
    let client = client(&sim);
    let (status, body) = soap_token(&client, &sim, SVC_USER, SVC_PASSWORD, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body.contains(
            "<AuthenticateResponse xmlns=\"urn:thesecretserver.com\"><AuthenticateResult><Errors />"
        ),
        "{body}"
    );
    let token = element(&body, "Token").expect("Token").to_string();

    let (status, body) = soap_token(&client, &sim, AD_USER, AD_PASSWORD, AD_DOMAIN).await;
    assert_eq!(status, StatusCode::OK);
    assert!(element(&body, "Token").is_some(), "domain login: {body}");
    let (_, body) = soap_token(&client, &sim, AD_USER, AD_PASSWORD, "(local)").await;
    assert_eq!(element(&body, "string"), Some("Login failed."));
    assert!(element(&body, "Token").is_none());

    let (status, body) = soap(&client, &sim, "GetSecret", &format!("<token>{token}</token><secretId>10</secretId><loadSettingsAndPermissions>false</loadSettingsAndPermissions>")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.contains("<GetSecretResult><Errors /><Secret><Name>unix-root</Name>"),
        "{body}"
    );
    assert!(body.contains("<SecretItem><Value>pw&amp;\"quoted\"</Value><Id>1003</Id><FieldId>110</FieldId><FieldName>Password</FieldName><IsFile>false</IsFile><IsNotes>false</IsNotes><IsPassword>true</IsPassword>"), "{body}");
    assert!(
        body.contains("<Value>id_ed25519</Value><Id>1004</Id>"),
        "file items carry the file name: {body}"
    );

    let (_, body) = soap(
        &client,
        &sim,
        "GetSecret",
        &format!("<token>{token}</token><secretId>17</secretId>"),
    )
    .await;
    assert_eq!(element(&body, "string"), Some("Access Denied"));
    let (_, body) = soap(
        &client,
        &sim,
        "GetSecretLegacy",
        &format!("<token>{token}</token><secretId>999</secretId>"),
    )
    .await;
    assert_eq!(element(&body, "string"), Some("Access Denied"));
    assert!(body.contains("<GetSecretLegacyResult>"));
}

#[tokio::test]
async fn rest_tokens_work_in_soap_and_downloads_are_base64() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    let (_, body) = soap(
        &client,
        &sim,
        "GetTokenIsValid",
        &format!("<token>{token}</token>"),
    )
    .await;
    assert!(body.contains("<Errors />"), "{body}");
    let (_, body) = soap(
        &client,
        &sim,
        "DownloadFileAttachmentByItemId",
        &format!("<token>{token}</token><secretId>10</secretId><secretItemId>1004</secretItemId>"),
    )
    .await;
    assert_eq!(element(&body, "FileName"), Some("id_ed25519"));
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(element(&body, "FileAttachment").expect("FileAttachment"))
        .expect("base64");
    assert_eq!(bytes, PRIVATE_KEY.as_bytes());
    let (_, body) = soap(
        &client,
        &sim,
        "DownloadFileAttachmentByItemId",
        &format!("<token>{token}</token><secretId>10</secretId><secretItemId>1003</secretItemId>"),
    )
    .await;
    assert!(
        element(&body, "string").is_some(),
        "not a file item: {body}"
    );

    let (_, body) = soap(&client, &sim, "GetTokenIsValid", "<token>nonsense</token>").await;
    assert_eq!(element(&body, "string"), Some("Invalid token."));
    let (status, _) = client
        .post(format!("{}/api/v1/oauth-expiration", sim.base_url()))
        .bearer_auth(&token)
        .send()
        .await
        .map(|r| (r.status(), ()))
        .expect("expire");
    assert_eq!(status, StatusCode::OK);
    let (_, body) = soap(
        &client,
        &sim,
        "GetSecret",
        &format!("<token>{token}</token><secretId>10</secretId>"),
    )
    .await;
    assert_eq!(
        element(&body, "string"),
        Some("Authentication failed or expired token.")
    );
}

#[tokio::test]
async fn search_secrets_and_search_by_folder() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    let (_, body) = soap(&client, &sim, "SearchSecrets", &format!("<token>{token}</token><searchTerm>dup</searchTerm><includeDeleted>false</includeDeleted><includeRestricted>false</includeRestricted>")).await;
    assert_eq!(body.matches("<SecretSummary>").count(), 2, "{body}");
    assert!(body.contains("<SecretSummary><SecretId>18</SecretId><SecretName>dup-name</SecretName><SecretTypeName>Password</SecretTypeName><SecretTypeId>2</SecretTypeId><FolderId>2</FolderId><IsRestricted>false</IsRestricted></SecretSummary>"), "{body}");
    let (_, body) = soap(&client, &sim, "SearchSecrets", &format!("<token>{token}</token><searchTerm>needs</searchTerm><includeDeleted>false</includeDeleted><includeRestricted>true</includeRestricted>")).await;
    assert_eq!(body.matches("<SecretSummary>").count(), 3, "{body}");
    let (_, body) = soap(&client, &sim, "SearchSecretsByFolder", &format!("<token>{token}</token><searchTerm>dup</searchTerm><folderId>3</folderId><includeSubFolders>false</includeSubFolders><includeDeleted>false</includeDeleted><includeRestricted>false</includeRestricted>")).await;
    assert_eq!(element(&body, "SecretId"), Some("19"));
    assert_eq!(body.matches("<SecretSummary>").count(), 1);
}

#[tokio::test]
async fn comment_required_answers_a_secret_error_then_takes_a_code_response() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    let (status, body) = soap(
        &client,
        &sim,
        "GetSecret",
        &format!("<token>{token}</token><secretId>13</secretId>"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(element(&body, "ErrorCode"), Some("COMMENT"));
    assert_eq!(element(&body, "AllowsResponse"), Some("true"));
    assert!(element(&body, "Secret").is_none());
    let (_, body) = soap(&client, &sim, "GetSecret", &format!("<token>{token}</token><secretId>13</secretId><loadSettingsAndPermissions xsi:nil=\"true\" /><codeResponses><CodeResponse><ErrorCode>COMMENT</ErrorCode><Comment>scan job 9</Comment><AdditionalComment /></CodeResponse></codeResponses>")).await;
    assert!(
        body.contains("<Errors /><Secret><Name>needs-comment</Name>"),
        "{body}"
    );

    // Check-out secrets are checked out by GetSecret and released by CheckIn.
    let other = token_for(&client, &sim, OTHER_USER, OTHER_PASSWORD).await;
    let (_, body) = soap(
        &client,
        &sim,
        "GetSecret",
        &format!("<token>{token}</token><secretId>14</secretId>"),
    )
    .await;
    assert_eq!(element(&body, "IsCheckedOut"), Some("true"));
    let (_, body) = soap(
        &client,
        &sim,
        "GetSecret",
        &format!("<token>{other}</token><secretId>14</secretId>"),
    )
    .await;
    assert_eq!(
        element(&body, "string"),
        Some("The requested Secret is checked out by another user.")
    );
    let (_, body) = soap(
        &client,
        &sim,
        "CheckIn",
        &format!("<token>{token}</token><secretId>14</secretId>"),
    )
    .await;
    assert!(
        body.contains("<CheckInResult><Errors /></CheckInResult>"),
        "{body}"
    );
    let (_, body) = soap(
        &client,
        &sim,
        "GetSecret",
        &format!("<token>{other}</token><secretId>14</secretId>"),
    )
    .await;
    assert!(body.contains("<Name>needs-checkout</Name>"), "{body}");
}

#[tokio::test]
async fn unreadable_requests_get_soap_faults() {
    let sim = sim().await;
    let client = client(&sim);
    let url = format!("{}/webservices/SSWebService.asmx", sim.base_url());
    let post = |body: &'static str, action: Option<&'static str>| {
        let mut req = client
            .post(&url)
            .header("Content-Type", "text/xml; charset=utf-8")
            .body(body);
        if let Some(a) = action {
            req = req.header("SOAPAction", a);
        }
        req.send()
    };
    let good = "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><VersionGet xmlns=\"urn:thesecretserver.com\" /></soap:Body></soap:Envelope>";
    let r = post(good, Some("\"urn:thesecretserver.com/VersionGet\""))
        .await
        .expect("call");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().await.expect("body").contains("<Version>"));
    for (body, action, needle) in [
        (good, None, "SOAPAction"),
        (
            good,
            Some("\"urn:thesecretserver.com/GetSecret\""),
            "SOAPAction",
        ),
        (
            "<soap:Envelope><soap:Body>",
            Some("\"urn:thesecretserver.com/VersionGet\""),
            "unable to read",
        ),
        (
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><GetSecret xmlns=\"urn:thesecretserver.com\"><token>x</token><secretId>ten</secretId></GetSecret></soap:Body></soap:Envelope>",
            Some("\"urn:thesecretserver.com/GetSecret\""),
            "secretId",
        ),
        (
            "<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body><Nope xmlns=\"urn:thesecretserver.com\" /></soap:Body></soap:Envelope>",
            Some("\"urn:thesecretserver.com/Nope\""),
            "SOAPAction",
        ),
    ] {
        let r = post(body, action).await.expect("call");
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let text = r.text().await.expect("body");
        assert!(
            text.contains("<soap:Fault><faultcode>soap:Client</faultcode>"),
            "{text}"
        );
        assert!(text.contains(needle), "{needle}: {text}");
    }
}

#[tokio::test]
async fn the_http_get_form_returns_the_bare_result() {
    let sim = sim().await;
    let client = client(&sim);
    let base = format!("{}/webservices/SSWebService.asmx", sim.base_url());
    let r = client
        .get(format!(
            "{base}/Authenticate?username=svc-scan&password=S3rv%21ce-pw&organization=&domain="
        ))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    let body = r.text().await.expect("body");
    assert!(body.contains("<AuthenticateResult xmlns:xsi="), "{body}");
    assert!(
        body.contains("xmlns=\"urn:thesecretserver.com\"><Errors /><Token>"),
        "{body}"
    );
    let token = element(&body, "Token").expect("Token").to_string();
    let r = client
        .post(format!("{base}/GetSecretLegacy"))
        .form(&[("token", token.as_str()), ("secretId", "12")])
        .send()
        .await
        .expect("POST");
    let body = r.text().await.expect("body");
    assert!(body.contains("<GetSecretResult xmlns:xsi="), "{body}");
    assert!(body.contains("<Name>win-admin</Name>"), "{body}");
}

#[tokio::test]
async fn soap_1_2_envelopes_are_answered_in_kind() {
    let sim = sim().await;
    let client = client(&sim);
    let envelope = "<?xml version=\"1.0\"?><env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\">\
        <env:Body><Authenticate xmlns=\"urn:thesecretserver.com\"><username>svc-scan</username>\
        <password>S3rv!ce-pw</password><organization /><domain /></Authenticate></env:Body></env:Envelope>";
    let r = client
        .post(format!("{}/webservices/SSWebService.asmx", sim.base_url()))
        .header(
            "Content-Type",
            "application/soap+xml; charset=utf-8; action=\"urn:thesecretserver.com/Authenticate\"",
        )
        .body(envelope)
        .send()
        .await
        .expect("SOAP 1.2 call");
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .is_ok_and(|c| c.starts_with("application/soap+xml"))
    );
    let body = r.text().await.expect("body");
    assert!(
        body.contains("xmlns:soap=\"http://www.w3.org/2003/05/soap-envelope\""),
        "{body}"
    );
    assert!(element(&body, "Token").is_some(), "{body}");

    let r = client
        .post(format!("{}/webservices/SSWebService.asmx", sim.base_url()))
        .header("Content-Type", "application/json")
        .body("{}")
        .send()
        .await
        .expect("call");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn an_old_server_without_rest_answers_only_soap() {
    let sim = sim_with(|c| c.rest_api = false).await;
    let client = client(&sim);
    let r = client
        .post(format!("{}/oauth2/token", sim.base_url()))
        .form(&[
            ("grant_type", "password"),
            ("username", SVC_USER),
            ("password", SVC_PASSWORD),
        ])
        .send()
        .await
        .expect("token request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .contains("html")
    );
    let r = client
        .get(format!("{}/api/v1/healthcheck", sim.base_url()))
        .send()
        .await
        .expect("health request");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let r = client
        .get(format!("{}/healthcheck.aspx", sim.base_url()))
        .send()
        .await
        .expect("legacy health request");
    assert_eq!(r.status(), StatusCode::OK);

    let (status, body) = soap_token(&client, &sim, SVC_USER, SVC_PASSWORD, "").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let token = element(&body, "Token").expect("a token").to_string();
    let (status, body) = soap(
        &client,
        &sim,
        "GetSecret",
        &format!("<token>{token}</token><secretId>10</secretId>"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.contains("<Name>unix-root</Name>"), "{body}");
    sim.shutdown().await;
}
