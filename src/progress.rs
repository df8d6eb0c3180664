//! The progress bar of a build: files and bytes done, rate and time left, drawn on stderr
//! from the counters the index stage advances (the stage itself never draws).

use std::io::{self, IsTerminal};
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::model::Progress;

/// Runs `work`, which may build an index, showing a progress bar on stderr when it is a
/// terminal, once the work has run for more than a second and a build has said how much it
/// will read (opening an index that needs no build shows nothing).
pub fn with_progress<T>(work: impl FnOnce(&Progress) -> T) -> T {
    let progress = Progress::default();
    if !io::stderr().is_terminal() {
        return work(&progress);
    }
    let (finished, wait) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        let progress = &progress;
        scope.spawn(move || show(progress, &wait));
        let result = work(progress);
        drop(finished);
        result
    })
}

/// Draws the bar until `finished` is dropped, then clears it.
fn show(progress: &Progress, finished: &mpsc::Receiver<()>) {
    let started = Instant::now();
    let mut bar: Option<ProgressBar> = None;
    let mut embedding: Option<ProgressBar> = None;
    while let Err(mpsc::RecvTimeoutError::Timeout) = finished.recv_timeout(Duration::from_millis(100)) {
        let files_total = progress.files_total.load(Ordering::Relaxed);
        let bytes_total = progress.bytes_total.load(Ordering::Relaxed);
        if started.elapsed() < Duration::from_secs(1) || (files_total == 0 && bytes_total == 0) {
            continue;
        }
        let to_embed = progress.passages_total.load(Ordering::Relaxed);
        if to_embed > 0 {
            // Embedding comes after reading the files: a bar of its own, counting the texts
            // embedded (each passage and its sentences), with their rate.
            if let Some(files_bar) = bar.take() {
                files_bar.finish_and_clear();
            }
            let embedded = progress.passages_embedded.load(Ordering::Relaxed);
            let bar = embedding.get_or_insert_with(|| {
                let style = ProgressStyle::with_template(
                    "{bar:30} {pos}/{len} passages and sentences embedded · {per_sec} · {eta} left",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar());
                let bar = ProgressBar::hidden().with_style(style);
                bar.set_length(to_embed);
                bar.set_position(embedded);
                bar.reset_eta();
                bar.set_draw_target(ProgressDrawTarget::stderr());
                bar
            });
            bar.set_position(embedded);
            continue;
        }
        let files_done = progress.files_done.load(Ordering::Relaxed);
        let message = if files_done < files_total {
            format!("{files_done}/{files_total} files")
        } else {
            format!("{files_total} files, writing the index")
        };
        let bytes_done = progress.bytes_done.load(Ordering::Relaxed);
        let bar = bar.get_or_insert_with(|| {
            let style = ProgressStyle::with_template(
                "{bar:30} {bytes}/{total_bytes} {msg} · {bytes_per_sec} · {eta} left",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            let bar = ProgressBar::hidden().with_style(style);
            bar.set_length(bytes_total);
            bar.set_position(bytes_done);
            bar.set_message(message.clone());
            // The rate counts from here, not from the bytes done before the bar appeared.
            bar.reset_eta();
            bar.set_draw_target(ProgressDrawTarget::stderr());
            bar
        });
        bar.set_length(bytes_total);
        bar.set_message(message);
        bar.set_position(bytes_done);
    }
    for bar in [bar, embedding].into_iter().flatten() {
        bar.finish_and_clear();
    }
}
