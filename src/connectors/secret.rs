//! Secrets: `env:NAME` and `file:PATH` references from `crier.yaml`, resolved when
//! connectors are built. A `Secret` never prints its value, and no error names more than the
//! account and where the value was looked for.

use std::fmt;
use std::path::PathBuf;

/// A resolved secret. `Debug` and `Display` print `Secret(***)`; only `expose` gives the
/// value, to put it on the wire.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// Why a secret could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    #[error("account `{account}`: environment variable `{variable}` is not set")]
    EnvMissing { account: String, variable: String },
    #[error("account `{account}`: environment variable `{variable}` is empty")]
    EnvEmpty { account: String, variable: String },
    #[error("account `{account}`: environment variable `{variable}` is not valid UTF-8")]
    EnvNotUnicode { account: String, variable: String },
    #[error("account `{account}`: cannot read secret file `{}`: {reason}", path.display())]
    FileUnreadable {
        account: String,
        path: PathBuf,
        reason: String,
    },
    #[error("account `{account}`: secret file `{}` is empty", path.display())]
    FileEmpty { account: String, path: PathBuf },
    #[error(
        "account `{account}`: `{field}` must be a reference (`env:NAME` or `file:PATH`), not the secret itself"
    )]
    NotAReference { account: String, field: String },
}

/// Resolves `reference` (the value of `field` of `account`): `env:NAME` reads the
/// environment variable, `file:PATH` reads the file (relative paths from the working
/// directory) and drops its trailing line break.
pub fn resolve(account: &str, field: &str, reference: &str) -> Result<Secret, SecretError> {
    if let Some(variable) = reference.strip_prefix("env:") {
        let variable = variable.trim();
        return match std::env::var(variable) {
            Ok(value) if value.is_empty() => Err(SecretError::EnvEmpty {
                account: account.into(),
                variable: variable.into(),
            }),
            Ok(value) => Ok(Secret(value)),
            Err(std::env::VarError::NotPresent) => Err(SecretError::EnvMissing {
                account: account.into(),
                variable: variable.into(),
            }),
            Err(std::env::VarError::NotUnicode(_)) => Err(SecretError::EnvNotUnicode {
                account: account.into(),
                variable: variable.into(),
            }),
        };
    }
    if let Some(path) = reference.strip_prefix("file:") {
        let path = PathBuf::from(path.trim());
        let mut value = match std::fs::read_to_string(&path) {
            Ok(value) => value,
            Err(err) => {
                return Err(SecretError::FileUnreadable {
                    account: account.into(),
                    path,
                    reason: err.to_string(),
                });
            }
        };
        let kept = value.trim_end_matches(['\n', '\r']).len();
        value.truncate(kept);
        if value.is_empty() {
            return Err(SecretError::FileEmpty {
                account: account.into(),
                path,
            });
        }
        return Ok(Secret(value));
    }
    Err(SecretError::NotAReference {
        account: account.into(),
        field: field.into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_prints_the_value() {
        let secret = Secret::new("hunter2");
        assert_eq!(format!("{secret:?} {secret}"), "Secret(***) Secret(***)");
        assert_eq!(secret.expose(), "hunter2");
    }

    #[test]
    fn literal_values_refused_without_echo() {
        let err = resolve("crm_hook", "secret", "hunter2").unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
        assert!(!format!("{err:?}").contains("hunter2"));
    }
}
