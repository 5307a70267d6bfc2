//! The REST API against the reference's fidelity checklist, over real HTTP with reqwest.

mod common;

use common::*;
use reqwest::StatusCode;
use serde_json::json;

#[tokio::test]
async fn password_grant_issues_a_bearer_token_with_the_configured_lifetime() {
    let sim = sim_with(|c| c.token_ttl_secs = 777).await;
    let client = client(&sim);
    let (status, body) = token_response(
        &client,
        &sim,
        &[
            ("username", SVC_USER),
            ("password", SVC_PASSWORD),
            ("grant_type", "password"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["token_type"], "bearer");
    assert_eq!(body["expires_in"], 777);
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() > 20));
    assert!(
        body.get("refresh_token").is_none(),
        "no refresh token unless enabled: {body}"
    );

    // tss-sdk-go sends the keys sorted; the order must not matter. JSON is accepted too.
    let r = client
        .post(format!("{}/oauth2/token", sim.base_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body("grant_type=password&password=S3rv%21ce-pw&username=svc-scan&unknown=x")
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK);
    let r = client
        .post(format!("{}/oauth2/token", sim.base_url()))
        .json(&json!({"grant_type": "password", "username": SVC_USER, "password": SVC_PASSWORD}))
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK);
}

#[tokio::test]
async fn domain_is_its_own_form_field_and_bad_logins_get_login_failed() {
    let sim = sim().await;
    let client = client(&sim);
    let login = |user: &'static str, password: &'static str, domain: Option<&'static str>| {
        let client = client.clone();
        let base = sim.base_url();
        async move {
            let mut form = vec![
                ("username", user),
                ("password", password),
                ("grant_type", "password"),
            ];
            if let Some(d) = domain {
                form.push(("domain", d));
            }
            let r = client
                .post(format!("{base}/oauth2/token"))
                .form(&form)
                .send()
                .await
                .expect("token");
            json_of(r).await
        }
    };
    assert_eq!(
        login(AD_USER, AD_PASSWORD, Some("CORP")).await.0,
        StatusCode::OK
    );
    assert_eq!(
        login(AD_USER, AD_PASSWORD, Some("corp")).await.0,
        StatusCode::OK
    );
    let failed = json!({"error": "Login failed."});
    for (user, password, domain) in [
        (AD_USER, AD_PASSWORD, None),
        ("CORP\\aduser", AD_PASSWORD, None),
        (AD_USER, AD_PASSWORD, Some("OTHER")),
        (SVC_USER, "wrong", None),
        (SVC_USER, SVC_PASSWORD, Some("CORP")),
        ("nobody", "x", None),
        ("otp-user", "Otp-pw1", None),
    ] {
        assert_eq!(
            login(user, password, domain).await,
            (StatusCode::BAD_REQUEST, failed.clone()),
            "{user} {domain:?}"
        );
    }
    assert_eq!(
        login(SVC_USER, SVC_PASSWORD, Some("(local)")).await.0,
        StatusCode::OK
    );

    // A second factor travels in the OTP header.
    let r = client
        .post(format!("{}/oauth2/token", sim.base_url()))
        .header("OTP", "123456")
        .form(&[
            ("username", "otp-user"),
            ("password", "Otp-pw1"),
            ("grant_type", "password"),
        ])
        .send()
        .await
        .expect("token");
    assert_eq!(r.status(), StatusCode::OK);

    let (status, body) =
        token_response(&client, &sim, &[("grant_type", "client_credentials")]).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type"})
        )
    );
    let (status, body) = token_response(&client, &sim, &[("grant_type", "password")]).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, json!({"error": "invalid_request"}))
    );
}

