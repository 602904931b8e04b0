//! Every kind of mistake a playbook author makes, with the whole diagnostic crier prints
//! for it (file, line, column, the source line, the caret, the hint), as `just` tests its
//! error messages. Fixtures are written to a temporary folder whose path is replaced by
//! `DIR` before comparing.

use std::path::Path;
use std::process::{Command, Output};

use tempfile::TempDir;

pub const CONFIG: &str = "\
timezone: Europe/Kyiv
accounts:
  brand_mastodon: { network: mastodon, server: https://mastodon.social, token: env:MASTODON_TOKEN }
  demo: { network: console }
people:
  pr_lead: { notify: demo }
";

/// A folder of playbooks: a standard `crier.yaml` unless `config` replaces it.
pub struct Fixture {
    dir: TempDir,
}

impl Default for Fixture {
    fn default() -> Self {
        Self::new()
    }
}

impl Fixture {
    pub fn new() -> Self {
        Self::bare().file("crier.yaml", CONFIG)
    }

    /// A folder with no files at all.
    pub fn bare() -> Self {
        Fixture {
            dir: TempDir::new().expect("a temporary folder"),
        }
    }

    pub fn config(self, text: &str) -> Self {
        self.file("crier.yaml", text)
    }

    pub fn file(self, name: &str, text: impl AsRef<[u8]>) -> Self {
        let path = self.dir.path().join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create folder");
        }
        std::fs::write(path, text).expect("write fixture");
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Replaces the temporary folder's path with `DIR`.
    pub fn scrub(&self, text: &str) -> String {
        text.replace(&self.path().display().to_string(), "DIR")
    }

    /// Every diagnostic of `load_and_validate`, rendered, one after another.
    pub fn diagnostics(&self) -> Vec<String> {
        let validated =
            crier::playbook::load::load_and_validate(self.path()).expect("the folder loads");
        validated
            .diagnostics
            .iter()
            .map(|d| self.scrub(&d.to_string()))
            .collect()
    }

    pub fn render(&self) -> String {
        self.diagnostics().concat()
    }

    /// Runs the crier binary with `args`, then this folder's path.
    pub fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_crier"))
            .args(args)
            .arg(self.path())
            .output()
            .expect("run crier")
    }
}

/// Compares the whole rendering; with `CRIER_CAPTURE=DIR` set, also writes what crier printed.
#[track_caller]
fn expect(name: &str, fixture: &Fixture, expected: &str) {
    let actual = fixture.render();
    if let Ok(dir) = std::env::var("CRIER_CAPTURE") {
        std::fs::write(Path::new(&dir).join(name), &actual).unwrap();
    }
    assert_eq!(
        actual, expected,
        "\n--- actual ---\n{actual}--- expected ---\n{expected}"
    );
}

fn campaign(body: &str) -> Fixture {
    Fixture::new().file("sale.yaml", body)
}

const TEMPLATE: &str = "\
kind: template
name: product-launch
params:
  product: { type: string }
  launch: { type: datetime }
  discount: { type: int, default: 10, min: 0, max: 90 }
  to: { type: accounts }
posts:
  - id: launch
    at: \"{{ launch }}\"
    to: \"{{ to }}\"
    text: \"{{ product }} is here! -{{ discount }}%\"
";

fn with_template(with: &str) -> Fixture {
    Fixture::new()
        .file("templates/product-launch.yaml", TEMPLATE)
        .file(
            "boots.yaml",
            format!("kind: campaign\nname: boots\nuses: product-launch\nwith: {with}\n"),
        )
}

#[test]
fn unknown_field() {
    expect(
        "unknown_field",
        &campaign(
            "\
kind: campaign
name: sale
posts:
  - id: teaser
    at: 2026-12-01 10:00
    to: [brand_mastodon]
    tex: \"hello\"
",
        ),
        r#"error: post `teaser` has no `text`
  ——▶ DIR/sale.yaml:4:9
  |
4 |   - id: teaser
  |         ^^^^^^
error: unknown field `tex`
  ——▶ DIR/sale.yaml:7:5
  |
7 |     tex: "hello"
  |     ^^^
  = hint: did you mean `text`?
"#,
    );
}

#[test]
fn unknown_account() {
    expect(
        "unknown_account",
        &campaign(
            "\
kind: campaign
name: sale
posts:
  - id: teaser
    at: 2026-12-01 10:00
    to: [brand_mastadon]
    text: hello
",
        ),
        r#"error: unknown account `brand_mastadon`
  ——▶ DIR/sale.yaml:6:10
  |
6 |     to: [brand_mastadon]
  |          ^^^^^^^^^^^^^^
  = hint: did you mean `brand_mastodon`?
"#,
    );
}

const CRISIS_HEAD: &str = "\
kind: crisis
name: outage
watch:
  accounts: [brand_mastodon]
levels:
  - name: elevated
    when: 'mentions(\"30m\").negative >= 5'
    do:
";

