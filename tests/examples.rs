//! The shipped example `examples/local-networks` end to end: its launch campaign posted by
//! the `crier` binary to the fake Mastodon (in-process) and to a real Synapse (started by
//! `scripts/synapse.sh`; skipped, loudly, without one), once by `crier trigger` and once by
//! `crier run` at a scheduled time. Each post must arrive once on each network, and
//! `crier history` must say both sends were sent.

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use chrono::Utc;
use reqwest::Method;
use serde_json::{Value, json};
use tempfile::TempDir;

use crate::support::fake_mastodon::FakeMastodon;
use crate::support::playbooks::copy_folder;
use crate::support::synapse::{Synapse, User};

const EXAMPLE: &str = "examples/local-networks";
/// What the example's `crier.yaml` names; the test Synapse normally listens there too.
const MASTODON_SERVER: &str = "server: http://127.0.0.1:8181";
const HOMESERVER: &str = "http://127.0.0.1:8448";
const ROOM_ALIAS: &str = "%23launch%3Alocalhost";
/// The template's launch post for the Rain Boots.
const LAUNCH: &str = "Rain Boots is here! -10% for the first week.";
/// The post the test schedules for `crier run`.
const DOORS: &str = "Doors are open: the Rain Boots are in the shop.";

/// Points the copy's `brand_mastodon` at the fake (and `community_room` at the test Synapse
/// if that one is not on the example's port).
fn rewrite_config(dir: &Path, fake: &FakeMastodon, synapse: &Synapse) {
    let path = dir.join("crier.yaml");
    let config = std::fs::read_to_string(&path).unwrap();
    assert_eq!(config.matches(MASTODON_SERVER).count(), 1, "{config}");
    let mut config = config.replace(MASTODON_SERVER, &format!("server: {}", fake.url()));
    if synapse.url != HOMESERVER {
        assert_eq!(config.matches(HOMESERVER).count(), 1, "{config}");
        config = config.replace(HOMESERVER, &synapse.url);
    }
    std::fs::write(path, config).unwrap();
}

/// The room `#launch:localhost`, created by `bot` or, when an earlier run (or the example's
/// `setup.sh`) made it, joined by `bot`.
async fn launch_room(bot: &User) -> String {
    let resolve = async || {
        let (status, answer) = bot
            .call(Method::GET, &format!("/directory/room/{ROOM_ALIAS}"), None)
            .await;
        (status == 200).then(|| answer["room_id"].as_str().unwrap().to_owned())
    };
    if let Some(room) = resolve().await {
        bot.join(&room).await;
        return room;
    }
    let (status, answer) = bot
        .call(
            Method::POST,
            "/createRoom",
            Some(json!({ "preset": "public_chat", "room_alias_name": "launch" })),
        )
        .await;
    if status == 200 {
        return answer["room_id"].as_str().unwrap().to_owned();
    }
    // Someone created it in the meantime.
    let room = resolve()
        .await
        .unwrap_or_else(|| panic!("cannot create #launch:localhost: {status} {answer}"));
    bot.join(&room).await;
    room
}

