//! The validated plan kept between starts: a file beside the SQLite store
//! (`crier.db.plan-cache`) holding the campaigns of the last full validation, keyed by
//! crier's version and the content (SHA-256) of every file loading read: `crier.yaml`, the
//! playbooks, the CSV calendars they name. Validation reads no environment and no secret,
//! so nothing else goes into the key but the day `day_one:` settled on.
//!
//! A start whose files are unchanged reads `crier.yaml` and the playbooks that hold no
//! campaign as usual, and takes the campaigns (most of a large plan: every calendar row and
//! cron item) from the file instead of parsing and checking them again. Anything that does
//! not match (a file changed, added or removed, another version of crier, a cache cut short
//! or altered) means a full validation, after which the file is written again. Only a
//! validation without a single diagnostic is kept, so every warning is still printed on
//! every start.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use super::load::{
    Kind, LoadError, Loaded, add_text, decode, files_to_load, is_config, load_path,
    read_store_config,
};
use super::plan::{
    Accounts, ApprovalPlan, CampaignPlan, DayOne, HookPlan, Plan, PostPlan, ShortText, Trigger,
};
use super::raw::{ApprovalNeed, Missed, PostApprovalTimeout};
use super::validate::{Validated, validate_from};
use crate::schedule::{CronSchedule, TimeWindow};
use crate::script::{Condition, ConditionContext, ScriptEngine};
use crate::text::TextTemplates;

const MAGIC: &[u8] = b"crier plan cache\n";
/// Bumped whenever the layout below changes.
const FORMAT: u64 = 1;
const CHECKSUM_LEN: usize = 32;
/// The fewest bytes a post takes: one for each of its ten fields, two for its trigger.
const LEAST_POST_BYTES: u64 = 11;

/// A validation, and the digest of the files it came from (the revision runs are pinned to).
pub struct CachedLoad {
    pub validated: Validated,
    pub digest: String,
    /// The campaigns came from the cache, not from validating their files.
    pub from_cache: bool,
}

/// Loads and validates `path` as `load_and_validate_from` does, taking the campaigns from
/// the cache beside the store when every file is as it was; after a full validation without
/// diagnostics, writes the cache for the next start. A cache that cannot be read or written
/// only costs time.
pub fn load_and_validate_cached(
    path: &Path,
    scripts: &ScriptEngine,
    texts: &TextTemplates,
    first_run: Option<NaiveDate>,
) -> Result<CachedLoad, LoadError> {
    let cache = cache_path(path);
    if let Some(cache) = &cache {
        match read(path, cache, scripts, texts, first_run) {
            Ok(hit) => {
                tracing::debug!(cache = %cache.display(), "campaigns taken from the plan cache");
                return Ok(hit);
            }
            Err(why) => {
                tracing::debug!(cache = %cache.display(), "validating in full: {why}");
            }
        }
    }
    let loaded = load_path(path)?;
    let roles = roles(&loaded);
    let validated = validate_from(loaded, scripts, texts, first_run);
    let digest = content_digest(&validated);
    if let (Some(cache), Some(roles)) = (&cache, roles)
        && let Err(why) = write(cache, &validated, &roles, &digest)
    {
        tracing::debug!(cache = %cache.display(), "plan cache not written: {why}");
    }
    Ok(CachedLoad {
        validated,
        digest,
        from_cache: false,
    })
}

/// The digest of a validation's files: each playbook file, then each calendar it read (a
/// calendar edited alone is a change), path and text.
pub fn content_digest(validated: &Validated) -> String {
    let mut hasher = Sha256::new();
    let sources = (0..).map_while(|file| validated.sources.try_get(file));
    for source in sources.chain(&validated.calendars) {
        hasher.update(source.path.display().to_string().as_bytes());
        hasher.update([0]);
        hasher.update(source.text.as_bytes());
        hasher.update([0]);
    }
    hex::encode(hasher.finalize())
}

