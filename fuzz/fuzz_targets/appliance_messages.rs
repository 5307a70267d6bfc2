//! Every control-plane ↔ appliance body the agent or the control plane parses. Whatever parses
//! must serialize and parse again to the same JSON (no value is lost or invented on the way).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealscan_protocols::appliance::{
    ClaimRequest, EnrollPollRequest, EnrollRequest, EnrollResponse, EnrollState, HeartbeatResponse,
    Job, ResultAck, ResultPost, RewrapSubmit, RewrapWork,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

fn round_trip<T: Serialize + DeserializeOwned>(data: &[u8]) {
    if let Ok(value) = serde_json::from_slice::<T>(data) {
        let first = serde_json::to_string(&value).expect("a parsed value serializes");
        let again: T = serde_json::from_str(&first).expect("our own output parses");
        let second = serde_json::to_string(&again).expect("serializes again");
        assert_eq!(first, second, "JSON round trip changed the value");
    }
}

fuzz_target!(|data: &[u8]| {
    // The first byte picks the message so that the corpus specialises per type.
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    match which % 11 {
        0 => round_trip::<Job>(body),
        1 => round_trip::<RewrapWork>(body),
        2 => round_trip::<EnrollState>(body),
        3 => round_trip::<HeartbeatResponse>(body),
        4 => round_trip::<ResultAck>(body),
        5 => round_trip::<ClaimRequest>(body),
        6 => round_trip::<ResultPost>(body),
        7 => round_trip::<RewrapSubmit>(body),
        8 => round_trip::<EnrollRequest>(body),
        9 => round_trip::<EnrollResponse>(body),
        _ => round_trip::<EnrollPollRequest>(body),
    }
});
