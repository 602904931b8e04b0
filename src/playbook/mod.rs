//! Playbooks: reading `crier.yaml` and the playbook files, validating them with precise
//! diagnostics, and building the validated `Plan` that every later stage runs on.

pub mod raw;
pub mod yaml;