#[test]
fn unknown_person() {
    let fx = Fixture::new().file(
        "outage.yaml",
        format!("{CRISIS_HEAD}      - notify: pr_laed\n"),
    );
    expect(
        "unknown_person",
        &fx,
        r#"error: unknown person `pr_laed`
  ——▶ DIR/outage.yaml:9:17
  |
9 |       - notify: pr_laed
  |                 ^^^^^^^
  = hint: did you mean `pr_lead`?
"#,
    );
}

#[test]
fn ack_timeout_of_zero() {
    let fx = Fixture::new().file(
        "outage.yaml",
        format!("ack: {{ timeout: 0m }}\n{CRISIS_HEAD}      - notify: pr_lead\n"),
    );
    expect(
        "ack_timeout_of_zero",
        &fx,
        r#"error: `ack.timeout` must be longer than 0
  ——▶ DIR/outage.yaml:1:17
  |
1 | ack: { timeout: 0m }
  |                 ^^
  = hint: how long a notification may wait for `crier incident ack`, e.g. `15m`
"#,
    );
}

#[test]
fn unknown_template() {
    let fx = Fixture::new()
        .file("templates/product-launch.yaml", TEMPLATE)
        .file(
            "boots.yaml",
            "kind: campaign\nname: boots\nuses: product-lanch\n",
        );
    expect(
        "unknown_template",
        &fx,
        r#"error: unknown template `product-lanch`
  ——▶ DIR/boots.yaml:3:7
  |
3 | uses: product-lanch
  |       ^^^^^^^^^^^^^
  = hint: did you mean `product-launch`?
"#,
    );
}

#[test]
fn template_parameter_missing() {
    let fx = with_template("{ launch: \"2027-03-01 10:00\", to: [brand_mastodon] }");
    expect(
        "param_missing",
        &fx,
        r#"error: missing parameter `product` for template `product-launch`
  ——▶ DIR/boots.yaml:4:7
  |
4 | with: { launch: "2027-03-01 10:00", to: [brand_mastodon] }
  |       ^
  = hint: add `product:` (a string) under `with:`
"#,
    );
}

#[test]
fn template_parameter_unknown() {
    let fx = with_template(
        "{ prodcut: Boots, product: Boots, launch: \"2027-03-01 10:00\", to: [brand_mastodon] }",
    );
    expect(
        "param_unknown",
        &fx,
        r#"error: unknown parameter `prodcut` for template `product-launch`
  ——▶ DIR/boots.yaml:4:9
  |
4 | with: { prodcut: Boots, product: Boots, launch: "2027-03-01 10:00", to: [brand_mastodon] }
  |         ^^^^^^^
  = hint: did you mean `product`?
"#,
    );
}

#[test]
fn template_parameter_mistyped() {
    let fx = with_template(
        "{ product: Boots, launch: \"2027-03-01 10:00\", discount: lots, to: [brand_mastodon] }",
    );
    expect(
        "param_mistyped",
        &fx,
        r#"error: parameter `discount` must be an int, found `lots`
  ——▶ DIR/boots.yaml:4:63
  |
4 | with: { product: Boots, launch: "2027-03-01 10:00", discount: lots, to: [brand_mastodon] }
  |                                                               ^^^^
"#,
    );
}

#[test]
fn template_parameter_out_of_bounds() {
    let fx = with_template(
        "{ product: Boots, launch: \"2027-03-01 10:00\", discount: 95, to: [brand_mastodon] }",
    );
    expect(
        "param_bounds",
        &fx,
        r#"error: parameter `discount` is 95, above its maximum 90
  ——▶ DIR/boots.yaml:4:63
  |
4 | with: { product: Boots, launch: "2027-03-01 10:00", discount: 95, to: [brand_mastodon] }
  |                                                               ^^
"#,
    );
}

#[test]
fn template_cycle() {
    let fx = Fixture::new()
        .file("a.yaml", "kind: template\nname: a\nuses: b\n")
        .file("b.yaml", "kind: template\nname: b\nuses: a\n")
        .file("c.yaml", "kind: campaign\nname: c\nuses: a\n");
    expect(
        "cycle",
        &fx,
        r#"error: templates use each other in a cycle: `a` -> `b` -> `a`
  ——▶ DIR/b.yaml:3:7
  |
3 | uses: a
  |       ^
  = hint: a template may use another, but never itself, directly or through others
"#,
    );
}

const SALE: &str = "\
kind: campaign
name: sale
posts:
  - id: teaser
    at: 2099-12-01 10:00
    to: [brand_mastodon]
    text: hello
";

#[test]
fn duplicate_playbook_name() {
    let fx = Fixture::new().file("a.yaml", SALE).file("b.yaml", SALE);
    expect(
        "dup_name",
        &fx,
        r#"error: duplicate name `sale`
  ——▶ DIR/b.yaml:2:7
  |
2 | name: sale
  |       ^^^^
  = hint: `sale` is already the name of a playbook at DIR/a.yaml:2:7; names are unique across all playbooks
"#,
    );
}

