//! The text template checker on arbitrary text, and rendering what it accepts: within the
//! rendering budget, whatever the template.
#![no_main]

use crier::text::TextTemplates;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|source: &str| {
    let texts = TextTemplates::new();
    if texts.check(source, &["product", "n"]).is_ok() {
        let context = serde_json::json!({ "product": "Boots", "n": 100000 });
        let _ = texts.render(source, &context);
    }
});
