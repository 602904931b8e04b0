//! Templates: `uses:` + `with:` expanded on the YAML tree, before a campaign is read.
//! Typed parameters are checked where `with:` gives them; a value that is exactly
//! `{{ param }}` or `{{ param ± duration }}` is replaced by the parameter (so `to:` can be a
//! list of accounts and `at:` a shifted datetime); texts see the parameters as variables.
//! A template may use another; a cycle is an error naming the chain.

use std::collections::HashMap;

use chrono::TimeDelta;
use chrono_tz::Tz;

use super::campaign::CAMPAIGN_TEXT_VARIABLES;
use super::{Validator, spanned_scalar};
use crate::diagnostic::did_you_mean;
use crate::playbook::load::{Document, Kind};
use crate::playbook::raw::{ParamType, Template};
use crate::playbook::yaml::{Node, NodeKind, from_node};
use crate::schedule::{self, resolve_local};
use crate::script::ConditionContext;

pub(crate) struct Templates<'d> {
    by_name: HashMap<String, (&'d Node, Template)>,
}

/// What a template contributes to a campaign.
pub(super) struct Expansion {
    pub posts: Vec<Node>,
    pub vars: serde_json::Map<String, serde_json::Value>,
}

impl<'d> Templates<'d> {
    pub(super) fn new(v: &mut Validator, documents: &'d [Document]) -> Self {
        let mut by_name = HashMap::new();
        let trees = documents
            .iter()
            .filter(|d| d.kind == Kind::Template)
            .filter_map(|d| d.node.as_ref());
        for node in trees {
            match from_node::<Template>(node) {
                Ok(template) => {
                    by_name.insert(template.name.value.clone(), (node, template));
                }
                Err(errors) => v.structural(errors),
            }
        }
        let templates = Templates { by_name };
        templates.check_alone(v);
        templates
    }

    /// Checks each template's own texts and conditions, so a mistake in a template is found
    /// even before a campaign uses it. Texts see the parameters and `vars` of the template
    /// and of those it uses, besides what every campaign text sees.
    fn check_alone(&self, v: &mut Validator) {
        let mut names: Vec<&String> = self.by_name.keys().collect();
        names.sort();
        for name in names {
            let (_, template) = &self.by_name[name];
            let mut variables: Vec<&str> = CAMPAIGN_TEXT_VARIABLES.to_vec();
            let mut next = Some(template);
            let mut seen = Vec::new();
            while let Some(current) = next.filter(|t| !seen.contains(&t.name.as_str())) {
                seen.push(current.name.as_str());
                variables.extend(
                    current
                        .params
                        .keys()
                        .chain(current.vars.keys())
                        .map(String::as_str),
                );
                next = current
                    .uses
                    .as_ref()
                    .and_then(|uses| self.by_name.get(uses.as_str()))
                    .map(|(_, t)| t);
            }
            for post in &template.posts {
                // A post fired by a hook also sees the event.
                let (context, mut known) = match &post.on {
                    Some(_) => (ConditionContext::HookWhen, variables.clone()),
                    None => (ConditionContext::CampaignWhen, Vec::new()),
                };
                if let Some(text) = &post.text {
                    if post.on.is_some() {
                        known.push(super::campaign::HOOK_TEXT_VARIABLE);
                        v.text(text, &known);
                    } else {
                        v.text(text, &variables);
                    }
                }
                if let Some(when) = &post.when {
                    v.condition(when, context);
                }
            }
        }
    }

    pub(super) fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.by_name.keys().cloned().collect();
        names.sort();
        names
    }
}

/// `{{ name }}` or `{{ name + 3d }}` / `{{ name - 2h }}`, the whole of a scalar.
fn placeholder(text: &str) -> Option<(&str, Option<(i32, &str)>)> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let end = inner
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(inner.len());
    let (name, rest) = inner.split_at(end);
    if name.is_empty() {
        return None;
    }
    let rest = rest.trim();
    if rest.is_empty() {
        return Some((name, None));
    }
    let (sign, amount) = match rest.split_at(1) {
        ("+", amount) => (1, amount.trim()),
        ("-", amount) => (-1, amount.trim()),
        _ => return None,
    };
    Some((name, Some((sign, amount))))
}

/// A resolved parameter: the node to substitute, and its value for texts.
struct Resolved {
    kind: ParamType,
    node: Node,
    json: serde_json::Value,
}

