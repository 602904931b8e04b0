//! Rendering inside the budget. minijinja's fuel counts instructions, but one instruction can
//! double a string (`s ~ s`, a `{% set %}` block emitting it twice, `s | replace("", s)`), so
//! a few dozen steps could fill the memory. Each text is compiled (and cached) by minijinja,
//! and its instructions are rewritten before each render: every value an instruction makes is measured
//! (its size as printed, nested values included) before anything can use it, every byte
//! written out is counted, and the arguments of the few operations whose result size an
//! argument decides (`*`, `indent`, `replace`, `batch`, `slice`) are judged first. The checks
//! are calls of functions whose names no template can write.

use std::collections::BTreeMap;

use minijinja::machinery::{CompiledTemplate, Instruction, Instructions};
use minijinja::value::{Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind};

use super::budget::{self, MAX_TEXT_BYTES};

/// Measures the value an instruction just made; hands it back.
const MEASURE: &str = "crier:measure";
/// Counts a value about to be written out; hands it back.
const EMIT: &str = "crier:emit";
/// Counts this many bytes of the template's own text about to be written out.
const RAW: &str = "crier:raw";
/// Judges the operands of `*`; hands them back as a list to unpack.
const REPEAT: &str = "crier:repeat";
/// Judges the arguments of a filter whose arguments decide its result's size.
const GUARD_INDENT: &str = "crier:indent";
const GUARD_REPLACE: &str = "crier:replace";
const GUARD_COUNT: &str = "crier:count";
/// Refuses those filters with arguments spread from a list (`*args`), which cannot be judged.
const GUARD_SPREAD: &str = "crier:spread";

/// Items one value may hold (a list of lists counts every item inside).
const MAX_ITEMS: usize = MAX_TEXT_BYTES / ITEM_BYTES;
/// What one item counts for besides its text: about what printing it adds.
const ITEM_BYTES: usize = 16;
/// How deep values may nest (printing a value walks it recursively).
const MAX_DEPTH: usize = 64;

/// Adds the budget's checks to `env` (the functions the rewritten instructions call).
pub(super) fn register(env: &mut Environment<'static>) {
    env.add_function(MEASURE, measure_value);
    env.add_function(EMIT, emit_value);
    env.add_function(RAW, emit_raw);
    env.add_function(REPEAT, guard_repeat);
    env.add_function(GUARD_INDENT, guard_indent);
    env.add_function(GUARD_REPLACE, guard_replace);
    env.add_function(GUARD_COUNT, guard_count);
    env.add_function(GUARD_SPREAD, guard_spread);
}

/// Whether `name` is one of the budget's own functions (not for templates to call).
#[cfg(test)]
pub(super) fn is_internal(name: &str) -> bool {
    name.starts_with("crier:")
}

/// A template rewritten: its instructions and those of its blocks.
pub(super) struct Compiled<'s> {
    pub(super) instructions: Instructions<'s>,
    pub(super) blocks: BTreeMap<&'s str, Instructions<'s>>,
}

/// A template minijinja compiled (and caches), with the budget's checks added.
pub(super) fn rewrite_compiled<'s>(compiled: &CompiledTemplate<'s>) -> Compiled<'s> {
    Compiled {
        instructions: rewrite(&compiled.instructions),
        blocks: compiled
            .blocks
            .iter()
            .map(|(name, block)| (*name, rewrite(block)))
            .collect(),
    }
}

/// `old` with the checks added. Jump targets move with the instructions they point at.
fn rewrite<'s>(old: &Instructions<'s>) -> Instructions<'s> {
    let count = old.len() as u32;
    let expanded: Vec<Vec<Instruction<'s>>> = (0..count)
        .map(|idx| expand(old.get(idx).expect("in range")))
        .collect();
    let mut starts = Vec::with_capacity(expanded.len() + 1);
    let mut next = 0u32;
    for group in &expanded {
        starts.push(next);
        next += group.len() as u32;
    }
    starts.push(next);
    let moved = |target: &u32| starts[(*target as usize).min(starts.len() - 1)];
    let mut new = Instructions::new(old.name(), old.source());
    for (idx, group) in expanded.into_iter().enumerate() {
        let idx = idx as u32;
        for instruction in group {
            let instruction = match instruction {
                Instruction::Jump(t) => Instruction::Jump(moved(&t)),
                Instruction::JumpIfFalse(t) => Instruction::JumpIfFalse(moved(&t)),
                Instruction::JumpIfFalseOrPop(t) => Instruction::JumpIfFalseOrPop(moved(&t)),
                Instruction::JumpIfTrueOrPop(t) => Instruction::JumpIfTrueOrPop(moved(&t)),
                Instruction::Iterate(t) => Instruction::Iterate(moved(&t)),
                Instruction::BuildMacro(name, t, flags) => {
                    Instruction::BuildMacro(name, moved(&t), flags)
                }
                other => other,
            };
            match (old.get_span(idx), old.get_line(idx)) {
                (Some(span), _) => new.add_with_span(instruction, span),
                (None, Some(line)) => new.add_with_line(instruction, line as u16),
                (None, None) => new.add(instruction),
            };
        }
    }
    new
}

