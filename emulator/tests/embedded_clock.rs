//! The in-process handle moves a manual clock: what `Emulator::state().clock` moves is what
//! `GET /_emulator/clock` and every function see.

mod common;

use common::json_reply;
use convex_storage_emulator::clock::ClockControl;
use convex_storage_emulator::{Controls, Emulator};

#[tokio::test]
async fn the_handle_moves_the_clock_the_routes_read() {
    let start_ms = 1_700_000_000_000;
    let emulator = Emulator::builder()
        .controls(Controls {
            clock: ClockControl::manual(Some(start_ms)),
            faults: None,
        })
        .start()
        .await
        .unwrap();
    let clock = emulator
        .state()
        .clock
        .manual_clock()
        .expect("a manual clock")
        .clone();
    assert_eq!(clock.try_advance_ms(60_000).unwrap(), start_ms + 60_000);
    assert!(
        clock.try_set_ms(start_ms).is_err(),
        "time never goes backwards"
    );

    let answer = json_reply(
        reqwest::Client::new()
            .get(format!("{}/_emulator/clock", emulator.url()))
            .bearer_auth(emulator.auth_secret()),
    )
    .await;
    assert_eq!(answer["mode"], "manual");
    assert_eq!(answer["nowMs"], serde_json::json!(start_ms + 60_000));
    emulator.shutdown().await;
}