#[tokio::test]
async fn refresh_tokens_only_when_enabled_and_each_works_once() {
    let sim = sim().await;
    let client = client(&sim);
    let (status, body) = token_response(
        &client,
        &sim,
        &[("grant_type", "refresh_token"), ("refresh_token", "x")],
    )
    .await;
    assert_eq!(
        (status, body),
        (
            StatusCode::BAD_REQUEST,
            json!({"error": "unsupported_grant_type"})
        )
    );

    let sim = sim_with(|c| c.refresh_tokens = true).await;
    let client = common::client(&sim);
    let (_, first) = token_response(
        &client,
        &sim,
        &[
            ("username", SVC_USER),
            ("password", SVC_PASSWORD),
            ("grant_type", "password"),
        ],
    )
    .await;
    let refresh = first["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_string();
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh.as_str()),
    ];
    let (status, second) = token_response(&client, &sim, &form).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(
        second["refresh_token"], first["refresh_token"],
        "a new refresh token each time"
    );
    let token = second["access_token"].as_str().expect("access_token");
    assert_eq!(
        api_get(&client, &sim, token, "/api/v1/secrets/10").await.0,
        StatusCode::OK
    );
    let (status, body) = token_response(&client, &sim, &form).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, json!({"error": "invalid_grant"}))
    );
}

#[tokio::test]
async fn missing_or_garbage_token_is_401_expired_or_revoked_is_403() {
    let sim = sim().await;
    let client = client(&sim);
    let url = format!("{}/api/v1/secrets/10", sim.base_url());
    let denied = json!({"message": "Authorization has been denied for this request."});
    let r = client.get(&url).send().await.expect("GET");
    assert_eq!(json_of(r).await, (StatusCode::UNAUTHORIZED, denied.clone()));
    assert_eq!(
        api_get(&client, &sim, "garbage", "/api/v1/secrets/10").await,
        (StatusCode::UNAUTHORIZED, denied)
    );

    let token = svc_token(&client, &sim).await;
    assert_eq!(
        api_get(&client, &sim, &token, "/api/v1/secrets/10").await.0,
        StatusCode::OK
    );
    let (status, body) =
        api_post(&client, &sim, &token, "/api/v1/oauth-expiration", json!({})).await;
    assert_eq!((status, body), (StatusCode::OK, json!(true)));
    let expired = json!({"message": "Authentication failed or expired token."});
    assert_eq!(
        api_get(&client, &sim, &token, "/api/v1/secrets/10").await,
        (StatusCode::FORBIDDEN, expired.clone())
    );

    // A zero lifetime makes tokens expire at once, without waiting in the test.
    let sim = sim_with(|c| c.token_ttl_secs = 0).await;
    let client = common::client(&sim);
    let token = svc_token(&client, &sim).await;
    assert_eq!(
        api_get(&client, &sim, &token, "/api/v1/secrets/10").await,
        (StatusCode::FORBIDDEN, expired)
    );
}

#[tokio::test]
async fn a_secret_carries_its_items_with_passwords_files_and_zone_less_timestamps() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    let (status, s) = api_get(&client, &sim, &token, "/api/v1/secrets/10").await;
    assert_eq!(status, StatusCode::OK, "{s}");
    assert_eq!(s["id"], 10);
    assert_eq!(s["name"], "unix-root");
    assert_eq!(s["folderId"], 2);
    assert_eq!(s["secretTemplateName"], "Unix Account (SSH)");
    assert_eq!(s["lastHeartBeatCheck"], "2024-05-01T10:00:00.443");
    assert_eq!(s["lastPasswordChangeAttempt"], "0001-01-01T00:00:00");
    let items = s["items"].as_array().expect("items");
    let slugs: Vec<&str> = items.iter().filter_map(|i| i["slug"].as_str()).collect();
    assert_eq!(
        slugs,
        [
            "machine",
            "username",
            "password",
            "private-key",
            "private-key-passphrase",
            "notes"
        ]
    );
    let item = |slug: &str| {
        items
            .iter()
            .find(|i| i["slug"] == slug)
            .expect(slug)
            .clone()
    };
    assert_eq!(item("username")["itemValue"], "scanuser");
    assert_eq!(item("password")["itemValue"], "pw&\"quoted\"");
    assert_eq!(item("password")["isPassword"], true);
    let key = item("private-key");
    assert_eq!(key["isFile"], true);
    assert_eq!(key["itemValue"], "*** Not Valid For Display ***");
    assert_eq!(key["filename"], "id_ed25519");
    assert!(key["fileAttachmentId"].as_i64().is_some_and(|id| id > 0));
    // The same model under v2.
    assert_eq!(
        api_get(&client, &sim, &token, "/api/v2/secrets/10").await.1,
        s
    );

    // An empty file field has no attachment id.
    let (_, other) = api_get(&client, &sim, &token, "/api/v1/secrets/11").await;
    let empty_key = other["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["slug"] == "private-key")
        .cloned();
    assert_eq!(
        empty_key.map(|k| k["fileAttachmentId"].clone()),
        Some(json!(null))
    );
}

