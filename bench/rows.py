"""The rows of `bench/src/lib.rs` as the `instructions` binary lists them: (group, name,
baseline), the baseline being the row a per-request row's cost is measured over, or None."""
import subprocess


def rows(binary):
    out = subprocess.run([binary, "--list"], check=True, capture_output=True, text=True).stdout
    listed = []
    for line in out.splitlines():
        full, baseline = line.split()
        group, name = full.split("/", 1)
        listed.append((group, name, None if baseline == "-" else baseline))
    return listed