/// `crier ARGS` with the example's secrets, output to files in `logs`.
fn crier(args: &[&str], env: &[(&str, &str)], logs: &Path, name: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_crier"))
        .args(args)
        .envs(env.iter().copied())
        .env("CRIER_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(File::create(logs.join(format!("{name}.out"))).unwrap())
        .stderr(File::create(logs.join(format!("{name}.err"))).unwrap())
        .spawn()
        .unwrap_or_else(|e| panic!("start crier {args:?}: {e}"))
}

/// Waits (bounded) for `child` to end; its status, stdout and stderr.
fn finish(mut child: Child, limit: Duration, logs: &Path, name: &str) -> (ExitStatus, String) {
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("crier {name} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let read =
        |ext: &str| std::fs::read_to_string(logs.join(format!("{name}.{ext}"))).unwrap_or_default();
    let output = format!("{}{}", read("out"), read("err"));
    (status, output)
}

/// How many messages of `bot` with `body` the room shows, read as `reader`.
async fn messages(reader: &User, room: &str, bot: &User, body: &str) -> usize {
    reader
        .latest(room, 100)
        .await
        .iter()
        .filter(|e| e["type"] == "m.room.message" && e["sender"] == bot.user_id.as_str())
        .filter(|e| e["content"]["body"] == body)
        .count()
}

fn statuses_with(fake: &FakeMastodon, text: &str) -> usize {
    fake.live_statuses()
        .iter()
        .filter(|s| s.text == text)
        .count()
}

#[tokio::test]
async fn local_networks_example_posts_once_to_fake_mastodon_and_synapse() {
    let Some(synapse) =
        Synapse::from_env("local_networks_example_posts_once_to_fake_mastodon_and_synapse")
    else {
        return;
    };
    let fake = FakeMastodon::start();
    fake.set_token("local-networks-test-token");
    let work = TempDir::new().unwrap();
    let dir = work.path().join("local-networks");
    let logs = work.path().join("logs");
    std::fs::create_dir(&logs).unwrap();
    copy_folder(&Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE), &dir);
    rewrite_config(&dir, &fake, &synapse);

    let bot = synapse.register("crierbot").await;
    let reader = synapse.register("reader").await;
    let room = launch_room(&bot).await;
    reader.join(&room).await;
    let env = [
        ("FAKE_MASTODON_TOKEN", "local-networks-test-token"),
        ("MATRIX_BOT_TOKEN", bot.access_token.as_str()),
    ];
    let path = dir.to_str().unwrap();

    // One post now, by hand.
    let child = crier(
        &[
            "trigger",
            "rain-boots",
            "launch",
            "--by",
            "you",
            "--path",
            path,
        ],
        &env,
        &logs,
        "trigger",
    );
    let (status, output) = finish(child, Duration::from_secs(60), &logs, "trigger");
    assert!(status.success(), "{output}");
    assert!(output.contains("brand_mastodon: sent"), "{output}");
    assert!(output.contains("community_room: sent"), "{output}");

    // One post a few seconds ahead, by the service.
    let at = (Utc::now() + chrono::TimeDelta::seconds(4)).format("%Y-%m-%d %H:%M:%S");
    std::fs::write(
        dir.join("doors-open.yaml"),
        format!(
            "kind: campaign\nname: doors-open\ntimezone: UTC\nposts:\n  - id: doors\n    at: \"{at}\"\n    to: [brand_mastodon, community_room]\n    text: \"{DOORS}\"\n"
        ),
    )
    .unwrap();
    let service = crier(&["run", path], &env, &logs, "run");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline
        && (statuses_with(&fake, DOORS) == 0 || messages(&reader, &room, &bot, DOORS).await == 0)
    {
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let _ = Command::new("kill")
        .args(["-INT", &service.id().to_string()])
        .status();
    let (status, output) = finish(service, Duration::from_secs(40), &logs, "run");
    assert!(status.success(), "crier run: {status}\n{output}");

    // Each post once on each network: the fake's statuses, the room as another user sees it.
    assert_eq!(statuses_with(&fake, LAUNCH), 1, "{:?}", fake.statuses());
    assert_eq!(statuses_with(&fake, DOORS), 1, "{:?}", fake.statuses());
    assert_eq!(fake.live_statuses().len(), 2, "{:?}", fake.statuses());
    assert_eq!(messages(&reader, &room, &bot, LAUNCH).await, 1);
    assert_eq!(messages(&reader, &room, &bot, DOORS).await, 1);

    // And crier's own record says so.
    let child = crier(
        &["history", path, "--format", "json"],
        &env,
        &logs,
        "history",
    );
    let (status, output) = finish(child, Duration::from_secs(30), &logs, "history");
    assert!(status.success(), "{output}");
    let runs: Vec<Value> = output
        .lines()
        .filter(|l| l.starts_with('{'))
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    for (playbook, item) in [("rain-boots", "launch"), ("doors-open", "doors")] {
        let matching: Vec<&Value> = runs
            .iter()
            .filter(|r| r["playbook"] == playbook && r["item"] == item)
            .collect();
        assert_eq!(matching.len(), 1, "{playbook}/{item}: {output}");
        let run = matching[0];
        assert_eq!(run["state"], "succeeded", "{run}");
        let mut sends: Vec<(&str, &str)> = run["outbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| (o["account"].as_str().unwrap(), o["state"].as_str().unwrap()))
            .collect();
        sends.sort();
        assert_eq!(
            sends,
            [("brand_mastodon", "sent"), ("community_room", "sent")],
            "{run}"
        );
    }
    assert_eq!(runs.len(), 2, "{output}");
}