/// Where the cache of the folder (or file) `path` is: beside its SQLite store, named after
/// it (`crier.db.plan-cache`); none for a store in memory.
pub fn cache_path(path: &Path) -> Option<PathBuf> {
    let config = read_store_config(path).ok()?;
    let store = config.root.join(config.store.strip_prefix("sqlite://")?);
    let mut name = store.file_name()?.to_os_string();
    name.push(".plan-cache");
    Some(store.with_file_name(name))
}

/// What becomes of each loaded file on a start from the cache.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Read and validated again (`crier.yaml`, templates, contests, crisis plans, rules).
    Validated = 0,
    /// Only hashed: its campaigns come from the cache.
    Cached = 1,
}

/// Each loaded file's role, in load order; `None` when a file mixes campaigns with other
/// kinds (such a folder is not cached: a start would have to validate half a file).
fn roles(loaded: &Loaded) -> Option<Vec<Role>> {
    let files = (0..).map_while(|file| loaded.sources.try_get(file)).count();
    let mut roles = Vec::with_capacity(files);
    for file in 0..files {
        let kinds = loaded
            .documents
            .iter()
            .filter(|document| document.file == file);
        let (mut campaigns, mut others) = (0, 0);
        for document in kinds {
            if document.kind == Kind::Campaign {
                campaigns += 1;
            } else {
                others += 1;
            }
        }
        roles.push(match (campaigns, others) {
            (0, _) => Role::Validated,
            (_, 0) => Role::Cached,
            _ => return None,
        });
    }
    Some(roles)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// `path` relative to `root` as text, the way it is written into the cache.
fn relative(root: &Path, path: &Path) -> Result<String, String> {
    let relative = path.strip_prefix(root).unwrap_or(path);
    relative
        .to_str()
        .map(str::to_owned)
        .ok_or_else(|| format!("`{}` is not UTF-8", path.display()))
}

fn write(cache: &Path, validated: &Validated, roles: &[Role], digest: &str) -> Result<(), String> {
    if !validated.diagnostics.is_empty() {
        return Err("the validation reported something".into());
    }
    let Some(plan) = &validated.plan else {
        return Err("no plan".into());
    };
    // Written aside and renamed: a reader sees the old file or the new one, never half.
    let partial = cache.with_extension(format!("partial-{}", std::process::id()));
    let written = std::fs::File::create(&partial)
        .map_err(|e| e.to_string())
        .and_then(|file| write_to(file, plan, validated, roles, digest))
        .and_then(|()| std::fs::rename(&partial, cache).map_err(|e| e.to_string()));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// The cache's bytes, streamed into `file` as they are encoded (a large plan's encoding is
/// never held in memory beside the plan), followed by their checksum.
fn write_to(
    file: std::fs::File,
    plan: &Plan,
    validated: &Validated,
    roles: &[Role],
    digest: &str,
) -> Result<(), String> {
    let mut out = Writer::new(std::io::BufWriter::with_capacity(
        1 << 16,
        Hashing::new(file),
    ));
    out.bytes(MAGIC);
    out.uint(FORMAT);
    out.str(env!("CARGO_PKG_VERSION"));
    out.uint(roles.len() as u64);
    for (file, role) in roles.iter().enumerate() {
        let source = validated.sources.get(file);
        out.str(&relative(&plan.root, &source.path)?);
        out.uint(*role as u64);
        out.bytes(&sha256(source.text.as_bytes()));
    }
    out.uint(validated.calendars.len() as u64);
    for calendar in &validated.calendars {
        out.str(&relative(&plan.root, &calendar.path)?);
        out.bytes(&sha256(calendar.text.as_bytes()));
    }
    match plan.day_one {
        None => out.uint(0),
        Some(day_one) => {
            out.uint(1 + u64::from(day_one.first_run));
            out.int(i64::from(chrono::Datelike::num_days_from_ce(&day_one.date)));
        }
    }
    out.str(digest);
    encode_campaigns(&mut out, plan)?;
    let sink = out.finish()?;
    let mut file = sink.into_inner().map_err(|e| e.error().to_string())?;
    let checksum = file.hasher.finalize_reset();
    use std::io::Write as _;
    file.inner
        .write_all(&checksum)
        .and_then(|()| file.inner.flush())
        .map_err(|e| e.to_string())
}

/// A start from the cache, or why there is none.
fn read(
    path: &Path,
    cache: &Path,
    scripts: &ScriptEngine,
    texts: &TextTemplates,
    first_run: Option<NaiveDate>,
) -> Result<CachedLoad, String> {
    let file = std::fs::File::open(cache).map_err(|e| format!("no cache: {e}"))?;
    let len = file.metadata().map_err(|e| format!("no cache: {e}"))?.len();
    let body = len
        .checked_sub(CHECKSUM_LEN as u64)
        .ok_or("the cache is cut short")?;
    // Read in pieces and checked as it is read: the campaigns decoded from a cache whose
    // checksum turns out wrong at the end are thrown away.
    let mut input = Reader::new(
        std::io::BufReader::with_capacity(1 << 16, Hashing::limited(file, body)),
        body,
    );
    if input.take(MAGIC.len())? != MAGIC || input.uint()? != FORMAT {
        return Err("not a cache of this format".into());
    }
    if input.str()? != env!("CARGO_PKG_VERSION") {
        return Err("written by another version of crier".into());
    }
    let (root, files, skipped) = files_to_load(path).map_err(|e| e.to_string())?;
    if !skipped.is_empty() {
        return Err("the walk skipped files".into());
    }
    if input.uint()? != files.len() as u64 {
        return Err("files were added or removed".into());
    }
    let mut loaded = Loaded {
        root: root.clone(),
        ..Loaded::default()
    };
    for file in &files {
        if input.str()? != relative(&root, file)? {
            return Err("files were added, removed or renamed".into());
        }
        let role = input.uint()?;
        let expected = input.take(32)?;
        let bytes = std::fs::read(file).map_err(|e| format!("`{}`: {e}", file.display()))?;
        let text = decode(file, bytes).map_err(|d| d.message)?;
        if expected != sha256(text.as_bytes()) {
            return Err(format!("`{}` changed", file.display()));
        }
        if role == Role::Validated as u64 {
            add_text(&mut loaded, file, text, is_config(&root, file));
        }
    }
    for _ in 0..input.count()? {
        let file = root.join(input.str()?);
        let expected = input.take(32)?;
        let bytes = std::fs::read(&file).map_err(|e| format!("`{}`: {e}", file.display()))?;
        if expected != sha256(&bytes) {
            return Err(format!("`{}` changed", file.display()));
        }
    }
    let day_one = match input.uint()? {
        0 => None,
        flag @ (1 | 2) => Some(DayOne {
            date: i32::try_from(input.int()?)
                .ok()
                .and_then(NaiveDate::from_num_days_from_ce_opt)
                .ok_or("a bad date")?,
            first_run: flag == 2,
        }),
        _ => return Err("a bad day one".into()),
    };
    let digest = input.str()?;
    let mut validated = validate_from(loaded, scripts, texts, first_run);
    if !validated.diagnostics.is_empty() {
        return Err("the files validated again report something".into());
    }
    let plan = validated.plan.as_mut().ok_or("no plan")?;
    if plan.day_one != day_one {
        return Err("`day_one:` settled on another day".into());
    }
    let campaigns = decode_campaigns(&mut input, &root, scripts)?;
    input.verify()?;
    plan.campaigns = campaigns;
    Ok(CachedLoad {
        validated,
        digest,
        from_cache: true,
    })
}

/// The values campaigns share (through an `Arc`, or many times over), written once each
/// before the campaigns that name them by number.
#[derive(Default)]
struct Shared {
    zones: Vec<Tz>,
    zone_numbers: HashMap<Tz, u64>,
    crons: Vec<Arc<CronSchedule>>,
    cron_numbers: HashMap<*const CronSchedule, u64>,
    accounts: Vec<Accounts>,
    account_numbers: HashMap<*const [String], u64>,
    conditions: Vec<Arc<Condition>>,
    condition_numbers: HashMap<*const Condition, u64>,
    approvals: Vec<Arc<ApprovalPlan>>,
    approval_numbers: HashMap<*const ApprovalPlan, u64>,
}

/// The number of `value` in `list`, adding it the first time.
fn number<K: Eq + std::hash::Hash, V: Clone>(
    numbers: &mut HashMap<K, u64>,
    list: &mut Vec<V>,
    key: K,
    value: &V,
) -> u64 {
    *numbers.entry(key).or_insert_with(|| {
        list.push(value.clone());
        list.len() as u64 - 1
    })
}

impl Shared {
    fn zone(&mut self, zone: Tz) -> u64 {
        number(&mut self.zone_numbers, &mut self.zones, zone, &zone)
    }

    fn time(&mut self, out: &mut Writer<impl std::io::Write>, time: &DateTime<Tz>) {
        out.uint(self.zone(time.timezone()));
        out.int(time.timestamp());
        out.uint(u64::from(time.timestamp_subsec_nanos()));
    }
}

/// Writes the shared values, then the campaigns that name them, into `out`. The shared
/// values go first, so the campaigns are walked twice: once to number them, once to write
/// (rather than held encoded until the numbering is done).
fn encode_campaigns(out: &mut Writer<impl std::io::Write>, plan: &Plan) -> Result<(), String> {
    let mut shared = Shared::default();
    let mut numbering = Writer::new(std::io::sink());
    encode_body(&mut numbering, &mut shared, plan)?;
    encode_shared(out, &shared)?;
    encode_body(out, &mut shared, plan)
}

/// The campaigns, naming the shared values by number (adding those not numbered yet).
fn encode_body(
    body: &mut Writer<impl std::io::Write>,
    shared: &mut Shared,
    plan: &Plan,
) -> Result<(), String> {
    body.uint(plan.campaigns.len() as u64);
    for campaign in &plan.campaigns {
        body.str(&campaign.name);
        body.str(&relative(&plan.root, &campaign.file)?);
        body.uint(shared.zone(campaign.timezone));
        match &campaign.window {
            None => body.uint(0),
            Some(window) => {
                body.uint(1);
                shared.time(body, &window.from);
                shared.time(body, &window.until);
            }
        }
        let vars = serde_json::to_string(&campaign.vars).map_err(|e| e.to_string())?;
        body.str(&vars);
        body.uint(campaign.hooks.len() as u64);
        for hook in &campaign.hooks {
            body.str(&hook.name);
            body.str(&hook.secret);
            body.optional_str(hook.id_pointer.as_deref());
        }
        body.uint(campaign.posts.len() as u64);
        for post in &campaign.posts {
            encode_post(body, shared, post)?;
        }
    }
    Ok(())
}

fn encode_shared(out: &mut Writer<impl std::io::Write>, shared: &Shared) -> Result<(), String> {
    out.uint(shared.zones.len() as u64);
    for zone in &shared.zones {
        out.str(zone.name());
    }
    out.uint(shared.crons.len() as u64);
    for cron in &shared.crons {
        out.str(cron.source());
    }
    out.uint(shared.accounts.len() as u64);
    for accounts in &shared.accounts {
        out.uint(accounts.len() as u64);
        for account in accounts.iter() {
            out.str(account);
        }
    }
    out.uint(shared.conditions.len() as u64);
    for condition in &shared.conditions {
        out.str(condition.source());
        out.uint(match condition.context() {
            ConditionContext::CampaignWhen => 0,
            ConditionContext::HookWhen => 1,
            other => return Err(format!("a post's condition for {other:?}")),
        });
    }
    out.uint(shared.approvals.len() as u64);
    for approval in &shared.approvals {
        out.uint(approval.by.len() as u64);
        for person in &approval.by {
            out.str(person);
        }
        out.uint(match approval.need {
            ApprovalNeed::Any => 0,
            ApprovalNeed::All => 1,
        });
        out.delta(approval.before);
        out.delta(approval.ask);
        out.uint(match approval.on_timeout {
            PostApprovalTimeout::Hold => 0,
            PostApprovalTimeout::Skip => 1,
            PostApprovalTimeout::Send => 2,
        });
    }
    Ok(())
}

fn encode_post(
    out: &mut Writer<impl std::io::Write>,
    shared: &mut Shared,
    post: &PostPlan,
) -> Result<(), String> {
    out.str(&post.id);
    match &post.trigger {
        Trigger::At(at) => {
            out.uint(0);
            shared.time(out, &at.with_timezone(&Tz::UTC));
        }
        Trigger::Cron(cron) => {
            out.uint(1);
            let key = Arc::as_ptr(cron);
            out.uint(number(
                &mut shared.cron_numbers,
                &mut shared.crons,
                key,
                cron,
            ));
        }
        Trigger::Hook(hook) => {
            out.uint(2);
            out.str(hook);
        }
    }
    let key = Arc::as_ptr(&post.to);
    out.uint(number(
        &mut shared.account_numbers,
        &mut shared.accounts,
        key,
        &post.to,
    ));
    out.str(&post.text);
    out.uint(post.media.len() as u64);
    for media in &post.media {
        out.str(media);
    }
    match &post.when {
        None => out.uint(0),
        Some(when) => {
            let key = Arc::as_ptr(when);
            let number = number(
                &mut shared.condition_numbers,
                &mut shared.conditions,
                key,
                when,
            );
            out.uint(1 + number);
        }
    }
    out.optional_str(post.reply_to.as_deref());
    out.uint(match post.missed {
        Missed::Skip => 0,
        Missed::Once => 1,
        Missed::All => 2,
    });
    match post.max_late {
        None => out.uint(0),
        Some(late) => {
            out.uint(1);
            out.delta(late);
        }
    }
    match &post.approve {
        None => out.uint(0),
        Some(approve) => {
            let key = Arc::as_ptr(approve);
            let number = number(
                &mut shared.approval_numbers,
                &mut shared.approvals,
                key,
                approve,
            );
            out.uint(1 + number);
        }
    }
    Ok(())
}

fn decode_campaigns(
    input: &mut Reader<impl std::io::BufRead>,
    root: &Path,
    scripts: &ScriptEngine,
) -> Result<Vec<CampaignPlan>, String> {
    let mut zones = Vec::new();
    for _ in 0..input.count()? {
        let name = input.str()?;
        zones.push(crate::schedule::parse_timezone(&name).map_err(|_| format!("zone `{name}`"))?);
    }
    let mut crons = Vec::new();
    for _ in 0..input.count()? {
        let source = input.str()?;
        crons.push(Arc::new(
            CronSchedule::parse(&source).map_err(|_| format!("cron `{source}`"))?,
        ));
    }
    let mut accounts: Vec<Accounts> = Vec::new();
    for _ in 0..input.count()? {
        let names = (0..input.count()?)
            .map(|_| input.str())
            .collect::<Result<Vec<_>, _>>()?;
        accounts.push(names.into());
    }
    let mut conditions = Vec::new();
    for _ in 0..input.count()? {
        let source = input.str()?;
        let context = match input.uint()? {
            0 => ConditionContext::CampaignWhen,
            1 => ConditionContext::HookWhen,
            _ => return Err("a bad condition context".into()),
        };
        let condition = scripts
            .compile(&source, context)
            .map_err(|e| format!("condition `{source}`: {e}"))?;
        conditions.push(Arc::new(condition));
    }
    let mut approvals = Vec::new();
    for _ in 0..input.count()? {
        let by = (0..input.count()?)
            .map(|_| input.str())
            .collect::<Result<Vec<_>, _>>()?;
        let need = match input.uint()? {
            0 => ApprovalNeed::Any,
            1 => ApprovalNeed::All,
            _ => return Err("a bad approval need".into()),
        };
        let before = input.delta()?;
        let ask = input.delta()?;
        let on_timeout = match input.uint()? {
            0 => PostApprovalTimeout::Hold,
            1 => PostApprovalTimeout::Skip,
            2 => PostApprovalTimeout::Send,
            _ => return Err("a bad approval timeout".into()),
        };
        approvals.push(Arc::new(ApprovalPlan {
            by,
            need,
            before,
            ask,
            on_timeout,
        }));
    }
    let shared = Decoded {
        zones,
        crons,
        accounts,
        conditions,
        approvals,
    };
    let mut campaigns = Vec::new();
    for _ in 0..input.count()? {
        let name = input.str()?;
        let file = root.join(input.str()?);
        let timezone = *pick(&shared.zones, input.uint()?)?;
        let window = match input.uint()? {
            0 => None,
            1 => Some(TimeWindow {
                from: shared.time(input)?,
                until: shared.time(input)?,
            }),
            _ => return Err("a bad window".into()),
        };
        let vars = serde_json::from_str(&input.str()?).map_err(|e| e.to_string())?;
        let mut hooks = Vec::new();
        for _ in 0..input.count()? {
            hooks.push(HookPlan {
                name: input.str()?,
                secret: input.str()?,
                id_pointer: input.optional_str()?,
            });
        }
        let count = input.count_of(LEAST_POST_BYTES)?;
        let mut posts = Vec::with_capacity(count);
        for _ in 0..count {
            posts.push(decode_post(input, &shared)?);
        }
        campaigns.push(CampaignPlan {
            name,
            file,
            timezone,
            window,
            vars,
            posts,
            hooks,
        });
    }
    Ok(campaigns)
}

/// The shared values, read back.
struct Decoded {
    zones: Vec<Tz>,
    crons: Vec<Arc<CronSchedule>>,
    accounts: Vec<Accounts>,
    conditions: Vec<Arc<Condition>>,
    approvals: Vec<Arc<ApprovalPlan>>,
}

impl Decoded {
    fn time(&self, input: &mut Reader<impl std::io::BufRead>) -> Result<DateTime<Tz>, String> {
        let zone = *pick(&self.zones, input.uint()?)?;
        let seconds = input.int()?;
        let nanos = u32::try_from(input.uint()?).map_err(|_| "a bad time")?;
        DateTime::from_timestamp(seconds, nanos)
            .map(|time| time.with_timezone(&zone))
            .ok_or_else(|| "a bad time".into())
    }
}

fn pick<T>(list: &[T], number: u64) -> Result<&T, String> {
    usize::try_from(number)
        .ok()
        .and_then(|number| list.get(number))
        .ok_or_else(|| format!("no shared value {number}"))
}

/// The shared value numbered `number - 1`, or none for 0.
fn pick_optional<T: Clone>(list: &[T], number: u64) -> Result<Option<T>, String> {
    match number {
        0 => Ok(None),
        number => pick(list, number - 1).map(|value| Some(value.clone())),
    }
}

fn decode_post(
    input: &mut Reader<impl std::io::BufRead>,
    shared: &Decoded,
) -> Result<PostPlan, String> {
    let id = input.short_str()?;
    let trigger = match input.uint()? {
        0 => Trigger::At(shared.time(input)?.with_timezone(&Utc)),
        1 => Trigger::Cron(pick(&shared.crons, input.uint()?)?.clone()),
        2 => Trigger::Hook(input.str()?.into()),
        _ => return Err("a bad trigger".into()),
    };
    let to = pick(&shared.accounts, input.uint()?)?.clone();
    let text = input.short_str()?;
    let media = (0..input.count()?)
        .map(|_| input.str())
        .collect::<Result<Box<[_]>, _>>()?;
    let when = pick_optional(&shared.conditions, input.uint()?)?;
    let reply_to = input.optional_str()?.map(String::into_boxed_str);
    let missed = match input.uint()? {
        0 => Missed::Skip,
        1 => Missed::Once,
        2 => Missed::All,
        _ => return Err("a bad missed policy".into()),
    };
    let max_late = match input.uint()? {
        0 => None,
        1 => Some(input.delta()?),
        _ => return Err("a bad max_late".into()),
    };
    let approve = pick_optional(&shared.approvals, input.uint()?)?;
    Ok(PostPlan {
        id,
        trigger,
        to,
        text,
        media,
        when,
        reply_to,
        missed,
        max_late,
        approve,
    })
}

/// A file that hashes the bytes passing through it: all that is written, or the first
/// `left` bytes read (what follows them, the checksum, is not part of it).
struct Hashing<F> {
    inner: F,
    hasher: Sha256,
    left: u64,
}

impl<F> Hashing<F> {
    fn new(inner: F) -> Self {
        Self::limited(inner, u64::MAX)
    }

    fn limited(inner: F, left: u64) -> Self {
        Hashing {
            inner,
            hasher: Sha256::new(),
            left,
        }
    }
}

impl<F: std::io::Write> std::io::Write for Hashing<F> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let written = self.inner.write(bytes)?;
        self.hasher.update(&bytes[..written]);
        Ok(written)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl<F: std::io::Read> std::io::Read for Hashing<F> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        let hashed = usize::try_from(self.left).map_or(read, |left| read.min(left));
        self.hasher.update(&buffer[..hashed]);
        self.left -= hashed as u64;
        Ok(read)
    }
}

