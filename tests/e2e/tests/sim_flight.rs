//! The app's built-in simulated vehicle (`--sim`), end to end through the real window: the
//! link comes up, the vehicle arms by itself, takes off in GUIDED and circles in CIRCLE, and
//! the instruments, plots and HUD follow.

use std::time::Duration;

use airgap_e2e::{parse_number, run_app_test, testid, Deadline, Ui};
use anyhow::Result;

/// The sim arms a few seconds after GPS fix and climbs to 20 m; ~40 s on an idle machine.
const FLIGHT_TIMEOUT: Duration = Duration::from_secs(60);

#[tokio::test]
async fn sim_flies_and_the_instruments_follow() {
    run_app_test("sim_flight", &["--sim"], |ui, _| flight(ui)).await;
}

async fn flight(ui: Ui) -> Result<()> {
    let second = Duration::from_secs(1);
    ui.wait_link_state(None, "up", 20 * second).await?;
    ui.wait_text(&testid("vehicle-mode"), "a flight mode", 15 * second, |s| {
        is_shown(s)
    })
    .await?;
    let hud = testid("hud");
    let first_roll_deg = ui
        .wait_attr_number(
            &hud,
            "data-roll-deg",
            "a HUD roll",
            10 * second,
            f64::is_finite,
        )
        .await?;

    // The altitude plot takes samples while the vehicle reports.
    let plot = testid("plot-altitude");
    let points = ui
        .wait_attr_number(&plot, "data-points", "altitude samples", 10 * second, |n| {
            n >= 1.0
        })
        .await?;
    let last_t_s = ui
        .wait_attr_number(
            &plot,
            "data-last-t",
            "an altitude sample time",
            5 * second,
            |t| t.is_finite(),
        )
        .await?;
    ui.wait_attr_number(
        &plot,
        "data-points",
        "more altitude samples",
        10 * second,
        |n| n > points,
    )
    .await?;
    ui.wait_attr_number(
        &plot,
        "data-last-t",
        "a newer altitude sample",
        10 * second,
        |t| t > last_t_s,
    )
    .await?;
    ui.wait_attr_number(
        &testid("plot-attitude"),
        "data-points",
        "attitude samples",
        10 * second,
        |n| n >= 1.0,
    )
    .await?;

    // Armed, above 5 m, GUIDED seen, then CIRCLE: watched in one loop because GUIDED lasts
    // only as long as the climb.
    let mut deadline = Deadline::new(
        "ARMED, alt-rel above 5 m, mode GUIDED and then CIRCLE",
        FLIGHT_TIMEOUT,
    );
    let mut seen = Flight::default();
    loop {
        let mode = ui.shown(&testid("vehicle-mode")).await;
        let armed = ui.shown(&testid("vehicle-armed")).await;
        let alt = ui.shown(&testid("alt-rel")).await;
        seen.observe(&mode, &armed, parse_number(&alt));
        if seen.complete() {
            deadline.saw(&seen);
            deadline.done();
            break;
        }
        deadline
            .tick(format!(
                "{seen} (now mode {mode:?}, {armed:?}, alt-rel {alt:?})"
            ))
            .await?;
    }

    // Banked in the circle, the HUD has moved from where it started on the ground.
    ui.wait_attr_number(&hud, "data-roll-deg", "the HUD to roll", 20 * second, |r| {
        (r - first_roll_deg).abs() > 0.5
    })
    .await?;
    for id in [
        "alt-msl",
        "groundspeed",
        "heading",
        "lat",
        "lon",
        "roll",
        "pitch",
    ] {
        let what = format!("{id} in flight");
        ui.wait_number(&testid(id), &what, 5 * second, f64::is_finite)
            .await?;
    }
    Ok(())
}

/// Whether a field shows a value rather than the UI's "no data" dash (or nothing at all).
fn is_shown(s: &str) -> bool {
    !s.is_empty() && s != "—" && s != "-" && !s.starts_with('<')
}

/// What the flight has shown so far.
#[derive(Default)]
struct Flight {
    armed: bool,
    max_alt_rel_m: Option<f64>,
    modes: Vec<String>,
}

impl Flight {
    fn observe(&mut self, mode: &str, armed: &str, alt_rel_m: Option<f64>) {
        self.armed |= armed.eq_ignore_ascii_case("ARMED");
        if let Some(alt) = alt_rel_m {
            self.max_alt_rel_m = Some(self.max_alt_rel_m.map_or(alt, |m| m.max(alt)));
        }
        // Compared upper-cased: WebDriver reads the rendered text, which CSS may restyle.
        let mode = mode.to_ascii_uppercase();
        if is_shown(&mode) && self.modes.last() != Some(&mode) {
            self.modes.push(mode);
        }
    }

    fn complete(&self) -> bool {
        let guided = self.modes.iter().position(|m| m == "GUIDED");
        let circle_now = self.modes.last().is_some_and(|m| m == "CIRCLE");
        self.armed && self.max_alt_rel_m.is_some_and(|a| a > 5.0) && guided.is_some() && circle_now
    }
}

impl std::fmt::Display for Flight {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "armed seen: {}, highest alt-rel: {:?}, modes in order: {:?}",
            self.armed, self.max_alt_rel_m, self.modes
        )
    }
}
