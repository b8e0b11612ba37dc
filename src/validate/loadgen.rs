//! The open-loop load generator.
//!
//! Requests are sent at their scheduled instants whatever happened to earlier ones: a request
//! never waits for a response (no closed loop), so a slow dyno cannot slow the arrivals down.
//! Each request takes an idle keep-alive connection to its dyno, or opens a new one, so the
//! number of connections follows the number of outstanding requests.
//!
//! **Reaching a dyno.** A dyno's network namespace has only its own loopback. The dispatcher
//! thread opens connections *inside* it: `setns(CLONE_NEWNET)` into the dyno's namespace
//! (`/proc/<init pid>/ns/net`), `connect(127.0.0.1:$PORT)`, and `setns` back. A socket stays in
//! the namespace it was created in, so the connection keeps working from the host side, and
//! nothing is added to the jail (no veth, no bind mount). Only the dispatcher thread ever changes
//! namespace, and always changes back before it does anything else.
//!
//! Latency is measured on `CLOCK_MONOTONIC` from the **scheduled** send time to the last byte of
//! the response, so a late send counts against the request (no coordinated omission).

use super::app::{ServerTimes, WorkRequest, parse_response};
use super::spin::{high_priority, mono_ns, pin_thread, precise_timers, sleep_until};
use crate::engine::RngStream;
use std::collections::VecDeque;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

/// A dyno to send requests to.
#[derive(Debug)]
pub struct Target {
    /// The dyno's network namespace (`None`: the caller's own, for tests without a jail).
    pub netns: Option<File>,
    /// Where the app listens, inside that namespace.
    pub addr: SocketAddr,
}

impl Target {
    /// The target for a dyno whose init has host pid `pid`, listening on `port`.
    pub fn for_pid(pid: i32, port: u16) -> std::io::Result<Target> {
        Ok(Target {
            netns: Some(File::open(format!("/proc/{pid}/ns/net"))?),
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }
}

/// One request of the schedule.
#[derive(Debug, Clone)]
pub struct Planned {
    /// Send time, ns after `t0`.
    pub at_ns: u64,
    /// Index into the targets (the router's choice when every dyno stays up).
    pub dyno: usize,
    /// The app (index into the routes of a run with restarts).
    pub app: usize,
    /// What the app should do.
    pub work: WorkRequest,
}

/// What happened to one request. Times are ns after `t0`.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// When it was written to the socket (0: never sent).
    pub sent_ns: u64,
    /// When the whole response had arrived.
    pub done_ns: Option<u64>,
    /// HTTP status of the response.
    pub status: u16,
    /// The app's own measurements.
    pub server: Option<ServerTimes>,
    /// Why it failed, if it did (connection refused or closed, client limits; `H10`/`H20`
    /// from the router).
    pub error: Option<String>,
    /// The endpoint (dyno incarnation) it was sent to.
    pub endpoint: Option<usize>,
    /// Held by the router while no dyno was up.
    pub held: bool,
}

/// Settings of one load run.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// `CLOCK_MONOTONIC` instant (ns) of time 0 of the schedule.
    pub t0_ns: u64,
    /// Stop waiting for responses at this time (ns after `t0`).
    pub stop_ns: u64,
    /// CPUs for the generator's threads (empty: unpinned).
    pub cpus: Vec<usize>,
    /// Connections opened to each dyno before time 0.
    pub prewarm: usize,
    /// At most this many connections in all; beyond, a request fails on the client side.
    pub max_conns: usize,
}

struct Conn {
    stream: TcpStream,
    dyno: usize,
    req: Option<usize>,
    buf: Vec<u8>,
}

struct State {
    conns: Vec<Option<Conn>>,
    idle: Vec<Vec<usize>>,
    outcomes: Vec<Outcome>,
    open: usize,
    live: usize,
}

