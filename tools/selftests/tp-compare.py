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
least 2400 tests and subtests (TP_FLOOR, if set) must pass: a run that
covers less fails.
Prints each disagreement and
"test_progs verdicts agreeing with stock: N passed, N failed".
"""
import os
import re
import sys

LINE = re.compile(r"^#(\d+)(?:/(\d+))? +(.+):(OK|SKIP|FAIL)(?: \(SKIP: \d+/\d+\))?$")


def verdicts(path):
    out = {}
    for line in open(path):
        m = LINE.match(line.rstrip("\n"))
        # test_progs repeats the failing ones at the end: the first counts.
        if m and m.group(3) not in out:
            out[m.group(3)] = m.group(4)
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
    n_ok = sum(1 for n in ours if ours[n] == "OK")
    print(f"  ours: {len(ours)} tests and subtests, {n_ok} OK; stock: "
          f"{sum(1 for n in stock if stock[n] == 'OK')} OK")
    floor = int(os.environ.get("TP_FLOOR", "2400"))
    if n_ok < floor:
        failed += 1
        print(f"  FAIL only {n_ok} tests and subtests passed on our kernel, fewer than {floor}")
    label = f" ({sys.argv[5]})" if len(sys.argv) > 5 else ""
    print(f"test_progs verdicts agreeing with stock{label}: {passed} passed, {failed} failed")
    return failed != 0


if __name__ == "__main__":
    sys.exit(main())
