//! The synthetic app (`dynosim app`) that runs inside a jailed dyno, and the neighbour burner
//! (`dynosim burn`).
//!
//! The app listens on `$PORT` and speaks a minimal HTTP/1.1 with keep-alive. One I/O thread
//! accepts connections and reads requests into a FIFO queue; `workers` threads (the scenario's
//! `concurrency`) take them in order, so the dyno is exactly the model's "concurrency slots plus a
//! FIFO backlog". A worker:
//!
//! 1. reads the client's file back if asked, then writes it if asked (the ephemeral filesystem:
//!    each file starts with the id of the request that wrote it, so a read says whose write it
//!    found);
//! 2. burns the request's CPU demand with the calibrated spin;
//! 3. on a cache miss (an item this dyno has not fetched since it started) waits the miss penalty;
//! 4. waits the request's I/O time (a sleep: it holds its slot but no CPU);
//! 5. answers with the times it measured: queue, CPU phase (wall), CPU used, wait.
//!
//! Request: `GET /work?id=7&cpu=20000000&wait=0&write=0&client=0&read=0&item=0&miss=0 HTTP/1.1`
//! (times in ns, sizes in bytes; `item` absent = no cache). `GET /ping` answers at once;
//! `GET /files` reports the files on the dyno's disk.
//!
//! **Boot and SIGTERM.** With a boot time the app sleeps that long before it binds its port (an
//! app loading its code), so a restart shows the scenario's boot gap. On SIGTERM it stops
//! accepting connections, serves what it has received, and exits once it is idle: the
//! platform's graceful shutdown (the supervisor's grace period then SIGKILL bound it).

use super::spin::{burn_cpu_time, burn_work, mono_ns, precise_timers, thread_cpu_ns};
use std::collections::{HashSet, VecDeque};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How the app turns a CPU demand into work.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpinMode {
    /// A fixed number of iterations (demand x iterations per CPU-second): co-runners that slow
    /// the core make it use more CPU time, as the model's speed factor does.
    Work,
    /// Spin until the thread has used the demanded CPU time.
    CpuTime,
}

/// Settings of the synthetic app.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// TCP port on all addresses of the dyno (only its loopback exists).
    pub port: u16,
    /// Worker threads: requests served at once.
    pub workers: usize,
    /// Spin speed of this machine (iterations per CPU-second).
    pub iters_per_s: f64,
    /// How CPU demand is burned.
    pub mode: SpinMode,
    /// Time to sleep before binding the port (the app's own boot).
    pub boot: Duration,
}

/// A parsed request line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkRequest {
    /// Request number (echoed back).
    pub id: u64,
    /// CPU demand, ns on a reference core.
    pub cpu_ns: u64,
    /// I/O wait, ns.
    pub wait_ns: u64,
    /// Bytes to write to the client's file (0: no write).
    pub write_bytes: u64,
    /// Client number (names the file).
    pub client: u64,
    /// Cache item, if the app has a cache.
    pub item: Option<u64>,
    /// Penalty of a cache miss, ns.
    pub miss_ns: u64,
    /// Read the client's file back before any write.
    pub read: bool,
}

impl WorkRequest {
    /// The HTTP request for this work.
    pub fn to_http(&self) -> String {
        let mut q = format!(
            "id={}&cpu={}&wait={}&write={}&client={}",
            self.id, self.cpu_ns, self.wait_ns, self.write_bytes, self.client
        );
        if self.read {
            q.push_str("&read=1");
        }
        if let Some(item) = self.item {
            q.push_str(&format!("&item={item}&miss={}", self.miss_ns));
        }
        format!("GET /work?{q} HTTP/1.1\r\nHost: app\r\n\r\n")
    }

    /// Parse the query of `/work?...`; unknown keys are ignored, bad numbers are errors.
    pub fn parse_query(query: &str) -> Result<WorkRequest, String> {
        let mut w = WorkRequest::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let n: u64 = v
                .parse()
                .map_err(|_| format!("`{k}={v}`: not a whole number"))?;
            match k {
                "id" => w.id = n,
                "cpu" => w.cpu_ns = n,
                "wait" => w.wait_ns = n,
                "write" => w.write_bytes = n,
                "client" => w.client = n,
                "item" => w.item = Some(n),
                "miss" => w.miss_ns = n,
                "read" => w.read = n != 0,
                _ => {}
            }
        }
        Ok(w)
    }
}

