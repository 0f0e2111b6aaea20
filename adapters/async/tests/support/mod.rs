//! Shared by the executor-specific test files: a hand-rolled executor, a thread timer, a transport
//! wrapper that measures, and the end-to-end scenarios every executor must pass.

#![allow(dead_code)] // each test file uses its own part of the kit

pub mod scenarios;
pub mod std_transport;

use std::future::Future;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Instant;

use gphotos_upload_async::{Body, Frame, Transport};

/// The smallest executor there is: poll, park until woken, poll again.
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        std::thread::park();
    }
}

/// A one-shot flag a future can wait on.
#[derive(Clone, Default)]
pub struct Signal(Arc<Mutex<(bool, Vec<Waker>)>>);

impl Signal {
    pub fn fire(&self) {
        let mut state = self.0.lock().unwrap();
        state.0 = true;
        for waker in state.1.drain(..) {
            waker.wake();
        }
    }

    pub fn fired(&self) -> bool {
        self.0.lock().unwrap().0
    }

    pub fn wait(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| {
            let mut state = self.0.lock().unwrap();
            if state.0 {
                Poll::Ready(())
            } else {
                state.1.push(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

/// A timer without a runtime: a thread sleeps and fires a signal.
pub async fn sleep_until(deadline: Instant) {
    if Instant::now() >= deadline {
        return;
    }
    let done = Signal::default();
    let firing = done.clone();
    std::thread::spawn(move || {
        std::thread::sleep(deadline.saturating_duration_since(Instant::now()));
        firing.fire();
    });
    done.wait().await;
}

/// What the wrapped transport saw.
#[derive(Default)]
pub struct Tally {
    in_flight: AtomicUsize,
    pub max_in_flight: AtomicUsize,
    pub max_body: AtomicUsize,
    /// The largest frame a body handed to the transport.
    pub max_frame: AtomicUsize,
    pub requests: AtomicUsize,
    /// Fired when the request with this 1-based number carrying a body is handed on.
    pub body_signal: Mutex<Option<(usize, Signal)>>,
    bodies: AtomicUsize,
}

/// Wraps a transport and measures: requests in flight at once, largest body.
pub struct Observed<T> {
    pub inner: T,
    pub tally: Arc<Tally>,
}

impl<T> Observed<T> {
    pub fn new(inner: T) -> Self {
        Self {
            inner,
            tally: Arc::default(),
        }
    }
}

struct Leaving<'t>(&'t Tally);

impl Drop for Leaving<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl<T: Transport> Transport for Observed<T> {
    type Error = T::Error;

    async fn send<B: Body>(
        &self,
        request: http::Request<B>,
    ) -> Result<http::Response<Vec<u8>>, T::Error> {
        let tally = &self.tally;
        tally.requests.fetch_add(1, Ordering::SeqCst);
        let now = tally.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        tally.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let _leaving = Leaving(tally);
        let len = usize::try_from(request.body().len()).unwrap();
        tally.max_body.fetch_max(len, Ordering::SeqCst);
        if len > 0 {
            let nth = tally.bodies.fetch_add(1, Ordering::SeqCst) + 1;
            if let Some((wanted, signal)) = &*tally.body_signal.lock().unwrap()
                && *wanted == nth
            {
                signal.fire();
            }
        }
        let request = request.map(|body| Watched { body, tally });
        self.inner.send(request).await
    }

    fn sleep_until(&self, deadline: Instant) -> impl Future<Output = ()> {
        self.inner.sleep_until(deadline)
    }
}

/// A body that reports the size of each frame it hands on.
struct Watched<'t, B> {
    body: B,
    tally: &'t Tally,
}

impl<B: Body> Body for Watched<'_, B> {
    fn len(&self) -> u64 {
        self.body.len()
    }

    async fn next_frame(&mut self) -> std::io::Result<Option<Frame>> {
        let frame = self.body.next_frame().await?;
        if let Some(frame) = &frame {
            self.tally
                .max_frame
                .fetch_max(frame.len(), Ordering::SeqCst);
        }
        Ok(frame)
    }
}

/// Runs `future` until `stop` completes, then drops it; returns its output if it finished first.
pub async fn until<F: Future, S: Future<Output = ()>>(future: F, stop: S) -> Option<F::Output> {
    let mut future: Pin<&mut F> = pin!(future);
    let mut stop: Pin<&mut S> = pin!(stop);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(output) = future.as_mut().poll(cx) {
            return Poll::Ready(Some(output));
        }
        stop.as_mut().poll(cx).map(|()| None)
    })
    .await
}
