//! The command line: `validate`, `plan`, `init`, `schema`, the engine's `run`, `status`,
//! `history`, `rehearse`, `trigger` (in `engine_commands`), and people's API `token`s. Exit codes: 0 success, 1 an
//! invalid playbook, 2 a usage error (bad arguments, a path that does not exist).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use chrono::{DateTime, TimeDelta, Utc};
use chrono_tz::Tz;
use clap::{Parser, Subcommand, ValueEnum};

use crate::diagnostic::Diagnostic;
use crate::ops::incidents::IncidentAction;
use crate::ops::pauses::Selection;
use crate::playbook::load;
use crate::playbook::plan::Plan;
use crate::playbook::schema::{config_schema, playbook_schema};
use crate::playbook::validate::Validated;
use crate::preview::{self, Format};
use crate::script::ScriptEngine;
use crate::text::TextTemplates;

#[macro_use]
mod output;

mod accounts;
mod approvals;
mod contest;
mod engine_commands;
mod incidents;
mod kill_switch;
mod tokens;

#[derive(Debug, Parser)]
#[command(
    name = "crier",
    version,
    about = "Campaigns, contests, crisis plans and posting rules for social-media teams, as YAML playbooks."
)]
pub struct Cli {
    /// The folder holding crier.yaml, for every command (commands with a PATH argument take
    /// it there too); `.` if absent.
    // Its id differs from the commands' own `path` arguments: clap does not pass a global
    // argument down to a command that has one of the same id.
    #[arg(short = 'C', long = "path", value_name = "DIR", global = true)]
    folder: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Check crier.yaml and every playbook under PATH; report every error at once.
    Validate {
        /// The folder holding crier.yaml (searched recursively), or one playbook file beside
        /// it (same as -C); `.` if neither is given.
        path: Option<PathBuf>,
        /// `text` for people, `json` (one object per line) for editors and CI.
        #[arg(long, value_enum, default_value_t = DiagnosticFormat::Text)]
        format: DiagnosticFormat,
    },
    /// List every post and contest milestone in a time window, in time order.
    Plan {
        /// The folder holding crier.yaml (same as -C); `.` if neither is given.
        path: Option<PathBuf>,
        /// Start: `YYYY-MM-DD HH:MM` in crier.yaml's time zone, a date, or RFC 3339. Now if absent.
        #[arg(long)]
        from: Option<String>,
        /// End (exclusive), same forms as --from.
        #[arg(long, conflicts_with = "days")]
        until: Option<String>,
        /// Length of the window in days (14 if neither --until nor --days is given).
        #[arg(long)]
        days: Option<u32>,
        /// `table` for people, `json` (one object per line), `csv`, or `ics` (a calendar).
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
    },
    /// Create a working starting point: crier.yaml with console accounts and one playbook of each kind.
    Init {
        /// The folder to create (it may exist, but must not hold a crier.yaml).
        dir: PathBuf,
    },
    /// Run the playbooks as a service: schedule, evaluate, send. SIGINT/SIGTERM stop it
    /// gracefully (a second signal at once); SIGHUP or an edited file reloads the playbooks.
    Run {
        /// The folder holding crier.yaml (same as -C); `.` if neither is given.
        path: Option<PathBuf>,
        /// `text` for people, `json` (one object per line) for log collectors.
        #[arg(long, value_enum, default_value_t = LogFormat::Text)]
        log_format: LogFormat,
        /// Serve the HTTP API on this address and port (e.g. `127.0.0.1:7878`; port 0 picks
        /// a free one), instead of crier.yaml's `server: { listen: … }`.
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// What the store holds: what waits, what fired last, pauses, what is running (reads no playbook).
    Status {
        /// The folder holding crier.yaml (same as -C); `.` if neither is given.
        path: Option<PathBuf>,
    },
    /// Every run and step with its outcome, newest first; failures say why.
    History {
        /// The folder holding crier.yaml (same as -C); `.` if neither is given.
        path: Option<PathBuf>,
        /// Only this playbook's runs.
        #[arg(long)]
        playbook: Option<String>,
        /// Only runs fired at or after this time (same forms as `plan --from`).
        #[arg(long)]
        since: Option<String>,
        /// At most this many runs.
        #[arg(long, default_value_t = 50)]
        limit: usize,
        /// `table` for people, `json` (one object per line) for scripts.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Run the playbooks on a virtual clock with recording connectors: what would happen,
    /// in time order. Nothing is sent and no store file is touched.
    Rehearse {
        /// The folder holding crier.yaml (same as -C); `.` if neither is given.
        path: Option<PathBuf>,
        /// Input events (JSON Lines: mentions, replies, approvals, hook events).
        #[arg(long)]
        events: Option<PathBuf>,
        /// Start of the rehearsal: `YYYY-MM-DD HH:MM` in crier.yaml's time zone, a date, or
        /// RFC 3339.
        #[arg(long)]
        from: String,
        /// End of the rehearsal (exclusive), same forms as --from.
        #[arg(long)]
        until: String,
        /// `table` for people, `json` (one object per line) for scripts.
        #[arg(long, value_enum, default_value_t = RehearsalFormat::Text)]
        format: RehearsalFormat,
        /// Also write the crisis plans' incident reports to this file (`.md`, `.html` or
        /// `.json`, by its extension).
        #[arg(long)]
        incident_report: Option<PathBuf>,
    },
    /// Fire one campaign post now, whatever its schedule, and send it.
    Trigger {
        /// The campaign's name.
        playbook: String,
        /// The post's id.
        item: String,
        /// Who fires it: one of the people in crier.yaml (your login name if absent).
        #[arg(long)]
        by: Option<String>,
    },
    /// A one-time link that signs PERSON in to the dashboard of `crier run`'s server: valid
    /// for a few minutes, used once; the store keeps only its hash.
    Login {
        /// The person the link signs in (one of `people:`).
        person: String,
        /// How long the link is valid, e.g. `15m` (the default) or `2h`.
        #[arg(long, default_value = "15m")]
        valid: String,
        /// The dashboard's address as the browser reaches it (a reverse proxy's), instead of
        /// crier.yaml's `server: { listen: … }`.
        #[arg(long)]
        url: Option<String>,
    },
    /// People's API tokens: `new` (shown once), `list`, `revoke`.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// A contest: its status, entries, the proof of its draw, and disqualifications.
    Contest {
        #[command(subcommand)]
        command: ContestCommand,
    },
    /// Posts waiting for a person's approval (`--all`: decided ones too).
    Approvals {
        /// Decided approvals too, not only the waiting ones.
        #[arg(long)]
        all: bool,
        /// `table` for people, `json` (one object per line) for scripts.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Approve a post: by the id `crier approvals` shows, or PLAYBOOK/ITEM (its next one).
    Approve {
        /// The approval's id (`crier approvals`), or PLAYBOOK/ITEM.
        reference: String,
        /// Who approves (one of the post's approvers).
        #[arg(long)]
        by: String,
        /// A note kept with the decision.
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject a post: it never goes out. Say why with --note.
    Reject {
        /// The approval's id (`crier approvals`), or PLAYBOOK/ITEM.
        reference: String,
        /// Who rejects (one of the post's approvers).
        #[arg(long)]
        by: String,
        /// Why the post is rejected, kept with the decision.
        #[arg(long)]
        note: String,
    },
    /// Crisis incidents: open ones and those resolved in the last 30 days (`--all`: every one).
    Incidents {
        /// Every incident, however long ago it was resolved.
        #[arg(long)]
        all: bool,
        /// `table` for people, `json` (one object per line) for scripts.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Act on an incident (acknowledge, decide its approval, resolve) or write its report.
    Incident {
        #[command(subcommand)]
        command: IncidentCommand,
    },
    /// The kill switch: hold every post of an account, a campaign, or everything, until
    /// `crier resume` (or --until). Held posts are kept, never lost.
    Pause {
        /// Hold this account's posts (may repeat).
        #[arg(long = "account", value_name = "ACCOUNT")]
        accounts: Vec<String>,
        /// Hold this campaign's posts (may repeat).
        #[arg(long = "campaign", value_name = "CAMPAIGN")]
        campaigns: Vec<String>,
        /// Hold every post.
        #[arg(long)]
        all: bool,
        /// Lift by itself at this time (same forms as `plan --from`).
        #[arg(long)]
        until: Option<String>,
        /// Why: shown in `crier status` and on every held post.
        #[arg(long)]
        reason: String,
        /// Who pauses: one of the people in crier.yaml (your login name if absent).
        #[arg(long)]
        by: Option<String>,
    },
    /// Lift pauses: held posts go out by their `missed:` policy and within the limits.
    Resume {
        /// Lift the pause on this account (may repeat).
        #[arg(long = "account", value_name = "ACCOUNT")]
        accounts: Vec<String>,
        /// Lift the pause on this campaign (may repeat).
        #[arg(long = "campaign", value_name = "CAMPAIGN")]
        campaigns: Vec<String>,
        /// Lift every pause.
        #[arg(long)]
        all: bool,
        /// Who resumes: one of the people in crier.yaml (your login name if absent).
        #[arg(long)]
        by: Option<String>,
    },
    /// The accounts of crier.yaml: `crier accounts check` tests each one's secrets and
    /// connection without posting.
    Accounts {
        #[command(subcommand)]
        command: AccountsCommand,
    },
    /// Print the JSON Schema of playbooks or of crier.yaml.
    Schema {
        /// `playbook` (campaigns, templates, contests, crisis plans, rules) or `config`
        /// (crier.yaml).
        #[arg(value_enum, default_value_t = SchemaKind::Playbook)]
        which: SchemaKind,
    },
}

#[derive(Debug, Subcommand)]
enum IncidentCommand {
    /// Take the incident: stops its reminders and escalation.
    Ack {
        /// The incident's id (`crier incidents`).
        id: i64,
        /// Who (one of the people in crier.yaml).
        #[arg(long)]
        by: String,
    },
    /// Approve the step waiting for approval: the plan goes on.
    Approve {
        /// The incident's id (`crier incidents`).
        id: i64,
        /// Who approves (one of the step's approvers).
        #[arg(long)]
        by: String,
        /// A note kept with the decision.
        #[arg(long)]
        note: Option<String>,
    },
    /// Reject the step waiting for approval: the level's remaining steps are dropped.
    Reject {
        /// The incident's id (`crier incidents`).
        id: i64,
        /// Who rejects (one of the step's approvers).
        #[arg(long)]
        by: String,
        /// Why, kept with the decision.
        #[arg(long)]
        note: String,
    },
    /// Resolve by hand: the plan's resolve steps run (resume campaigns, notify).
    Resolve {
        /// The incident's id (`crier incidents`).
        id: i64,
        /// Who resolves (one of the people in crier.yaml).
        #[arg(long)]
        by: String,
        /// A note kept in the incident's timeline.
        #[arg(long)]
        note: Option<String>,
    },
    /// The incident's report: timeline, durations, approvals and mention chart.
    Report {
        /// The incident's id (`crier incidents`).
        id: i64,
        /// md, html (one self-contained file) or json.
        #[arg(long, default_value = "md")]
        format: String,
    },
}

#[derive(Debug, Subcommand)]
enum ContestCommand {
    /// Phase, times, counts (seen, eligible, excluded by each rule), commitment, winners.
    Status {
        /// The contest's name.
        name: String,
    },
    /// Every entry with its verdict and, if left out, the rule and why.
    Entries {
        /// The contest's name.
        name: String,
        /// `table` for people, `json` or `csv` for spreadsheets and scripts.
        #[arg(long, value_enum, default_value_t = contest::EntriesFormat::Table)]
        format: contest::EntriesFormat,
    },
    /// The proof of the draw as JSON: the frozen list, the commitment, the revealed seed,
    /// the algorithm and the result (`> proof.json`).
    Proof {
        /// The contest's name.
        name: String,
    },
    /// Recomputes a proof and says whether it holds, and where it does not.
    Verify {
        /// A proof written by `crier contest proof`.
        file: PathBuf,
    },
    /// Disqualifies a winner (by entry key, `network:id`): the next reserve wins instead.
    Disqualify {
        /// The contest's name.
        name: String,
        /// The winning entry's key, `network:id` (`crier contest entries`).
        entry: String,
        /// Why: kept in the proof of the draw.
        #[arg(long)]
        reason: String,
        /// Who decides: one of the people in crier.yaml (your login name if absent).
        #[arg(long)]
        by: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Make an API token for PERSON (one of `people:`); it is printed once and the store
    /// keeps only its hash. Calls with it act as PERSON, within their `role:`.
    New {
        /// The person the token acts for.
        person: String,
        /// What the token is for, to tell tokens apart (`crier token list`).
        #[arg(long, default_value = "token")]
        name: String,
        /// How long it is valid, e.g. `90d` or `12h`; for ever if absent.
        #[arg(long)]
        expires: Option<String>,
    },
    /// Every token: its id, person, name, and when it expires or was revoked.
    List {
        /// `table` for people, `json` (one object per line) for scripts.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Revoke a token by its id (`crier token list`): it is refused from then on.
    Revoke {
        /// The token's id.
        id: i64,
    },
}

#[derive(Debug, Subcommand)]
enum AccountsCommand {
    /// Resolve every account's secrets and run its network's health check (nothing is
    /// posted); exits 1 if any account is not ready.
    Check {
        /// The folder holding crier.yaml (same as -C); `.` if neither is given.
        path: Option<PathBuf>,
        /// `table` for people, `json` (one object per line) for scripts.
        #[arg(long, value_enum, default_value_t = TableFormat::Table)]
        format: TableFormat,
    },
    /// Authorize crier for ACCOUNT through its network's OAuth page (redirected to this
    /// machine) and write the tokens to the account's `file:` secret, readable by its owner
    /// only. For networks whose tokens crier renews (X, LinkedIn, YouTube, Facebook,
    /// Instagram, Threads).
    Connect {
        /// The account from crier.yaml.
        account: String,
        /// The folder holding crier.yaml (same as -C); `.` if neither is given.
        path: Option<PathBuf>,
        /// The local port the network sends the browser back to
        /// (`http://127.0.0.1:PORT/callback`, as registered in the app); 0 picks a free one.
        #[arg(long, default_value_t = 8910)]
        port: u16,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DiagnosticFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TableFormat {
    Table,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum RehearsalFormat {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum SchemaKind {
    Playbook,
    Config,
}

pub(crate) const INVALID: u8 = 1;
pub(crate) const USAGE: u8 = 2;

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(message) => {
            errln!("error: {message}");
            ExitCode::from(USAGE)
        }
    }
}

/// Runs a command; `Err` is a usage error.
fn run(cli: Cli) -> Result<ExitCode, String> {
    let Cli {
        command,
        folder: global_path,
    } = cli;
    // Commands without a positional PATH read the folder -C/--path names.
    let path = global_path.clone().unwrap_or_else(|| PathBuf::from("."));
    let folder = |positional: Option<PathBuf>| choose_folder(positional, global_path.as_deref());
    match command {
        Command::Validate { path, format } => {
            let path = folder(path)?;
            let validated = load_and_validate(&path)?;
            print_diagnostics(&validated.diagnostics, format);
            if validated.has_errors() {
                return Ok(ExitCode::from(INVALID));
            }
            let plan = validated.plan.as_ref().expect("a valid load has a plan");
            warn_passed(plan, Utc::now());
            if format == DiagnosticFormat::Text {
                outln!("{}", summary(plan));
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Plan {
            path,
            from,
            until,
            days,
            format,
        } => {
            let path = folder(path)?;
            // One template environment for checking and rendering, so its cache serves both.
            let texts = TextTemplates::new();
            let validated =
                crate::engine::service::validate_anchored(&path, &ScriptEngine::new(), &texts)
                    .map_err(|e| e.to_string())?;
            print_diagnostics(&validated.diagnostics, DiagnosticFormat::Text);
            let Some(plan) = validated.plan else {
                return Ok(ExitCode::from(INVALID));
            };
            let from = match from {
                Some(text) => parse_instant(&text, plan.timezone, "--from")?,
                None => Utc::now(),
            };
            let until = match (until, days) {
                (Some(text), _) => parse_instant(&text, plan.timezone, "--until")?,
                (None, days) => TimeDelta::try_days(i64::from(days.unwrap_or(14)))
                    .and_then(|length| from.checked_add_signed(length))
                    .ok_or("--days is too many")?,
            };
            warn_passed(&plan, Utc::now());
            let plan = window_anchored(&path, &texts, plan, from)?;
            let Some(plan) = plan else {
                return Ok(ExitCode::from(INVALID));
            };
            let window = |_| "--until must be after --from".to_string();
            let mut out = std::io::BufWriter::new(output::stdout());
            if format == preview::Format::Table {
                // The table's columns are as wide as their widest cell: it needs every line.
                let planned =
                    crate::ops::views::plan(&plan, &texts, from, until).map_err(window)?;
                preview::write(format, &planned, &mut out).map_err(|e| e.to_string())?;
            } else {
                let mut writer = preview::Writer::new(format, &mut out);
                crate::ops::views::plan_streamed(&plan, &texts, from, until, &mut |line| {
                    writer.line(line)
                })
                .map_err(window)?
                .map_err(|e| e.to_string())?;
                writer.finish().map_err(|e| e.to_string())?;
            }
            out.flush().map_err(|e| e.to_string())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Init { dir } => {
            crate::init::create(&dir).map_err(|e| e.to_string())?;
            outln!(
                "created {} — next: crier validate {0} && crier plan {0} --days 30",
                dir.display()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Run {
            path,
            log_format,
            listen,
        } => engine_commands::run(folder(path)?, log_format, listen),
        Command::Status { path } => engine_commands::status(&folder(path)?),
        Command::History {
            path,
            playbook,
            since,
            limit,
            format,
        } => engine_commands::history(&folder(path)?, playbook, since, limit, format),
        Command::Rehearse {
            path,
            events,
            from,
            until,
            format,
            incident_report,
        } => engine_commands::rehearse(
            &folder(path)?,
            events.as_deref(),
            &from,
            &until,
            format,
            incident_report.as_deref(),
        ),
        Command::Trigger { playbook, item, by } => {
            engine_commands::trigger(&path, &playbook, &item, by)
        }
        Command::Login { person, valid, url } => {
            tokens::login(&path, &person, &valid, url.as_deref())
        }
        Command::Token { command } => match command {
            TokenCommand::New {
                person,
                name,
                expires,
            } => tokens::new(&path, &person, &name, expires.as_deref()),
            TokenCommand::List { format } => tokens::list(&path, format),
            TokenCommand::Revoke { id } => tokens::revoke(&path, id),
        },
        Command::Contest { command } => match command {
            ContestCommand::Status { name } => contest::status(&path, &name),
            ContestCommand::Entries { name, format } => contest::entries(&path, &name, format),
            ContestCommand::Proof { name } => contest::proof(&path, &name),
            ContestCommand::Verify { file } => contest::verify_file(&file),
            ContestCommand::Disqualify {
                name,
                entry,
                reason,
                by,
            } => contest::disqualify(&path, &name, &entry, &reason, by),
        },
        Command::Approvals { all, format } => approvals::list(&path, all, format),
        Command::Incidents { all, format } => incidents::list(&path, all, format),
        Command::Incident { command } => match command {
            IncidentCommand::Ack { id, by } => incidents::act(&path, id, &by, IncidentAction::Ack),
            IncidentCommand::Approve { id, by, note } => incidents::act(
                &path,
                id,
                &by,
                IncidentAction::Decide {
                    approve: true,
                    note,
                },
            ),
            IncidentCommand::Reject { id, by, note } => incidents::act(
                &path,
                id,
                &by,
                IncidentAction::Decide {
                    approve: false,
                    note: Some(note),
                },
            ),
            IncidentCommand::Resolve { id, by, note } => {
                incidents::act(&path, id, &by, IncidentAction::Resolve { note })
            }
            IncidentCommand::Report { id, format } => incidents::report(&path, id, &format),
        },
        Command::Approve {
            reference,
            by,
            note,
        } => approvals::decide(
            &path,
            &reference,
            &by,
            crate::store::Decision::Approve,
            note.as_deref(),
        ),
        Command::Reject {
            reference,
            by,
            note,
        } => approvals::decide(
            &path,
            &reference,
            &by,
            crate::store::Decision::Reject,
            Some(&note),
        ),
        Command::Pause {
            accounts,
            campaigns,
            all,
            until,
            reason,
            by,
        } => kill_switch::pause(
            &path,
            kill_switch::PauseArgs {
                selection: Selection {
                    accounts,
                    campaigns,
                    all,
                },
                until: until.as_deref(),
                reason: &reason,
                by,
            },
        ),
        Command::Resume {
            accounts,
            campaigns,
            all,
            by,
        } => kill_switch::resume(
            &path,
            Selection {
                accounts,
                campaigns,
                all,
            },
            by,
        ),
        Command::Accounts {
            command: AccountsCommand::Check { path, format },
        } => accounts::check(&folder(path)?, format),
        Command::Accounts {
            command:
                AccountsCommand::Connect {
                    account,
                    path,
                    port,
                },
        } => accounts::connect(&folder(path)?, &account, port),
        Command::Schema { which } => {
            let schema = match which {
                SchemaKind::Playbook => playbook_schema(),
                SchemaKind::Config => config_schema(),
            };
            outln!(
                "{}",
                serde_json::to_string_pretty(&schema).expect("a schema serialises")
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The folder a command reads: its positional PATH or -C/--path (the same one if both are
/// given), `.` if neither.
fn choose_folder(positional: Option<PathBuf>, global: Option<&Path>) -> Result<PathBuf, String> {
    match (positional, global) {
        (Some(positional), Some(global)) if positional != global => Err(format!(
            "two folders given: `{}` and -C `{}`; give one",
            positional.display(),
            global.display()
        )),
        (Some(path), _) => Ok(path),
        (None, Some(global)) => Ok(global.to_path_buf()),
        (None, None) => Ok(PathBuf::from(".")),
    }
}

/// Loads and validates a folder or file; `Err` is a usage error (a path that cannot be read).
/// `day_one: first-run` counts from the day the folder's store first ran (today if none).
pub fn load_and_validate(path: &Path) -> Result<Validated, String> {
    crate::engine::service::validate_anchored(path, &ScriptEngine::new(), &TextTemplates::new())
        .map_err(|e| e.to_string())
}

/// Until `crier run` has started on the store, `day_one: first-run` counts from the first
/// day of the window a command shows (`crier plan --from`). `None`: invalid (diagnostics printed).
fn window_anchored(
    path: &Path,
    texts: &TextTemplates,
    plan: Plan,
    from: DateTime<Utc>,
) -> Result<Option<Plan>, String> {
    let first_day = from.with_timezone(&plan.timezone).date_naive();
    let Some(day_one) = plan.day_one.filter(|day_one| day_one.first_run) else {
        return Ok(Some(plan));
    };
    if day_one.date == first_day
        || crate::store::first_run_day(&plan)
            .map_err(|e| e.to_string())?
            .is_some()
    {
        return Ok(Some(plan));
    }
    let validated =
        load::load_and_validate_from(path, &ScriptEngine::new(), texts, Some(first_day))
            .map_err(|e| e.to_string())?;
    // Its warnings were printed already; errors (a day moved out of range) were not.
    if validated.plan.is_none() {
        print_diagnostics(&validated.diagnostics, DiagnosticFormat::Text);
    }
    Ok(validated.plan)
}

pub(crate) fn print_diagnostics(diagnostics: &[Diagnostic], format: DiagnosticFormat) {
    match format {
        DiagnosticFormat::Text => {
            for diagnostic in diagnostics {
                errln!("{diagnostic}");
            }
            let errors = diagnostics.iter().filter(|d| d.is_error()).count();
            if errors > 0 {
                errln!("{errors} error(s) found");
            }
        }
        DiagnosticFormat::Json => {
            for diagnostic in diagnostics {
                outln!("{}", diagnostic.to_json());
            }
        }
    }
}

/// Warns (on stderr; the command still succeeds) about one-off posts whose time has passed:
/// `crier run` records them as missed and never sends them. Calendar rows are counted per
/// file.
fn warn_passed(plan: &Plan, now: DateTime<Utc>) {
    let local = |at: &DateTime<Tz>| at.format("%Y-%m-%d %H:%M %Z").to_string();
    let mut rows: std::collections::BTreeMap<(&str, &str), (usize, DateTime<Tz>)> =
        std::collections::BTreeMap::new();
    for passed in plan.passed_one_offs(now) {
        match passed.id.rsplit_once(':') {
            Some((file, line)) if line.parse::<u64>().is_ok() => {
                let entry = rows
                    .entry((passed.campaign, file))
                    .or_insert((0, passed.at));
                entry.0 += 1;
                entry.1 = entry.1.max(passed.at);
            }
            _ => errln!(
                "warning: post `{}/{}` was due {}, which has passed: unless crier already sent it, `crier run` records it as missed and does not send it",
                passed.campaign,
                passed.id,
                local(&passed.at)
            ),
        }
    }
    for ((campaign, file), (count, latest)) in rows {
        errln!(
            "warning: {count} row(s) of `{file}` in `{campaign}` were due by {}, which has passed: unless crier already sent them, `crier run` records them as missed and does not send them",
            local(&latest)
        );
    }
}

fn summary(plan: &Plan) -> String {
    let post_count: usize = plan.campaigns.iter().map(|c| c.posts.len()).sum();
    format!(
        "ok: {} account(s), {} campaign(s) with {} post(s), {} template(s), {} contest(s), {} crisis plan(s), {} rule set(s)",
        plan.accounts.len(),
        plan.campaigns.len(),
        post_count,
        plan.templates.len(),
        plan.contests.len(),
        plan.crises.len(),
        plan.rules.len()
    )
}

/// `YYYY-MM-DD HH:MM` (in `tz`), `YYYY-MM-DD` (its midnight), or RFC 3339.
pub(crate) fn parse_instant(text: &str, tz: Tz, flag: &str) -> Result<DateTime<Utc>, String> {
    crate::ops::times::parse_instant(text, tz).map_err(|e| format!("{flag} `{text}`: {e}"))
}
