#!/usr/bin/env python3
"""Where the client's CPU goes in the contact360 benchmark, engine against hand-written.

Records each variant's child process with perf (DWARF call graphs), then puts every sample
of the client's tokio worker thread(s) in the first matching bucket below (checked in order;
a bucket matches when any frame of the sample's stack matches) and prints a markdown table in
microseconds of client CPU per contact. perf's own overhead inflates the totals by 10-20 %.

    B=$(ls -t target/release/deps/contact360-* | grep -v '\\.d$' | head -1)
    for v in engine hand; do
      SLUICE_BENCH_VARIANT=$v SLUICE_BENCH_REPS=15 \\
        perf record -F 1999 --call-graph dwarf,32768 -o /tmp/perf-$v.data "$B"
      perf script -i /tmp/perf-$v.data -F comm,tid,ip,sym --inline > /tmp/$v.script
    done
    python3 crates/sluice-engine/benches/contact360-perf.py /tmp/engine.script /tmp/hand.script

(`--inline` makes `perf script` slow, about a minute, but without it most engine frames are
invisible.) Runs = 1 unmeasured + SLUICE_BENCH_REPS; pass `--runs N` when it is not 16.
"""

import collections
import re
import sys

HZ = 1999


def any_frame(pattern):
    rx = re.compile(pattern)
    return lambda stack: any(rx.search(sym) for _, sym in stack)


RULES = [
    ("kernel (socket I/O, page faults, epoll)", lambda st: st[0][0].startswith("ffffffff")),
    (
        "Handlebars context: build (copies of step results) and drop",
        any_frame(r"Scope::context|handlebars::context::Context|drop_in_place<sluice_template::scope::Scope"),
    ),
    ("Handlebars render", any_frame(r"Templates::render|handlebars::")),
    ("rate limiter (acquire, observe, LimitKey)", any_frame(r"ratelimit|LimitKey")),
    ("JSON parse (serde_json → Value)", any_frame(r"serde_json::de::")),
    ("http::prepare, Prepared::record, redaction", any_frame(r"http::prepare|Prepared::record|Redactor::redact")),
    ("`value:` step and output evaluation (copies)", any_frame(r"Compiled::eval")),
    ("drop of JSON values", any_frame(r"drop_in_place<.*(serde_json|Outcome|indexmap)")),
    (
        "HTTP client (reqwest, hyper)",
        lambda st: any(
            s.lstrip("<").startswith(("hyper", "reqwest", "http::", "httparse", "url::", "idna::", "bytes::"))
            for _, s in st
        ),
    ),
    ("malloc/free (other)", lambda st: re.search(r"malloc|free|_int_|unlink_chunk|consolidate", st[0][1]) is not None),
    ("tokio (tasks, scheduler, timers, semaphores)", any_frame(r"tokio::")),
    ("other", lambda st: True),
]


def samples(path):
    """Yields (comm, [(address, symbol), …] from leaf to root)."""
    current = None
    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                if current:
                    yield current
                current = None
            elif not line[0].isspace():
                current = (line.split()[0], [])
            elif current is not None:
                m = re.match(r"\s*([0-9a-f]+)\s+(.*)", line)
                if m:
                    current[1].append((m.group(1), m.group(2)))
    if current:
        yield current


def caller(stack, pattern):
    """The first engine or benchmark frame above the outermost frame matching `pattern`."""
    hits = [i for i, (_, s) in enumerate(stack) if re.search(pattern, s)]
    if not hits:
        return "?"
    for _, s in stack[hits[-1] + 1 :]:
        if "sluice_engine" in s or "contact360" in s:
            return re.sub(r"\{\{closure\}\}|::\{closure#\d+\}|\{async_fn#\d+\}|::\{async_block#\d+\}", "", s)[:100]
    return "?"


def analyse(path, runs):
    buckets = collections.Counter()
    evals = collections.Counter()
    drops = collections.Counter()
    total = 0
    for comm, stack in samples(path):
        if not comm.startswith("tokio-rt-worker") or not stack:
            continue
        total += 1
        for name, rule in RULES:
            if rule(stack):
                buckets[name] += 1
                break
        if name.startswith("`value:`"):
            evals[caller(stack, r"Compiled::eval")] += 1
        elif name.startswith("drop of"):
            drops[caller(stack, r"drop_in_place")] += 1
    scale = 1e6 / HZ / (runs * 1000)
    return buckets, evals, drops, total, scale


def main():
    args = sys.argv[1:]
    runs = 16
    if "--runs" in args:
        i = args.index("--runs")
        runs = int(args[i + 1])
        del args[i : i + 2]
    engine, hand = analyse(args[0], runs), analyse(args[1], runs)
    print("| where the client CPU goes | engine (µs per contact) | hand-written (µs per contact) | difference |")
    print("|---|---:|---:|---:|")
    for name, _ in RULES:
        e, h = engine[0][name] * engine[4], hand[0][name] * hand[4]
        print(f"| {name} | {e:.1f} | {h:.1f} | {e - h:+.1f} |")
    e, h = engine[3] * engine[4], hand[3] * hand[4]
    print(f"| total (client worker threads) | {e:.1f} | {h:.1f} | {e - h:+.1f} |")
    for title, counter in [("engine: copies made by `Compiled::eval`, by caller", engine[1]),
                           ("engine: drops of JSON values, by caller", engine[2])]:
        print(f"\n{title}:")
        for who, n in counter.most_common(6):
            print(f"  {n * engine[4]:6.1f} µs  {who}")


if __name__ == "__main__":
    main()