/// Unsigned numbers as LEB128, signed ones zigzagged first, strings as length and UTF-8.
/// The first error writing stops the writing; [`Writer::finish`] returns it.
struct Writer<W: std::io::Write> {
    sink: W,
    error: Option<std::io::Error>,
}

impl<W: std::io::Write> Writer<W> {
    fn new(sink: W) -> Self {
        Writer { sink, error: None }
    }

    fn finish(self) -> Result<W, String> {
        match self.error {
            None => Ok(self.sink),
            Some(error) => Err(error.to_string()),
        }
    }

    fn bytes(&mut self, bytes: &[u8]) {
        if self.error.is_none()
            && let Err(error) = self.sink.write_all(bytes)
        {
            self.error = Some(error);
        }
    }

    fn uint(&mut self, mut value: u64) {
        let mut encoded = [0u8; 10];
        let mut len = 0;
        loop {
            let low = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                encoded[len] = low;
                len += 1;
                break;
            }
            encoded[len] = low | 0x80;
            len += 1;
        }
        self.bytes(&encoded[..len]);
    }

    fn int(&mut self, value: i64) {
        self.uint(((value << 1) ^ (value >> 63)) as u64);
    }

    fn str(&mut self, text: &str) {
        self.uint(text.len() as u64);
        self.bytes(text.as_bytes());
    }

    fn optional_str(&mut self, text: Option<&str>) {
        match text {
            None => self.uint(0),
            Some(text) => {
                self.uint(1);
                self.str(text);
            }
        }
    }

    fn delta(&mut self, delta: TimeDelta) {
        self.int(delta.num_seconds());
        self.int(i64::from(delta.subsec_nanos()));
    }
}

