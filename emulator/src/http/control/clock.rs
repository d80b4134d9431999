//! `GET /_emulator/clock` and `POST /_emulator/clock`: read the deployment's time, and move a
//! manual clock forward (`--clock manual`).
//!
//! Both answer `{"mode": "system"|"manual", "nowMs": t}`. `POST` takes exactly one of
//! `{"advanceMs": n}` or `{"setMs": t}`; a `setMs` earlier than now is refused (400), since
//! time never goes backwards. With the system clock, `POST` answers 404 `NotEnabled`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};

use super::ControlError;
use crate::clock::ClockControl;
use crate::http::AppState;

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClockReading {
    mode: &'static str,
    now_ms: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct MoveClock {
    advance_ms: Option<u64>,
    set_ms: Option<u64>,
}

fn reading(clock: &ClockControl) -> ClockReading {
    ClockReading {
        mode: clock.mode(),
        now_ms: clock.clock().now_ms(),
    }
}

pub async fn get_clock(State(state): State<Arc<AppState>>) -> Json<ClockReading> {
    Json(reading(&state.clock))
}

pub async fn move_clock(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Json<ClockReading>, ControlError> {
    let Some(clock) = state.clock.manual_clock() else {
        return Err(ControlError::NotEnabled(
            "The emulator runs on the system clock; start it with `--clock manual` to move time."
                .to_string(),
        ));
    };
    let request: MoveClock = serde_json::from_slice(&body).map_err(|e| {
        ControlError::BadRequest(format!(
            "Expected {{\"advanceMs\": <non-negative integer>}} or {{\"setMs\": <epoch ms>}}: {e}"
        ))
    })?;
    let moved = match (request.advance_ms, request.set_ms) {
        (Some(delta_ms), None) => clock.try_advance_ms(delta_ms),
        (None, Some(at_ms)) => clock.try_set_ms(at_ms),
        _ => {
            return Err(ControlError::BadRequest(
                "Give exactly one of `advanceMs` and `setMs`.".to_string(),
            ))
        }
    };
    moved.map_err(|refusal| ControlError::BadRequest(format!("{refusal}.")))?;
    Ok(Json(reading(&state.clock)))
}
