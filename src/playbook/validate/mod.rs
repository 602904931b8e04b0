//! Validation: from the raw documents to the `Plan`, collecting every diagnostic on the way.
//! Pure: it reads no secret, opens no connection and touches no store. The only files it
//! reads are CSV calendars the playbooks name, which are part of the playbooks, and the
//! certificate and key of `server: tls:`, checked so that `crier run` can serve HTTPS.

mod campaign;
mod config;
mod contest;
mod crisis;
mod expand;
mod names;
mod rules;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta};
use chrono_tz::Tz;

use super::load::{Kind, Loaded};
use super::plan::{Account, PersonPlan, Plan};
use super::sources::Sources;
use super::yaml::{DeError, Node, Spanned, read_node};
use crate::diagnostic::{Diagnostic, did_you_mean};
use crate::network::Capabilities;
use crate::playbook::raw::Network;
use crate::schedule::{self, TimeError};
use crate::script::{Condition, ConditionContext, ScriptEngine};
use crate::text::TextTemplates;

/// The outcome of validation: a plan when there is no error, and every diagnostic
/// (warnings too) in file order.
pub struct Validated {
    pub plan: Option<Plan>,
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
    /// The CSV calendars the playbooks named, as read: part of the playbooks' content.
    pub calendars: Vec<crate::diagnostic::SourceFile>,
}

impl Validated {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Validates everything loaded from a folder; `day_one: first-run` counts from today.
pub fn validate(loaded: Loaded, scripts: &ScriptEngine, texts: &TextTemplates) -> Validated {
    validate_from(loaded, scripts, texts, None)
}

/// The same, where `day_one: first-run` counts from `first_run` (the day the store first
/// ran, or a rehearsal's first day) instead of today.
pub fn validate_from(
    loaded: Loaded,
    scripts: &ScriptEngine,
    texts: &TextTemplates,
    first_run: Option<NaiveDate>,
) -> Validated {
    let Loaded {
        root,
        sources,
        config,
        documents,
        diagnostics,
    } = loaded;
    let mut v = Validator {
        root: root.clone(),
        sources: &sources,
        diagnostics,
        scripts,
        texts,
        timezone: Tz::UTC,
        accounts: BTreeMap::new(),
        people: BTreeMap::new(),
        server: Default::default(),
        references_unreliable: false,
        http: Default::default(),
        cron_rules: Default::default(),
        day_one: None,
        calendars: Vec::new(),
        hooks: Default::default(),
    };
    let store = v.config(config.as_ref(), first_run);
    v.unique_names(&documents);
    // Templates are kept whole for the campaigns that use them; every other document is
    // validated and dropped in turn.
    let (template_documents, documents): (Vec<_>, Vec<_>) = documents
        .into_iter()
        .partition(|document| document.kind == Kind::Template);
    let templates = expand::Templates::new(&mut v, &template_documents);
    let mut plan = Plan {
        root,
        timezone: v.timezone,
        store,
        day_one: v.day_one,
        http: v.http,
        accounts: BTreeMap::new(),
        people: BTreeMap::new(),
        server: std::mem::take(&mut v.server),
        campaigns: Vec::new(),
        templates: templates.names(),
        contests: Vec::new(),
        crises: Vec::new(),
        rules: Vec::new(),
    };
    let mut parsed = None;
    for document in documents {
        let kind = document.kind;
        let node = document.tree(&sources, &mut parsed);
        match kind {
            Kind::Template => {}
            Kind::Campaign => {
                if let Some(campaign) = v.campaign(&node, &templates) {
                    plan.campaigns.push(campaign);
                }
            }
            Kind::Contest => {
                if let Some(contest) = v.contest(&node) {
                    plan.contests.push(contest);
                }
            }
            Kind::Crisis => {
                if let Some(crisis) = v.crisis(&node) {
                    plan.crises.push(crisis);
                }
            }
            Kind::Rules => {
                if let Some(rules) = v.rules(&node) {
                    plan.rules.push(rules);
                }
            }
        }
    }
    plan.accounts = std::mem::take(&mut v.accounts);
    plan.people = std::mem::take(&mut v.people);
    let calendars = std::mem::take(&mut v.calendars);
    let mut diagnostics = v.diagnostics;
    diagnostics.extend(rules::contradictions(&plan.rules));
    diagnostics.sort_by(|a, b| (&a.file, a.position).cmp(&(&b.file, b.position)));
    diagnostics.dedup();
    let ok = !diagnostics.iter().any(Diagnostic::is_error);
    Validated {
        plan: ok.then_some(plan),
        diagnostics,
        sources,
        calendars,
    }
}

pub(crate) struct Validator<'a> {
    /// The folder of `crier.yaml`: relative paths are from here.
    root: PathBuf,
    sources: &'a Sources,
    diagnostics: Vec<Diagnostic>,
    scripts: &'a ScriptEngine,
    texts: &'a TextTemplates,
    timezone: Tz,
    accounts: BTreeMap<String, Account>,
    people: BTreeMap<String, PersonPlan>,
    server: crate::playbook::plan::ServerPlan,
    /// `crier.yaml` could not be read, so account and person names cannot be checked.
    references_unreliable: bool,
    http: crate::playbook::plan::HttpOptions,
    /// Parsed cron rules by source: many items share a rule, and a parsed one is large.
    cron_rules: std::collections::HashMap<String, Arc<crate::schedule::CronSchedule>>,
    /// What `day N` counts from (`crier.yaml`'s `day_one:`).
    day_one: Option<super::plan::DayOne>,
    /// The calendars read so far.
    calendars: Vec<crate::diagnostic::SourceFile>,
    /// Hooks declared so far, and the campaign declaring each (names are unique).
    hooks: std::collections::HashMap<String, String>,
}

