//! Progress bars that also reach log files. On a terminal indicatif draws its bar as usual; when
//! stderr is redirected (a multi-hour run under nohup) indicatif would draw nothing at all, so
//! the bar's line is written instead, at most once every [`LOG_EVERY`].

use std::io::{self, IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

/// How often a redirected bar writes a line.
pub const LOG_EVERY: Duration = Duration::from_secs(30);

/// A bar counting `len` units of `what` ("harvest rows", "sae train steps"); hidden unless `show`.
pub fn bar(what: &str, len: u64, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let style = ProgressStyle::with_template("{spinner} {prefix} [{bar:30}] {pos}/{len} {msg} {elapsed} eta {eta}")
        .expect("valid template");
    let bar = ProgressBar::new(len).with_style(style).with_prefix(what.to_string());
    if !io::stderr().is_terminal() {
        bar.set_draw_target(LogLines::target(Sink::Stderr));
    }
    bar
}

/// A terminal stand-in that turns redraws into occasional plain lines.
#[derive(Debug)]
struct LogLines {
    last: Mutex<Option<Instant>>,
    sink: Sink,
}

#[derive(Debug)]
enum Sink {
    Stderr,
    #[cfg_attr(not(test), allow(dead_code))]
    Lines(Arc<Mutex<Vec<String>>>),
}

impl LogLines {
    fn target(sink: Sink) -> ProgressDrawTarget {
        let lines = LogLines {
            last: Mutex::new(None),
            sink,
        };
        ProgressDrawTarget::term_like_with_hz(Box::new(lines), 1)
    }
}

impl LogLines {
    fn emit(&self, s: &str) -> io::Result<()> {
        let s = s.trim();
        if s.is_empty() {
            return Ok(());
        }
        let mut last = self.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < LOG_EVERY) {
            return Ok(());
        }
        *last = Some(Instant::now());
        match &self.sink {
            Sink::Stderr => writeln!(io::stderr(), "{s}"),
            Sink::Lines(v) => {
                v.lock().unwrap_or_else(|e| e.into_inner()).push(s.to_string());
                Ok(())
            }
        }
    }
}

impl TermLike for LogLines {
    fn width(&self) -> u16 {
        120
    }
    fn move_cursor_up(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _: usize) -> io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        self.emit(s)
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        self.emit(s)
    }
    fn clear_line(&self) -> io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirected_bar_writes_one_line_per_interval() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let bar = ProgressBar::with_draw_target(Some(10), LogLines::target(Sink::Lines(lines.clone())))
            .with_style(ProgressStyle::with_template("{prefix} {pos}/{len}").unwrap())
            .with_prefix("harvest rows");
        for _ in 0..10 {
            bar.inc(1);
        }
        bar.finish();
        let lines = lines.lock().unwrap();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(
            lines[0].starts_with("harvest rows ") && lines[0].ends_with("/10"),
            "{lines:?}"
        );
    }
}
