//! The search page in a real browser: starts `rsearch serve` on the bundled corpus and runs
//! `tests/playwright/page_test.py` (Playwright driving Debian's Chromium). Screenshots go to
//! `target/browser/`; with `RSEARCH_SCREENSHOT=docs` the main one also replaces
//! `docs/screenshot.png`, the one the README shows.

mod common;

use std::path::Path;
use std::process::Command;

use common::server::Server;
use common::TestEnv;

#[test]
fn the_page_works_in_headless_chromium() {
    let chromium = std::env::var("RSEARCH_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    if !Path::new(&chromium).exists() {
        eprintln!("SKIPPED: no Chromium at {chromium} (apt-get install chromium; pip install playwright)");
        return;
    }
    let env = TestEnv::new();
    env.run(&["index"]).expect_code(0);
    let server = Server::start(&env, &["--quiet"]);
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let artefacts = root.join("target").join("browser");
    let run = Command::new("python3")
        .arg(root.join("tests/playwright/page_test.py"))
        .arg(format!("http://{}", server.address))
        .arg(&artefacts)
        .env("RSEARCH_CHROMIUM", &chromium)
        .output()
        .expect("run python3");
    assert!(
        run.status.success(),
        "browser test failed:\n{}\n{}",
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr)
    );
    let screenshot = artefacts.join("screenshot.png");
    let png = std::fs::read(&screenshot).expect("screenshot written");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "screenshot looks empty"
    );
    if std::env::var("RSEARCH_SCREENSHOT").as_deref() == Ok("docs") {
        std::fs::create_dir_all(root.join("docs")).expect("docs folder");
        std::fs::copy(&screenshot, root.join("docs/screenshot.png")).expect("copy screenshot");
    }
}
