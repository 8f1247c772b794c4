//! The cost of authenticating one request, beside what a user would otherwise pick, in one
//! criterion run: the rows of [`tower_authn_bench::cases`], grouped as they say
//! (`scripts/bench` prints the ratios; BENCHMARKS.md reads them).

use criterion::{Criterion, criterion_group, criterion_main};

fn per_request(c: &mut Criterion) {
    let mut cases = tower_authn_bench::cases();
    for group in ["per_request", "floor", "password"] {
        let mut g = c.benchmark_group(group);
        if group == "password" {
            g.sample_size(10);
        }
        for case in cases.iter_mut().filter(|case| case.group == group) {
            g.bench_function(case.name, |b| b.iter(|| (case.run)()));
        }
        g.finish();
    }
}

criterion_group!(benches, per_request);
criterion_main!(benches);
