//! crier's filters beyond minijinja's built-ins: `mentions`, `hashtag` and `duration`.

use minijinja::value::{Value, ValueKind};
use minijinja::{Error, ErrorKind};

/// `{{ winners | mentions }}`: handles as "@ann, @bo and @cy". Takes a list of handle strings,
/// or of maps with `handle` (or `author.handle`); handles already starting with `@` are kept.
pub fn mentions(people: Value) -> Result<String, Error> {
    let mut handles = Vec::new();
    for person in people.try_iter()? {
        handles.push(handle(&person)?);
    }
    Ok(match handles.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    })
}

fn handle(person: &Value) -> Result<String, Error> {
    let raw = match person.kind() {
        ValueKind::String => person.clone(),
        ValueKind::Map => {
            let direct = person.get_attr("handle")?;
            if direct.is_undefined() || direct.is_none() {
                person.get_attr("author")?.get_attr("handle")?
            } else {
                direct
            }
        }
        _ => Value::UNDEFINED,
    };
    match raw.as_str() {
        Some(text) if text.starts_with('@') => Ok(text.to_string()),
        Some(text) => Ok(format!("@{text}")),
        None => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("`mentions` needs handles or maps with `handle`, got {person}"),
        )),
    }
}

/// `{{ "Winter Sale" | hashtag }}`: "#WinterSale". Words are capitalised and joined; anything
/// that is not a letter, digit or underscore is dropped.
pub fn hashtag(text: &str) -> String {
    let mut tag = String::from("#");
    for word in text.split(|c: char| !(c.is_alphanumeric() || c == '_')) {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            tag.extend(first.to_uppercase());
            tag.push_str(chars.as_str());
        }
    }
    tag
}

/// `{{ 5400 | duration }}`: seconds as "1h30m" (units d, h, m, s; "0s" for zero).
pub fn duration(seconds: i64) -> Result<String, Error> {
    if seconds < 0 {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("`duration` needs a number of seconds of at least 0, got {seconds}"),
        ));
    }
    let mut left = seconds;
    let mut text = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if left >= size {
            text.push_str(&format!("{}{unit}", left / size));
            left %= size;
        }
    }
    if text.is_empty() {
        text.push_str("0s");
    }
    Ok(text)
}

/// `join` as minijinja has it, but refusing to build a string over the text budget (a
/// `join` inside a loop otherwise grows memory faster than the step budget can stop it).
pub(super) fn bounded_join(value: Value, joiner: Option<String>) -> Result<String, Error> {
    if value.is_undefined() || value.is_none() {
        return Ok(String::new());
    }
    let joiner = joiner.unwrap_or_default();
    let mut output = String::new();
    for (index, item) in value.try_iter()?.enumerate() {
        if index > 0 {
            output.push_str(&joiner);
        }
        match item.as_str() {
            Some(text) => output.push_str(text),
            None => output.push_str(&item.to_string()),
        }
        if output.len() > super::budget::MAX_TEXT_BYTES {
            return Err(Error::new(
                ErrorKind::InvalidOperation,
                super::budget::too_large(),
            ));
        }
    }
    Ok(output)
}
