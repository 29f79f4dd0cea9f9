#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Random but plausible BPF programs that throw, for differential fuzzing.

Usage: gen.py SEED COUNT OUTDIR [PER_FILE]

Writes OUTDIR/fuzz_NNN.c (PER_FILE programs each, default 100), each
program also alone as OUTDIR/single/<name>.c, and OUTDIR/fuzz.expect, one
line per program:

    name|file|class|retval|runs_on_stock|throws_holding

Each program is a TC program p<i> (SEC("?tc"): exc_loader loads one at a
time) whose main function reads ctx->len and hands a u32 down a random tree
of static and global subprograms, up to depth 8. Each function mixes the
value (with ctx->len, so that clang passes ctx on to every function: a
global function whose ctx argument is dead gets an undefined R1 from its
callers, which the verifier refuses), may throw a random cookie when the value meets a random condition (on its
bits 16 and up, which the verifier cannot know, so that its verdict is the
model's), maybe right after acquiring a task that it holds in R0 only,
may run a bpf_loop() callback (which may itself try to throw), and calls
its children, each call maybe inside bpf_rcu_read_lock(), holding a
bpf_obj_new() object (which holds a reference of the current task, so that
exc_loader's leak check sees an object left held), holding a task or a
ring buffer record, a task or NULL, a task or a scalar in one variable
(paths that put two things in one place; the task maybe from a static
subprog that returns it, or released before the record was reserved),
inside a bpf_for() loop (an iterator held), holding a task_vma iterator
or a scalar in its bytes, or holding a ring buffer dynptr (HELD), with
preemption
disabled or holding a bpf_spin_lock,
or under a const volatile
flag that is 0 at load time (dead code). The main function may name a
custom exception callback. A function up to depth 5 may tail call
(before or after its calls, maybe in dead code) a small TC program
p<i>_tc<k> that may throw, through slot k of the map fz_jmp (slot 7 stays
empty: the call falls through). A program that loads may get an
attachment p<i>_at: fentry on one of its functions (which may throw, with
cookie 0 or another), fexit on one (which records the return value), or
an extension (freplace) of a global one (which may throw); each counts
its runs in fz_out[0].

The generator also evaluates every program: `class` says what a verifier
should decide,

    ok      loads on both kernels;
    reject  rejected by both (a throw in a callback, or while holding
            something, a global call with preemption disabled or a lock
            held, a helper or kfunc call with a lock held, a nested RCU
            read section);
    cleanup ours loads it, stock rejects it: a throw while holding an RCU
            read section, an object, a HELD reference or disabled
            preemption (taken in static callers), or a task in R0, which
            our unwinder releases;
    hole    both load it: a call of a global subprog that may throw while
            the caller holds an RCU read section, an object or a HELD
            reference, which a throw
            leaves held on stock (the hole) and our unwinder releases
            ("may throw" counts throws in code that dead code removal later
            drops, as our scan does);
    fexit   an attachment: fexit on a subprog that may throw (counting, as
            for the hole, throws in code that dead code removal drops),
            which ours refuses (patch 11) and stock takes;

and `retval` what a run on pkt_v4 (ctx->len == 54) returns when it loads;
for an attachment RET/HITS/LAST: what p<i> returns with it attached, how
many times it ran, and for fexit the last value returned ('*': no say).
A throw in a tail call target or an extension ends that program only:
the tail call, or the replaced function, returns the cookie.
runs_on_stock is 0 for programs stock must not run or load (and for
attachments to programs that lose a function to dead code removal, whose
func_info_aux stock leaves stale): programs with a custom callback and
subprogs, where dead code removal makes stock 6.12 enter the wrong
callback or read past its function array (fixed by our patch 12). It is
2 for hole programs, which stock must load but not run (a throw there
leaks on stock). throws_holding is 1 for a cleanup or hole program whose
run throws while callers hold something, which ours must release.
"""
import os
import random
import sys

M32 = 0xFFFFFFFF
PKT_LEN = 54
MAX_DEPTH = 8


# The wraps that hold a reference across a call, one place on all paths
# (see emit_body): a task or a ring buffer record ('either'), a task or
# NULL ('maybe'), a task or a scalar other than zero ('scalar'), a
# bpf_for() iterator whose body is the call ('iter': the child runs twice),
# a ring buffer dynptr ('dynptr'), a task that a static subprog acquired
# and returned or a record ('returned'), a task, or a record where the
# task was released before ('released'), and a task_vma iterator, or a
# scalar in its bytes ('vma'). Like 'obj', a throw below leaves them
# held; the conflicting ones need the call's own slot on ours, or for the
# iterator a handle.
HELD = ['either', 'maybe', 'scalar', 'iter', 'dynptr', 'returned', 'released', 'vma']


class Func:
    def __init__(self, name, depth, is_global):
        self.name = name
        self.depth = depth
        self.is_global = is_global
        self.a = 0
        self.b = 0
        self.throw = None       # (m, r, cookie) or None
        self.throw_holds = None  # None, 'checked' or 'unchecked' (see gen_program)
        self.loop = None        # (n, d, throw or None)
        self.calls = []         # Call
        self.tail = None        # (slot, after_calls, dead) or None


class Call:
    def __init__(self, child, k, wrap, dead):
        self.child = child
        self.k = k
        self.wrap = wrap        # None, 'rcu', 'obj', 'preempt', 'lock' or HELD
        self.dead = dead


class Thrown(Exception):
    def __init__(self, cookie):
        super().__init__()
        self.cookie = cookie


class Run:
    """What a run sees besides return values: the tail call targets by slot,
    the function an extension replaces, and per function the number of
    calls and the last value returned."""

    def __init__(self, targets=None, ext=None):
        self.targets = targets or {}
        self.ext = ext          # (name, Func of the extension) or None
        self.calls = {}
        self.last = {}
        # Whether the run threw while a caller held something (a wrap).
        self.held_throw = False


def prog_run(main, decide, st, cb=None):
    """A program's result: its main function's value, or its cookie
    (through cb) when it throws."""
    try:
        return run(main, PKT_LEN, decide, st)
    except Thrown as t:
        if cb is not None:
            return (t.cookie * cb[0] + cb[1]) & M32
        return t.cookie & M32


def run(f, x, decide, st, held=0):
    """Runs f on x, with held wraps around the calls that lead to it.
    decide(f, v, held) fixes f's throw condition on first visit."""
    st.calls[f.name] = st.calls.get(f.name, 0) + 1
    if st.ext is not None and st.ext[0] == f.name:
        # The extension is a program of its own: its throw ends there, and
        # the cookie is what the replaced function returns.
        try:
            v = run(st.ext[1], x, decide, Run())
        except Thrown as t:
            v = t.cookie & M32
        st.last[f.name] = v
        return v
    v = (x * f.a + f.b + PKT_LEN) & M32
    if f.throw is not None:
        m, r, c = decide(f, v, held)
        if (v >> 16) % m == r:
            st.held_throw = st.held_throw or held > 0 or f.throw_holds is not None
            raise Thrown(c)
    if f.loop is not None:
        n, d, _ = f.loop
        for i in range(n):
            v = (v + i * d) & M32
    # A tail call that finds its slot filled does not come back: the
    # function returns what the target program returns.
    tail = f.tail if f.tail is not None and not f.tail[2] else None
    if tail is not None and not tail[1] and tail[0] in st.targets:
        v = prog_run(st.targets[tail[0]], decide, Run())
        st.last[f.name] = v
        return v
    for c in f.calls:
        if c.dead:
            continue
        for _ in range(2 if c.wrap == 'iter' else 1):
            v = (v + run(c.child, v ^ c.k, decide, st, held + bool(c.wrap))) & M32
    if tail is not None and tail[1] and tail[0] in st.targets:
        v = prog_run(st.targets[tail[0]], decide, Run())
    st.last[f.name] = v
    return v


def may_throw(f):
    return f.throw is not None or any(may_throw(c.child) for c in f.calls)


def present(main):
    """The functions left after dead code removal: the ones the main
    function reaches through calls that are not dead. 6.12 checks a global
    function only once a checked call reaches it, and drops it otherwise."""
    seen = set()

    def visit(f):
        if f.name in seen:
            return
        seen.add(f.name)
        for c in f.calls:
            if not c.dead:
                visit(c.child)
    visit(main)
    return seen


def verdict(main):
    """(ours, stock): 'ok' or 'reject'."""
    ours = stock = 'ok'

    hole = False

    def walk(f, held):
        nonlocal ours, stock, hole
        # A throw while holding something: stock refuses it; ours releases
        # RCU read sections, objects and disabled preemption (x86-64).
        if f.throw is not None and (held or f.throw_holds):
            stock = 'reject'
            if 'lock' in held:
                ours = 'reject'
        if f.loop is not None and f.loop[2] is not None:
            ours = stock = 'reject'
        # Under bpf_spin_lock(): no helper or kfunc call (bpf_loop(), the
        # wraps' kfuncs, bpf_throw()) and no global call.
        if 'lock' in held and f.loop is not None:
            ours = stock = 'reject'
        # No tail call holding a lock, an RCU read section or with
        # preemption disabled. An object held by a caller does not count
        # (6.12 checks only the frame that tail calls): its frame comes back.
        if f.tail is not None and not f.tail[2] and held & {'lock', 'rcu', 'preempt'}:
            ours = stock = 'reject'
        for c in f.calls:
            if c.dead:
                continue
            if ('lock' in held and c.wrap) or (c.child.is_global and
                                               'lock' in held | {c.wrap}):
                ours = stock = 'reject'
            if c.wrap == 'rcu' and 'rcu' in held:
                # 6.12: "nested rcu read lock"
                ours = stock = 'reject'
            h = held | ({c.wrap} if c.wrap else set())
            if c.child.is_global:
                if 'preempt' in h:
                    ours = stock = 'reject'
                elif h and may_throw(c.child):
                    # Stock loads it and leaks; ours releases (x86-64).
                    hole = True
                walk(c.child, set())
            else:
                walk(c.child, h)

    walk(main, set())
    return ours, stock, hole


def gen_tree(rng, p, sizes, wraps, dead_p):
    """A main function p and random subprogs under it, as Func objects."""
    funcs = [Func(p, 0, False)]
    for j in range(rng.choice(sizes)):
        parent = rng.choice([f for f in funcs if f.depth < MAX_DEPTH])
        f = Func(f"{p}_f{j}", parent.depth + 1, rng.random() < 0.4)
        wrap = rng.choice(wraps)
        dead = rng.random() < dead_p
        parent.calls.append(Call(f, rng.randrange(1 << 16), wrap, dead))
        funcs.append(f)
    for f in funcs:
        f.a = rng.randrange(1, 1 << 12)
        f.b = rng.randrange(1 << 16)
        if rng.random() < 0.45:
            f.throw = (rng.choice([2, 3, 5, 7]), None, rng.randrange(1, 1 << 30))
    return funcs


def gen_program(rng, idx):
    p = f"p{idx}"
    funcs = gen_tree(rng, p, [0, 1, 2, 3, 4, 5, 6, 8, 10],
                     [None] * 9 + ['rcu', 'obj', 'preempt', 'lock'] + HELD, 0.12)
    main = funcs[0]
    nsub = len(funcs) - 1
    # A throw site may acquire a task just before it and throw with the
    # task in R0 only, checked for NULL or not (stock refuses it; ours
    # releases R0 as the unwinder's entry saved it, which the x86-64 JIT
    # must leave alone in functions that can reach a tail call). Drawn
    # from a generator of its own, so that the rest of a seed's programs
    # stay as they were.
    for f in funcs:
        if f.throw is not None:
            hr = random.Random(f"{f.name}:{f.a}:{f.b}")
            if hr.random() < 0.15:
                f.throw_holds = hr.choice(['checked', 'unchecked'])
    for f in funcs:
        if rng.random() < 0.12:
            lt = None
            if rng.random() < 0.3:
                lt = (rng.choice([2, 3]), rng.randrange(2), rng.randrange(1, 1 << 20))
            f.loop = (rng.randrange(1, 8), rng.randrange(1, 100), lt)
    # Tail calls: from a function up to depth 5 (the frames before a tail
    # call stay well within the verifier's 256 bytes), before or after its
    # calls, maybe dead; slot 7 is never filled (the call falls through).
    # Each target p<i>_tc<k> is a small TC program that may throw.
    targets = {}
    for f in funcs:
        if f.depth <= 5 and rng.random() < 0.08:
            slot = rng.choice([0, 1, 7]) if not targets else rng.choice(list(targets) + [7])
            f.tail = (slot, rng.random() < 0.5, rng.random() < 0.1)
            if slot != 7 and slot not in targets:
                targets[slot] = gen_tree(rng, f"{p}_tc{slot}", [0, 1, 2], [None], 0)
    every = funcs + [g for t in targets.values() for g in t]

    # Throw conditions: fire about a third of the time where reached, more
    # often where callers hold something, for the leak check to see.
    def decide(f, v, held=0):
        m, r, c = f.throw
        if r is None:
            fire = rng.random() < (0.6 if held else 0.35)
            r = (v >> 16) % m if fire else ((v >> 16) % m + 1) % m
            f.throw = (m, r, c)
        return f.throw
    cb = None
    # A main function that tail calls always gets a custom callback: a
    # throw that ended the caller instead of the target would then show.
    if rng.random() < 0.3 or (main.tail is not None and main.tail[0] in targets):
        cb = (rng.randrange(1, 5), rng.randrange(1 << 10))
    mains = {k: t[0] for k, t in targets.items()}
    st = Run(mains)
    ret = prog_run(main, decide, st, cb)
    # Throw sites not reached get a condition too.
    for f in every:
        if f.throw is not None and f.throw[1] is None:
            m, _, c = f.throw
            f.throw = (m, rng.randrange(m), c)

    ours, stock, hole = verdict(main)
    if ours == 'ok' and stock == 'ok' and hole:
        cls = 'hole'
    elif ours == stock:
        cls = ours
    elif ours == 'ok' and stock == 'reject':
        cls = 'cleanup'
    else:
        raise AssertionError("model: ours accepts what stock rejects")
    # Stock 6.12 keeps a stale exception callback index when dead code
    # removal drops a subprog before it (our patch 12): flag-guarded code,
    # or code after a throw that the verifier proves always fires. It then
    # oopses at load or enters the wrong function: no custom callback with
    # subprogs on stock.
    # Stock loads the hole programs but must not run them: 2.
    on_stock = 0 if cb is not None and nsub > 0 else 2 if cls == 'hole' else 1

    # The C source: callees before callers, tail call targets first.
    out = []
    for t in targets.values():
        for f in sorted(t[1:], key=lambda f: -f.depth):
            out.append(emit_func(f))
        out.append(emit_main(t[0], t[0].name, None))
    for f in sorted(funcs[1:], key=lambda f: -f.depth):
        out.append(emit_func(f))
    out.append(emit_main(main, p, cb))
    results = [(p, cls, ret if cls in ('ok', 'cleanup', 'hole') else '-', on_stock,
                int(st.held_throw and cls in ('cleanup', 'hole')))]

    # An attachment, when the program loads: a tracing program on one of
    # its functions, or an extension replacing a global one.
    if cls == 'ok' and rng.random() < 0.3:
        kinds = ['fentry', 'fexit'] + (['freplace'] if any(f.is_global for f in funcs) else [])
        kind = rng.choice(kinds)
        cands = [f for f in funcs if f.is_global] if kind == 'freplace' else funcs
        tgt = rng.choice(cands)
        src, res = gen_attach(rng, p, kind, tgt, funcs, main, mains, decide, cb, on_stock)
        out.append(src)
        results.append(res)
    return "\n".join(out), results


def gen_attach(rng, p, kind, tgt, funcs, main, mains, decide, cb, on_stock):
    """The attachment p<i>_at: its source and its expected result, as
    'ret/hits/last': what p<i> returns with it attached, how many times it
    ran and, for fexit, the last value the function returned ('*' where
    the model has no say)."""
    name = f"{p}_at"
    args = "struct __sk_buff *skb" + (", u32 x" if tgt is not main else "")
    there = tgt.name in present(main)
    # Stock 6.12 does not move func_info_aux when dead code removal drops a
    # subprog (our patch 12): the attach checks then read another
    # function's "unreliable" flag. Stock refuses to extend a global
    # function ("Cannot replace static functions") or gives fexit a
    # conservative prototype, which reads the wrong slot for the return
    # value (found by the 50 000-program campaign of seed 20261203). No
    # attachment to such a program on stock.
    if len(present(main)) < len(funcs):
        on_stock = 0
    ext = None
    if kind == 'freplace':
        ext = Func(name, 1, True)
        ext.a = rng.randrange(1, 1 << 12)
        ext.b = rng.randrange(1 << 16)
        if rng.random() < 0.5:
            ext.throw = (rng.choice([2, 3]), None, rng.randrange(1, 1 << 30))
        st = Run(mains, (tgt.name, ext))
        ret = prog_run(main, decide, st, cb)
        if ext.throw is not None and ext.throw[1] is None:
            m, _, c = ext.throw
            ext.throw = (m, rng.randrange(m), c)
        src = (f"SEC(\"?freplace/{tgt.name}\")\nint {name}({args.replace('skb', 'ctx')})\n{{\n"
               "\tfz_out[0]++;\n" + emit_body(ext) + "}\n")
        if not there:
            return src, (name, 'reject', '-', on_stock, 0)
        return src, (name, 'ok', f"{ret}/{st.calls.get(tgt.name, 0)}/*", on_stock, 0)
    st = Run(mains)
    ret = prog_run(main, decide, st, cb)
    hits = st.calls.get(tgt.name, 0)
    if kind == 'fentry':
        # A throw in a tracing program ends it; its cookie, like its return
        # value, must be 0.
        throw = rng.choice([None, 0, rng.randrange(1, 1 << 20)])
        body = "\tfz_out[0]++;\n"
        if throw is not None:
            body += f"\tbpf_throw({throw});\n"
        cls = 'ok' if there and throw in (None, 0) else 'reject'
        last = '*'
    else:
        body = "\tfz_out[0]++;\n\tfz_out[1] = (u32)ret;\n"
        args += ", int ret"
        last = ret if tgt is main else st.last.get(tgt.name, 0)
        if not there:
            cls = 'reject'
        elif tgt is not main and may_throw(tgt):
            # Ours refuses fexit on a subprog that may throw (patch 11),
            # counting throws in code that dead code removal drops, as for
            # the hole; stock takes it and crashes when a throw goes
            # through.
            cls, on_stock = 'fexit', 0
        else:
            cls = 'ok'
    src = (f"SEC(\"?{kind}/{tgt.name}\")\nint BPF_PROG({name}, {args})\n{{\n"
           f"{body}\treturn 0;\n}}\n")
    return src, (name, cls, f"{ret}/{hits}/{last}" if cls == 'ok' else '-', on_stock, 0)


def emit_body(f):
    lines = []
    if f.loop is not None:
        lines.append("\tu32 v;\n")
        lines.append(f"\tv = x * {f.a}u + {f.b}u + ctx->len;\n")
    else:
        lines.append(f"\tu32 v = x * {f.a}u + {f.b}u + ctx->len;\n")
    if f.throw is not None:
        m, r, c = f.throw
        # The task stays in R0 up to the call: clang knows it is not used
        # after a throw that does not return.
        throw = f"bpf_throw({c});\n__builtin_unreachable();"
        if f.throw_holds == 'checked':
            body = ("struct task_struct *t = bpf_task_acquire(bpf_get_current_task_btf());\n\n"
                    "if (t) {\n\t" + throw.replace("\n", "\n\t") + "\n}")
        elif f.throw_holds == 'unchecked':
            body = "bpf_task_acquire(bpf_get_current_task_btf());\n" + throw
        if f.throw_holds is not None:
            body = "\t\t" + body.replace("\n", "\n\t\t").replace("\t\t\n", "\n")
            lines.append(f"\tif ((v >> 16) % {m} == {r}) {{\n{body}\n\t}}\n")
        else:
            lines.append(f"\tif ((v >> 16) % {m} == {r})\n\t\tbpf_throw({c});\n")
    if f.loop is not None:
        lines.append(f"\tbpf_loop({f.loop[0]}, {f.name}_loop, &v, 0);\n")
    tail = ""
    if f.tail is not None:
        tail = f"bpf_tail_call(ctx, &fz_jmp, {f.tail[0]});"
        if f.tail[2]:
            tail = f"if (fz_off)\n\t\t{tail}"
        tail = f"\t{tail}\n"
        if not f.tail[1]:
            lines.append(tail)
    for c in f.calls:
        call = f"v += {c.child.name}(ctx, v ^ {c.k}u);"
        if c.wrap == 'rcu':
            call = f"bpf_rcu_read_lock();\n\t\t{call}\n\t\tbpf_rcu_read_unlock();"
        elif c.wrap == 'lock':
            call = f"bpf_spin_lock(&fz_lock);\n\t\t{call}\n\t\tbpf_spin_unlock(&fz_lock);"
        elif c.wrap == 'preempt':
            call = f"bpf_preempt_disable();\n\t\t{call}\n\t\tbpf_preempt_enable();"
        elif c.wrap == 'either':
            call = ("u32 k = (v >> 17) & 1;\n\t\tvoid *p;\n\n"
                    "\t\tif (k)\n\t\t\tp = bpf_task_acquire(bpf_get_current_task_btf());\n"
                    "\t\telse\n\t\t\tp = bpf_ringbuf_reserve(&fz_rb, 8, 0);\n"
                    f"\t\t{call}\n"
                    "\t\tif (p) {\n\t\t\tif (k)\n\t\t\t\tbpf_task_release(p);\n"
                    "\t\t\telse\n\t\t\t\tbpf_ringbuf_discard(p, 0);\n\t\t}")
        elif c.wrap == 'returned':
            call = ("u32 k = (v >> 17) & 1;\n\t\tvoid *p;\n\n"
                    "\t\tif (k)\n\t\t\tp = fz_task();\n"
                    "\t\telse\n\t\t\tp = bpf_ringbuf_reserve(&fz_rb, 8, 0);\n"
                    f"\t\t{call}\n"
                    "\t\tif (p) {\n\t\t\tif (k)\n\t\t\t\tbpf_task_release(p);\n"
                    "\t\t\telse\n\t\t\t\tbpf_ringbuf_discard(p, 0);\n\t\t}")
        elif c.wrap == 'released':
            call = ("u32 k = (v >> 17) & 1;\n"
                    "\t\tstruct task_struct *t = bpf_task_acquire(bpf_get_current_task_btf());\n"
                    "\t\tvoid *p = t;\n\n"
                    "\t\tif (k && t) {\n\t\t\tbpf_task_release(t);\n"
                    "\t\t\tp = bpf_ringbuf_reserve(&fz_rb, 8, 0);\n\t\t}\n"
                    f"\t\t{call}\n"
                    "\t\tif (p) {\n\t\t\tif (k)\n\t\t\t\tbpf_ringbuf_discard(p, 0);\n"
                    "\t\t\telse\n\t\t\t\tbpf_task_release(p);\n\t\t}")
        elif c.wrap == 'maybe':
            call = ("struct task_struct *t = NULL;\n\n"
                    "\t\tif ((v >> 17) & 1)\n"
                    "\t\t\tt = bpf_task_acquire(bpf_get_current_task_btf());\n"
                    f"\t\t{call}\n"
                    "\t\tif (t)\n\t\t\tbpf_task_release(t);")
        elif c.wrap == 'scalar':
            call = ("u32 k = (v >> 17) & 1;\n"
                    "\t\tvoid *p = (void *)(long)(v | 1);\n\n"
                    "\t\tif (k)\n\t\t\tp = bpf_task_acquire(bpf_get_current_task_btf());\n"
                    f"\t\t{call}\n"
                    "\t\tif (k && p)\n\t\t\tbpf_task_release(p);")
        elif c.wrap == 'iter':
            call = f"int i;\n\n\t\tbpf_for(i, 0, 2)\n\t\t\t{call}"
        elif c.wrap == 'vma':
            call = ("u32 k = (v >> 17) & 1;\n"
                    "\t\tstruct bpf_iter_task_vma it;\n\n"
                    "\t\tif (k)\n\t\t\tbpf_iter_task_vma_new(&it, bpf_get_current_task_btf(), 0);\n"
                    "\t\telse\n\t\t\t*(volatile u64 *)&it = v | 1;\n"
                    f"\t\t{call}\n"
                    "\t\tif (k)\n\t\t\tbpf_iter_task_vma_destroy(&it);")
        elif c.wrap == 'dynptr':
            call = ("struct bpf_dynptr d;\n\n"
                    "\t\tbpf_ringbuf_reserve_dynptr(&fz_rb, 8, 0, &d);\n"
                    f"\t\t{call}\n\t\tbpf_ringbuf_discard_dynptr(&d, 0);")
        elif c.wrap == 'obj':
            call = ("struct fz_obj *o = bpf_obj_new(typeof(*o));\n"
                    "\t\tstruct task_struct *t;\n\n"
                    "\t\tif (!o)\n\t\t\treturn 0;\n"
                    "\t\tt = bpf_task_acquire(bpf_get_current_task_btf());\n"
                    "\t\tif (t) {\n\t\t\tt = bpf_kptr_xchg(&o->task, t);\n"
                    "\t\t\tif (t)\n\t\t\t\tbpf_task_release(t);\n\t\t}\n"
                    f"\t\t{call}\n\t\tbpf_obj_drop(o);")
        if c.dead:
            lines.append(f"\tif (fz_off) {{\n\t\t{call}\n\t}}\n")
        else:
            lines.append(f"\t{{\n\t\t{call}\n\t}}\n")
    if f.tail is not None and f.tail[1]:
        lines.append(tail)
    lines.append("\treturn v;\n")
    return "".join(lines)


def emit_loop(f):
    _, d, lt = f.loop
    body = f"\t*v += idx * {d};\n"
    if lt is not None:
        m, r, c = lt
        body += f"\tif (*v % {m} == {r})\n\t\tbpf_throw({c});\n"
    return (f"static int {f.name}_loop(u64 idx, void *data)\n{{\n"
            f"\tu32 *v = data;\n\n{body}\treturn 0;\n}}\n\n")


def emit_func(f):
    link = "" if f.is_global else "static "
    pre = emit_loop(f) if f.loop is not None else ""
    return (f"{pre}{link}__noinline int {f.name}(struct __sk_buff *ctx, u32 x)\n{{\n"
            f"{emit_body(f)}}}\n")


def emit_main(f, p, cb):
    pre = emit_loop(f) if f.loop is not None else ""
    tag = ""
    if cb is not None:
        pre += (f"__noinline int {p}_cb(u64 cookie)\n{{\n"
                f"\treturn cookie * {cb[0]} + {cb[1]};\n}}\n\n")
        tag = f"__exception_cb({p}_cb)\n"
    return (f"{pre}SEC(\"?tc\")\n{tag}int {p}(struct __sk_buff *ctx)\n{{\n"
            f"\tu32 x = ctx->len;\n{emit_body(f)}}}\n")


HEADER = """// SPDX-License-Identifier: GPL-2.0
/* Generated by tools/fuzz/gen.py: seed %d, programs %d to %d. */
#include <vmlinux.h>
#include <bpf/bpf_helpers.h>
#include "bpf_misc.h"
#include "bpf_experimental.h"
#include "fuzz.h"

"""


def main():
    seed, count, outdir = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    per_file = int(sys.argv[4]) if len(sys.argv) > 4 else 100
    rng = random.Random(seed)
    os.makedirs(outdir, exist_ok=True)
    expect = []
    for start in range(0, count, per_file):
        end = min(count, start + per_file)
        fname = f"fuzz_{start // per_file:03d}"
        parts = [HEADER % (seed, start, end - 1)]
        for i in range(start, end):
            src, results = gen_program(rng, i)
            parts.append(src + "\n")
            for name, cls, ret, on_stock, held in results:
                expect.append(f"{name}|{fname}|{cls}|{ret}|{on_stock}|{held}")
                # Each program on its own too, to keep as a regression test.
                os.makedirs(os.path.join(outdir, "single"), exist_ok=True)
                with open(os.path.join(outdir, "single", name + ".c"), "w") as one:
                    one.write(HEADER % (seed, i, i) + src)
        with open(os.path.join(outdir, fname + ".c"), "w") as out:
            out.write("".join(parts))
    with open(os.path.join(outdir, "fuzz.expect"), "w") as out:
        out.write("\n".join(expect) + "\n")


if __name__ == "__main__":
    main()
