//! Scrape sources through the binary: reloads that add, change and remove tables.

use crate::common;
use common::Setup;
use common::scrape_apps::fixed_target;

/// A reload adds a table that starts reading, and removes one that stops; a table the
/// reload leaves alone keeps reading throughout.
#[test]
fn a_reload_adds_and_removes_scrape_tables() {
    let (a, b) = (fixed_target("200 OK", "a 1\n"), fixed_target("200 OK", "b 2\n"));
    let table = |name: &str, target| {
        format!(
            "[sources.scrape.{name}]\ntargets = [\"http://{target}/metrics\"]\ninterval = \"1s\"\ntimeout = \"1s\"\n"
        )
    };
    let scrapes = |name: &str| format!("sluice_scrapes_total{{source=\"{name}\"}}");
    let agent = Setup::default().start(&table("a", a));
    agent.wait_metric(&scrapes("a"), 1.0);

    agent.reload_with(|c| format!("{c}{}", table("b", b)));
    agent.wait_metric(&scrapes("b"), 2.0);
    let before = agent.metric(&scrapes("a")).unwrap();
    agent.wait_metric(&scrapes("a"), before + 1.0);

    agent.reload_with(|c| c.replace(&table("a", a), ""));
    // Once b read twice more after the reload, a (read every second too) would have read.
    let b_now = agent.metric(&scrapes("b")).unwrap();
    agent.wait_metric(&scrapes("b"), b_now + 2.0);
    let a_then = agent.metric(&scrapes("a")).unwrap();
    agent.wait_metric(&scrapes("b"), b_now + 4.0);
    assert_eq!(agent.metric(&scrapes("a")), Some(a_then), "the removed table stopped reading");
    let (status, windows) = agent.stop();
    assert!(status.success(), "{status}");
    assert_eq!(common::last_gauge(&windows, "b"), Some(2.0));
}