#[tokio::test]
async fn fields_by_slug_are_json_strings_or_raw_file_bytes() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    let (status, value) =
        api_get(&client, &sim, &token, "/api/v1/secrets/10/fields/password").await;
    assert_eq!((status, value), (StatusCode::OK, json!("pw&\"quoted\"")));

    let r = client
        .get(format!(
            "{}/api/v1/secrets/10/fields/private-key",
            sim.base_url()
        ))
        .bearer_auth(&token)
        .send()
        .await
        .expect("file");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "application/octet-stream");
    assert_eq!(
        r.headers()["content-disposition"],
        "attachment; filename=\"id_ed25519\""
    );
    assert_eq!(
        r.bytes().await.expect("bytes").as_ref(),
        PRIVATE_KEY.as_bytes()
    );

    let (status, body) = api_get(&client, &sim, &token, "/api/v1/secrets/10/fields/colour").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorCode"], "API_SecretFieldNotFound");
    let (status, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets/11/fields/private-key",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["errorCode"], "API_FileAttachmentNotFound");
}

#[tokio::test]
async fn not_found_and_forbidden_are_the_same_access_denied() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    let denied = (
        StatusCode::BAD_REQUEST,
        json!({"errorCode": "API_AccessDenied", "message": "Access Denied"}),
    );
    for path in [
        "/api/v1/secrets/999",
        "/api/v1/secrets/17",
        "/api/v1/secrets/16",
        "/api/v1/secrets/999/fields/password",
        "/api/v1/secrets/17/fields/password",
        "/api/v1/secrets/17/state",
        "/api/v1/secrets/0",
    ] {
        assert_eq!(api_get(&client, &sim, &token, path).await, denied, "{path}");
    }
    // Inactive secrets are there for those who ask for them.
    assert_eq!(
        api_get(
            &client,
            &sim,
            &token,
            "/api/v1/secrets/16?includeInactive=true"
        )
        .await
        .0,
        StatusCode::OK
    );
    let (status, body) = api_get(&client, &sim, &token, "/api/v1/secrets/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["message"], "The request is invalid.");
}