/// Reads what `Writer` wrote, piece by piece; every read is checked against the `left`
/// bytes of the cache's body.
struct Reader<R> {
    input: R,
    left: u64,
}

impl<R: std::io::BufRead> Reader<R> {
    fn new(input: R, left: u64) -> Self {
        Reader { input, left }
    }

    fn take(&mut self, len: usize) -> Result<Vec<u8>, String> {
        if len as u64 > self.left {
            return Err("the cache is cut short".into());
        }
        let mut taken = vec![0; len];
        self.input
            .read_exact(&mut taken)
            .map_err(|_| "the cache is cut short")?;
        self.left -= len as u64;
        Ok(taken)
    }

    fn byte(&mut self) -> Result<u8, String> {
        if self.left == 0 {
            return Err("the cache is cut short".into());
        }
        let byte = match self.input.fill_buf() {
            Ok([byte, ..]) => *byte,
            _ => return Err("the cache is cut short".into()),
        };
        self.input.consume(1);
        self.left -= 1;
        Ok(byte)
    }

    fn uint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = self.byte()?;
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err("a number too long".into())
    }

    fn int(&mut self) -> Result<i64, String> {
        let value = self.uint()?;
        Ok((value >> 1) as i64 ^ -((value & 1) as i64))
    }

    /// A number of things that follow, each at least `least` bytes: never more than fit in
    /// the bytes left, so nothing is allocated for a count the cache cannot hold.
    fn count_of(&mut self, least: u64) -> Result<usize, String> {
        let count = self.uint()?;
        usize::try_from(count)
            .ok()
            .filter(|count| (*count as u64).saturating_mul(least) <= self.left)
            .ok_or_else(|| "a count larger than the cache".into())
    }

    /// A number of things that follow, each at least one byte.
    fn count(&mut self) -> Result<usize, String> {
        self.count_of(1)
    }

    fn str(&mut self) -> Result<String, String> {
        let len = self.count()?;
        String::from_utf8(self.take(len)?).map_err(|_| "text that is not UTF-8".into())
    }

    /// A text read as a `ShortText`: inline, without allocating, when it is short.
    fn short_str(&mut self) -> Result<ShortText, String> {
        let len = self.count()?;
        let mut inline = [0u8; 24];
        if let Some(buffer) = inline.get_mut(..len) {
            self.input
                .read_exact(buffer)
                .map_err(|_| "the cache is cut short")?;
            self.left -= len as u64;
            return ShortText::from_utf8(buffer).map_err(|_| "text that is not UTF-8".into());
        }
        String::from_utf8(self.take(len)?)
            .map(ShortText::from)
            .map_err(|_| "text that is not UTF-8".into())
    }

    fn optional_str(&mut self) -> Result<Option<String>, String> {
        match self.uint()? {
            0 => Ok(None),
            1 => Ok(Some(self.str()?)),
            _ => Err("a bad optional text".into()),
        }
    }

    fn delta(&mut self) -> Result<TimeDelta, String> {
        let seconds = self.int()?;
        let nanos = self.int()?;
        TimeDelta::try_seconds(seconds)
            .and_then(|delta| delta.checked_add(&TimeDelta::nanoseconds(nanos)))
            .ok_or_else(|| "a bad duration".into())
    }
}

