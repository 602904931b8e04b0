//! `ConditionInput`: the data one evaluation sees (variables and metric/signal sources).

use std::sync::Arc;

use chrono::{DateTime, Datelike, TimeZone, Timelike};
use rhai::{Dynamic, Identifier, Map};

use super::sources::{MetricsSource, NoData, SignalSource};

/// The variables and sources of one evaluation. Build it once per snapshot and reuse it: values
/// are stored shared, so each evaluation only bumps reference counts.
#[derive(Clone)]
pub struct ConditionInput {
    pub(super) variables: Vec<(Identifier, Dynamic)>,
    pub(super) metrics: Arc<dyn MetricsSource>,
    pub(super) signals: Arc<dyn SignalSource>,
}

impl Default for ConditionInput {
    fn default() -> Self {
        ConditionInput::new()
    }
}

impl std::fmt::Debug for ConditionInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConditionInput")
            .field("variables", &self.variables)
            .finish_non_exhaustive()
    }
}

impl ConditionInput {
    /// No variables, no metrics, no signals.
    pub fn new() -> Self {
        ConditionInput {
            variables: Vec::new(),
            metrics: Arc::new(NoData),
            signals: Arc::new(NoData),
        }
    }

    /// Sets variable `name` (replacing an earlier value).
    pub fn set(&mut self, name: &str, value: impl Into<Dynamic>) -> &mut Self {
        let value = value.into().into_shared();
        match self.variables.iter_mut().find(|(n, _)| n == name) {
            Some(slot) => slot.1 = value,
            None => self.variables.push((name.into(), value)),
        }
        self
    }

    /// Sets variable `name` from JSON (objects become maps, arrays arrays).
    pub fn set_json(&mut self, name: &str, value: &serde_json::Value) -> &mut Self {
        self.set(name, json_to_dynamic(value))
    }

    pub fn with(mut self, name: &str, value: impl Into<Dynamic>) -> Self {
        self.set(name, value);
        self
    }

    pub fn with_json(mut self, name: &str, value: &serde_json::Value) -> Self {
        self.set_json(name, value);
        self
    }

    /// Sets `now` from a time in the playbook's time zone (see [`now_map`]).
    pub fn with_now<Tz: TimeZone>(self, now: &DateTime<Tz>) -> Self
    where
        Tz::Offset: std::fmt::Display,
    {
        self.with("now", now_map(now))
    }

    pub fn with_metrics(mut self, metrics: Arc<dyn MetricsSource>) -> Self {
        self.metrics = metrics;
        self
    }

    pub fn with_signals(mut self, signals: Arc<dyn SignalSource>) -> Self {
        self.signals = signals;
        self
    }
}

/// A JSON value as rhai sees it: null is `()`, integers `i64`, other numbers `f64`.
pub fn json_to_dynamic(value: &serde_json::Value) -> Dynamic {
    use serde_json::Value;
    match value {
        Value::Null => Dynamic::UNIT,
        Value::Bool(b) => Dynamic::from_bool(*b),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Dynamic::from_int(i),
            None => Dynamic::from_float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => s.as_str().into(),
        Value::Array(items) => Dynamic::from_array(items.iter().map(json_to_dynamic).collect()),
        Value::Object(fields) => Dynamic::from_map(
            fields
                .iter()
                .map(|(k, v)| (k.as_str().into(), json_to_dynamic(v)))
                .collect(),
        ),
    }
}

/// The `now` map: `iso`, `hour`, `minute`, `weekday` (`"MON"`..`"SUN"`), `day`, `month`,
/// `year`, `timestamp` (Unix seconds).
pub fn now_map<Tz: TimeZone>(now: &DateTime<Tz>) -> Dynamic
where
    Tz::Offset: std::fmt::Display,
{
    const WEEKDAYS: [&str; 7] = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];
    let mut map = Map::new();
    map.insert("iso".into(), now.to_rfc3339().into());
    map.insert("hour".into(), Dynamic::from_int(now.hour().into()));
    map.insert("minute".into(), Dynamic::from_int(now.minute().into()));
    let weekday = WEEKDAYS[now.weekday().num_days_from_monday() as usize];
    map.insert("weekday".into(), weekday.into());
    map.insert("day".into(), Dynamic::from_int(now.day().into()));
    map.insert("month".into(), Dynamic::from_int(now.month().into()));
    map.insert("year".into(), Dynamic::from_int(now.year().into()));
    map.insert("timestamp".into(), Dynamic::from_int(now.timestamp()));
    Dynamic::from_map(map)
}
