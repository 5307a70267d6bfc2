//! Secret Server SOAP web-service responses (SOAP 1.1 XML), as the vault connector reads them.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealscan_vault::soap::parse;

fuzz_target!(|data: &[u8]| {
    let _ = parse::document(data);
    let _ = parse::fault(data);
    let _ = parse::authenticate(data);
    let _ = parse::search(data);
    let _ = parse::folders(data);
    let _ = parse::get_secret(data);
});
