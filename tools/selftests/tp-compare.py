#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compare upstream's test_progs run on our kernel with its run on stock.

Usage: tp-compare.py OURS STOCK DIFFERENCES BOTH [LABEL]

OURS and STOCK hold test_progs' verdict lines ("#N[/M] name:OK|SKIP|FAIL",
as guest.sh keeps them). Every test and subtest must have the same verdict
on both kernels, but for the intended differences listed in DIFFERENCES
(name|ours|stock, "-" for not run), which must be exactly as listed; a
test whose only differing subtests are listed may differ too. The tests
that fail or skip on both kernels (for want of config options) must be
exactly those of BOTH (test|verdict|number of subtests not OK), and at
least 2500 tests and subtests (TP_FLOOR, if set) must pass: a run that
covers less fails. With TP_TESTS (a file of the names of the tests built
in), each of them must have run on both kernels; with TP_LOGS (ours and
stock's full logs, "OURS_LOG:STOCK_LOG"), each test and subtest that
fails on both must have printed the same failed checks and messages on
both, numbers aside.
Prints each disagreement and
"test_progs verdicts agreeing with stock: N passed, N failed".
"""
import os
import re
import sys

LINE = re.compile(r"^#(\d+)(?:/(\d+))? +(.+):(OK|SKIP|FAIL)(?: \(SKIP: \d+/\d+\))?$")


def key(seen, ids, m):
    """The name a verdict line is kept under, or None for a repeat.

    test_progs repeats the failing ones at the end, with their numbers:
    the first counts. Some names come twice with different numbers (a
    test's RUN_TESTS() subtests named as its own, as in cpumask): the
    second is kept as "name (2)", and so on, in the order they ran.
    """
    ident = (m.group(1), m.group(2))
    if ident in ids:
        return None
    ids.add(ident)
    name = m.group(3)
    seen[name] = seen.get(name, 0) + 1
    return name if seen[name] == 1 else f"{name} ({seen[name]})"


def verdicts(path):
    out, seen, ids = {}, {}, set()
    for line in open(path):
        m = LINE.match(line.rstrip("\n"))
        if m:
            name = key(seen, ids, m)
            if name is not None:
                out[name] = m.group(4)
    return out


def failures(path):
    """What test_progs printed before each verdict of its log at PATH (its
    checks that failed, libbpf's and the verifier's messages), but its
    passed checks, with every number made 0: for the tests that fail on
    both kernels, which must fail the same way."""
    out, seen, ids, block = {}, {}, set(), []
    for line in open(path, errors="replace"):
        line = line.rstrip("\n").removeprefix("BPFEXC-TP ")
        if line.startswith("All error logs:"):
            break
        m = LINE.match(line)
        if m:
            name = key(seen, ids, m)
            if name is not None:
                out[name] = block
            block = []
        elif ":PASS:" not in line and line.strip():
            block.append(re.sub(r"\d+", "0", line))
    return out


def main():
    ours, stock = verdicts(sys.argv[1]), verdicts(sys.argv[2])

    def table(path):
        return [line.rstrip("\n").split("|") for line in open(path)
                if line.strip() and not line.startswith("#")]
    wanted = {name: (o, s) for name, o, s in table(sys.argv[3])}
    both_wanted = {name: (v, int(n)) for name, v, n in table(sys.argv[4])}
    parents = {n.split("/")[0] for n in wanted}
    passed = failed = 0
    for name in sorted(set(ours) | set(stock) | set(wanted)):
        o, s = ours.get(name, "-"), stock.get(name, "-")
        if name in wanted:
            ok = (o, s) == wanted[name]
            why = f"intended: ours {wanted[name][0]}, stock {wanted[name][1]}"
        elif name in parents:
            ok = o != "-" and s != "-"
            why = "its subtests must agree"
        else:
            ok = o == s
            why = "the same"
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"  FAIL {name}: ours {o}, stock {s} ({why})")
    both = sorted(n for n in ours if n in stock and "/" not in n and n not in parents
                  and ours[n] != "OK" and ours[n] == stock[n])
    both_got = {}
    for name in both:
        subs = [n for n in ours if n.startswith(name + "/") and ours[n] != "OK"]
        both_got[name] = (ours[name], len(subs))
    for name in sorted(set(both_got) | set(both_wanted)):
        got, want = both_got.get(name), both_wanted.get(name)
        if got == want:
            passed += 1
        else:
            failed += 1
            print(f"  FAIL {name}: on both kernels {got or 'OK'}, expected "
                  f"{want or 'OK'} (tools/selftests/test_progs.both)")
    # Every test built into test_progs (TP_TESTS: a file of their names)
    # must have run on both kernels.
    if os.environ.get("TP_TESTS"):
        for name in open(os.environ["TP_TESTS"]).read().split():
            if name not in ours or name not in stock:
                failed += 1
                print(f"  FAIL {name}: built in, but did not run on both kernels")
    # The tests and subtests that fail on both must fail the same way
    # (TP_LOGS: the two logs, ours and stock's, separated by a colon).
    if os.environ.get("TP_LOGS"):
        ours_log, stock_log = (failures(p) for p in os.environ["TP_LOGS"].split(":"))
        for name in sorted(ours):
            if ours[name] == "FAIL" and stock.get(name) == "FAIL" and name not in wanted:
                if ours_log.get(name) == stock_log.get(name):
                    passed += 1
                else:
                    failed += 1
                    print(f"  FAIL {name}: fails on both kernels, but not the same way:")
                    for line in (ours_log.get(name) or [])[:8]:
                        print(f"    ours:  {line}")
                    for line in (stock_log.get(name) or [])[:8]:
                        print(f"    stock: {line}")
    n_ok = sum(1 for n in ours if ours[n] == "OK")
    print(f"  ours: {len(ours)} tests and subtests, {n_ok} OK; stock: "
          f"{sum(1 for n in stock if stock[n] == 'OK')} OK")
    floor = int(os.environ.get("TP_FLOOR", "2500"))
    if n_ok < floor:
        failed += 1
        print(f"  FAIL only {n_ok} tests and subtests passed on our kernel, fewer than {floor}")
    label = f" ({sys.argv[5]})" if len(sys.argv) > 5 else ""
    print(f"test_progs verdicts agreeing with stock{label}: {passed} passed, {failed} failed")
    return failed != 0


if __name__ == "__main__":
    sys.exit(main())