/// Only the second `text:` is at fault, and it is reported once (the YAML reader drops the
/// repeat, so serde's own "duplicate field" never fires).
#[test]
fn duplicate_key() {
    expect(
        "dup_key",
        &campaign(
            "\
kind: campaign
name: sale
posts:
  - id: teaser
    at: 2026-12-01 10:00
    to: [brand_mastodon]
    text: hello
    text: again
",
        ),
        r#"error: duplicate key `text`
  ——▶ DIR/sale.yaml:8:5
  |
8 |     text: again
  |     ^^^^
  = hint: `text` is already set on line 7; keep one of them
"#,
    );
}

#[test]
fn unknown_kind() {
    expect(
        "unknown_kind",
        &campaign("kind: campain\nname: sale\n"),
        r#"error: unknown kind `campain`
  ——▶ DIR/sale.yaml:1:7
  |
1 | kind: campain
  |       ^^^^^^^
  = hint: did you mean `campaign`?
"#,
    );
}

fn cron_post(cron: &str) -> Fixture {
    campaign(&format!(
        "\
kind: campaign
name: sale
posts:
  - id: deal
    cron: \"{cron}\"
    to: [brand_mastodon]
    text: hello
"
    ))
}

#[test]
fn cron_hour_out_of_range() {
    expect(
        "cron_hour",
        &cron_post("0 25 * * *"),
        r#"error: hour `25` is out of range 0-23
  ——▶ DIR/sale.yaml:5:14
  |
5 |     cron: "0 25 * * *"
  |              ^^
"#,
    );
}

#[test]
fn cron_six_fields() {
    expect(
        "cron_six",
        &cron_post("0 0 12 * * MON"),
        r#"error: expected 5 fields (minute hour day-of-month month day-of-week), found 6
  ——▶ DIR/sale.yaml:5:12
  |
5 |     cron: "0 0 12 * * MON"
  |            ^
  = hint: crier uses the standard 5-field crontab; remove the seconds field
"#,
    );
}

#[test]
fn bad_duration() {
    expect(
        "duration",
        &campaign(
            "\
kind: campaign
name: sale
posts:
  - id: deal
    cron: \"0 12 * * *\"
    to: [brand_mastodon]
    text: hello
    missed: once
    max_late: 2hours
",
        ),
        r#"error: unknown duration unit `hours` in `2hours`
  ——▶ DIR/sale.yaml:9:16
  |
9 |     max_late: 2hours
  |                ^^^^^
  = hint: durations are a number and a unit: `90s`, `15m`, `2h`, `7d`, `1w`
"#,
    );
}

#[test]
fn bad_datetime() {
    expect(
        "datetime",
        &campaign(
            "\
kind: campaign
name: sale
posts:
  - id: teaser
    at: 2026-13-01 10:00
    to: [brand_mastodon]
    text: hello
",
        ),
        r#"error: month `13` is out of range 01-12
  ——▶ DIR/sale.yaml:5:14
  |
5 |     at: 2026-13-01 10:00
  |              ^^
  = hint: dates are written `YYYY-MM-DD`, like `2026-12-01`
"#,
    );
}

/// `Europe/Kyev` is one letter from both `Europe/Kiev` (a deprecated alias) and
/// `Europe/Kyiv` (the canonical name, used in crier.yaml); crier suggests the canonical one.
#[test]
fn unknown_time_zone() {
    expect(
        "timezone",
        &campaign(&format!("timezone: Europe/Kyev\n{SALE}")),
        r#"error: unknown time zone `Europe/Kyev`
  ——▶ DIR/sale.yaml:1:11
  |
1 | timezone: Europe/Kyev
  |           ^^^^^^^^^^^
  = hint: did you mean `Europe/Kyiv`?
"#,
    );
}

