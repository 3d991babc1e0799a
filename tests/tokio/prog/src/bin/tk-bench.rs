// tk-bench: a poll-heavy Tokio program for bench/bench-tokio.sh.
//
//   tk-bench CTL_DIR WORK_US SECS TASKS
//
// One runtime thread (current_thread), TASKS tasks that each spin WORK_US
// microseconds and yield, forever. It measures its own poll rate for SECS
// seconds (phase 1, nobody attached), prints it, creates CTL_DIR/ready,
// waits for CTL_DIR/go (the bench has attached by then), measures SECS
// seconds again (phase 2), prints that, and exits 0. With one thread,
// 1/rate is the time of one poll, so the difference of the two is what
// the attach adds to each poll.
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static POLLS: AtomicU64 = AtomicU64::new(0);

fn spin(us: u64) {
    if us == 0 {
        return;
    }
    let end = Instant::now() + Duration::from_micros(us);
    while Instant::now() < end {}
}

async fn worker(work_us: u64) {
    loop {
        POLLS.fetch_add(1, Ordering::Relaxed);
        spin(work_us);
        tokio::task::yield_now().await;
    }
}

fn exists(ctl: &str, name: &str) -> bool {
    std::fs::metadata(format!("{}/{}", ctl, name)).is_ok()
}

async fn measure(secs: u64) -> f64 {
    let start = Instant::now();
    let p0 = POLLS.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(secs)).await;
    let p1 = POLLS.load(Ordering::Relaxed);
    (p1 - p0) as f64 / start.elapsed().as_secs_f64()
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
    rt.block_on(async move {
        for _ in 0..tasks {
            tokio::spawn(worker(work_us));
        }
        let before = measure(secs).await;
        println!("unattached_polls_per_s {:.0}", before);
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
        println!("attached_polls_per_s {:.0}", after);
    });
    std::process::exit(0);
}
