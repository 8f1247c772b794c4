//! Runs one row of [`tower_authn_bench::cases`] `n` times, for callgrind: instruction counts
//! are stable where wall time is not. `scripts/bench --instructions` counts only the loop
//! ([`measured`]), so set-up is left out.
//!
//! Usage: `instructions <row> <n>`, or `instructions --list` (every row and its baseline).

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cases = tower_authn_bench::cases();
    if args.first().map(String::as_str) == Some("--list") {
        // `group/name baseline` per line (`-`: none), for the scripts that subtract it.
        for case in &cases {
            println!(
                "{}/{} {}",
                case.group,
                case.name,
                case.baseline.unwrap_or("-")
            );
        }
        return;
    }
    let (Some(name), Some(n)) = (
        args.first(),
        args.get(1).and_then(|n| n.parse::<u64>().ok()),
    ) else {
        eprintln!("usage: instructions <row> <n> | --list");
        std::process::exit(2);
    };
    let Some(case) = cases.iter_mut().find(|c| c.name == name.as_str()) else {
        eprintln!("no row named {name} (instructions --list)");
        std::process::exit(2);
    };
    (case.run)(); // warm-up: first-use costs (lazy statics, promotions) are not per request
    std::hint::black_box(measured(&mut case.run, n));
}

/// The loop callgrind counts (`--toggle-collect=instructions::measured`): set-up excluded.
#[inline(never)]
fn measured(run: &mut dyn FnMut() -> u64, n: u64) -> u64 {
    let mut sum = 0u64;
    for _ in 0..n {
        sum = sum.wrapping_add(run());
    }
    sum
}