#[test]
fn rhai_syntax_error_in_block() {
    expect(
        "rhai_syntax",
        &campaign(
            "\
kind: campaign
name: sale
posts:
  - id: deal
    cron: \"0 12 * * *\"
    to: [brand_mastodon]
    when: |
      metrics(\"brand_mastodon\").followers > 100 &&
        metrics(\"brand_mastodon\").followers < )
    text: hello
",
        ),
        r#"error: unexpected `)`
  ——▶ DIR/sale.yaml:9:47
  |
9 |         metrics("brand_mastodon").followers < )
  |                                               ^
"#,
    );
}

#[test]
fn rhai_unknown_variable_in_block() {
    expect(
        "rhai_unknown",
        &campaign(
            "\
kind: campaign
name: sale
posts:
  - id: deal
    cron: \"0 12 * * *\"
    to: [brand_mastodon]
    when: |
      metrics(\"brand_mastodon\").followers > 100 &&
        folowers < 5
    text: hello
",
        ),
        r#"error: unknown variable `folowers`
  ——▶ DIR/sale.yaml:9:9
  |
9 |         folowers < 5
  |         ^^^^^^^^
  = hint: variables available here: `now`, `vars`, `post`, `run`
"#,
    );
}

#[test]
fn unknown_template_variable() {
    expect(
        "text_var",
        &campaign(
            "\
kind: campaign
name: sale
vars:
  product: Jacket
posts:
  - id: teaser
    at: 2026-12-01 10:00
    to: [brand_mastodon]
    text: \"New: {{ prodct }} #warmwinter\"
",
        ),
        r#"error: unknown variable `prodct`
  ——▶ DIR/sale.yaml:9:20
  |
9 |     text: "New: {{ prodct }} #warmwinter"
  |                    ^^^^^^
  = hint: did you mean `product`?
"#,
    );
}

#[test]
fn unknown_filter() {
    expect(
        "text_filter",
        &campaign(
            "\
kind: campaign
name: sale
vars:
  x: Jacket
posts:
  - id: teaser
    at: 2026-12-01 10:00
    to: [brand_mastodon]
    text: \"Hi {{ x | mention }}\"
",
        ),
        r#"error: unknown filter `mention`
  ——▶ DIR/sale.yaml:9:22
  |
9 |     text: "Hi {{ x | mention }}"
  |                      ^^^^^^^
  = hint: did you mean `mentions`?
"#,
    );
}

/// The secret is masked as `********` (hiding its length too), with the caret under the mask.
#[test]
fn literal_secret() {
    let fx = Fixture::new()
        .config(
            "\
timezone: Europe/Kyiv
accounts:
  brand_mastodon: { network: mastodon, server: https://mastodon.social, token: s3cr3t-T0KEN-value }
  demo: { network: console }
",
        )
        .file("sale.yaml", SALE);
    let out = fx.render();
    assert!(!out.contains("s3cr3t-T0KEN-value"), "secret leaked:\n{out}");
    expect(
        "secret",
        &fx,
        r#"error: `token` of account `brand_mastodon` holds a secret in the file
  ——▶ DIR/crier.yaml:3:80
  |
3 |   brand_mastodon: { network: mastodon, server: https://mastodon.social, token: ******** }
  |                                                                                ^^^^^^^^
  = hint: secrets are references: write `token: env:BRAND_MASTODON_TOKEN` and set the variable, or `token: file:/run/secrets/brand_mastodon`
"#,
    );
}

#[test]
fn calendar_rows() {
    let fx = campaign(
        "\
kind: campaign
name: sale
posts:
  - calendar: sale.csv
",
    )
    .file(
        "sale.csv",
        "\
at,to,text,media
2026-12-05 11:00,brand_mastodon,ok row,
2026-12-06 11:00,brand_mastadon,bad account,
2026-12-32 11:00,brand_mastodon,bad date,
",
    );
    expect(
        "calendar",
        &fx,
        r#"error: unknown account `brand_mastadon`
  ——▶ DIR/sale.csv:3:18
  |
3 | 2026-12-06 11:00,brand_mastadon,bad account,
  |                  ^^^^^^^^^^^^^^
  = hint: did you mean `brand_mastodon`?
error: `2026-12-32` is not a day of the calendar
  ——▶ DIR/sale.csv:4:1
  |
4 | 2026-12-32 11:00,brand_mastodon,bad date,
  | ^^^^^^^^^^^^^^^^
  = hint: that month has 31 days
"#,
    );
}

/// Regression: a file of 1 MiB and some bytes was said to be "1024 KiB, larger than the
/// 1024 KiB" allowed; the size is rounded up.
#[test]
fn file_too_large() {
    let mut big = String::from(SALE);
    big.push_str("description: \"");
    big.push_str(&"x".repeat(1024 * 1024));
    big.push_str("\"\n");
    expect(
        "too_large",
        &campaign(&big),
        r#"error: file is 1025 KiB, larger than the 1024 KiB a playbook may be
  ——▶ DIR/sale.yaml
  = hint: split it into several files, or move bulk rows into a CSV calendar
"#,
    );
}

#[test]
fn alias_bomb() {
    let mut bomb = String::from(
        "kind: campaign\nname: sale\nvars:\n  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n",
    );
    for i in 1..10 {
        let p = i - 1;
        bomb.push_str(&format!(
            "  a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    expect(
        "alias_bomb",
        &campaign(&bomb),
        r#"error: document expands to more than 100000 values
  ——▶ DIR/sale.yaml:8:47
  |
8 |   a4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]
  |                                               ^
  = hint: YAML aliases (`*name`) that repeat each other multiply; expand them by hand
"#,
    );
}

#[test]
fn contest_draw_before_close() {
    let fx = Fixture::new().file(
        "giveaway.yaml",
        "\
kind: contest
name: giveaway
account: brand_mastodon
announce:
  at: 2026-12-01 10:00
  text: \"Reply with #win\"
entries:
  from: replies
  closes: 2026-12-07 20:00
draw:
  at: 2026-12-07 19:00
  winners: 3
",
    );
    expect(
        "contest_draw",
        &fx,
        r#"error: the draw is before entries close
   ——▶ DIR/giveaway.yaml:11:7
   |
11 |   at: 2026-12-07 19:00
   |       ^^^^^^^^^^^^^^^^
   = hint: `draw.at` must be at or after `entries.closes`
"#,
    );
}

#[test]
fn crisis_step_two_actions() {
    let fx = Fixture::new().file(
        "outage.yaml",
        format!("{CRISIS_HEAD}      - notify: pr_lead\n        pause: campaigns\n"),
    );
    expect(
        "crisis_step",
        &fx,
        r#"error: step does more than one thing
  ——▶ DIR/outage.yaml:9:9
  |
9 |       - notify: pr_lead
  |         ^
  = hint: a step is one of `notify`, `pause`, `resume`, `approve`, `post`, `wait` or `escalate`; write each as its own `- ` item
"#,
    );
}

/// Mistakes in different posts and fields of one file are all reported in one run.
#[test]
fn several_mistakes_at_once() {
    let fx = campaign(
        "\
kind: campaign
name: sale
timezone: Europe/Kyev
posts:
  - id: teaser
    at: 2026-12-01 10:00
    to: [brand_mastadon]
    text: hello
  - id: deal
    cron: \"0 25 * * *\"
    to: [demo]
    text: hello
  - id: later
    at: 2026-12-02 10:00
    to: [demo]
    text: \"{{ prodct }}\"
    max_late: 2hours
  - id: weekly
    cron: \"0 9 * * MON\"
    to: [demo]
    tex: hello
",
    );
    let diagnostics = fx.diagnostics();
    let messages: Vec<&str> = diagnostics
        .iter()
        .map(|d| d.lines().next().unwrap())
        .collect();
    assert_eq!(
        messages,
        [
            "error: unknown time zone `Europe/Kyev`",
            "error: unknown account `brand_mastadon`",
            "error: hour `25` is out of range 0-23",
            "error: unknown variable `prodct`",
            "error: unknown duration unit `hours` in `2hours`",
            "error: post `weekly` has no `text`",
            "error: unknown field `tex`",
        ],
        "{diagnostics:#?}"
    );
    let out = fx.run(&["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.ends_with("7 error(s) found\n"), "{stderr}");
}

/// Regression: a bad cron rule used to end the checks of its post, hiding the unknown
/// variable and the bad duration written beside it.
#[test]
fn bad_cron_does_not_hide_other_mistakes_in_its_post() {
    let fx = campaign(
        "\
kind: campaign
name: sale
posts:
  - id: deal
    cron: \"0 25 * * *\"
    to: [brand_mastodon]
    text: \"{{ prodct }}\"
    max_late: 2hours
",
    );
    let messages: Vec<String> = fx
        .diagnostics()
        .iter()
        .map(|d| d.lines().next().unwrap().to_owned())
        .collect();
    assert_eq!(
        messages,
        [
            "error: hour `25` is out of range 0-23",
            "error: unknown variable `prodct`",
            "error: unknown duration unit `hours` in `2hours`",
        ]
    );
}

/// A literal token in crier.yaml is an error, and its value never reaches any output.
#[test]
fn literal_secret_is_never_printed() {
    const SECRET: &str = "s3cr3t-T0KEN-value";
    let fx = Fixture::new().config(&CONFIG.replace("env:MASTODON_TOKEN", SECRET));
    let rendered = fx.render();
    assert!(
        rendered.contains("holds a secret in the file"),
        "{rendered}"
    );
    assert!(!rendered.contains(SECRET), "{rendered}");
    for format in ["text", "json"] {
        let out = fx.run(&["validate", "--format", format]);
        assert_eq!(out.status.code(), Some(1));
        let all = [out.stdout, out.stderr].concat();
        let all = String::from_utf8_lossy(&all);
        assert!(
            !all.contains(SECRET),
            "--format {format} printed the secret:\n{all}"
        );
    }
}

#[test]
fn json_format() {
    let fx = campaign(
        "\
kind: campaign
name: sale
posts:
  - id: teaser
    at: 2026-12-01 10:00
    to: [brand_mastadon]
    tex: hello
",
    );
    let out = fx.run(&["validate", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let objects: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
        .collect();
    let file = fx.path().join("sale.yaml").display().to_string();
    assert_eq!(
        objects,
        [
            serde_json::json!({
                "severity": "error", "file": file, "line": 4, "column": 9,
                "message": "post `teaser` has no `text`", "hint": null,
            }),
            serde_json::json!({
                "severity": "error", "file": file, "line": 6, "column": 10,
                "message": "unknown account `brand_mastadon`",
                "hint": "did you mean `brand_mastodon`?",
            }),
            serde_json::json!({
                "severity": "error", "file": file, "line": 7, "column": 5,
                "message": "unknown field `tex`", "hint": "did you mean `text`?",
            }),
        ]
    );
}

#[test]
fn exit_codes() {
    let valid = campaign(SALE);
    let out = valid.run(&["validate"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stderr.is_empty());
    assert!(String::from_utf8(out.stdout).unwrap().starts_with("ok: "));
    let out = valid.run(&["validate", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    assert!(out.stdout.is_empty());

    let invalid = campaign(&SALE.replace("brand_mastodon", "brand_mastadon"));
    let out = invalid.run(&["validate"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = invalid.scrub(&String::from_utf8(out.stderr).unwrap());
    assert_eq!(
        stderr,
        r#"error: unknown account `brand_mastadon`
  ——▶ DIR/sale.yaml:6:10
  |
6 |     to: [brand_mastadon]
  |          ^^^^^^^^^^^^^^
  = hint: did you mean `brand_mastodon`?

1 error(s) found
"#
    );
    assert_eq!(invalid.run(&["plan"]).status.code(), Some(1));

    let missing = valid.path().join("no-such-folder");
    let out = Command::new(env!("CARGO_BIN_EXE_crier"))
        .arg("validate")
        .arg(&missing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        valid.scrub(&String::from_utf8(out.stderr).unwrap()),
        "error: `DIR/no-such-folder` does not exist\n"
    );
    let out = valid.run(&["validate", "--format", "yaml"]);
    assert_eq!(out.status.code(), Some(2));
}

/// Regression: `reply_to` was checked by pairing items with posts, which calendar rows
/// (several posts from one item) put out of step, so an unknown target went unreported.
#[test]
fn reply_to_unknown_post_after_a_calendar() {
    let fx = campaign(
        "\
kind: campaign
name: sale
posts:
  - calendar: sale.csv
  - id: follow-up
    at: 2026-12-08 10:00
    to: demo
    text: more
    reply_to: teaser
",
    )
    .file(
        "sale.csv",
        "at,to,text\n2026-12-05 11:00,demo,one\n2026-12-06 11:00,demo,two\n",
    );
    expect(
        "reply_to_after_calendar",
        &fx,
        "error: unknown post `teaser`
  ——▶ DIR/sale.yaml:9:15
  |
9 |     reply_to: teaser
  |               ^^^^^^
",
    );
}

/// A template's texts are checked even when no campaign uses it yet.
#[test]
fn unused_template_text() {
    let fx = Fixture::new().file(
        "launch.yaml",
        "\
kind: template
name: launch
params:
  product: { type: string }
posts:
  - id: teaser
    at: 2027-01-01 10:00
    to: demo
    text: \"Soon: {{ produkt }}\"
",
    );
    expect(
        "unused_template_text",
        &fx,
        "error: unknown variable `produkt`
  ——▶ DIR/launch.yaml:9:21
  |
9 |     text: \"Soon: {{ produkt }}\"
  |                     ^^^^^^^
  = hint: did you mean `product`?
",
    );
}

/// A playbook that asks a network for what it cannot do fails validation, not at send time.
#[test]
fn network_cannot_do_what_is_asked() {
    let fx = Fixture::new()
        .config(
            "\
timezone: Europe/Kyiv
accounts:
  team_slack: { network: slack, webhook: env:SLACK_WEBHOOK }
  brand_bluesky: { network: bluesky, handle: brand.bsky.social, app_password: env:BSKY }
  demo: { network: console }
",
        )
        .file(
            "sale.yaml",
            "\
kind: campaign
name: sale
posts:
  - id: teaser
    at: 2026-12-01 10:00
    to: [demo, team_slack]
    text: Soon
    media: [teaser.png]
  - id: follow-up
    at: 2026-12-01 12:00
    to: team_slack
    text: More
    reply_to: teaser
",
        )
        .file(
            "giveaway.yaml",
            "\
kind: contest
name: giveaway
account: brand_bluesky
announce:
  at: 2026-12-01 10:00
  text: Reply to win
entries:
  from: replies
  closes: 2026-12-07 20:00
draw:
  at: 2026-12-07 21:00
  winners: 1
winners:
  dm: You won!
",
        );
    expect(
        "capabilities",
        &fx,
        r#"error: account `brand_bluesky` is on bluesky, which cannot send direct messages
   ——▶ DIR/giveaway.yaml:14:7
   |
14 |   dm: You won!
   |       ^^^^^^^^
   = hint: `winners.dm:` needs an account that can send direct messages (mastodon, telegram, matrix, email, console)
error: account `team_slack` is on slack, which cannot attach images
  ——▶ DIR/sale.yaml:6:16
  |
6 |     to: [demo, team_slack]
  |                ^^^^^^^^^^
  = hint: `media:` needs an account that can attach images (mastodon, bluesky, telegram, matrix, vk, discord, email, console)
error: account `team_slack` is on slack, which cannot post replies
   ——▶ DIR/sale.yaml:11:9
   |
11 |     to: team_slack
   |         ^^^^^^^^^^
   = hint: `reply_to:` needs an account that can post replies (mastodon, bluesky, telegram, matrix, vk, email, console)
"#,
    );
}

// ---- hostile folders and files ---------------------------------------------------------

const FINE: &str =
    "kind: campaign\nname: fine\nposts:\n  - { id: p, at: 2026-12-01 10:00, to: demo, text: hi }\n";

#[test]
fn links_that_loop_back_are_skipped_and_named() {
    let fixture = Fixture::new().file("fine.yaml", FINE);
    std::os::unix::fs::symlink(".", fixture.path().join("again")).unwrap();
    std::os::unix::fs::symlink(".", fixture.path().join("more")).unwrap();
    std::fs::create_dir(fixture.path().join("sub")).unwrap();
    std::os::unix::fs::symlink("..", fixture.path().join("sub/up")).unwrap();
    std::os::unix::fs::symlink("../fine.yaml", fixture.path().join("sub/same.yaml")).unwrap();
    expect(
        "links_that_loop_back",
        &fixture,
        "\
warning: skipped link to `.`: what it leads to is already read
  ——▶ DIR/again
  = hint: each folder and file is read once; remove the link to silence this
warning: skipped link to `.`: what it leads to is already read
  ——▶ DIR/more
  = hint: each folder and file is read once; remove the link to silence this
warning: skipped link to `../fine.yaml`: what it leads to is already read
  ——▶ DIR/sub/same.yaml
  = hint: each folder and file is read once; remove the link to silence this
warning: skipped link to `..`: what it leads to is already read
  ——▶ DIR/sub/up
  = hint: each folder and file is read once; remove the link to silence this
",
    );
    let out = fixture.run(&["validate"]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
}

#[test]
fn a_byte_order_mark_is_read_as_if_it_were_not_there() {
    let fixture = Fixture::bare()
        .config(&format!("\u{feff}{CONFIG}"))
        .file("fine.yaml", format!("\u{feff}{FINE}"));
    expect("byte_order_mark", &fixture, "");
}

#[test]
fn bytes_that_are_not_utf8_are_placed() {
    let mut bytes = b"kind: campaign\nname: caf".to_vec();
    bytes.extend([0xe9, b'\n']);
    let fixture = Fixture::new()
        .file("latin1.yaml", bytes)
        .file("fine.yaml", FINE);
    expect(
        "not_utf8",
        &fixture,
        "\
error: file is not valid UTF-8: byte 0xe9 is not a character
  ——▶ DIR/latin1.yaml:2:10
  |
2 | name: caf�
  |          ^
  = hint: save the file as UTF-8 in your editor (\"Save with encoding\")
",
    );
}

#[test]
fn an_unreadable_subfolder_is_named_and_the_rest_is_checked() {
    use std::os::unix::fs::PermissionsExt;
    let fixture = Fixture::new()
        .file("locked/inner/secret.yaml", FINE)
        .file("open/bad.yaml", "kind: campain\n");
    let locked = fixture.path().join("locked/inner");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read_dir(&locked).is_ok() {
        // Running as root: permissions do not lock anything, so there is nothing to see.
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
        eprintln!("skipped: folders cannot be made unreadable for this user");
        return;
    }
    let rendered = fixture.render();
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(
        rendered.starts_with(
            "error: cannot read folder: Permission denied (os error 13)\n  ——▶ DIR/locked/inner\n  = hint: its playbooks were not checked;"
        ),
        "{rendered}"
    );
    assert!(rendered.contains("unknown kind `campain`"), "{rendered}");
}

#[test]
fn an_unclosed_quote_in_a_calendar_points_where_it_opened() {
    let fixture = Fixture::new()
        .file(
            "posts.csv",
            "at,to,text\n2026-12-01 09:00,demo,\"Doors open at nine\n2026-12-02 09:00,demo,hi\n2026-12-03 09:00,demo,bye\n",
        )
        .file(
            "sale.yaml",
            "kind: campaign\nname: sale\nposts:\n  - calendar: posts.csv\n",
        );
    expect(
        "unclosed_quote",
        &fixture,
        "\
error: unclosed quote: this `\"` starts a cell that never ends
  ——▶ DIR/posts.csv:2:23
  |
2 | 2026-12-01 09:00,demo,\"Doors open at nine
  |                       ^
  = hint: end the cell with another `\"`; inside quotes, write a quote as `\"\"`
",
    );
}

#[test]
fn a_city_without_its_region_suggests_the_zone() {
    let fixture =
        Fixture::bare().config("timezone: Kyiv\naccounts:\n  demo: { network: console }\n");
    expect(
        "zone_city",
        &fixture,
        "\
error: unknown time zone `Kyiv`
  ——▶ DIR/crier.yaml:1:11
  |
1 | timezone: Kyiv
  |           ^^^^
  = hint: did you mean `Europe/Kyiv`?
",
    );
}

#[test]
fn every_mistake_in_crier_yaml_shows_in_one_run() {
    let fixture = Fixture::bare().config(
        "timezone: Kyev\nstore: [a]\naccounts:\n  demo: { network: console, token: env:X }\n  other: { network: consol }\n",
    );
    expect(
        "config_all_at_once",
        &fixture,
        "\
error: unknown time zone `Kyev`
  ——▶ DIR/crier.yaml:1:11
  |
1 | timezone: Kyev
  |           ^^^^
  = hint: time zones are IANA names, like `Europe/Berlin` or `UTC`
error: expected text, found a list
  ——▶ DIR/crier.yaml:2:8
  |
2 | store: [a]
  |        ^
error: `token` does not apply to a `console` account
  ——▶ DIR/crier.yaml:4:36
  |
4 |   demo: { network: console, token: env:X }
  |                                    ^^^^^
  = hint: a `console` account needs no other fields
error: unknown value `consol`
  ——▶ DIR/crier.yaml:5:21
  |
5 |   other: { network: consol }
  |                     ^^^^^^
  = hint: did you mean `console`?
",
    );
}

// ---- the YAML mistakes beginners make ----------------------------------------------------

#[test]
fn yaml_wrong_indentation() {
    let fixture = campaign(
        "kind: campaign\nname: sale\nposts:\n  - id: teaser\n    at: 2026-12-01 10:00\n   to: demo\n    text: hi\n",
    )
    .file("other.yaml", "kind: campain\n");
    expect(
        "yaml_indentation",
        &fixture,
        "\
error: unknown kind `campain`
  ——▶ DIR/other.yaml:1:7
  |
1 | kind: campain
  |       ^^^^^^^
  = hint: did you mean `campaign`?
error: wrong indentation: this line starts at column 4, the line above it at column 5
  ——▶ DIR/sale.yaml:6:4
  |
6 |    to: demo
  |    ^^
  = hint: keys of one map start in the same column; indent with spaces, the same number for each level
",
    );
}

#[test]
fn yaml_tab() {
    let fixture =
        campaign("kind: campaign\nname: sale\nposts:\n  - id: teaser\n\tat: 2026-12-01 10:00\n");
    expect(
        "yaml_tab",
        &fixture,
        "\
error: a tab in the indentation
  ——▶ DIR/sale.yaml:5:1
  |
5 |  at: 2026-12-01 10:00
  | ^
  = hint: YAML indents with spaces only: replace the tab with spaces (most editors have a setting to insert spaces for tabs)
",
    );
}

#[test]
fn yaml_missing_space_after_colon() {
    let fixture = campaign(
        "kind: campaign\nname:sale\nposts:\n  - id: teaser\n    at: 2026-12-01 10:00\n    to: demo\n    text: hi\n",
    );
    expect(
        "yaml_colon_space",
        &fixture,
        "\
error: missing space after `name:`
  ——▶ DIR/sale.yaml:2:5
  |
2 | name:sale
  |     ^
  = hint: write `name: sale`: without the space, YAML reads `name:sale` as one word, not a key and its value
",
    );
}

#[test]
fn yaml_unclosed_quote() {
    let fixture = campaign(
        "kind: campaign\nname: sale\nposts:\n  - id: teaser\n    at: 2026-12-01 10:00\n    to: demo\n    text: \"hi there\n  - id: second\n    at: 2026-12-02 10:00\n    to: demo\n    text: bye\n",
    );
    expect(
        "yaml_unclosed_quote",
        &fixture,
        "\
error: unclosed quote: this `\"` starts a text that never ends
  ——▶ DIR/sale.yaml:7:11
  |
7 |     text: \"hi there
  |           ^
  = hint: end the text with `\"` on the same line; for text over several lines write `text: |` and indent the lines below it
",
    );
}

#[test]
fn yaml_list_item_at_the_wrong_level() {
    let fixture = campaign(
        "kind: campaign\nname: sale\nposts:\n  - id: teaser\n    at: 2026-12-01 10:00\n    to: demo\n    text: hi\n - id: second\n    at: 2026-12-02 10:00\n    to: demo\n    text: bye\n",
    );
    expect(
        "yaml_list_level",
        &fixture,
        "\
error: wrong indentation: this list item starts at column 2, the items above it at column 3
  ——▶ DIR/sale.yaml:8:2
  |
8 |  - id: second
  |  ^
  = hint: items of one list start with `-` in the same column; move this line right
",
    );
}

#[test]
fn a_day_number_without_day_one() {
    let fixture = campaign(
        "kind: campaign\nname: sale\nposts:\n  - id: teaser\n    at: day 2 10:00\n    to: brand_mastodon\n    text: Soon\n",
    );
    expect(
        "a_day_number_without_day_one",
        &fixture,
        "\
error: `day 2` counts from `day_one`, and crier.yaml sets none
  ——▶ DIR/sale.yaml:5:9
  |
5 |     at: day 2 10:00
  |         ^^^^^
  = hint: add `day_one: first-run` (the day `crier run` first started) or a date like `day_one: 2026-12-01` to crier.yaml
",
    );
}

#[test]
fn day_one_must_be_a_date_or_first_run() {
    let fixture = Fixture::new().config(&format!("{CONFIG}day_one: tomorrow\n"));
    expect(
        "day_one_must_be_a_date_or_first_run",
        &fixture,
        "\
error: expected a date, found `tomorrow`
  ——▶ DIR/crier.yaml:7:10
  |
7 | day_one: tomorrow
  |          ^^^^^^^^
  = hint: write a date like `2026-12-01`, or `first-run` for the day `crier run` first starts
",
    );
}
