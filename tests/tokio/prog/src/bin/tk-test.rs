// tk-test: an ordinary Tokio program that taskscope attaches to.
//
// It knows what it did: every task it spawns is wrapped in `Counted`, which
// counts the task's polls, and the counts are printed once the workload is
// over, so the test can compare taskscope's recording with the truth.
//
//   tk-test workload CTL_DIR   wait for CTL_DIR/go (the test creates it once
//                              the attach is done), run the workload, print
//                              the counts, touch CTL_DIR/workload-done, wait
//                              for CTL_DIR/stop, run more tasks (after the
//                              detach), print "exit ok" and exit 0.
//   tk-test idle SECS          keep a few tasks busy for SECS, exit 0.
//   tk-test exit-on-attach CTL_DIR  spawn tasks until CTL_DIR/go appears,
//                              then exit at once (the test creates it as soon
//                              as the probes are loaded: a target that exits
//                              during an attach).
//
// The workload: distinct async fns (alpha, beta), one that blocks its worker
// in std::thread::sleep (sleeper), one that spins on the CPU (spinner), one
// that panics (panicker), one that returns Pending without keeping its waker
// (loser), a stream of short-lived tasks (short), one that is aborted while
// it sleeps (aborted; Tokio polls it once more to cancel it, without
// calling its future), one that wakes itself from inside its poll 50 times
// (selfwaker: futures-lite's yield_now; Tokio's own yield_now defers its
// wake until after the poll), then sleeps 300 ms, and one spawn_blocking
// closure; on a thread of its own (tk-nested, a current_thread runtime), a
// LocalSet task (nested) that drives a second LocalSet, whose task (local)
// is polled inside nested's poll: raw::poll nested in raw::poll on one
// thread. Line numbers of the spawns are printed ("line NAME N") so the
// test checks spawn locations against this file without hard-coding them.
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

const NAMES: [&str; 11] = [
    "alpha", "beta", "sleeper", "spinner", "panicker", "loser", "short", "aborted", "selfwaker", "nested", "local",
];
static POLLS: [AtomicU64; 11] = [
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
    AtomicU64::new(0),
];

/// Counts the polls of the task it wraps (the task's future is this).
struct Counted<F> {
    idx: usize,
    inner: Pin<Box<F>>,
}

impl<F: Future> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        POLLS[self.idx].fetch_add(1, Ordering::Relaxed);
        self.inner.as_mut().poll(cx)
    }
}

fn counted<F: Future>(idx: usize, f: F) -> Counted<F> {
    Counted { idx, inner: Box::pin(f) }
}

