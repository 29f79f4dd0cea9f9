#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compare the fuzz corpus's results on our kernel and on stock.

Usage: compare.py EXPECT OURS STOCK FAILDIR [LABEL]

EXPECT is gen.py's fuzz.expect; OURS and STOCK are the guests' fuzz.txt
("NAME load=ERR ret=RET", "NAME skipped", "NAME crashed", "NAME oops",
"NAME timeout": the guest ran out of time while it ran).
Every program must:
- on ours, load or be rejected as the generator's model says, and return
  what the model computed when it loads;
- on stock (where it runs there), get the same verdict and return value as
  on ours.
Our kernel must refuse the 'fexit' programs with our message (REASONS).
The documented differences: the model's 'hole' programs (a call of a
global subprog that may throw while holding an RCU read section, an
object or another reference), which both load (checked) and ours runs,
releasing what a throw leaves held; stock, which leaves it held, runs
them only in `make hole-stock`;
and 'fexit' attachments (fexit on a subprog that may
throw), which ours refuses and stock takes, to crash when a throw goes
through the trampoline: stock does not run them; and 'cleanup' programs
(a throw while holding an RCU read section, an object or disabled
preemption), which ours loads and runs, releasing them, and stock refuses.
On ours, each program that loads runs 100 times between two probes of the
task's rcu_users (an object holds a task), RCU read nesting and the bytes
left unconsumed in the ring buffer fz_rb: any
difference ("leak=" in OURS) is a failure; preemption left disabled shows
as an oops ("scheduling while atomic"). An attachment's result
is RET/HITS/LAST (see exc_loader each), where the model's '*' matches
anything. Each failing program's name and batch go to FAILDIR/list
and its source, alone, to FAILDIR/NAME.c, ready to become a regression
test; prints one line per failure and "fuzz: N passed, N failed".
"""
import os
import sys

# (results file, program): the end of the verifier log of a rejection.
LOGS = {}
# What our verifier says when it refuses a program for the hole, or fexit
# on a subprog that may throw: a rejection for another reason is a failure.
REASONS = {"fexit": "which may throw"}
# exc_loader each's runs of a program between two leak probes.
LEAK_RUNS = 100


def results(path):
    out = {}
    bad = []
    for line in open(path):
        f = line.split()
        if len(f) < 2:
            continue
        if f[0] == "LOG":
            LOGS[(path, f[1])] = line.split(None, 2)[2] if len(f) > 2 else ""
            continue
        name = f[0]
        if f[1] in ("crashed", "oops", "timeout"):
            bad.append((name, f[1]))
            continue
        if f[1] == "skipped":
            out[name] = "skipped"
            continue
        kv = dict(x.split("=", 1) for x in f[1:])
        out[name] = (int(kv["load"]), kv["ret"], kv.get("leak", "0"), int(kv.get("passes", "1")))
    return out, bad


def same(got, want):
    """RET/HITS/LAST against the model's, '*' matching anything."""
    g, w = got.split("/"), want.split("/")
    return len(g) == len(w) and all(b in ("*", a) for a, b in zip(g, w))


def main():
    expect, ours_p, stock_p, faildir = sys.argv[1:5]
    label = f" ({sys.argv[5]})" if len(sys.argv) > 5 else ""
    ours, ours_bad = results(ours_p)
    stock, stock_bad = results(stock_p)
    passed = failed = 0
    fails = []
    for name, how in ours_bad:
        fails.append((name, f"our kernel {how} running it"))
    for name, how in stock_bad:
        fails.append((name, f"stock {how} running it (not a program stock should run)"))
    bad_names = {n for n, _ in fails}
    for line in open(expect):
        name, batch, cls, ret, on_stock = line.strip().split("|")[:5]
        why = None
        o = ours.get(name)
        s = stock.get(name)
        if name in bad_names:
            why = "see above"
        elif o is None or o == "skipped":
            why = "no result on our kernel"
        elif cls in ("ok", "cleanup", "hole") and o[0] != 0:
            why = f"our kernel rejects it ({o[0]}), the model loads it"
        elif cls in ("ok", "cleanup", "hole") and not same(o[1], ret):
            why = f"our kernel returns {o[1]}, the model {ret}"
        elif o[2] != "0":
            why = f"our kernel leaves something held after {LEAK_RUNS} runs: {o[2]}"
        elif cls in ("reject", "fexit") and o[0] == 0:
            why = f"our kernel loads it (returns {o[1]}), the model rejects it"
        elif cls in REASONS and REASONS[cls] not in LOGS.get((ours_p, name), ""):
            why = (f"our kernel rejects it, but not because it "
                   f"{REASONS[cls]}: {LOGS.get((ours_p, name), '(no log)')[:300]}")
        elif on_stock == "2":
            # A hole program: stock must load it (not run it), as ours.
            if s is None or s == "skipped":
                why = "no verdict on stock"
            elif s[0] != 0:
                why = f"stock rejects it ({s[0]}), the model says both load it"
        elif on_stock == "1":
            if s is None or s == "skipped":
                why = "no result on stock"
            elif cls == "cleanup":
                if s[0] == 0:
                    why = "stock loads it, the model says stock refuses it"
            elif (s[0] == 0) != (o[0] == 0):
                why = f"verdicts differ: ours {o[0]}, stock {s[0]}"
            elif s[0] == 0 and s[1] != o[1]:
                why = f"return values differ: ours {o[1]}, stock {s[1]}"
        if why is None:
            passed += 1
        else:
            fails.append((name, why))
            failed += 1
            bad_names.add(name)
    failed += len(ours_bad) + len(stock_bad)
    os.makedirs(faildir, exist_ok=True)
    batches = {l.split("|")[0]: l.split("|")[1] for l in open(expect)}
    single = os.path.join(os.path.dirname(expect), "single")
    with open(os.path.join(faildir, "list"), "w") as out:
        for name, why in fails:
            out.write(f"{name}|{batches.get(name, '?')}|{why}\n")
            src = os.path.join(single, name + ".c")
            if os.path.exists(src):
                with open(src) as i, open(os.path.join(faildir, name + ".c"), "w") as o:
                    o.write(f"/* fuzz failure: {why} */\n" + i.read())
    for name, why in fails[:40]:
        print(f"  FAIL {name} ({batches.get(name, '?')}.c): {why}")
    if len(fails) > 40:
        print(f"  ... {len(fails) - 40} more in {faildir}/list")
    checked = sum(1 for v in ours.values() if v != "skipped" and v[0] == 0 and v[1] != "-"
                  and "/" not in v[1])
    leaked = sum(1 for v in ours.values() if v != "skipped" and v[2] != "0")
    print(f"fuzz leak check{label}: {checked} programs run {LEAK_RUNS} times each on ours, "
          f"{leaked} left a task reference, an RCU read section, a ring buffer record or an mm held")
    holding = [l.split("|")[0] for l in open(expect) if l.strip().endswith("|1")]
    released = sum(1 for n in holding if n not in bad_names and isinstance(ours.get(n), tuple)
                   and ours[n][2] == "0")
    print(f"fuzz{label}: {len(holding)} programs throw while holding something on their runs, "
          f"{released} of them ran {LEAK_RUNS} times on ours with nothing left held")
    again = sum(1 for v in ours.values() if v != "skipped" and v[3] > 1)
    print(f"fuzz{label}: {again} programs loaded on ours only after verifying again "
          f"(paths that hold resources in different places)")
    print(f"fuzz{label}: {passed} passed, {failed} failed")
    return failed != 0


if __name__ == "__main__":
    sys.exit(main())
