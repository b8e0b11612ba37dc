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
    /// Index into the targets (the router's choice).
    pub dyno: usize,
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
    /// Why it failed, if it did (connection refused or closed, client limits).
    pub error: Option<String>,
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

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
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

/// Send `plan` (sorted by time) to `targets` open-loop and collect one [`Outcome`] per request.
/// Stops sending when `stop` is set. Errors only if the generator itself cannot work.
pub fn run(
    targets: &[Target],
    plan: &[Planned],
    opts: &LoadOptions,
    stop: &AtomicBool,
) -> Result<Vec<Outcome>, String> {
    let epoll = Arc::new(Epoll::new().map_err(|e| format!("epoll: {e}"))?);
    let state = Arc::new(Mutex::new(State {
        conns: Vec::new(),
        idle: targets.iter().map(|_| Vec::new()).collect(),
        outcomes: vec![Outcome::default(); plan.len()],
        open: 0,
        live: 0,
    }));
    let _ = pin_thread(&opts.cpus);
    precise_timers();
    high_priority();
    // One connector thread per dyno lives in that dyno's network namespace for the whole run
    // (entering a namespace costs up to milliseconds, too slow for the dispatcher's path). It
    // keeps a few idle connections in reserve and opens one on demand when none is left.
    let mut connectors = Vec::new();
    for (d, t) in targets.iter().enumerate() {
        let (tx, rx) = mpsc::channel::<Msg>();
        let netns = match &t.netns {
            Some(f) => Some(
                f.try_clone()
                    .map_err(|e| format!("a dyno's network namespace: {e}"))?,
            ),
            None => None,
        };
        let (addr, state, epoll, cpus) = (
            t.addr,
            Arc::clone(&state),
            Arc::clone(&epoll),
            opts.cpus.clone(),
        );
        let h = std::thread::Builder::new()
            .name("loadgen-connect".into())
            .spawn(move || connector(d, netns, addr, &state, &epoll, &cpus, &rx))
            .map_err(|e| format!("cannot start a connector thread: {e}"))?;
        connectors.push((tx, h));
    }
    let open_now = |dyno: usize| -> Result<usize, String> {
        let (reply, answer) = mpsc::channel();
        connectors[dyno]
            .0
            .send(Msg::Open(reply))
            .map_err(|_| "a connector thread ended".to_string())?;
        answer
            .recv()
            .map_err(|_| "a connector thread ended".to_string())?
    };
    for d in 0..connectors.len() {
        for _ in 0..opts.prewarm {
            if let Ok(idx) = open_now(d) {
                lock(&state).idle[d].push(idx);
            }
        }
    }

    let done = Arc::new(AtomicBool::new(false));
    let receiver = {
        let (epoll, state, done) = (Arc::clone(&epoll), Arc::clone(&state), Arc::clone(&done));
        let (cpus, t0) = (opts.cpus.clone(), opts.t0_ns);
        std::thread::Builder::new()
            .name("loadgen-recv".into())
            .spawn(move || receive(&epoll, &state, &done, &cpus, t0))
            .map_err(|e| format!("cannot start the receiver thread: {e}"))?
    };

    let mut fatal = None;
    for (i, p) in plan.iter().enumerate() {
        if stop.load(Ordering::Relaxed) {
            break;
        }
        sleep_until(opts.t0_ns + p.at_ns);
        let (reuse, left) = {
            let mut st = lock(&state);
            let r = st.idle[p.dyno].pop();
            (r, st.idle[p.dyno].len())
        };
        if left < SPARE {
            let _ = connectors[p.dyno].0.send(Msg::Refill);
        }
        let idx = match reuse {
            Some(idx) => idx,
            None => {
                if lock(&state).live >= opts.max_conns {
                    let now = mono_ns().saturating_sub(opts.t0_ns);
                    let mut st = lock(&state);
                    st.outcomes[i].sent_ns = now;
                    st.outcomes[i].error = Some(format!(
                        "client: {} connections open, the generator's limit",
                        opts.max_conns
                    ));
                    continue;
                }
                match open_now(p.dyno) {
                    Ok(idx) => idx,
                    Err(e) => {
                        let now = mono_ns().saturating_sub(opts.t0_ns);
                        let mut st = lock(&state);
                        st.outcomes[i].sent_ns = now;
                        st.outcomes[i].error = Some(e);
                        continue;
                    }
                }
            }
        };
        let bytes = p.work.to_http();
        let mut guard = lock(&state);
        let st = &mut *guard;
        let now = mono_ns().saturating_sub(opts.t0_ns);
        st.outcomes[i].sent_ns = now;
        let Some(conn) = st.conns[idx].as_mut() else {
            st.outcomes[i].error = Some("the connection was lost".into());
            continue;
        };
        st.open += 1;
        conn.req = Some(i);
        let fd = conn.stream.as_raw_fd();
        let written = (&conn.stream).write_all(bytes.as_bytes());
        drop(guard);
        let armed = epoll.ctl(libc::EPOLL_CTL_MOD, fd, idx);
        if let Err(e) = written
            .map_err(|e| e.to_string())
            .and(armed.map_err(|e| e.to_string()))
        {
            let mut st = lock(&state);
            if st.conns[idx].as_ref().and_then(|c| c.req) == Some(i) {
                st.outcomes[i].error = Some(format!("send: {e}"));
                st.open -= 1;
                st.conns[idx] = None;
                st.live -= 1;
            }
        }
    }
    // Wait for the responses still due.
    while !stop.load(Ordering::Relaxed) && fatal.is_none() {
        if lock(&state).open == 0 || mono_ns() >= opts.t0_ns + opts.stop_ns {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    done.store(true, Ordering::SeqCst);
    let _ = receiver.join();
    for (tx, h) in connectors {
        drop(tx);
        if let Ok(Err(e)) = h.join() {
            fatal.get_or_insert(e);
        }
    }
    if let Some(e) = fatal {
        return Err(e);
    }
    let mut st = lock(&state);
    Ok(std::mem::take(&mut st.outcomes))
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