/// What the app measured for one request (the response body).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ServerTimes {
    /// Echo of the request id.
    pub id: u64,
    /// Time in the dyno's FIFO queue (read -> a worker took it).
    pub queue_ns: u64,
    /// Wall time of the CPU phase.
    pub cpu_wall_ns: u64,
    /// CPU time the worker thread used for it.
    pub cpu_used_ns: u64,
    /// Wall time of the wait phase (I/O plus any cache-miss penalty).
    pub wait_ns: u64,
    /// Whether the cache missed.
    pub miss: bool,
    /// Files on the dyno's disk after this request.
    pub files: u64,
    /// `CLOCK_MONOTONIC` instant (ns) a worker took the request.
    pub start_ns: u64,
    /// For a read: 1 + the id of the request whose write it found, 0 if the file was absent.
    pub read_tag: Option<u64>,
}

impl ServerTimes {
    /// The response body.
    pub fn to_body(&self) -> String {
        let mut b = format!(
            "id={} queue_ns={} cpu_wall_ns={} cpu_ns={} wait_ns={} miss={} files={} start_ns={}",
            self.id,
            self.queue_ns,
            self.cpu_wall_ns,
            self.cpu_used_ns,
            self.wait_ns,
            u8::from(self.miss),
            self.files,
            self.start_ns
        );
        if let Some(t) = self.read_tag {
            b.push_str(&format!(" read_tag={t}"));
        }
        b.push('\n');
        b
    }

    /// Parse a response body; `None` if it is not one.
    pub fn parse(body: &str) -> Option<ServerTimes> {
        let mut t = ServerTimes::default();
        let mut seen = 0;
        for kv in body.split_whitespace() {
            let (k, v) = kv.split_once('=')?;
            let n: u64 = v.parse().ok()?;
            seen += 1;
            match k {
                "id" => t.id = n,
                "queue_ns" => t.queue_ns = n,
                "cpu_wall_ns" => t.cpu_wall_ns = n,
                "cpu_ns" => t.cpu_used_ns = n,
                "wait_ns" => t.wait_ns = n,
                "miss" => t.miss = n != 0,
                "files" => t.files = n,
                "start_ns" => t.start_ns = n,
                "read_tag" => t.read_tag = Some(n),
                _ => seen -= 1,
            }
        }
        (seen >= 5).then_some(t)
    }
}

/// A complete HTTP response with `body`.
pub fn http_response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n{body}",
        body.len()
    )
}

/// If `buf` starts with a complete response, its status code, body and total length.
pub fn parse_response(buf: &[u8]) -> Option<(u16, &str, usize)> {
    let end = find(buf, b"\r\n\r\n")?;
    let head = std::str::from_utf8(&buf[..end]).ok()?;
    let code: u16 = head.split_whitespace().nth(1)?.parse().ok()?;
    let len: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    let total = end + 4 + len;
    if buf.len() < total {
        return None;
    }
    let body = std::str::from_utf8(&buf[end + 4..total]).ok()?;
    Some((code, body, total))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

struct Job {
    conn: Arc<TcpStream>,
    path: String,
    received_ns: u64,
}

struct Shared {
    queue: Mutex<VecDeque<Job>>,
    ready: Condvar,
    cache: Mutex<HashSet<u64>>,
    /// Requests a worker is serving.
    busy: AtomicUsize,
    cfg: AppConfig,
}

/// Set by SIGTERM: drain and exit.
static TERM: AtomicBool = AtomicBool::new(false);

extern "C" fn on_term(_: libc::c_int) {
    TERM.store(true, Ordering::SeqCst);
}

/// Run the app until it is killed, or until it has drained after SIGTERM.
pub fn serve(cfg: AppConfig) -> std::io::Result<()> {
    // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGTERM, on_term as *const () as libc::sighandler_t);
    }
    if !cfg.boot.is_zero() {
        std::thread::sleep(cfg.boot);
    }
    let listener = TcpListener::bind(("0.0.0.0", cfg.port))?;
    let _ = std::fs::create_dir_all("files");
    let shared = Arc::new(Shared {
        queue: Mutex::new(VecDeque::new()),
        ready: Condvar::new(),
        cache: Mutex::new(HashSet::new()),
        busy: AtomicUsize::new(0),
        cfg: cfg.clone(),
    });
    for _ in 0..cfg.workers.max(1) {
        let s = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("worker".into())
            .spawn(move || worker(&s))?;
    }
    io_loop(&listener, &shared)
}

