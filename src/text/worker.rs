//! Renders on a thread of their own, for a caller that must be able to stop waiting for
//! one: `crier run` renders every text there (posts, rules' UTM values, contest texts,
//! approval notices, crisis texts), through a [`Renderer`] that carries the service's
//! [`StopFlag`], so that a stop never waits for a template. A render left behind ends on
//! that thread within its budget, its result unread, and the next render starts a fresh
//! thread. `crier plan` and `crier rehearse` render inline.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::{TextError, TextTemplates};

/// How often a caller waiting for a render looks whether it was asked to stop.
const LOOK_EVERY: Duration = Duration::from_millis(10);

/// A request to stop: clones share it, and once made it stays made.
#[derive(Clone, Debug, Default)]
pub struct StopFlag(Arc<AtomicBool>);

impl StopFlag {
    pub fn request(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn requested(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

type Rendered = Result<String, TextError>;

struct Job {
    texts: Arc<TextTemplates>,
    source: String,
    context: serde_json::Value,
    reply: mpsc::SyncSender<Rendered>,
}

/// The thread renders run on: started by the first render, and again by the first one
/// after a render was left behind (that thread ends once its render does).
#[derive(Default)]
pub(super) struct RenderThread {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl RenderThread {
    /// Hands `job` to the thread, starting one if there is none (or it has gone).
    fn submit(&self, mut job: Job) -> std::io::Result<()> {
        let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = jobs.as_ref() {
            match sender.send(job) {
                Ok(()) => return Ok(()),
                Err(mpsc::SendError(returned)) => job = returned,
            }
        }
        let (sender, receiver) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("crier-render".into())
            .spawn(move || {
                for job in receiver {
                    let rendered = job.texts.render(&job.source, &job.context);
                    // The caller may have stopped waiting: the result is dropped.
                    let _ = job.reply.send(rendered);
                }
            })?;
        sender.send(job).expect("the render thread just started");
        *jobs = Some(sender);
        Ok(())
    }

    /// Stops handing renders to the thread: it ends once the render it is in does.
    fn leave(&self) {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).take();
    }
}

impl TextTemplates {
    /// [`TextTemplates::render`] on the render thread, waited for until it ends or `stop`
    /// is requested; `None` when it was (the render is left to end on its own, and its
    /// result is never read), or when `stop` was requested already.
    pub fn render_unless_stopped(
        self: &Arc<Self>,
        source: &str,
        context: serde_json::Value,
        stop: &StopFlag,
    ) -> Option<Rendered> {
        if stop.requested() {
            return None;
        }
        if super::is_literal(source) {
            return Some(Ok(source.to_owned()));
        }
        let (reply, rendered) = mpsc::sync_channel(1);
        let job = Job {
            texts: self.clone(),
            source: source.to_owned(),
            context,
            reply,
        };
        if let Err(error) = self.thread.submit(job) {
            return Some(Err(TextError::new(format!(
                "cannot start a thread to render the text: {error}"
            ))));
        }
        loop {
            match rendered.recv_timeout(LOOK_EVERY) {
                Ok(rendered) => return Some(rendered),
                Err(RecvTimeoutError::Timeout) if stop.requested() => {
                    self.thread.leave();
                    return None;
                }
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => {
                    // The render panicked (its message is on stderr); the thread is gone.
                    self.thread.leave();
                    return Some(Err(TextError::new(
                        "the text could not be rendered: the renderer failed",
                    )));
                }
            }
        }
    }
}

/// A render cut short by a stop: its result is never read, and what it was for must not be
/// committed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("stopped while a text was being rendered")]
pub struct Stopped;

/// How one caller renders its texts: inline on its own thread, or on the render thread,
/// waited for until a stop is requested. Cheap to copy and hand down.
#[derive(Clone, Copy)]
pub enum Renderer<'a> {
    Inline(&'a TextTemplates),
    UnlessStopped(&'a Arc<TextTemplates>, &'a StopFlag),
}

impl<'a> Renderer<'a> {
    /// On the render thread when `stop` is given, inline otherwise.
    pub fn new(texts: &'a Arc<TextTemplates>, stop: Option<&'a StopFlag>) -> Self {
        match stop {
            Some(stop) => Renderer::UnlessStopped(texts, stop),
            None => Renderer::Inline(texts),
        }
    }

    /// [`TextTemplates::render`], or [`Stopped`] when a stop was requested before or
    /// during the render.
    pub fn render(
        &self,
        source: &str,
        context: &serde_json::Value,
    ) -> Result<Result<String, TextError>, Stopped> {
        match self {
            Renderer::Inline(texts) => Ok(texts.render(source, context)),
            Renderer::UnlessStopped(texts, stop) => {
                if super::is_literal(source) && !stop.requested() {
                    return Ok(Ok(source.to_owned()));
                }
                texts
                    .render_unless_stopped(source, context.clone(), stop)
                    .ok_or(Stopped)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Within the budget but slow: every turn scans a long string a few times (seconds in
    /// all, far longer than the wait before the stop below).
    const SLOW: &str = "{% for i in range(n) %}{% if big is lower and big is lower and big is lower and big is lower %}{% endif %}{% endfor %}done";

    fn slow_context() -> serde_json::Value {
        serde_json::json!({ "n": 500, "big": "x".repeat(256 * 1024) })
    }

    #[test]
    fn renders_as_render_does() {
        let texts = Arc::new(TextTemplates::new());
        let stop = StopFlag::default();
        let context = serde_json::json!({ "name": "ann" });
        for source in ["Hi {{ name }}", "plain", "{{ nope }}"] {
            assert_eq!(
                texts.render_unless_stopped(source, context.clone(), &stop),
                Some(texts.render(source, &context)),
                "{source}"
            );
        }
        for renderer in [
            Renderer::new(&texts, None),
            Renderer::new(&texts, Some(&stop)),
        ] {
            assert_eq!(
                renderer.render("Hi {{ name }}", &context),
                Ok(Ok("Hi ann".into()))
            );
        }
        stop.request();
        assert_eq!(
            texts.render_unless_stopped("Hi {{ name }}", context.clone(), &stop),
            None
        );
        assert_eq!(
            Renderer::new(&texts, Some(&stop)).render("plain", &context),
            Err(Stopped)
        );
        assert_eq!(
            Renderer::new(&texts, None).render("Hi {{ name }}", &context),
            Ok(Ok("Hi ann".into()))
        );
    }

    #[test]
    fn a_stop_is_not_kept_waiting_by_a_slow_render_and_the_next_render_goes_on() {
        let texts = Arc::new(TextTemplates::new());
        let stop = StopFlag::default();
        let requester = {
            let stop = stop.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(100));
                stop.request();
            })
        };
        // `None`: the wait ended with the stop, not with the render's result.
        assert_eq!(
            texts.render_unless_stopped(SLOW, slow_context(), &stop),
            None
        );
        requester.join().unwrap();
        let renderer = Renderer::new(&texts, Some(&stop));
        assert_eq!(
            renderer.render("{{ 1 + 1 }}", &serde_json::json!({})),
            Err(Stopped)
        );
        // The slow render still runs on the thread left behind; a new one renders this.
        let rendered =
            texts.render_unless_stopped("{{ 1 + 1 }}", serde_json::json!({}), &StopFlag::default());
        assert_eq!(rendered, Some(Ok("2".into())));
    }
}
