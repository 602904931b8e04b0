//! A fake Mastodon server on your machine, for trying crier's `mastodon` connector without an
//! account anywhere: the same fake the tests use (`tests/support/fake_mastodon.rs`).
//!
//! ```sh
//! cargo run --example fake_mastodon -- [--port 8181] [--token TOKEN]
//! ```
//!
//! It listens on `127.0.0.1:PORT`, accepts `Authorization: Bearer TOKEN` (by default the
//! tests' `fake-mastodon-token`), prints each status it receives, and runs until Ctrl-C.
//! Everything is kept in memory: a restart starts empty. See `examples/local-networks/`.

#[allow(dead_code)]
#[path = "../tests/support/chat_server.rs"]
mod chat_server;
#[allow(dead_code)]
#[path = "../tests/support/fake_mastodon.rs"]
mod fake_mastodon;

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;

use fake_mastodon::FakeMastodon;

#[derive(Parser)]
#[command(about = "A fake Mastodon server on 127.0.0.1, printing each status it receives")]
struct Args {
    /// The port to listen on (127.0.0.1 only).
    #[arg(long, default_value_t = 8181)]
    port: u16,
    /// The access token the fake accepts.
    #[arg(long, default_value = fake_mastodon::TOKEN)]
    token: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let fake = match FakeMastodon::start_on(&format!("127.0.0.1:{}", args.port)) {
        Ok(fake) => fake,
        Err(error) => {
            eprintln!(
                "fake_mastodon: cannot listen on 127.0.0.1:{}: {error} (another one running? try --port)",
                args.port
            );
            return ExitCode::FAILURE;
        }
    };
    fake.set_token(&args.token);
    println!("fake Mastodon listening on {}", fake.url());
    println!(
        "  account: @brand@{} (token `{}`); Ctrl-C stops it",
        fake_mastodon::DOMAIN,
        args.token
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let mut shown = 0;
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        let ctrl_c = tokio::signal::ctrl_c();
        tokio::pin!(ctrl_c);
        loop {
            tokio::select! {
                _ = &mut ctrl_c => break,
                _ = tick.tick() => {}
            }
            let statuses = fake.statuses();
            for status in statuses.iter().skip(shown) {
                println!(
                    "status {} at {} (Idempotency-Key {}): {}",
                    status.id,
                    status.created_at.format("%H:%M:%S"),
                    status.idempotency_key.as_deref().unwrap_or("none"),
                    status.text
                );
            }
            shown = statuses.len();
        }
    });
    println!("stopped; {} status(es) received", fake.statuses().len());
    ExitCode::SUCCESS
}