/// Accept connections and read requests into the queue, with poll(2) over every connection.
/// After SIGTERM: no new connections; returns once nothing is queued, served or unread.
fn io_loop(listener: &TcpListener, shared: &Shared) -> std::io::Result<()> {
    listener.set_nonblocking(true)?;
    let mut conns: Vec<(Arc<TcpStream>, Vec<u8>)> = Vec::new();
    let mut fds: Vec<libc::pollfd> = Vec::new();
    loop {
        let term = TERM.load(Ordering::SeqCst);
        fds.clear();
        fds.push(libc::pollfd {
            fd: if term { -1 } else { listener.as_raw_fd() },
            events: libc::POLLIN,
            revents: 0,
        });
        for (c, _) in &conns {
            fds.push(libc::pollfd {
                fd: c.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            });
        }
        let timeout = if term { 5 } else { 100 };
        // SAFETY: poll(2) over a live, correctly sized array.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n <= 0 {
            let idle = shared.busy.load(Ordering::SeqCst) == 0
                && shared
                    .queue
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .is_empty();
            if term && n == 0 && idle {
                return Ok(());
            }
            continue;
        }
        let now = mono_ns();
        let mut closed = Vec::new();
        for (i, p) in fds.iter().enumerate().skip(1) {
            if p.revents == 0 {
                continue;
            }
            let (conn, buf) = &mut conns[i - 1];
            let mut chunk = [0u8; 4096];
            match (&**conn).read(&mut chunk) {
                Ok(0) | Err(_) => closed.push(i - 1),
                Ok(k) => {
                    buf.extend_from_slice(&chunk[..k]);
                    while let Some(end) = find(buf, b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
                        buf.drain(..end + 4);
                        let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                        let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
                        shared.busy.fetch_add(1, Ordering::SeqCst);
                        q.push_back(Job {
                            conn: Arc::clone(conn),
                            path,
                            received_ns: now,
                        });
                        shared.ready.notify_one();
                    }
                }
            }
        }
        for i in closed.into_iter().rev() {
            conns.swap_remove(i);
        }
        if !term && fds[0].revents != 0 {
            while let Ok((s, _)) = listener.accept() {
                let _ = s.set_nodelay(true);
                let _ = s.set_nonblocking(false);
                conns.push((Arc::new(s), Vec::new()));
            }
        }
    }
}

fn worker(shared: &Shared) {
    precise_timers();
    loop {
        let job = {
            let mut q = shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            loop {
                if let Some(j) = q.pop_front() {
                    break j;
                }
                q = shared.ready.wait(q).unwrap_or_else(|e| e.into_inner());
            }
        };
        let start = mono_ns();
        let (path, query) = job.path.split_once('?').unwrap_or((&job.path, ""));
        let response = match path {
            "/ping" => http_response("200 OK", "pong\n"),
            "/files" => {
                let (files, bytes) = files_on_disk();
                http_response("200 OK", &format!("files={files} bytes={bytes}\n"))
            }
            "/work" => match WorkRequest::parse_query(query) {
                Ok(w) => {
                    let t = work(shared, &w, job.received_ns, start);
                    http_response("200 OK", &t.to_body())
                }
                Err(e) => http_response("400 Bad Request", &format!("{e}\n")),
            },
            _ => http_response("404 Not Found", "not found\n"),
        };
        let _ = (&*job.conn).write_all(response.as_bytes());
        shared.busy.fetch_sub(1, Ordering::SeqCst);
    }
}

