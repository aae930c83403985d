//! Progress on stderr: a spinner per stage when stderr is a terminal, nothing otherwise.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Stages {
    bar: Option<ProgressBar>,
    current: Option<(String, Instant)>,
}

impl Stages {
    pub fn new(quiet: bool) -> Stages {
        let visible = !quiet && std::io::IsTerminal::is_terminal(&std::io::stderr());
        Stages {
            bar: visible.then(|| ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())),
            current: None,
        }
    }

    /// Marks the previous stage done and shows the next.
    pub fn stage(&mut self, name: &str) {
        self.finish_current();
        if let Some(bar) = &self.bar {
            let next = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            next.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
            next.set_message(name.to_string());
            next.enable_steady_tick(Duration::from_millis(120));
            bar.finish_and_clear();
            self.bar = Some(next);
        }
        self.current = Some((name.to_string(), Instant::now()));
    }

    fn finish_current(&mut self) {
        if let (Some(bar), Some((name, t))) = (&self.bar, &self.current) {
            bar.finish_and_clear();
            eprintln!("  done {name} ({:.1} s)", t.elapsed().as_secs_f64());
        }
    }

    pub fn finish(mut self) {
        self.finish_current();
        self.current = None;
    }
}
