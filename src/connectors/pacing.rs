//! Pacing: requests to one destination (a Telegram chat, a Mastodon account or server) kept
//! within what the network documents, before the network has to refuse them. A [`Pacer`]
//! holds one lane per destination; a lane bounds the requests in flight at once and, when it
//! has a rate, how many may start within a window; a network that says how many requests it
//! has left (`X-RateLimit-Remaining` and `-Reset`) is believed, and a lane with none left waits
//! for the reset. A connector takes a [`Slot`] before each send (the dispatcher asks for it
//! before the send is marked in flight, so a wait here is never an attempt) and keeps it until
//! the send, lookups included, is over. A `429` that gets through anyway is still a wait the
//! dispatcher honours.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

/// What one lane allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Requests (sends, with their lookups) in flight at once.
    pub in_flight: usize,
    /// At most this many sends may start within `window`; `None` for no rate of our own.
    pub rate: Option<(u32, Duration)>,
}

/// Lanes by destination, all with the same limits.
#[derive(Debug)]
pub struct Pacer {
    limits: Limits,
    lanes: Mutex<HashMap<String, Arc<Lane>>>,
}

#[derive(Debug)]
struct Lane {
    permits: Arc<Semaphore>,
    state: Mutex<LaneState>,
}

#[derive(Debug, Default)]
struct LaneState {
    /// When the sends within the current window started, oldest first.
    started: VecDeque<Instant>,
    /// What the network last said it had left, and when that count resets.
    remaining: Option<(u64, Instant)>,
}

/// A place in a lane: held while a send is in flight, released when dropped.
#[derive(Debug, Default)]
pub struct Slot {
    _permit: Option<OwnedSemaphorePermit>,
}

impl Slot {
    /// No pacing (networks without documented limits).
    pub fn none() -> Slot {
        Slot::default()
    }
}

impl Pacer {
    pub fn new(limits: Limits) -> Pacer {
        Pacer {
            limits,
            lanes: Mutex::new(HashMap::new()),
        }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    fn lane(&self, key: &str) -> Arc<Lane> {
        let mut lanes = self.lanes.lock().unwrap_or_else(|e| e.into_inner());
        lanes
            .entry(key.to_owned())
            .or_insert_with(|| {
                Arc::new(Lane {
                    permits: Arc::new(Semaphore::new(self.limits.in_flight.max(1))),
                    state: Mutex::new(LaneState::default()),
                })
            })
            .clone()
    }

    /// Waits until `key`'s lane has room: a free place in flight, a start within its rate,
    /// and a request left by the network's count. The wait is as long as it takes.
    pub async fn slot(&self, key: &str) -> Slot {
        let lane = self.lane(key);
        let permit = lane
            .permits
            .clone()
            .acquire_owned()
            .await
            .expect("a lane's permits are never closed");
        loop {
            let wait = {
                let mut state = lane.state.lock().unwrap_or_else(|e| e.into_inner());
                state.start(Instant::now(), self.limits.rate)
            };
            match wait {
                None => break,
                Some(until) => tokio::time::sleep_until(until).await,
            }
        }
        Slot {
            _permit: Some(permit),
        }
    }

    /// What the network said of `key`'s quota: `remaining` requests until `reset_in` from now.
    pub fn observe(&self, key: &str, remaining: u64, reset_in: Duration) {
        let lane = self.lane(key);
        let mut state = lane.state.lock().unwrap_or_else(|e| e.into_inner());
        state.remaining = Some((remaining, Instant::now() + reset_in));
    }
}

impl LaneState {
    /// Records a send starting at `now`, or says until when it must wait.
    fn start(&mut self, now: Instant, rate: Option<(u32, Duration)>) -> Option<Instant> {
        if let Some((remaining, reset)) = self.remaining {
            if now >= reset {
                self.remaining = None;
            } else if remaining == 0 {
                return Some(reset);
            }
        }
        if let Some((count, window)) = rate {
            while self
                .started
                .front()
                .is_some_and(|started| *started + window <= now)
            {
                self.started.pop_front();
            }
            if self.started.len() >= count as usize {
                return self.started.front().map(|oldest| *oldest + window);
            }
            self.started.push_back(now);
        }
        if let Some((remaining, _)) = &mut self.remaining {
            *remaining = remaining.saturating_sub(1);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_burst_goes_out_at_the_rate() {
        let pacer = Arc::new(Pacer::new(Limits {
            in_flight: 1,
            rate: Some((20, Duration::from_secs(60))),
        }));
        let start = Instant::now();
        let mut starts = Vec::new();
        for _ in 0..50 {
            let _slot = pacer.slot("chat").await;
            starts.push(Instant::now() - start);
        }
        // Never more than 20 in any 60 s.
        for (i, at) in starts.iter().enumerate() {
            let within = starts[i..]
                .iter()
                .take_while(|later| **later < *at + Duration::from_secs(60))
                .count();
            assert!(within <= 20, "{within} sends within a minute from {at:?}");
        }
        assert_eq!(starts[19], Duration::ZERO);
        assert_eq!(starts[20], Duration::from_secs(60));
        assert_eq!(starts[49], Duration::from_secs(120));
        // Another destination has its own lane.
        let other = Instant::now();
        let _slot = pacer.slot("other chat").await;
        assert_eq!(Instant::now(), other);
    }

    #[tokio::test(start_paused = true)]
    async fn the_networks_count_is_believed_until_it_resets() {
        let pacer = Pacer::new(Limits {
            in_flight: 4,
            rate: None,
        });
        pacer.observe("ann", 2, Duration::from_secs(300));
        let start = Instant::now();
        drop(pacer.slot("ann").await);
        drop(pacer.slot("ann").await);
        assert_eq!(Instant::now(), start);
        drop(pacer.slot("ann").await);
        assert_eq!(Instant::now() - start, Duration::from_secs(300));
        // After the reset, nothing is known: no wait.
        drop(pacer.slot("ann").await);
        assert_eq!(Instant::now() - start, Duration::from_secs(300));
    }

    #[tokio::test(start_paused = true)]
    async fn only_so_many_are_in_flight_at_once() {
        let pacer = Arc::new(Pacer::new(Limits {
            in_flight: 2,
            rate: None,
        }));
        let busy = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let most = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (pacer, busy, most) = (pacer.clone(), busy.clone(), most.clone());
            tasks.push(tokio::spawn(async move {
                let _slot = pacer.slot("server").await;
                let now = busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                most.fetch_max(now, std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(1)).await;
                busy.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        assert_eq!(most.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
