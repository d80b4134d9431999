//! `GET|POST|DELETE /_emulator/faults`: the fault plan of a deployment started with
//! `--faults` (the plan and its SPEC grammar are in [`crate::faults`]).
//!
//! - `GET` → the plan, its SPEC, the calls seen and the log of injected faults.
//! - `POST` with a JSON plan `{"seed": n, "rules": [...]}` → replaces the plan, restarts the
//!   counts and the log; answers like `GET`. A bad plan is refused (400) and changes nothing.
//! - `DELETE` → an empty plan with the same seed, counts and log cleared; answers like `GET`.
//!
//! Without `--faults` every method answers 404 `NotEnabled`, so a deployment in use cannot be
//! made to fail by anyone holding the secret unless it was started for that.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;

use super::ControlError;
use crate::faults::{FaultPlan, FaultReport, Faults};
use crate::http::AppState;

fn injector(state: &AppState) -> Result<&Arc<Faults>, ControlError> {
    state.faults.as_ref().ok_or_else(|| {
        ControlError::NotEnabled(
            "Fault injection is off; start the emulator with `--faults SPEC` (`--faults seed=1` \
             for an empty plan) to enable it."
                .to_string(),
        )
    })
}

pub async fn get_faults(
    State(state): State<Arc<AppState>>,
) -> Result<Json<FaultReport>, ControlError> {
    Ok(Json(injector(&state)?.report()))
}

pub async fn set_faults(
    State(state): State<Arc<AppState>>,
    body: Bytes,
) -> Result<Json<FaultReport>, ControlError> {
    let faults = injector(&state)?;
    let plan: FaultPlan = serde_json::from_slice(&body).map_err(|e| {
        ControlError::BadRequest(format!(
            "Expected a fault plan {{\"seed\": <u64>, \"rules\": [{{\"function\", \"fault\", ...}}]}}: {e}"
        ))
    })?;
    plan.check().map_err(ControlError::BadRequest)?;
    faults.set(plan);
    Ok(Json(faults.report()))
}

pub async fn clear_faults(
    State(state): State<Arc<AppState>>,
) -> Result<Json<FaultReport>, ControlError> {
    let faults = injector(&state)?;
    let seed = faults.report().plan.seed;
    faults.set(FaultPlan {
        seed,
        rules: Vec::new(),
    });
    Ok(Json(faults.report()))
}
