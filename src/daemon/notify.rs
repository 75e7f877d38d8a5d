//! systemd readiness protocol (`Type=notify`, README.md, running under systemd) over sd-notify:
//! `READY=1`, `STATUS=`, `RELOADING=1` + `MONOTONIC_USEC`, `STOPPING=1` and
//! `WATCHDOG=1`. Every call is a no-op without `NOTIFY_SOCKET` (tests, a
//! terminal), and a failed send is logged, never fatal: systemd's own
//! timeouts are the safety net.
//!
//! The watchdog is not a timer task: the control loop asks for
//! [`Systemd::watchdog_deadline`] when it computes its sleep and calls
//! [`Systemd::watchdog_if_due`] on every wake, so a wedged loop stops the
//! pings and systemd restarts the service.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sd_notify::NotifyState;
use tokio::time::Instant;
use tracing::{debug, warn};

use super::registry::Summary;

/// What we have told systemd, and when the watchdog is next owed.
#[derive(Debug)]
pub struct Systemd {
    /// Half of `WATCHDOG_USEC` (sd_watchdog_enabled(3)), when enabled.
    watchdog_every: Option<Duration>,
    next_watchdog: Option<Instant>,
    last_status: String,
}

impl Systemd {
    /// Reads `WATCHDOG_USEC`/`WATCHDOG_PID` from the environment.
    pub fn from_env() -> Self {
        let watchdog_every = sd_notify::watchdog_enabled().map(|d| d / 2);
        if let Some(every) = watchdog_every {
            debug!(?every, "systemd watchdog enabled");
        }
        Systemd {
            watchdog_every,
            next_watchdog: watchdog_every.map(|d| Instant::now() + d),
            last_status: String::new(),
        }
    }

    pub fn ready(&self) {
        send(&[NotifyState::Ready]);
    }

    /// Before a SIGHUP reload; systemd ≥ 253 requires `MONOTONIC_USEC` with it.
    pub fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(usec) => send(&[NotifyState::Reloading, usec]),
            Err(e) => warn!(error = %e, "cannot read CLOCK_MONOTONIC for RELOADING=1"),
        }
    }

    pub fn stopping(&self) {
        send(&[NotifyState::Stopping]);
    }

    /// Sends `STATUS=line` if it differs from the last one sent.
    pub fn status(&mut self, line: String) {
        if line != self.last_status {
            send(&[NotifyState::Status(&line)]);
            self.last_status = line;
        }
    }

    /// When the loop must wake next to ping the watchdog.
    pub fn watchdog_deadline(&self) -> Option<Instant> {
        self.next_watchdog
    }

    /// Sends `WATCHDOG=1` when it is owed at `now`.
    pub fn watchdog_if_due(&mut self, now: Instant) {
        let (Some(every), Some(due)) = (self.watchdog_every, self.next_watchdog) else {
            return;
        };
        if now >= due {
            send(&[NotifyState::Watchdog]);
            self.next_watchdog = Some(now + every);
        }
    }
}

/// Sends one notification without ever blocking. sd-notify's own `notify`
/// uses a blocking send: when the receiver stops reading (a test, a wedged
/// supervisor) the socket buffer fills after a few messages and the control
/// loop would hang in `send`, ignoring SIGTERM. Here a full buffer drops the
/// message instead: systemd always reads, and the next state change or
/// watchdog ping says the same thing again.
fn send(states: &[NotifyState<'_>]) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let msg: String = states.iter().map(|s| format!("{s}\n")).collect();
    match send_nonblocking(&path, msg.as_bytes()) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
            debug!("notify socket full; message dropped");
        }
        Err(e) => warn!(error = %e, "cannot notify systemd"),
    }
}

fn send_nonblocking(path: &std::ffi::OsStr, msg: &[u8]) -> std::io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::UnixDatagram;
    let sock = UnixDatagram::unbound()?;
    sock.set_nonblocking(true)?;
    let bytes = path.as_bytes();
    // A leading '@' names a socket in the abstract namespace (systemd may use one).
    if let Some(name) = bytes.strip_prefix(b"@") {
        use std::os::linux::net::SocketAddrExt;
        let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
        sock.send_to_addr(msg, &addr)?;
    } else {
        sock.send_to(msg, path)?;
    }
    Ok(())
}

/// The one-line `STATUS=`: `12 exports (1 invalid), 1 running, next: emea/vip at 10:30Z`.
pub fn status_line(s: &Summary, now: DateTime<Utc>) -> String {
    let mut line = format!(
        "{} export{}",
        s.exports,
        if s.exports == 1 { "" } else { "s" }
    );
    let mut notes = Vec::new();
    if s.invalid > 0 {
        notes.push(format!("{} invalid", s.invalid));
    }
    if s.disabled > 0 {
        notes.push(format!("{} disabled", s.disabled));
    }
    if !notes.is_empty() {
        line.push_str(&format!(" ({})", notes.join(", ")));
    }
    line.push_str(&format!(", {} running", s.running));
    if let Some((id, at)) = &s.next {
        // Same day: the time is enough; further away, say which day.
        let fmt = if at.date_naive() == now.date_naive() {
            "%H:%MZ"
        } else {
            "%Y-%m-%d %H:%MZ"
        };
        line.push_str(&format!(", next: {id} at {}", at.format(fmt)));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines() {
        let now = DateTime::parse_from_rfc3339("2026-11-23T09:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .expect("time");
        let mut s = Summary {
            exports: 12,
            invalid: 1,
            disabled: 0,
            running: 1,
            next: Some(("emea/vip".into(), now + chrono::Duration::minutes(90))),
        };
        assert_eq!(
            status_line(&s, now),
            "12 exports (1 invalid), 1 running, next: emea/vip at 10:30Z"
        );
        s.next = Some(("a".into(), now + chrono::Duration::days(1)));
        s.invalid = 0;
        s.exports = 1;
        assert_eq!(
            status_line(&s, now),
            "1 export, 1 running, next: a at 2026-11-24 09:00Z"
        );
    }
}