/// Lock `m`, also after a thread panicked holding it (the data is counters and queues, still
/// usable, and the panic is reported where it happened).
pub(super) fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn setns(fd: i32) -> std::io::Result<()> {
    // SAFETY: setns(2) on the calling thread with a namespace fd we hold open.
    if unsafe { libc::setns(fd, libc::CLONE_NEWNET) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// Open a connection to `t`, from inside its network namespace. If switching back to our own
/// namespace fails the process cannot go on safely: that is an error for the whole run.
fn connect_in(t: &Target, own: &File) -> Result<std::io::Result<TcpStream>, String> {
    let Some(ns) = &t.netns else {
        return Ok(TcpStream::connect_timeout(&t.addr, Duration::from_secs(1)));
    };
    if let Err(e) = setns(ns.as_raw_fd()) {
        return Ok(Err(e));
    }
    let r = TcpStream::connect_timeout(&t.addr, Duration::from_secs(1));
    setns(own.as_raw_fd())
        .map_err(|e| format!("cannot return to the host's network namespace: {e}"))?;
    Ok(r)
}

/// Wait until the app behind `t` accepts connections and answers `/ping`; returns how long
/// that took. Gives up after `timeout`.
pub fn wait_ready(t: &Target, timeout: Duration) -> Result<Duration, String> {
    let own = File::open("/proc/thread-self/ns/net")
        .map_err(|e| format!("cannot open this thread's network namespace: {e}"))?;
    let start = mono_ns();
    let deadline = start + timeout.as_nanos() as u64;
    let mut last = String::new();
    while mono_ns() < deadline {
        match connect_in(t, &own)? {
            Ok(mut s) => {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                if s.write_all(b"GET /ping HTTP/1.1\r\n\r\n").is_ok() {
                    let mut buf = Vec::new();
                    let mut chunk = [0u8; 512];
                    while let Ok(n) = s.read(&mut chunk) {
                        if n == 0 {
                            break;
                        }
                        buf.extend_from_slice(&chunk[..n]);
                        if parse_response(&buf).is_some() {
                            return Ok(Duration::from_nanos(mono_ns() - start));
                        }
                    }
                }
                last = "no answer to /ping".into();
            }
            Err(e) => last = e.to_string(),
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Err(format!(
        "the app did not answer on {} within {:.1} s ({last})",
        t.addr,
        timeout.as_secs_f64()
    ))
}

/// One `GET path` to the app behind `t` on a new connection; the response body. Fails fast
/// when nothing listens yet (a booting dyno).
pub fn fetch(t: &Target, path: &str) -> Result<String, String> {
    let own = File::open("/proc/thread-self/ns/net")
        .map_err(|e| format!("cannot open this thread's network namespace: {e}"))?;
    let mut s = connect_in(t, &own)?.map_err(|e| e.to_string())?;
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    s.write_all(format!("GET {path} HTTP/1.1\r\n\r\n").as_bytes())
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        let n = s.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("the app closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some((_, body, _)) = parse_response(&buf) {
            return Ok(body.to_string());
        }
    }
}

struct Epoll(OwnedFd);

impl Epoll {
    fn new() -> std::io::Result<Epoll> {
        // SAFETY: epoll_create1(2); the fd is owned from here on.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        // SAFETY: a fresh descriptor returned by the kernel.
        Ok(Epoll(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    fn ctl(&self, op: i32, fd: i32, key: usize) -> std::io::Result<()> {
        let mut ev = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLONESHOT) as u32,
            u64: key as u64,
        };
        // SAFETY: epoll_ctl(2) with a local event.
        if unsafe { libc::epoll_ctl(self.0.as_raw_fd(), op, fd, &mut ev) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        Ok(())
    }
}

/// The router's state for one app, with the model's rules (docs/model.md, "Routing while dynos
/// are down"): a random up dyno; with none up, hold the request while one is booting (H20 after
/// `hold_ns`), else H10 at once.
pub struct AppRoute {
    rng: RngStream,
    routers: u64,
    /// Endpoints that are up, in the order they came up (the model's `up` list).
    up: Vec<usize>,
    /// Incarnations booting.
    coming: usize,
    /// Requests held, in the order they arrived.
    held: VecDeque<usize>,
    hold_ns: u64,
}

impl AppRoute {
    /// An app's router drawing from `rng` (the model's `router/<app>` stream) with `routers`
    /// routers; requests are held at most `hold_ns` while dynos boot.
    pub fn new(rng: RngStream, routers: u32, hold_ns: u64) -> AppRoute {
        AppRoute {
            rng,
            routers: u64::from(routers.max(1)),
            up: Vec::new(),
            coming: 0,
            held: VecDeque::new(),
            hold_ns,
        }
    }
}

/// A load run in progress: connections, endpoints (one per dyno incarnation, each reached in its
/// own network namespace) and, for a run with restarts, the router's view of which are up.
/// The lifecycle thread calls [`Live::add_endpoint`], [`Live::booting`], [`Live::up`] and
/// [`Live::down`] while [`Live::dispatch`] sends; the router lock is held while a request is
/// written, so once `down` returns no request can reach that endpoint any more.
pub struct Live {
    state: Arc<Mutex<State>>,
    epoll: Arc<Epoll>,
    connectors: Mutex<Vec<Option<Connector>>>,
    routes: Mutex<Vec<AppRoute>>,
    plan: Vec<Planned>,
    opts: LoadOptions,
    done: Arc<AtomicBool>,
    receiver: Mutex<Option<std::thread::JoinHandle<()>>>,
    fatal: Mutex<Option<String>>,
}

type Connector = (
    mpsc::Sender<Msg>,
    std::thread::JoinHandle<Result<(), String>>,
);

impl Live {
    /// A run of `plan` (sorted by time). With `routes` (one per app) requests are routed online
    /// among the endpoints that are up; without, each goes to endpoint `Planned::dyno`.
    pub fn new(
        plan: &[Planned],
        opts: &LoadOptions,
        routes: Vec<AppRoute>,
    ) -> Result<Live, String> {
        let epoll = Arc::new(Epoll::new().map_err(|e| format!("epoll: {e}"))?);
        let state = Arc::new(Mutex::new(State {
            conns: Vec::new(),
            idle: Vec::new(),
            outcomes: vec![Outcome::default(); plan.len()],
            open: 0,
            live: 0,
        }));
        let done = Arc::new(AtomicBool::new(false));
        let receiver = {
            let (epoll, state, done) = (Arc::clone(&epoll), Arc::clone(&state), Arc::clone(&done));
            let (cpus, t0) = (opts.cpus.clone(), opts.t0_ns);
            std::thread::Builder::new()
                .name("loadgen-recv".into())
                .spawn(move || receive(&epoll, &state, &done, &cpus, t0))
                .map_err(|e| format!("cannot start the receiver thread: {e}"))?
        };
        Ok(Live {
            state,
            epoll,
            connectors: Mutex::new(Vec::new()),
            routes: Mutex::new(routes),
            plan: plan.to_vec(),
            opts: opts.clone(),
            done,
            receiver: Mutex::new(Some(receiver)),
            fatal: Mutex::new(None),
        })
    }

    /// Add a dyno incarnation: a connector thread in its network namespace and `prewarm` idle
    /// connections. Returns its endpoint number. It gets requests once it is [`Live::up`] (or,
    /// without routes, when the plan names it).
    pub fn add_endpoint(&self, t: &Target) -> Result<usize, String> {
        let netns = match &t.netns {
            Some(f) => Some(
                f.try_clone()
                    .map_err(|e| format!("a dyno's network namespace: {e}"))?,
            ),
            None => None,
        };
        let mut conns = lock(&self.connectors);
        let ep = conns.len();
        lock(&self.state).idle.push(Vec::new());
        let (tx, rx) = mpsc::channel::<Msg>();
        let (addr, state, epoll, cpus) = (
            t.addr,
            Arc::clone(&self.state),
            Arc::clone(&self.epoll),
            self.opts.cpus.clone(),
        );
        let h = std::thread::Builder::new()
            .name("loadgen-connect".into())
            .spawn(move || connector(ep, netns, addr, &state, &epoll, &cpus, &rx))
            .map_err(|e| format!("cannot start a connector thread: {e}"))?;
        conns.push(Some((tx, h)));
        drop(conns);
        for _ in 0..self.opts.prewarm {
            if let Ok(idx) = self.open_now(ep) {
                lock(&self.state).idle[ep].push(idx);
            }
        }
        Ok(ep)
    }

    /// An incarnation of `app` starts booting: requests are held, not refused, meanwhile.
    pub fn booting(&self, app: usize) {
        if let Some(r) = lock(&self.routes).get_mut(app) {
            r.coming += 1;
        }
    }

    /// A booting incarnation of `app` will not come up (killed while booting).
    pub fn boot_failed(&self, app: usize) {
        if let Some(r) = lock(&self.routes).get_mut(app) {
            r.coming = r.coming.saturating_sub(1);
        }
    }

    /// Endpoint `ep` of `app` answers: the router may use it, and the held requests go now, in
    /// the order they were held (those held longer than the hold get H20).
    pub fn up(&self, app: usize, ep: usize) {
        let mut routes = lock(&self.routes);
        let Some(r) = routes.get_mut(app) else { return };
        r.coming = r.coming.saturating_sub(1);
        r.up.push(ep);
        let now = mono_ns().saturating_sub(self.opts.t0_ns);
        while let Some(i) = r.held.pop_front() {
            if now >= self.plan[i].at_ns + r.hold_ns {
                lock(&self.state).outcomes[i].error = Some("H20: held while dynos booted".into());
                continue;
            }
            let pick = r.up[r.rng.below(r.up.len() as u64) as usize];
            self.send(i, pick);
        }
    }

    /// Endpoint `ep` leaves the router (SIGTERM, crash). Returns once no request can be sent
    /// to it any more.
    pub fn down(&self, ep: usize) {
        for r in lock(&self.routes).iter_mut() {
            r.up.retain(|&x| x != ep);
        }
    }

    /// Forget endpoint `ep`'s idle connections and connector (its jail is gone).
    pub fn close_endpoint(&self, ep: usize) {
        {
            let mut st = lock(&self.state);
            let idle = st.idle.get_mut(ep).map(std::mem::take).unwrap_or_default();
            for idx in idle {
                if st.conns[idx].take().is_some() {
                    st.live -= 1;
                }
            }
        }
        let c = lock(&self.connectors).get_mut(ep).and_then(Option::take);
        if let Some((tx, h)) = c {
            drop(tx);
            if let Ok(Err(e)) = h.join() {
                lock(&self.fatal).get_or_insert(e);
            }
        }
    }

    fn open_now(&self, ep: usize) -> Result<usize, String> {
        let (reply, answer) = mpsc::channel();
        let sent = match lock(&self.connectors).get(ep) {
            Some(Some((tx, _))) => tx.send(Msg::Open(reply)).is_ok(),
            _ => false,
        };
        if !sent {
            return Err("the dyno's connector has ended".to_string());
        }
        answer
            .recv()
            .map_err(|_| "a connector thread ended".to_string())?
    }

    /// Route request `i` (at its time): the plan's dyno without routes, else the model's rule.
    fn route(&self, i: usize) {
        let p = &self.plan[i];
        let mut routes = lock(&self.routes);
        let Some(r) = routes.get_mut(p.app) else {
            drop(routes);
            return self.send(i, p.dyno);
        };
        let _router = r.rng.below(r.routers);
        if !r.up.is_empty() {
            let pick = r.up[r.rng.below(r.up.len() as u64) as usize];
            // Under the router lock: `down` cannot slip between the choice and the write.
            self.send(i, pick);
        } else if r.coming > 0 {
            r.held.push_back(i);
            lock(&self.state).outcomes[i].held = true;
        } else {
            let now = mono_ns().saturating_sub(self.opts.t0_ns);
            let mut st = lock(&self.state);
            st.outcomes[i].sent_ns = now;
            st.outcomes[i].error = Some("H10: no dyno up or booting".into());
        }
    }

    /// Write request `i` to endpoint `ep` on an idle connection, or a new one.
    fn send(&self, i: usize, ep: usize) {
        let (reuse, left) = {
            let mut st = lock(&self.state);
            st.outcomes[i].endpoint = Some(ep);
            let r = st.idle.get_mut(ep).and_then(Vec::pop);
            (r, st.idle.get(ep).map_or(0, Vec::len))
        };
        if left < SPARE {
            if let Some(Some((tx, _))) = lock(&self.connectors).get(ep) {
                let _ = tx.send(Msg::Refill);
            }
        }
        let fail = |e: String| {
            let now = mono_ns().saturating_sub(self.opts.t0_ns);
            let mut st = lock(&self.state);
            st.outcomes[i].sent_ns = now;
            st.outcomes[i].error = Some(e);
        };
        let idx = match reuse {
            Some(idx) => idx,
            None => {
                if lock(&self.state).live >= self.opts.max_conns {
                    return fail(format!(
                        "client: {} connections open, the generator's limit",
                        self.opts.max_conns
                    ));
                }
                match self.open_now(ep) {
                    Ok(idx) => idx,
                    Err(e) => return fail(e),
                }
            }
        };
        let bytes = self.plan[i].work.to_http();
        let mut guard = lock(&self.state);
        let st = &mut *guard;
        let now = mono_ns().saturating_sub(self.opts.t0_ns);
        st.outcomes[i].sent_ns = now;
        let Some(conn) = st.conns[idx].as_mut() else {
            st.outcomes[i].error = Some("the connection was lost".into());
            return;
        };
        st.open += 1;
        conn.req = Some(i);
        let fd = conn.stream.as_raw_fd();
        let written = (&conn.stream).write_all(bytes.as_bytes());
        drop(guard);
        let armed = self.epoll.ctl(libc::EPOLL_CTL_MOD, fd, idx);
        if let Err(e) = written
            .map_err(|e| e.to_string())
            .and(armed.map_err(|e| e.to_string()))
        {
            let mut st = lock(&self.state);
            if st.conns[idx].as_ref().and_then(|c| c.req) == Some(i) {
                st.outcomes[i].error = Some(format!("send: {e}"));
                st.open -= 1;
                st.conns[idx] = None;
                st.live -= 1;
            }
        }
    }

    /// Send the whole plan open-loop, then wait for the responses still due (until `stop_ns`).
    /// Call from the thread that should send (it pins and prioritises itself).
    pub fn dispatch(&self, stop: &AtomicBool) {
        let _ = pin_thread(&self.opts.cpus);
        precise_timers();
        high_priority();
        for (i, p) in self.plan.iter().enumerate() {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            sleep_until(self.opts.t0_ns + p.at_ns);
            self.route(i);
        }
        while !stop.load(Ordering::Relaxed) && lock(&self.fatal).is_none() {
            let held = lock(&self.routes).iter().any(|r| !r.held.is_empty());
            if (!held && lock(&self.state).open == 0)
                || mono_ns() >= self.opts.t0_ns + self.opts.stop_ns
            {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Stop the receiver and connectors and return one [`Outcome`] per planned request.
    pub fn finish(&self) -> Result<Vec<Outcome>, String> {
        self.done.store(true, Ordering::SeqCst);
        if let Some(h) = lock(&self.receiver).take() {
            let _ = h.join();
        }
        let n = lock(&self.connectors).len();
        for ep in 0..n {
            self.close_endpoint(ep);
        }
        if let Some(e) = lock(&self.fatal).take() {
            return Err(e);
        }
        let mut st = lock(&self.state);
        Ok(std::mem::take(&mut st.outcomes))
    }
}

/// Send `plan` (sorted by time) to `targets` open-loop and collect one [`Outcome`] per request;
/// each request goes to `targets[Planned::dyno]`. Stops sending when `stop` is set. Errors
/// only if the generator itself cannot work.
pub fn run(
    targets: &[Target],
    plan: &[Planned],
    opts: &LoadOptions,
    stop: &AtomicBool,
) -> Result<Vec<Outcome>, String> {
    let live = Live::new(plan, opts, Vec::new())?;
    for t in targets {
        live.add_endpoint(t)?;
    }
    live.dispatch(stop);
    live.finish()
}

/// Idle connections each dyno's connector keeps in reserve.
const SPARE: usize = 8;

enum Msg {
    /// Open a connection and answer with its index.
    Open(mpsc::Sender<Result<usize, String>>),
    /// Open a connection into the idle pool if the reserve is low.
    Refill,
}

/// Open a connection to `addr` (in the current namespace) and register it.
fn open_registered(
    dyno: usize,
    addr: SocketAddr,
    state: &Mutex<State>,
    epoll: &Epoll,
) -> Result<usize, String> {
    let s = TcpStream::connect_timeout(&addr, Duration::from_secs(1))
        .map_err(|e| format!("connect: {e}"))?;
    let _ = s.set_nodelay(true);
    s.set_nonblocking(true)
        .map_err(|e| format!("connect: {e}"))?;
    let fd = s.as_raw_fd();
    let mut st = lock(state);
    let idx = st.conns.len();
    st.conns.push(Some(Conn {
        stream: s,
        dyno,
        req: None,
        buf: Vec::new(),
    }));
    st.live += 1;
    drop(st);
    epoll
        .ctl(libc::EPOLL_CTL_ADD, fd, idx)
        .map_err(|e| format!("epoll: {e}"))?;
    Ok(idx)
}

/// A thread that enters dyno `dyno`'s network namespace once and opens connections there.
fn connector(
    dyno: usize,
    netns: Option<File>,
    addr: SocketAddr,
    state: &Mutex<State>,
    epoll: &Epoll,
    cpus: &[usize],
    rx: &mpsc::Receiver<Msg>,
) -> Result<(), String> {
    let _ = pin_thread(cpus);
    high_priority();
    if let Some(ns) = &netns {
        // This thread never leaves the namespace: it only ever opens connections there.
        setns(ns.as_raw_fd()).map_err(|e| format!("entering a dyno's network namespace: {e}"))?;
    }
    while let Ok(msg) = rx.recv() {
        match msg {
            Msg::Open(reply) => {
                let _ = reply.send(open_registered(dyno, addr, state, epoll));
            }
            Msg::Refill => {
                if lock(state).idle[dyno].len() >= SPARE {
                    continue;
                }
                if let Ok(idx) = open_registered(dyno, addr, state, epoll) {
                    lock(state).idle[dyno].push(idx);
                }
            }
        }
    }
    Ok(())
}

fn receive(epoll: &Epoll, state: &Mutex<State>, done: &AtomicBool, cpus: &[usize], t0: u64) {
    let _ = pin_thread(cpus);
    high_priority();
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    while !done.load(Ordering::SeqCst) {
        // SAFETY: epoll_wait(2) into a live buffer of the given length.
        let n = unsafe {
            libc::epoll_wait(
                epoll.0.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as i32,
                20,
            )
        };
        if n <= 0 {
            continue;
        }
        let now = mono_ns().saturating_sub(t0);
        for ev in &events[..n as usize] {
            let idx = ev.u64 as usize;
            let mut st = lock(state);
            let st = &mut *st;
            let Some(conn) = st.conns.get_mut(idx).and_then(|c| c.as_mut()) else {
                continue;
            };
            let mut closed = false;
            let mut chunk = [0u8; 4096];
            loop {
                match (&conn.stream).read(&mut chunk) {
                    Ok(0) => {
                        closed = true;
                        break;
                    }
                    Ok(k) => conn.buf.extend_from_slice(&chunk[..k]),
                    Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == ErrorKind::Interrupted => {}
                    Err(_) => {
                        closed = true;
                        break;
                    }
                }
            }
            let mut answered = false;
            if let Some(i) = conn.req {
                if let Some((code, body, len)) = parse_response(&conn.buf) {
                    let o = &mut st.outcomes[i];
                    o.done_ns = Some(now);
                    o.status = code;
                    o.server = ServerTimes::parse(body);
                    conn.buf.drain(..len);
                    conn.req = None;
                    st.open -= 1;
                    answered = true;
                }
            }
            if closed {
                if let Some(i) = conn.req {
                    st.outcomes[i].error = Some("the dyno closed the connection".into());
                    st.open -= 1;
                }
                st.conns[idx] = None;
                st.live -= 1;
                continue;
            }
            if answered {
                let d = conn.dyno;
                st.idle[d].push(idx);
            } else {
                let fd = conn.stream.as_raw_fd();
                let _ = epoll.ctl(libc::EPOLL_CTL_MOD, fd, idx);
            }
        }
    }
}

/// Send `n` requests one after the other to `t` (no CPU, no wait) and return their round trips
/// in ns: the fixed cost of the path (loopback, the app's I/O thread and a worker's wake-up).
pub fn probe(t: &Target, n: usize) -> Result<Vec<u64>, String> {
    let own = File::open("/proc/thread-self/ns/net")
        .map_err(|e| format!("cannot open this thread's network namespace: {e}"))?;
    let mut s = connect_in(t, &own)?.map_err(|e| format!("connect to {}: {e}", t.addr))?;
    let _ = s.set_nodelay(true);
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let req = WorkRequest {
            id: i as u64,
            ..WorkRequest::default()
        }
        .to_http();
        let t0 = mono_ns();
        s.write_all(req.as_bytes())
            .map_err(|e| format!("probe: {e}"))?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 1024];
        loop {
            let k = s.read(&mut chunk).map_err(|e| format!("probe: {e}"))?;
            if k == 0 {
                return Err("probe: the app closed the connection".into());
            }
            buf.extend_from_slice(&chunk[..k]);
            if parse_response(&buf).is_some() {
                break;
            }
        }
        out.push(mono_ns() - t0);
    }
    Ok(out)
}
