//! Playbook names are unique across everything loaded; a duplicate names both places.

use std::collections::HashMap;

use super::Validator;
use crate::playbook::load::Document;
use crate::playbook::yaml::Node;

impl Validator<'_> {
    pub(super) fn unique_names(&mut self, documents: &[Document]) {
        let mut seen: HashMap<&str, &Node> = HashMap::new();
        for document in documents {
            let Some(name) = &document.name else {
                continue;
            };
            let Some(text) = name.as_str() else { continue };
            if let Some(first) = seen.get(text) {
                let diagnostic = self
                    .sources
                    .error_node(name, format!("duplicate name `{text}`"))
                    .with_hint(format!(
                        "`{text}` is already the name of a playbook at {}; names are unique across all playbooks",
                        self.sources.describe(first.mark)
                    ));
                self.push(diagnostic);
            } else {
                seen.insert(text, name);
            }
        }
    }
}