#[tokio::test]
async fn secrets_resolve_by_path() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    let (status, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets/0?secretPath=%5CUnix%5CProd%5Cdup-name",
    )
    .await;
    assert_eq!((status, body["id"].clone()), (StatusCode::OK, json!(19)));
    let (status, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets/0?secretPath=/Unix//unix-root",
    )
    .await;
    assert_eq!((status, body["id"].clone()), (StatusCode::OK, json!(10)));
    let (status, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets/0?secretPath=%5CUnix%5Cnope",
    )
    .await;
    assert_eq!(
        (status, body["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("API_AccessDenied"))
    );
}

#[tokio::test]
async fn search_filters_pages_and_counts() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    let ids = |body: &serde_json::Value| -> Vec<i64> {
        body["records"]
            .as_array()
            .expect("records")
            .iter()
            .filter_map(|r| r["id"].as_i64())
            .collect()
    };

    // Exact name: both secrets of that name, in two folders.
    let (status, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets?filter.searchText=dup-name&filter.isExactMatch=true&take=50",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ids(&body), [18, 19]);
    assert_eq!(body["records"][0]["folderId"], 2);
    assert_eq!(body["total"], 2);
    // tss-sdk-go's prefix; field values are searched too.
    let (_, body) = api_get(
        &client, &sim, &token,
        "/api/v1/secrets?paging.filter.searchText=ADMINISTRATOR&paging.filter.searchField=username&paging.filter.isExactMatch=true&paging.take=30&&paging.skip=0",
    )
    .await;
    assert_eq!(ids(&body), [12]);
    // Substring search on names; a not-exact match finds all "dup" and "bulk" ones.
    let (_, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets?filter.searchText=dup&take=50",
    )
    .await;
    assert_eq!(ids(&body), [18, 19]);

    // Paging with the default page size, then following nextSkip.
    let (_, page1) = api_get(&client, &sim, &token, "/api/v1/secrets?filter.folderId=3").await;
    assert_eq!(page1["take"], 10);
    assert_eq!(page1["total"], 26);
    assert_eq!(page1["hasNext"], true);
    assert_eq!(page1["nextSkip"], 10);
    assert_eq!(page1["pageCount"], 3);
    let mut seen = ids(&page1);
    let mut skip = page1["nextSkip"].as_i64().expect("nextSkip");
    loop {
        let (_, page) = api_get(
            &client,
            &sim,
            &token,
            &format!("/api/v1/secrets?filter.folderId=3&skip={skip}&take=10"),
        )
        .await;
        seen.extend(ids(&page));
        if page["hasNext"] != true {
            assert_eq!(page["currentPage"], 3);
            break;
        }
        skip = page["nextSkip"].as_i64().expect("nextSkip");
    }
    assert_eq!(seen.len(), 26);

    // Sub-folders, templates, search-total as a bare integer.
    let (_, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets/search-total?filter.folderId=2&filter.includeSubFolders=true",
    )
    .await;
    assert_eq!(
        body,
        json!(30),
        "10, 11, 18 in Unix; 19 and 25 bulk in Prod; 13 and 15 restricted, 16 inactive"
    );
    let (_, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets/search-total?filter.folderId=2",
    )
    .await;
    assert_eq!(body, json!(4), "10, 11, 14, 18");
    let (_, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets/search-total?filter.secretTemplateId=6003",
    )
    .await;
    assert_eq!(body, json!(1));

    // Restricted and inactive secrets only on request; other users' secrets never.
    let (_, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets?filter.searchText=needs&take=50",
    )
    .await;
    assert_eq!(ids(&body), [14]);
    let (_, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets?filter.searchText=needs&filter.includeRestricted=true&take=50",
    )
    .await;
    assert_eq!(ids(&body), [15, 14, 13]);
    let (_, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets?filter.searchText=retired&filter.includeInactive=true",
    )
    .await;
    assert_eq!(ids(&body), [16]);
    let (_, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets?filter.searchText=not-for-svc",
    )
    .await;
    assert_eq!(ids(&body), Vec::<i64>::new());

    // Lookup gives id and name only; sorting by id descending.
    let (_, body) = api_get(&client, &sim, &token, "/api/v1/secrets/lookup?filter.searchText=dup-name&sortBy[0].name=id&sortBy[0].direction=Desc").await;
    assert_eq!(
        body["records"],
        json!([{"id": 19, "value": "dup-name"}, {"id": 18, "value": "dup-name"}])
    );

    // Bad parameters are named.
    let (status, body) = api_get(&client, &sim, &token, "/api/v1/secrets?take=lots").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body["modelState"].get("take").is_some(), "{body}");
    let (status, body) = api_get(&client, &sim, &token, "/api/v1/secrets?take=99999999999").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "beyond Int32: {body}");
    let (status, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets?take=2147483647&skip=2147483647",
    )
    .await;
    assert_eq!(
        (status, body["records"].clone()),
        (StatusCode::OK, json!([]))
    );
    let (status, body) = api_get(&client, &sim, &token, "/api/v1/secrets?skip=-1").await;
    assert_eq!(
        (status, body["modelState"]["skip"].is_array()),
        (StatusCode::BAD_REQUEST, true)
    );
}

