//! Secret Server REST response bodies, as the vault connector reads them: attacker-shaped when
//! the vault URL points somewhere hostile, so they must never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sealscan_vault::rest::parse;

fuzz_target!(|data: &[u8]| {
    let _ = parse::token(data);
    let _ = parse::error_body(data).text().map(str::len);
    let _ = parse::search_page(data);
    let _ = parse::folder_page(data);
    let _ = parse::secret(data);
    let _ = parse::field_text(data);
    let _ = parse::state(data);
});
