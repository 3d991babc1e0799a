// rustlock.rs: a Rust program for the lock tests: four threads fighting
// over one std::sync::Mutex (Rust's own futex mutex, not pthread's). It
// prints "ready PID", waits for a line on stdin (the test attaches
// meanwhile), runs, prints "done COUNT". Built by test-locks-rust.sh with
// plain rustc (std only).
use std::io::BufRead;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[inline(never)]
fn take_rust_lock(m: &Mutex<u64>) {
    let mut g = m.lock().unwrap();
    *g += 1;
    std::thread::sleep(Duration::from_micros(2000));
}

fn main() {
    let m = Arc::new(Mutex::new(0u64));
    println!("ready {}", std::process::id());
    let mut line = String::new();
    let _ = std::io::stdin().lock().read_line(&mut line);
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..25 {
                    take_rust_lock(&m);
                    std::thread::sleep(Duration::from_micros(500));
                }
            })
        })
        .collect();
    for w in workers {
        w.join().unwrap();
    }
    println!("done {}", *m.lock().unwrap());
}