/// What one instruction becomes.
fn expand<'s>(instruction: &Instruction<'s>) -> Vec<Instruction<'s>> {
    use Instruction as I;
    let measured = |i: &Instruction<'s>| vec![i.clone(), I::CallFunction(MEASURE, Some(1))];
    match instruction {
        I::EmitRaw(text) => vec![
            I::LoadConst(Value::from(text.len())),
            I::CallFunction(RAW, Some(1)),
            I::DiscardTop,
            instruction.clone(),
        ],
        I::Emit => vec![I::CallFunction(EMIT, Some(1)), I::Emit],
        I::Mul => vec![
            I::CallFunction(REPEAT, Some(2)),
            I::UnpackList(2),
            I::Mul,
            I::CallFunction(MEASURE, Some(1)),
        ],
        I::ApplyFilter(name, args, _) => {
            let guard = match *name {
                "indent" => Some(GUARD_INDENT),
                "replace" => Some(GUARD_REPLACE),
                "batch" | "slice" => Some(GUARD_COUNT),
                _ => None,
            };
            match (guard, args) {
                (None, _) => measured(instruction),
                (Some(guard), Some(count)) => vec![
                    I::CallFunction(guard, Some(*count)),
                    I::UnpackList(*count as usize),
                    instruction.clone(),
                    I::CallFunction(MEASURE, Some(1)),
                ],
                // Arguments spread from a list (`*args`): not judged, so not allowed.
                (Some(_), None) => vec![
                    I::LoadConst(Value::from(*name)),
                    I::CallFunction(GUARD_SPREAD, Some(1)),
                ],
            }
        }
        // `range` counts its own items against the step budget.
        I::CallFunction("range", _) => vec![instruction.clone()],
        I::StringConcat
        | I::Add
        | I::CallFunction(..)
        | I::CallMethod(..)
        | I::CallObject(..)
        | I::EndCapture
        | I::BuildList(..)
        | I::BuildMap(..)
        | I::Slice => measured(instruction),
        _ => vec![instruction.clone()],
    }
}

thread_local! {
    static COUNTS: std::cell::Cell<Counts> = const { std::cell::Cell::new(Counts { made: 0, written: 0 }) };
}

/// Bytes measured and written in the current render on this thread.
#[derive(Clone, Copy)]
pub(super) struct Counts {
    made: usize,
    written: usize,
}

/// All the values one render may make, in bytes: a render that keeps building large values
/// and dropping them does work without using memory, and is stopped here.
pub const MAX_MADE_BYTES: usize = 64 * MAX_TEXT_BYTES;

/// Starts counting a render; the guard puts an enclosing render's counts back.
pub(super) fn start() -> Counting {
    Counting(COUNTS.replace(Counts {
        made: 0,
        written: 0,
    }))
}

pub(super) struct Counting(Counts);

impl Drop for Counting {
    fn drop(&mut self) {
        COUNTS.set(self.0);
    }
}

fn too_large() -> Error {
    Error::new(ErrorKind::InvalidOperation, budget::too_large())
}

/// The size of `value` as printed, at most a little over `MAX_TEXT_BYTES` (it stops there).
fn size(value: &Value) -> Result<usize, Error> {
    let mut total = 0usize;
    let mut items = 0usize;
    let mut pending = vec![(value.clone(), 0usize)];
    while let Some((value, depth)) = pending.pop() {
        if depth > MAX_DEPTH {
            return Err(Error::new(ErrorKind::InvalidOperation, budget::too_deep()));
        }
        items += 1;
        total += ITEM_BYTES + 2 * depth;
        match value.kind() {
            ValueKind::String => total += value.as_str().map_or(0, str::len),
            ValueKind::Bytes => total += value.as_bytes().map_or(0, <[u8]>::len),
            ValueKind::Seq | ValueKind::Iterable => {
                for item in value.try_iter()? {
                    pending.push((item, depth + 1));
                    if items + pending.len() > MAX_ITEMS {
                        return Err(too_large());
                    }
                }
            }
            ValueKind::Map => {
                for key in value.try_iter()? {
                    let item = value.get_item(&key).unwrap_or_default();
                    pending.push((key, depth + 1));
                    pending.push((item, depth + 1));
                    if items + pending.len() > MAX_ITEMS {
                        return Err(too_large());
                    }
                }
            }
            _ => {}
        }
        if total > MAX_TEXT_BYTES {
            return Err(too_large());
        }
    }
    Ok(total)
}