impl<F: std::io::Read> Reader<std::io::BufReader<Hashing<F>>> {
    /// Every byte of the body was read, and the checksum after it is theirs.
    fn verify(mut self) -> Result<(), String> {
        use std::io::Read as _;
        if self.left != 0 {
            return Err("the cache has bytes left over".into());
        }
        let mut checksum = [0u8; CHECKSUM_LEN];
        self.input
            .read_exact(&mut checksum)
            .map_err(|_| "the cache is cut short")?;
        let mut rest = [0u8; 1];
        if !matches!(self.input.read(&mut rest), Ok(0)) {
            return Err("the cache has bytes left over".into());
        }
        if self.input.get_ref().hasher.clone().finalize()[..] != checksum {
            return Err("the cache is damaged".into());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_and_durations_read_back_as_written() {
        let mut out = Writer::new(Vec::new());
        let numbers = [0, 1, 127, 128, 300, u64::MAX];
        let ints = [0, -1, 1, i64::MIN, i64::MAX, -300];
        let deltas = [
            TimeDelta::zero(),
            TimeDelta::milliseconds(-1500),
            TimeDelta::hours(26) + TimeDelta::nanoseconds(7),
        ];
        numbers.iter().for_each(|n| out.uint(*n));
        ints.iter().for_each(|n| out.int(*n));
        deltas.iter().for_each(|d| out.delta(*d));
        let bytes = out.finish().unwrap();
        let mut input = Reader::new(&bytes[..], bytes.len() as u64);
        for n in numbers {
            assert_eq!(input.uint().unwrap(), n);
        }
        for n in ints {
            assert_eq!(input.int().unwrap(), n);
        }
        for d in deltas {
            assert_eq!(input.delta().unwrap(), d);
        }
        assert_eq!(input.left, 0);
        assert!(input.uint().is_err(), "nothing left to read");
    }

    #[test]
    fn a_count_beyond_the_bytes_left_is_refused_before_anything_is_allocated() {
        let mut out = Writer::new(Vec::new());
        out.uint(1 << 40);
        let bytes = out.finish().unwrap();
        let mut input = Reader::new(&bytes[..], bytes.len() as u64);
        assert!(input.count().is_err());
    }
}
