//! Heap allocations per iteration of every row of [`tower_authn_bench::cases`], counted by a
//! global allocator (deterministic, unlike time): per-request rows also print their count
//! over their baseline, which builds the same request. `scripts/bench --allocations` runs it.

use std::sync::atomic::Ordering;

use tower_authn_bench::counting::{ALLOCATIONS, BYTES, Counting};

#[global_allocator]
static GLOBAL: Counting = Counting;

fn main() {
    let wanted = std::env::args().nth(1).unwrap_or_default();
    let mut cases = tower_authn_bench::cases();
    const N: u64 = 1000;
    let mut counted: Vec<(&'static str, f64)> = Vec::new();
    println!("| row | allocations per iteration | over its baseline | bytes per iteration |");
    println!("|---|---|---|---|");
    for case in &mut cases {
        let wanted = case.name.contains(wanted.as_str()) || case.baseline.is_none();
        if case.group == "password" || !wanted {
            continue;
        }
        (case.run)(); // first-use costs (lazy statics, promotions) are not per request
        let (a0, b0) = (
            ALLOCATIONS.load(Ordering::Relaxed),
            BYTES.load(Ordering::Relaxed),
        );
        for _ in 0..N {
            std::hint::black_box((case.run)());
        }
        let a = (ALLOCATIONS.load(Ordering::Relaxed) - a0) as f64 / N as f64;
        let b = (BYTES.load(Ordering::Relaxed) - b0) as f64 / N as f64;
        counted.push((case.name, a));
        let base = case
            .baseline
            .and_then(|base| counted.iter().find(|(name, _)| *name == base));
        let over = base.map_or(String::new(), |(_, base)| format!("+{:.1}", a - base));
        println!(
            "| `{}/{}` | {a:.1} | {over} | {b:.0} |",
            case.group, case.name
        );
    }
}
