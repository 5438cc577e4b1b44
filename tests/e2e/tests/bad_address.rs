//! A link address the app cannot parse is refused with an error naming the accepted forms,
//! and no link is created.

use std::time::Duration;

use airgap_e2e::{run_app_test, testid};
use anyhow::ensure;

#[tokio::test]
async fn a_bad_address_names_the_accepted_forms() {
    run_app_test("bad_address", &[], |ui, _| async move {
        ui.connect("udpin:nonsense").await?;
        let text = ui
            .wait_text(
                &testid("connect-error"),
                "an error naming udpin:, tcp: and serial:",
                Duration::from_secs(10),
                |t| {
                    ["udpin:", "tcp:", "serial:"]
                        .iter()
                        .all(|form| t.contains(form))
                },
            )
            .await?;
        ensure!(
            !ui.exists(&testid("link-row")).await?,
            "a link row appeared for a refused address (error shown: {text:?})"
        );
        Ok(())
    })
    .await;
}