impl Validator<'_> {
    /// Expands the template a `uses:` node names. `with` is the `with:` map (if any).
    pub(super) fn expand(
        &mut self,
        templates: &Templates,
        uses: &Node,
        with: Option<&Node>,
        tz: Tz,
        chain: &mut Vec<String>,
    ) -> Option<Expansion> {
        let name = uses.as_str().unwrap_or_default();
        let Some((template_node, template)) = templates.by_name.get(name) else {
            let hint = did_you_mean(name, templates.by_name.keys().map(String::as_str))
                .or_else(|| Some("templates are playbooks with `kind: template`".into()));
            let diagnostic = self
                .sources
                .error_node(uses, format!("unknown template `{name}`"))
                .with_optional_hint(hint);
            self.push(diagnostic);
            return None;
        };
        if chain.iter().any(|n| n == name) {
            let cycle = chain
                .iter()
                .chain(std::iter::once(&name.to_string()))
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(" -> ");
            let diagnostic = self
                .sources
                .error_node(
                    uses,
                    format!("templates use each other in a cycle: {cycle}"),
                )
                .with_hint(
                    "a template may use another, but never itself, directly or through others",
                );
            self.push(diagnostic);
            return None;
        }
        chain.push(name.to_string());
        let params = self.resolve_params(template_node, template, uses, with, tz)?;

        let mut posts = Vec::new();
        let mut vars = serde_json::Map::new();
        if let Some(inner_uses) = template_node.get("uses") {
            let inner_with = template_node
                .get("with")
                .map(|w| self.substitute(w, &params, tz));
            let inner = self.expand(templates, inner_uses, inner_with.as_ref(), tz, chain)?;
            posts.extend(inner.posts);
            vars.extend(inner.vars);
        }
        for (key, value) in &template.vars {
            vars.insert(key.clone(), value.clone());
        }
        for (key, param) in &params {
            vars.insert(key.clone(), param.json.clone());
        }
        if let Some(NodeKind::Sequence(items)) = template_node.get("posts").map(|p| &p.kind) {
            posts.extend(items.iter().map(|item| self.substitute(item, &params, tz)));
        }
        chain.pop();
        Some(Expansion { posts, vars })
    }

    fn resolve_params(
        &mut self,
        template_node: &Node,
        template: &Template,
        uses: &Node,
        with: Option<&Node>,
        tz: Tz,
    ) -> Option<HashMap<String, Resolved>> {
        let mut ok = true;
        if let Some(NodeKind::Mapping(entries)) = with.map(|w| &w.kind) {
            for (key, _) in entries {
                let given = key.as_str().unwrap_or_default();
                if !template.params.contains_key(given) {
                    let hint = did_you_mean(given, template.params.keys().map(String::as_str))
                        .unwrap_or_else(|| {
                            format!(
                                "template `{}` takes {}",
                                template.name.value,
                                template
                                    .params
                                    .keys()
                                    .map(|k| format!("`{k}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            )
                        });
                    let diagnostic = self
                        .sources
                        .error_node(
                            key,
                            format!(
                                "unknown parameter `{given}` for template `{}`",
                                template.name.value
                            ),
                        )
                        .with_hint(hint);
                    self.push(diagnostic);
                    ok = false;
                }
            }
        }
        let mut resolved = HashMap::new();
        for (name, param) in &template.params {
            let given = with.and_then(|w| w.get(name));
            let default = template_node
                .get("params")
                .and_then(|p| p.get(name))
                .and_then(|p| p.get("default"));
            let Some(value) = given.or(default) else {
                let at = with.unwrap_or(uses);
                let diagnostic = self
                    .sources
                    .error_node(
                        at,
                        format!(
                            "missing parameter `{name}` for template `{}`",
                            template.name.value
                        ),
                    )
                    .with_hint(format!(
                        "add `{name}:` (a {}) under `with:`",
                        param.kind.name()
                    ));
                self.push(diagnostic);
                ok = false;
                continue;
            };
            match self.check_param(name, param.kind, param.min, param.max, value, tz) {
                Some(json) => {
                    resolved.insert(
                        name.clone(),
                        Resolved {
                            kind: param.kind,
                            node: value.clone(),
                            json,
                        },
                    );
                }
                None => ok = false,
            }
        }
        ok.then_some(resolved)
    }

    fn check_param(
        &mut self,
        name: &str,
        kind: ParamType,
        min: Option<i64>,
        max: Option<i64>,
        value: &Node,
        tz: Tz,
    ) -> Option<serde_json::Value> {
        let mistyped = |v: &mut Self| {
            let diagnostic = v.sources.error_node(
                value,
                format!(
                    "parameter `{name}` must be {}, found {}",
                    article(kind),
                    value.describe()
                ),
            );
            v.push(diagnostic);
            None
        };
        let text = value.as_str();
        match kind {
            ParamType::String => match text {
                Some(text) => Some(text.into()),
                None => mistyped(self),
            },
            ParamType::Int => match text.and_then(|t| t.parse::<i64>().ok()) {
                Some(number) => {
                    if let Some(min) = min.filter(|min| number < *min) {
                        let diagnostic = self.sources.error_node(
                            value,
                            format!("parameter `{name}` is {number}, below its minimum {min}"),
                        );
                        self.push(diagnostic);
                        return None;
                    }
                    if let Some(max) = max.filter(|max| number > *max) {
                        let diagnostic = self.sources.error_node(
                            value,
                            format!("parameter `{name}` is {number}, above its maximum {max}"),
                        );
                        self.push(diagnostic);
                        return None;
                    }
                    Some(number.into())
                }
                None => mistyped(self),
            },
            ParamType::Bool => match text {
                Some("true") => Some(true.into()),
                Some("false") => Some(false.into()),
                _ => mistyped(self),
            },
            ParamType::Duration | ParamType::Date | ParamType::Datetime => {
                let Some(spanned) = spanned_scalar(value) else {
                    return mistyped(self);
                };
                let parsed = match kind {
                    ParamType::Duration => schedule::parse_duration(spanned.trim()).map(|_| ()),
                    ParamType::Date => {
                        schedule::parse_date_from(spanned.trim(), self.day_one_date()).map(|_| ())
                    }
                    _ => {
                        schedule::parse_local_datetime_from(spanned.trim(), tz, self.day_one_date())
                            .map(|_| ())
                    }
                };
                match parsed {
                    Ok(()) => Some(spanned.value.clone().into()),
                    Err(error) => {
                        self.time_error(&spanned, error);
                        None
                    }
                }
            }
            ParamType::Accounts => {
                let names: Vec<&Node> = match &value.kind {
                    NodeKind::Sequence(items) => items.iter().collect(),
                    NodeKind::Scalar { .. } => vec![value],
                    NodeKind::Mapping(_) => return mistyped(self),
                };
                let mut all_known = true;
                let mut list = Vec::new();
                for item in names {
                    match spanned_scalar(item) {
                        Some(account) => {
                            all_known &= self.account(&account);
                            list.push(serde_json::Value::from(account.value));
                        }
                        None => return mistyped(self),
                    }
                }
                all_known.then_some(list.into())
            }
            ParamType::List => match &value.kind {
                NodeKind::Sequence(items) => {
                    Some(items.iter().map(node_to_json).collect::<Vec<_>>().into())
                }
                _ => mistyped(self),
            },
        }
    }

    /// A copy of `node` with every whole-value placeholder replaced.
    fn substitute(&mut self, node: &Node, params: &HashMap<String, Resolved>, tz: Tz) -> Node {
        match &node.kind {
            NodeKind::Scalar { value, .. } => {
                let Some((name, shift)) = placeholder(value) else {
                    return node.clone();
                };
                let Some(param) = params.get(name) else {
                    return node.clone();
                };
                match shift {
                    None => param.node.clone(),
                    Some((sign, amount)) => self
                        .shifted(node, name, param, sign, amount, tz)
                        .unwrap_or_else(|| node.clone()),
                }
            }
            NodeKind::Sequence(items) => Node {
                kind: NodeKind::Sequence(
                    items
                        .iter()
                        .map(|i| self.substitute(i, params, tz))
                        .collect(),
                ),
                ..node.clone()
            },
            NodeKind::Mapping(entries) => Node {
                kind: NodeKind::Mapping(
                    entries
                        .iter()
                        .map(|(k, v)| (k.clone(), self.substitute(v, params, tz)))
                        .collect(),
                ),
                ..node.clone()
            },
        }
    }

    /// `{{ launch - 3d }}`: wall-clock arithmetic, so "3 days before 10:00" is 10:00.
    fn shifted(
        &mut self,
        at: &Node,
        name: &str,
        param: &Resolved,
        sign: i32,
        amount: &str,
        tz: Tz,
    ) -> Option<Node> {
        let Ok(delta) = schedule::parse_duration(amount) else {
            let diagnostic = self
                .sources
                .error_node(at, format!("`{amount}` is not a duration"))
                .with_hint("shift by a duration: `{{ launch - 3d }}`, `{{ launch + 2h }}`");
            self.push(diagnostic);
            return None;
        };
        let delta = if sign < 0 { -delta } else { delta };
        let base = param.node.as_str().unwrap_or_default().trim();
        let text = match param.kind {
            ParamType::Datetime => {
                let local = schedule::parse_local_datetime_from(base, tz, self.day_one_date())
                    .ok()?
                    .naive_local()
                    + delta;
                resolve_local(local, tz).to_rfc3339()
            }
            ParamType::Date if delta.num_seconds() % TimeDelta::days(1).num_seconds() == 0 => {
                (schedule::parse_date_from(base, self.day_one_date()).ok()? + delta).to_string()
            }
            _ => {
                let diagnostic = self.sources.error_node(
                    at,
                    format!(
                        "parameter `{name}` is {}; only a date or datetime can be shifted",
                        article(param.kind)
                    ),
                );
                self.push(diagnostic);
                return None;
            }
        };
        Some(Node::scalar(text, at.mark))
    }
}

fn article(kind: ParamType) -> String {
    match kind {
        ParamType::Int => "an int".into(),
        ParamType::Accounts => "a list of accounts".into(),
        other => format!("a {}", other.name()),
    }
}

fn node_to_json(node: &Node) -> serde_json::Value {
    match &node.kind {
        NodeKind::Scalar { value, .. } => value.clone().into(),
        NodeKind::Sequence(items) => items.iter().map(node_to_json).collect::<Vec<_>>().into(),
        NodeKind::Mapping(entries) => entries
            .iter()
            .map(|(k, v)| (k.as_str().unwrap_or_default().to_string(), node_to_json(v)))
            .collect::<serde_json::Map<_, _>>()
            .into(),
    }
}