impl Validator<'_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.diagnostics.push(diagnostic);
    }

    fn error<T>(&mut self, at: &Spanned<T>, message: impl Into<String>, hint: Option<String>) {
        let diagnostic = self.sources.error(at, message).with_optional_hint(hint);
        self.push(diagnostic);
    }

    /// Reads a document into `T`, reporting structural errors; the value is there when
    /// it is worth validating further.
    fn read<'n, T: serde::Deserialize<'n>>(&mut self, node: &'n Node) -> Option<T> {
        let (value, errors) = read_node(node);
        self.structural(errors);
        value
    }

    /// Reports structural errors.
    fn structural(&mut self, errors: Vec<DeError>) {
        for error in errors {
            let source = self.sources.get(error.file);
            let diagnostic = match error.position {
                Some(position) => Diagnostic::error(source, position, error.message),
                None => Diagnostic::file_error(&source.path, error.message),
            };
            self.push(diagnostic.with_optional_hint(error.hint));
        }
    }

    fn time_error(&mut self, at: &Spanned<String>, error: TimeError) {
        let diagnostic = self
            .sources
            .error_at_offset(at, error.offset, error.len, error.message)
            .with_optional_hint(error.hint);
        self.push(diagnostic);
    }

    fn zone(&mut self, name: Option<&Spanned<String>>) -> Tz {
        match name {
            None => self.timezone,
            Some(name) => match schedule::parse_timezone(name) {
                Ok(tz) => tz,
                Err(error) => {
                    self.time_error(name, error);
                    self.timezone
                }
            },
        }
    }

    /// The date `day N` counts from, if any.
    fn day_one_date(&self) -> Option<NaiveDate> {
        self.day_one.map(|day_one| day_one.date)
    }

    fn datetime(&mut self, at: &Spanned<String>, tz: Tz) -> Option<DateTime<Tz>> {
        schedule::parse_local_datetime_from(at.trim(), tz, self.day_one_date())
            .map_err(|error| self.time_error(at, error))
            .ok()
    }

    fn duration(&mut self, at: &Spanned<String>) -> Option<TimeDelta> {
        schedule::parse_duration(at.trim())
            .map_err(|error| self.time_error(at, error))
            .ok()
    }

    /// Checks that `name` is an account of `crier.yaml`.
    fn account(&mut self, name: &Spanned<String>) -> bool {
        if self.references_unreliable || self.accounts.contains_key(name.as_str()) {
            return true;
        }
        let hint = did_you_mean(name, self.accounts.keys().map(String::as_str)).or_else(|| {
            Some(if self.accounts.is_empty() {
                "declare accounts under `accounts:` in `crier.yaml`".into()
            } else {
                format!(
                    "accounts are declared in `crier.yaml`: {}",
                    quoted_list(self.accounts.keys())
                )
            })
        });
        self.error(name, format!("unknown account `{}`", name.value), hint);
        false
    }

    /// Checks that account `name`, if known, is on a network that can do what `needed` asks;
    /// `asked_by` names the playbook field that asks ("`media:`").
    fn account_can(&mut self, name: &Spanned<String>, needed: Capabilities, asked_by: &str) {
        if let Some(diagnostic) = self.capability_error(&name.value, needed, asked_by, |message| {
            self.sources.error(name, message)
        }) {
            self.push(diagnostic);
        }
    }

    /// Refuses a post without media to an account whose network needs it (Instagram, YouTube).
    fn account_posts_without_media(&mut self, name: &Spanned<String>) {
        let Some(network) = self.accounts.get(&name.value).map(|a| a.network) else {
            return;
        };
        if let Some(what) = network.required_media() {
            let diagnostic = self
                .sources
                .error(
                    name,
                    format!(
                        "account `{}` is on {}, which cannot post without {what}",
                        name.value,
                        network.name()
                    ),
                )
                .with_hint(format!("add `media:` with {what} to this post"));
            self.push(diagnostic);
        }
    }

    /// The error for an account whose network lacks what `needed` asks, built by `at`.
    fn capability_error(
        &self,
        account: &str,
        needed: Capabilities,
        asked_by: &str,
        at: impl FnOnce(String) -> Diagnostic,
    ) -> Option<Diagnostic> {
        let declared = self.accounts.get(account)?;
        let network = declared.network;
        let mut capabilities = Capabilities::of(network);
        // LinkedIn lets only approved partners read the comments on a member's posts.
        let member = network == Network::Linkedin
            && declared
                .config
                .author
                .as_ref()
                .is_some_and(|a| a.value.trim().starts_with("urn:li:person:"));
        if member {
            capabilities.read_mentions = false;
        }
        let missing = capabilities.missing(needed);
        let first = *missing.first()?;
        let able: Vec<&str> = Network::ALL
            .iter()
            .filter(|n| Capabilities::of(**n).missing(needed).is_empty())
            .map(|n| n.name())
            .collect();
        let message = format!(
            "account `{account}` is on {}{}, which cannot {}",
            network.name(),
            if member { " as a member" } else { "" },
            missing.join(" or ")
        );
        let hint = format!(
            "{asked_by} needs an account that can {first}{}",
            if able.is_empty() {
                String::new()
            } else {
                format!(" ({})", able.join(", "))
            }
        );
        Some(at(message).with_hint(hint))
    }

    fn accounts(&mut self, names: &[Spanned<String>]) -> Vec<String> {
        names
            .iter()
            .filter(|name| self.account(name))
            .map(|name| name.value.clone())
            .collect()
    }

    /// Checks that `name` is a person of `crier.yaml`.
    fn person(&mut self, name: &Spanned<String>) -> bool {
        if self.references_unreliable || self.people.contains_key(name.as_str()) {
            return true;
        }
        let hint = did_you_mean(name, self.people.keys().map(String::as_str))
            .or_else(|| Some("people are declared under `people:` in `crier.yaml`".into()));
        self.error(name, format!("unknown person `{}`", name.value), hint);
        false
    }

    fn condition(
        &mut self,
        source: &Spanned<String>,
        context: ConditionContext,
    ) -> Option<Arc<Condition>> {
        match self.scripts.compile(source, context) {
            Ok(condition) => Some(Arc::new(condition)),
            Err(error) => {
                let hint = event_hint(&error.message).or(error.hint);
                let diagnostic = self
                    .sources
                    .error_inside(source, error.line, error.column, error.len, error.message)
                    .with_optional_hint(hint);
                self.push(diagnostic);
                None
            }
        }
    }

    /// Checks a text template against the variables it will see.
    fn text(&mut self, source: &Spanned<String>, known: &[&str]) {
        if let Err(error) = self.texts.check(source, known) {
            let hint = event_hint(&error.message).or(error.hint);
            let diagnostic = self
                .sources
                .error_inside(
                    source,
                    error.line,
                    error.column,
                    error.len.max(1),
                    error.message,
                )
                .with_optional_hint(hint);
            self.push(diagnostic);
        }
    }

    fn path(&self, file: usize) -> PathBuf {
        self.sources.path(file).to_path_buf()
    }
}

/// Where `event` is unknown, the hint that only posts fired by a hook see it.
fn event_hint(message: &str) -> Option<String> {
    (message == "unknown variable `event`").then(|| {
        "`event` is the body of an inbound event: only posts with `on: { hook: NAME }` see it"
            .to_string()
    })
}

/// A scalar node as a `Spanned<String>` (for fields read before deserialising).
fn spanned_scalar(node: &Node) -> Option<Spanned<String>> {
    Some(Spanned {
        value: node.as_str()?.to_string(),
        mark: node.mark,
        width: node.width,
        style: node.style().unwrap_or_default(),
    })
}

fn quoted_list<'a>(names: impl Iterator<Item = &'a String>) -> String {
    names
        .map(|n| format!("`{n}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The variables a text template sees: the playbook's `vars`, plus what the field adds.
fn known_variables<'a, V>(
    vars: impl IntoIterator<Item = (&'a String, V)>,
    extra: &[&'a str],
) -> Vec<&'a str> {
    vars.into_iter()
        .map(|(k, _)| k.as_str())
        .chain(extra.iter().copied())
        .collect()
}
