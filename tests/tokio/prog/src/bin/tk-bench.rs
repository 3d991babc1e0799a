// tk-bench: a poll-heavy Tokio program for bench/bench-tokio.sh.
//
//   tk-bench CTL_DIR WORK_US SECS TASKS
//
// One runtime thread (current_thread, the main thread), TASKS tasks that
// each do WORK_US microseconds of CPU work (a calibrated loop) and yield,
// forever. It measures its polls and the main thread's CPU time
// (/proc/self/schedstat: user + kernel, so uprobe traps count, while time
// spent preempted by other processes does not) for SECS seconds (phase 1,
// nobody attached), prints them, creates CTL_DIR/ready, waits for
// CTL_DIR/go (the bench has attached by then), measures again (phase 2),
// prints that, and exits 0. CPU ns per poll, attached minus not, is what
// the attach costs each poll, whatever else the machine is doing.
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static POLLS: AtomicU64 = AtomicU64::new(0);

/// CPU time of the calling thread so far, in ns.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn work(iters: u64) -> u64 {
    let mut x: u64 = 1;
    for _ in 0..iters {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        x ^= x >> 29;
    }
    x
}

static SINK: AtomicU64 = AtomicU64::new(0);

/// Loop iterations per microsecond of CPU: the fastest of five ~20 ms
/// rounds of wall time (preemption only slows a round down). Not
/// schedstat: it advances only at ticks and switches, so a short round
/// can read 0 ns and calibrate to a loop that never ends.
fn calibrate() -> f64 {
    let n = 10_000_000;
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t0 = Instant::now();
        SINK.fetch_add(work(n), Ordering::Relaxed);
        best = best.min(t0.elapsed().as_nanos().max(1) as f64);
    }
    n as f64 * 1000.0 / best
}

async fn worker(iters: u64) {
    loop {
        POLLS.fetch_add(1, Ordering::Relaxed);
        if iters > 0 {
            SINK.fetch_add(work(iters), Ordering::Relaxed);
        }
        tokio::task::yield_now().await;
    }
}

fn exists(ctl: &str, name: &str) -> bool {
    std::fs::metadata(format!("{}/{}", ctl, name)).is_ok()
}

/// (polls per second of wall time, CPU ns per poll)
async fn measure(secs: u64) -> (f64, f64) {
    let start = Instant::now();
    let p0 = POLLS.load(Ordering::Relaxed);
    let c0 = cpu_ns();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let p1 = POLLS.load(Ordering::Relaxed);
    let c1 = cpu_ns();
    let polls = (p1 - p0).max(1) as f64;
    (polls / start.elapsed().as_secs_f64(), (c1 - c0) as f64 / polls)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() != 5 {
        eprintln!("usage: tk-bench CTL_DIR WORK_US SECS TASKS");
        std::process::exit(2);
    }
    let ctl = args[1].clone();
    let work_us: u64 = args[2].parse().unwrap();
    let secs: u64 = args[3].parse().unwrap();
    let tasks: u64 = args[4].parse().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let iters = (calibrate() * work_us as f64) as u64;
    rt.block_on(async move {
        for _ in 0..tasks {
            tokio::spawn(worker(iters));
        }
        let before = measure(secs).await;
        println!("unattached_polls_per_s {:.0}", before.0);
        println!("unattached_cpu_ns_per_poll {:.0}", before.1);
        std::fs::write(format!("{}/ready", ctl), b"").unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !exists(&ctl, "go") {
            if Instant::now() > deadline {
                eprintln!("tk-bench: never told to go");
                std::process::exit(3);
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let after = measure(secs).await;
        println!("attached_polls_per_s {:.0}", after.0);
        println!("attached_cpu_ns_per_poll {:.0}", after.1);
    });
    std::process::exit(0);
}
