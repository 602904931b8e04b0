//! The YAML parser and the playbook validator on arbitrary bytes, as a playbook file.
#![no_main]

use crier::diagnostic::SourceFile;
use crier::playbook::yaml::parse_documents;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let source = SourceFile::new("fuzz.yaml", text.as_ref());
    let (_, diagnostics) = parse_documents(&source, 0);
    for diagnostic in diagnostics {
        let _ = diagnostic.to_string();
    }
    // The whole loader, folder walk and validation included, every so often (it writes files).
    if data.first() == Some(&b'k') {
        let dir = tempfile::TempDir::new().unwrap();
        std::fs::write(dir.path().join("fuzz.yaml"), data).unwrap();
        if let Ok(loaded) = crier::playbook::load::load_path(dir.path()) {
            let _ = crier::playbook::validate::validate(
                loaded,
                &crier::script::ScriptEngine::new(),
                &crier::text::TextTemplates::new(),
            );
        }
    }
});