fn measure_value(value: Value) -> Result<Value, Error> {
    let bytes = size(&value)?;
    let mut counts = COUNTS.get();
    counts.made = counts.made.saturating_add(bytes);
    COUNTS.set(counts);
    if counts.made > MAX_MADE_BYTES {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            budget::too_much_made(),
        ));
    }
    Ok(value)
}

fn write(bytes: usize) -> Result<(), Error> {
    let mut counts = COUNTS.get();
    counts.written = counts.written.saturating_add(bytes);
    COUNTS.set(counts);
    if counts.written > MAX_TEXT_BYTES {
        return Err(too_large());
    }
    Ok(())
}

fn emit_value(value: Value) -> Result<Value, Error> {
    write(size(&value)?)?;
    Ok(value)
}

fn emit_raw(bytes: usize) -> Result<(), Error> {
    write(bytes)
}

/// The arguments back, last first, as `UnpackList` puts them on the stack in order.
fn unpack(mut args: Vec<Value>) -> Value {
    args.reverse();
    Value::from(args)
}

fn guard_repeat(args: Rest<Value>) -> Result<Value, Error> {
    if let [left, right] = args.as_slice() {
        let times = |value: &Value| value.as_usize().unwrap_or(0);
        let repeated = |value: &Value, n: usize| -> Result<(), Error> {
            let one = match value.kind() {
                ValueKind::String | ValueKind::Seq | ValueKind::Iterable => size(value)?,
                _ => return Ok(()),
            };
            match one.checked_mul(n) {
                Some(total) if total <= MAX_TEXT_BYTES => Ok(()),
                _ => Err(too_large()),
            }
        };
        repeated(left, times(right))?;
        repeated(right, times(left))?;
    }
    Ok(unpack(args.0))
}

fn guard_indent(args: Rest<Value>) -> Result<Value, Error> {
    let text = args.first().and_then(Value::as_str).unwrap_or_default();
    let width = |value: &Value| match value.as_str() {
        Some(text) => text.len(),
        None => value.as_usize().unwrap_or(0),
    };
    let mut widest = args.get(1).map_or(0, width);
    if let Some(kwargs) = args.last().filter(|value| value.is_kwargs())
        && let Ok(value) = kwargs.get_attr("width")
    {
        widest = widest.max(width(&value));
    }
    let lines = text.lines().count() + 1;
    match lines.checked_mul(widest) {
        Some(added) if text.len().saturating_add(added) <= MAX_TEXT_BYTES => Ok(unpack(args.0)),
        _ => Err(too_large()),
    }
}

fn guard_replace(args: Rest<Value>) -> Result<Value, Error> {
    let text = |index: usize| args.get(index).map(|value| value.to_string());
    if let (Some(value), Some(from), Some(to)) = (text(0), text(1), text(2)) {
        let found = if from.is_empty() {
            value.chars().count() + 1
        } else {
            value.matches(from.as_str()).count()
        };
        let grown = found
            .checked_mul(to.len())
            .map(|added| value.len().saturating_add(added));
        if !matches!(grown, Some(total) if total <= MAX_TEXT_BYTES) {
            return Err(too_large());
        }
    }
    Ok(unpack(args.0))
}

/// `batch(n)` and `slice(n)` make `n` lists (or lists of `n`) whatever the input holds.
fn guard_count(args: Rest<Value>) -> Result<Value, Error> {
    let count = args.get(1).and_then(Value::as_usize).unwrap_or(0);
    if count > MAX_ITEMS {
        return Err(too_large());
    }
    Ok(unpack(args.0))
}

fn guard_spread(name: String) -> Result<Value, Error> {
    Err(Error::new(
        ErrorKind::InvalidOperation,
        format!("`{name}` takes its arguments written out, not spread from a list"),
    ))
}
