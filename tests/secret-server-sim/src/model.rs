//! The JSON shapes of the REST API (SecretModel, SecretSummary), camelCase like Secret Server.

use serde_json::{Value, json};

use crate::access;
use crate::seed::{Item, ItemValue, Secret};
use crate::state::{Caller, Shared};
use crate::time_fmt::{NEVER, SEEDED_AT};

/// What real servers put in `itemValue` for a file field.
pub(crate) const FILE_PLACEHOLDER: &str = "*** Not Valid For Display ***";

fn item_json(item: &Item) -> Value {
    let (value, attachment, filename) = match &item.value {
        ItemValue::Text(t) => (t.as_str(), Value::Null, Value::Null),
        ItemValue::NoFile => ("", Value::Null, Value::Null),
        ItemValue::File {
            attachment_id,
            file_name,
            ..
        } => (FILE_PLACEHOLDER, json!(attachment_id), json!(file_name)),
    };
    json!({
        "itemId": item.item_id,
        "fieldId": item.field_id,
        "fieldName": item.field_name,
        "slug": item.slug,
        "fieldDescription": "",
        "itemValue": value,
        "isPassword": item.is_password,
        "isFile": item.is_file(),
        "isNotes": item.is_notes,
        "isList": false,
        "listType": "None",
        "fileAttachmentId": attachment,
        "filename": filename,
    })
}

fn checkout_fields(shared: &Shared, secret: &Secret) -> (bool, i64, String) {
    match access::holder(shared, secret.id).and_then(|u| shared.user(u).map(|x| (u, x))) {
        Some((index, user)) => (true, index as i64 + 1, user.display_name()),
        None => (false, -1, String::new()),
    }
}

/// `GET /api/v1/secrets/{id}` (SecretModel).
pub(crate) fn secret_model(shared: &Shared, secret: &Secret) -> Value {
    let (checked_out, holder_id, holder_name) = checkout_fields(shared, secret);
    let items: Vec<Value> = secret.items.iter().map(item_json).collect();
    json!({
        "id": secret.id,
        "name": secret.name,
        "folderId": secret.folder_id.unwrap_or(-1),
        "secretTemplateId": secret.template.id,
        "secretTemplateName": secret.template.name,
        "siteId": 1,
        "active": secret.active,
        "checkedOut": checked_out,
        "checkOutEnabled": secret.check_out_enabled,
        "checkOutIntervalMinutes": if secret.check_out_enabled { 30 } else { -1 },
        "checkOutMinutesRemaining": if checked_out { json!(30) } else { Value::Null },
        "checkOutUserDisplayName": holder_name,
        "checkOutUserId": holder_id,
        "checkOutChangePasswordEnabled": false,
        "requiresComment": secret.requires_comment,
        "requiresApprovalForAccess": secret.requires_approval,
        "isRestricted": secret.is_restricted(),
        "isDoubleLock": false,
        "doubleLockId": -1,
        "autoChangeEnabled": false,
        "autoChangeNextPassword": null,
        "enableInheritPermissions": true,
        "enableInheritSecretPolicy": true,
        "secretPolicyId": -1,
        "passwordTypeWebScriptId": -1,
        "launcherConnectAsSecretId": -1,
        "proxyEnabled": false,
        "sessionRecordingEnabled": false,
        "restrictSshCommands": false,
        "allowOwnersUnrestrictedSshCommands": false,
        "webLauncherRequiresIncognitoMode": false,
        "isOutOfSync": false,
        "outOfSyncReason": "",
        "failedPasswordChangeAttempts": 0,
        "lastHeartBeatStatus": "Success",
        "lastHeartBeatCheck": SEEDED_AT,
        "lastPasswordChangeAttempt": NEVER,
        "accessRequestWorkflowMapId": -1,
        "jumpboxRouteId": null,
        "responseCodes": [],
        "items": items,
    })
}

/// A search record / `GET /secrets/{id}/summary` (SecretSummary).
pub(crate) fn summary(shared: &Shared, secret: &Secret) -> Value {
    let (checked_out, _, _) = checkout_fields(shared, secret);
    let extended: Vec<Value> = secret
        .items
        .iter()
        .filter(|i| i.slug == "username" || i.slug == "machine" || i.slug == "domain")
        .filter_map(|i| match &i.value {
            ItemValue::Text(t) => Some(json!({"name": i.field_name, "value": t})),
            _ => None,
        })
        .collect();
    json!({
        "id": secret.id,
        "name": secret.name,
        "folderId": secret.folder_id.unwrap_or(-1),
        "secretTemplateId": secret.template.id,
        "secretTemplateName": secret.template.name,
        "siteId": 1,
        "active": secret.active,
        "checkedOut": checked_out,
        "checkOutEnabled": secret.check_out_enabled,
        "requiresComment": secret.requires_comment,
        "requiresApproval": secret.requires_approval,
        "isRestricted": secret.is_restricted(),
        "doubleLockEnabled": false,
        "isOutOfSync": false,
        "outOfSyncReason": "",
        "autoChangeEnabled": false,
        "daysUntilExpiration": null,
        "createDate": SEEDED_AT,
        "lastAccessed": null,
        "lastHeartBeatStatus": "Success",
        "lastPasswordChangeAttempt": NEVER,
        "hidePassword": false,
        "hasLauncher": false,
        "inheritsPermissions": true,
        "responseCodes": [],
        "extendedFields": extended,
    })
}

/// `GET /secrets/{id}/state` (SecretDetailStateViewModel).
pub(crate) fn state(shared: &Shared, caller: &Caller, secret: &Secret) -> Value {
    let state = access::state_name(shared, caller, secret);
    let holder = access::holder(shared, secret.id);
    let mine = holder == Some(caller.user);
    let mut actions = Vec::new();
    if secret.check_out_enabled {
        if holder.is_none() {
            actions.push("Checkout");
        } else if mine {
            actions.push("Checkin");
        } else {
            actions.push("ForceCheckin");
        }
    }
    actions.push("ViewAudit");
    let folder_name = secret
        .folder_id
        .and_then(|f| shared.seed.folder(f))
        .map(|f| f.name.clone())
        .unwrap_or_default();
    let holder_user = holder.and_then(|h| shared.user(h).map(|u| (h, u)));
    json!({
        "id": secret.id,
        "secretName": secret.name,
        "folderId": secret.folder_id.unwrap_or(-1),
        "folderName": folder_name,
        "isActive": secret.active,
        "role": "View",
        "secretState": state,
        "approvalEnd": null,
        "passwordChangePending": false,
        "isCheckedOut": secret.check_out_enabled.then_some(holder.is_some()),
        "isCheckedOutByCurrentUser": secret.check_out_enabled.then_some(mine),
        "checkedOutUserDisplayName": holder_user.map(|(_, u)| u.display_name()),
        "checkedOutUserId": holder_user.map(|(index, _)| index as i64 + 1),
        "checkOutIntervalMinutes": if secret.check_out_enabled { 30 } else { -1 },
        "checkOutMinutesRemaining": if holder.is_some() { json!(30) } else { Value::Null },
        "actions": actions,
    })
}