fn work(shared: &Shared, w: &WorkRequest, received_ns: u64, start: u64) -> ServerTimes {
    let mut files = 0;
    let path = format!("files/{}", w.client);
    // The file's first line is the id of the request that wrote it.
    let read_tag = w.read.then(|| {
        std::fs::read(&path)
            .ok()
            .and_then(|b| {
                let end = b.iter().position(|c| *c == b'\n')?;
                std::str::from_utf8(&b[..end]).ok()?.parse::<u64>().ok()
            })
            .map_or(0, |id| id + 1)
    });
    if w.write_bytes > 0 {
        let mut body = format!("{}\n", w.id).into_bytes();
        body.resize(body.len().max(w.write_bytes.min(1 << 30) as usize), 0);
        let _ = std::fs::write(&path, body);
        files = files_on_disk().0;
    }
    // The cache is looked up when the request gets its slot, as in the model.
    let miss = match w.item {
        Some(item) => shared
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(item),
        None => false,
    };
    let c0 = thread_cpu_ns();
    let cpu_start = mono_ns();
    let _ = match shared.cfg.mode {
        SpinMode::Work => burn_work(w.cpu_ns, shared.cfg.iters_per_s),
        SpinMode::CpuTime => burn_cpu_time(w.cpu_ns),
    };
    let cpu_end = mono_ns();
    let used = thread_cpu_ns() - c0;
    let wait = w.wait_ns + if miss { w.miss_ns } else { 0 };
    if wait > 0 {
        std::thread::sleep(Duration::from_nanos(wait));
    }
    ServerTimes {
        id: w.id,
        queue_ns: start.saturating_sub(received_ns),
        cpu_wall_ns: cpu_end - cpu_start,
        cpu_used_ns: used,
        wait_ns: mono_ns() - cpu_end,
        miss,
        files,
        start_ns: start,
        read_tag,
    }
}

fn files_on_disk() -> (u64, u64) {
    let mut n = 0;
    let mut bytes = 0;
    if let Ok(rd) = std::fs::read_dir("files") {
        for e in rd.flatten() {
            n += 1;
            bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
        }
    }
    (n, bytes)
}

/// One burner source: busy-loop threads that are on or off following a schedule.
#[derive(Debug, Clone)]
pub struct BurnConfig {
    /// `CLOCK_MONOTONIC` instant (ns) that schedule times count from.
    pub t0_ns: u64,
    /// Busy threads while on.
    pub threads: usize,
    /// Whether the source is on at `t0`.
    pub initially_on: bool,
    /// Times (ns after `t0`) at which the source flips, increasing.
    pub flips_ns: Vec<u64>,
    /// Stop at this time (ns after `t0`).
    pub end_ns: u64,
}

/// Run a burner until its end time.
pub fn burn(cfg: BurnConfig) {
    let mut handles = Vec::new();
    for _ in 0..cfg.threads.max(1) {
        let c = cfg.clone();
        handles.push(std::thread::spawn(move || burn_thread(&c)));
    }
    for h in handles {
        let _ = h.join();
    }
}

fn burn_thread(cfg: &BurnConfig) {
    precise_timers();
    let mut on = cfg.initially_on;
    let mut acc = 0u64;
    let end = cfg.t0_ns + cfg.end_ns;
    let mut flips = cfg.flips_ns.iter().map(|f| cfg.t0_ns + f).peekable();
    loop {
        let next = flips.peek().copied().unwrap_or(end).min(end);
        if on {
            while mono_ns() < next {
                acc ^= super::spin::spin(5_000, acc);
            }
        } else {
            super::spin::sleep_until(next);
        }
        if next >= end {
            break;
        }
        flips.next();
        on = !on;
    }
    std::hint::black_box(acc);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_round_trip() {
        let w = WorkRequest {
            id: 3,
            cpu_ns: 20_000_000,
            wait_ns: 5,
            write_bytes: 10,
            client: 4,
            item: Some(9),
            miss_ns: 7,
            read: true,
        };
        let http = w.to_http();
        let path = http.split_whitespace().nth(1).unwrap();
        let q = path.split_once('?').unwrap().1;
        assert_eq!(WorkRequest::parse_query(q).unwrap(), w);
        assert!(WorkRequest::parse_query("cpu=x").is_err());
        let t = ServerTimes {
            id: 3,
            queue_ns: 1,
            cpu_wall_ns: 2,
            cpu_used_ns: 3,
            wait_ns: 4,
            miss: true,
            files: 2,
            start_ns: 11,
            read_tag: Some(4),
        };
        let r = http_response("200 OK", &t.to_body());
        let (code, body, len) = parse_response(r.as_bytes()).unwrap();
        assert_eq!((code, len), (200, r.len()));
        assert_eq!(ServerTimes::parse(body), Some(t));
        assert!(parse_response(&r.as_bytes()[..r.len() - 1]).is_none());
    }
}