async fn alpha() {
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn beta() {
    for _ in 0..100 {
        tokio::task::yield_now().await;
    }
}

async fn sleeper() {
    // Blocks the worker thread inside a poll: a long poll.
    std::thread::sleep(Duration::from_millis(150));
    tokio::task::yield_now().await;
}

async fn spinner() {
    // Burns the CPU inside a poll: a long poll too.
    let start = Instant::now();
    let mut x: u64 = 1;
    while start.elapsed() < Duration::from_millis(150) {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
    }
    if x == 42 {
        println!("unlikely");
    }
    tokio::task::yield_now().await;
}

async fn panicker() {
    tokio::task::yield_now().await;
    panic!("tk-test: the panicker panics on purpose");
}

/// Returns Pending and drops its waker: nothing can ever wake it.
struct LoseWaker;

impl Future for LoseWaker {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

async fn loser() {
    LoseWaker.await
}

/// Wakes its own task from inside the poll, then returns Pending, `left`
/// times: each is a self-wake.
struct SelfWake {
    left: u32,
}

impl Future for SelfWake {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.left == 0 {
            return Poll::Ready(());
        }
        self.left -= 1;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

async fn selfwaker() {
    SelfWake { left: 50 }.await;
    // Stay alive for a while: the self_wakes lint judges live tasks.
    tokio::time::sleep(Duration::from_millis(300)).await;
}

async fn short(i: u64) -> u64 {
    tokio::task::yield_now().await;
    i
}

async fn aborted() {
    tokio::time::sleep(Duration::from_secs(30)).await;
}

/// On a thread of its own with a current_thread runtime: a LocalSet task
/// (nested) that drives a second LocalSet, whose task (local) is thus
/// polled inside nested's poll: raw::poll nested in raw::poll.
fn nested() -> Vec<(&'static str, u32)> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let outer = tokio::task::LocalSet::new();
    let mut lines = Vec::new();
    lines.push(("nested", line!() + 1));
    let h = outer.spawn_local(counted(9, async {
        let inner = tokio::task::LocalSet::new();
        let line = line!() + 1;
        let l = inner.spawn_local(counted(10, beta()));
        inner.run_until(l).await.unwrap();
        line
    }));
    lines.push(("local", rt.block_on(outer.run_until(h)).unwrap()));
    lines
}

async fn tick() {}

/// Spawned before the attach: it shows up at its first poll after it,
/// named by its future type. It keeps a String across its awaits so that
/// its drop code is its own (a future holding only a Sleep shares its drop
/// code with idle's inner task, and a shared one names no type).
async fn early() {
    let mut ticks = String::new();
    loop {
        tokio::time::sleep(Duration::from_millis(20)).await;
        ticks.push('.');
        if ticks.len() > 1000 {
            ticks.clear();
        }
    }
}

fn exists(ctl: &str, name: &str) -> bool {
    std::fs::metadata(format!("{}/{}", ctl, name)).is_ok()
}

async fn workload(ctl: &str) {
    // Wait for the attach (the test touches CTL/go once our probes are
    // live); tiny tasks keep raw::poll busy meanwhile.
    let _early = tokio::spawn(early());
    let deadline = Instant::now() + Duration::from_secs(60);
    while !exists(ctl, "go") {
        if Instant::now() > deadline {
            eprintln!("tk-test: never told to go");
            std::process::exit(3);
        }
        tokio::spawn(tick()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let mut lines = Vec::new();
    lines.push(("alpha", line!() + 1));
    let a = tokio::spawn(counted(0, alpha()));
    lines.push(("beta", line!() + 1));
    let b = tokio::spawn(counted(1, beta()));
    lines.push(("sleeper", line!() + 1));
    let s = tokio::spawn(counted(2, sleeper()));
    lines.push(("spinner", line!() + 1));
    let sp = tokio::spawn(counted(3, spinner()));
    lines.push(("panicker", line!() + 1));
    let p = tokio::spawn(counted(4, panicker()));
    lines.push(("loser", line!() + 1));
    let _lost = tokio::spawn(counted(5, loser()));
    lines.push(("aborted", line!() + 1));
    let ab = tokio::spawn(counted(7, aborted()));
    lines.push(("selfwaker", line!() + 1));
    let sw = tokio::spawn(counted(8, selfwaker()));
    let ne = std::thread::Builder::new().name("tk-nested".into()).spawn(nested).unwrap();
    lines.push(("blocking", line!() + 1));
    let bl = tokio::task::spawn_blocking(|| std::thread::sleep(Duration::from_millis(30)));
    let mut shorts = Vec::new();
    for i in 0..200u64 {
        lines.push(("short", line!() + 1));
        shorts.push(tokio::spawn(counted(6, short(i))));
        if i % 20 == 19 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    ab.abort();
    assert!(ab.await.unwrap_err().is_cancelled());
    a.await.unwrap();
    b.await.unwrap();
    s.await.unwrap();
    sp.await.unwrap();
    assert!(p.await.unwrap_err().is_panic());
    bl.await.unwrap();
    sw.await.unwrap();
    lines.extend(ne.join().unwrap());
    let mut sum = 0;
    for h in shorts {
        sum += h.await.unwrap();
    }
    assert_eq!(sum, 199 * 200 / 2);
    // Let the loser sit idle with no waker for a while before the detach.
    tokio::time::sleep(Duration::from_millis(300)).await;

    lines.dedup();
    for (name, line) in &lines {
        println!("line {} {}", name, line);
    }
    for (i, name) in NAMES.iter().enumerate() {
        println!("polls {} {}", name, POLLS[i].load(Ordering::Relaxed));
    }
    std::fs::write(format!("{}/workload-done", ctl), b"").unwrap();

    // After the detach: the program goes on, unharmed.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !exists(ctl, "stop") {
        if Instant::now() > deadline {
            eprintln!("tk-test: never told to stop");
            std::process::exit(4);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut after = Vec::new();
    for i in 0..50u64 {
        after.push(tokio::spawn(short(i)));
    }
    for h in after {
        h.await.unwrap();
    }
}

async fn idle(secs: u64) {
    let end = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < end {
        let h = tokio::spawn(async {
            tokio::time::sleep(Duration::from_millis(10)).await;
        });
        h.await.unwrap();
    }
}

async fn exit_on_attach(ctl: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if exists(ctl, "go") {
            std::process::exit(0);
        }
        if Instant::now() > deadline {
            std::process::exit(3);
        }
        tokio::spawn(tick()).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 3 {
        eprintln!("usage: tk-test (workload CTL_DIR | idle SECS | exit-on-attach CTL_DIR)");
        std::process::exit(2);
    }
    // The panicker's message is expected; keep stderr for real trouble.
    std::panic::set_hook(Box::new(|info| {
        let msg = info.to_string();
        if !msg.contains("on purpose") {
            eprintln!("{}", msg);
        }
    }));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    match args[1].as_str() {
        "workload" => rt.block_on(workload(&args[2])),
        "idle" => rt.block_on(idle(args[2].parse().unwrap())),
        "exit-on-attach" => rt.block_on(exit_on_attach(&args[2])),
        _ => {
            eprintln!("usage: tk-test (workload CTL_DIR | idle SECS | exit-on-attach CTL_DIR)");
            std::process::exit(2);
        }
    }
    println!("exit ok");
    // The loser never finishes: shut down without waiting for it.
    rt.shutdown_timeout(Duration::from_millis(100));
}
