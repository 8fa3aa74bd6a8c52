//! One shutdown signal, cloned into every task that waits.
//!
//! Waiting (on a schedule, a backoff, a probe, an upload) always races this signal, so a
//! SIGTERM stops the agent within moments. Writing a report to the outbox never does: it is
//! short and must not be left half done.

use tokio::sync::watch;

/// Fires the shutdown signal.
#[derive(Debug)]
pub struct ShutdownTrigger {
    sender: watch::Sender<bool>,
}

/// Observes the shutdown signal; cheap to clone.
#[derive(Debug, Clone)]
pub struct Shutdown {
    receiver: watch::Receiver<bool>,
}

/// A new signal and its trigger.
pub fn channel() -> (ShutdownTrigger, Shutdown) {
    let (sender, receiver) = watch::channel(false);
    (ShutdownTrigger { sender }, Shutdown { receiver })
}

impl ShutdownTrigger {
    /// Asks every holder of the matching [`Shutdown`] to stop.
    pub fn trigger(&self) {
        self.sender.send_replace(true);
    }
}

impl Shutdown {
    /// A signal that never fires (for one-off commands and tests).
    pub fn never() -> Shutdown {
        channel().1
    }

    /// Whether shutdown was asked for.
    pub fn is_triggered(&self) -> bool {
        *self.receiver.borrow()
    }

    /// Completes when shutdown is asked for; never if the trigger is dropped unfired.
    pub async fn wait(&self) {
        let mut receiver = self.receiver.clone();
        if receiver.wait_for(|stop| *stop).await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// A signal fired by SIGTERM or SIGINT (Ctrl-C). Must be called inside a Tokio runtime.
    pub fn on_signals() -> std::io::Result<Shutdown> {
        let (trigger, shutdown) = channel();
        #[cfg(unix)]
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::spawn(async move {
            #[cfg(unix)]
            let terminated = terminate.recv();
            #[cfg(not(unix))]
            let terminated = std::future::pending::<Option<()>>();
            tokio::select! {
                _ = tokio::signal::ctrl_c() => tracing::info!(signal = "SIGINT", "shutting down"),
                _ = terminated => tracing::info!(signal = "SIGTERM", "shutting down"),
            }
            trigger.trigger();
        });
        Ok(shutdown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn every_clone_sees_the_trigger() {
        let (trigger, shutdown) = channel();
        let clone = shutdown.clone();
        assert!(!clone.is_triggered());
        let waiter = tokio::spawn(async move { clone.wait().await });
        trigger.trigger();
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("the waiter saw the signal")
            .unwrap();
        assert!(shutdown.is_triggered());
    }

    #[tokio::test]
    async fn a_dropped_trigger_never_fires() {
        let shutdown = Shutdown::never();
        let waited = tokio::time::timeout(Duration::from_millis(50), shutdown.wait()).await;
        assert!(waited.is_err());
        assert!(!shutdown.is_triggered());
    }
}