#[tokio::test]
async fn comment_required_until_a_comment_is_given() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    let (status, body) = api_get(&client, &sim, &token, "/api/v1/secrets/13").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["message"],
        "The requested Secret requires a comment when viewed."
    );
    assert_eq!(body["errorCode"], "API_ValidateSecretAccessCommentRequired");
    let (_, state) = api_get(&client, &sim, &token, "/api/v1/secrets/13/state").await;
    assert_eq!(state["secretState"], "RequiresComment");
    let (status, _) = api_get(&client, &sim, &token, "/api/v1/secrets/13?autoComment=").await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "an empty comment is no comment"
    );

    let (status, body) = api_get(
        &client,
        &sim,
        &token,
        "/api/v1/secrets/13?autoComment=scan%2042",
    )
    .await;
    assert_eq!(
        (status, body["name"].clone()),
        (StatusCode::OK, json!("needs-comment"))
    );
    // The comment holds for the rest of that session.
    assert_eq!(
        api_get(&client, &sim, &token, "/api/v1/secrets/13/fields/password").await,
        (StatusCode::OK, json!("comment-pw"))
    );
    let (_, state) = api_get(&client, &sim, &token, "/api/v1/secrets/13/state").await;
    assert_eq!(state["secretState"], "None");

    // A new session needs its own comment, here through the restricted endpoints.
    let token = svc_token(&client, &sim).await;
    let (status, _) = api_post(
        &client,
        &sim,
        &token,
        "/api/v1/secrets/13/restricted",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, value) = api_post(
        &client,
        &sim,
        &token,
        "/api/v1/secrets/13/restricted/fields/password",
        json!({"comment": "job 7"}),
    )
    .await;
    assert_eq!((status, value), (StatusCode::OK, json!("comment-pw")));

    let token = svc_token(&client, &sim).await;
    let (status, value) = api_post(
        &client,
        &sim,
        &token,
        "/api/v1/secret-access-requests/secrets/13/view-comment",
        json!({"comment": "job 8"}),
    )
    .await;
    assert_eq!((status, value), (StatusCode::OK, json!(true)));
    assert_eq!(
        api_get(&client, &sim, &token, "/api/v1/secrets/13").await.0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn check_out_and_check_in() {
    let sim = sim().await;
    let client = client(&sim);
    let svc = svc_token(&client, &sim).await;
    let other = token_for(&client, &sim, OTHER_USER, OTHER_PASSWORD).await;
    let (status, body) = api_get(&client, &sim, &svc, "/api/v1/secrets/14").await;
    assert_eq!(
        (status, body["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("API_CheckOutRequired"))
    );
    let (_, state) = api_get(&client, &sim, &svc, "/api/v1/secrets/14/state").await;
    assert_eq!(state["secretState"], "RequiresCheckout");
    assert_eq!(state["actions"], json!(["Checkout", "ViewAudit"]));

    let (status, body) = api_post(
        &client,
        &sim,
        &svc,
        "/api/v1/secrets/14/check-out",
        json!(null),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!({"responseCodes": []}))
    );
    let (status, s) = api_get(&client, &sim, &svc, "/api/v1/secrets/14").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(s["checkedOut"], true);
    assert_eq!(s["checkOutUserDisplayName"], "svc-scan");
    let (_, state) = api_get(&client, &sim, &svc, "/api/v1/secrets/14/state").await;
    assert_eq!(
        (
            state["secretState"].clone(),
            state["isCheckedOutByCurrentUser"].clone()
        ),
        (json!("None"), json!(true))
    );

    // Someone else is told it is checked out, whether reading, checking out or checking in.
    let held = json!("API_SecretCheckedOutByAnotherUser");
    assert_eq!(
        api_get(&client, &sim, &other, "/api/v1/secrets/14").await.1["errorCode"],
        held
    );
    assert_eq!(
        api_post(
            &client,
            &sim,
            &other,
            "/api/v1/secrets/14/check-out",
            json!({})
        )
        .await
        .1["errorCode"],
        held
    );
    assert_eq!(
        api_post(
            &client,
            &sim,
            &other,
            "/api/v1/secrets/14/check-in",
            json!({})
        )
        .await
        .1["errorCode"],
        held
    );

    let (status, summary) = api_post(
        &client,
        &sim,
        &svc,
        "/api/v1/secrets/14/check-in",
        json!({}),
    )
    .await;
    assert_eq!(
        (status, summary["checkedOut"].clone()),
        (StatusCode::OK, json!(false))
    );
    // autoCheckout on the read itself; noAutoCheckout wins over it.
    let (status, _) = api_get(
        &client,
        &sim,
        &other,
        "/api/v1/secrets/14?autoCheckout=true&noAutoCheckout=true",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, value) = api_get(
        &client,
        &sim,
        &other,
        "/api/v1/secrets/14/fields/password?autoCheckout=true",
    )
    .await;
    assert_eq!((status, value), (StatusCode::OK, json!("checkout-pw")));
    // forceCheckIn takes it back.
    let (status, _) = api_post(
        &client,
        &sim,
        &svc,
        "/api/v1/secrets/14/check-in",
        json!({"forceCheckIn": true}),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (_, state) = api_get(&client, &sim, &other, "/api/v1/secrets/14/state").await;
    assert_eq!(state["isCheckedOut"], false);
}

#[tokio::test]
async fn approval_required_secrets_stay_closed() {
    let sim = sim().await;
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    let (status, body) = api_get(&client, &sim, &token, "/api/v1/secrets/15?autoComment=x").await;
    assert_eq!(
        (status, body["errorCode"].clone()),
        (StatusCode::BAD_REQUEST, json!("API_AccessRequestRequired"))
    );
    let (_, state) = api_get(&client, &sim, &token, "/api/v1/secrets/15/state").await;
    assert_eq!(state["secretState"], "RequiresApproval");
    let (status, summary) = api_get(&client, &sim, &token, "/api/v1/secrets/15/summary").await;
    assert_eq!(
        (status, summary["requiresApproval"].clone()),
        (StatusCode::OK, json!(true))
    );
}

#[tokio::test]
async fn health_endpoints_are_anonymous_and_platform_paths_are_404() {
    // The OpenAPI model's camelCase-only body (the default adds "Healthy", checked below).
    let sim = sim_with(|c| c.health_pascal_key = false).await;
    let client = client(&sim);
    let (status, body) = json_of(
        client
            .get(format!("{}/api/v1/healthcheck", sim.base_url()))
            .send()
            .await
            .expect("health"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["healthy"], true);
    assert_eq!(body["databaseHealthy"], true);
    assert!(body.get("Healthy").is_none());
    let (status, body) = json_of(
        client
            .get(format!("{}/healthcheck.aspx", sim.base_url()))
            .send()
            .await
            .expect("health"),
    )
    .await;
    assert_eq!(
        (status, body["healthy"].clone()),
        (StatusCode::OK, json!(true))
    );
    for path in [
        "/health",
        "/identity/api/oauth2/token/xpmplatform",
        "/vaultbroker/api/vaults",
    ] {
        let r = client
            .get(format!("{}{path}", sim.base_url()))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .is_ok_and(|c| c.starts_with("text/html"))
        );
    }

    // The default, as the vendor's clients find real servers answering.
    let sim = sim_with(|_| {}).await;
    let (_, body) = json_of(
        client
            .get(format!("{}/api/v1/healthcheck", sim.base_url()))
            .send()
            .await
            .expect("health"),
    )
    .await;
    assert_eq!(
        (body["Healthy"].clone(), body["healthy"].clone()),
        (json!(true), json!(true))
    );
}

#[tokio::test]
async fn the_application_root_is_configurable() {
    let sim = sim_with(|c| c.app_root = String::new()).await;
    assert!(!sim.base_url().ends_with('/'));
    let client = client(&sim);
    let token = svc_token(&client, &sim).await;
    assert_eq!(
        api_get(&client, &sim, &token, "/api/v1/secrets/10").await.0,
        StatusCode::OK
    );

    let sim = sim_with(|c| c.app_root = "/SS/".into()).await;
    assert!(sim.base_url().ends_with("/SS"));
    // Outside the root is IIS's 404.
    let r = client
        .get(sim.base_url().replace("/SS", "/SecretServer") + "/api/v1/healthcheck")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}
