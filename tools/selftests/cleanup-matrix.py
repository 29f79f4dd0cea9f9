#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Writes the matrix of cleanup-on-throw programs that
tools/selftests/progs/exceptions_cleanup.c includes.

Usage: cleanup-matrix.py > exceptions_cleanup_matrix.h

One program per resource kind, holder and depth (and place, for a
pointer): throw_mx_<kind>_<holder>_d<depth>[_<place>], where

  kind    task (bpf_task_acquire()), obj (a bpf_obj_new() object that
          holds a task), ringbuf (a bpf_ringbuf_reserve() record), sk (a
          socket of bpf_sk_lookup_tcp()), cgroup (bpf_cgroup_from_id()),
          cpumask (bpf_cpumask_acquire() of a cpumask in a map, or
          bpf_cpumask_create()), crypto (bpf_crypto_ctx_acquire() of the
          bpf_crypto_ctx in a map), pcpu (a bpf_percpu_obj_new() object),
          dynptr (a ring buffer dynptr),
          iter (a task_vma iterator after one step), rcu (an RCU read
          section), preempt (preemption disabled);
  holder  main, static (a static subprog that main calls) or global (a
          global subprog that main calls, verified on its own);
  depth   0 (the holder throws) to 3 (a static chain of three below it,
          level1() to level3(), throws);
  place   reg (the compiler keeps the pointer in a callee-saved register)
          or slot (a volatile stack slot, reloaded after the call).

The cpumask and crypto programs are syscall programs (their kfuncs are
not given to tc programs) and throw from slevel1() to slevel3() when
sys_throw is set; the others are tc programs run on pkt_v4.

exc_loader cleanup runs each 100000 times with the leak checks of
exceptions_cleanup.c. Every program returns the cookie, 7, but sk, which
returns 1 when the loader's TCP connection is not there to look up (the
spec run).
"""

POINTERS = {
    # kind: (type, acquire, release)
    "task": ("struct task_struct", "task()", "bpf_task_release(v)"),
    "obj": ("struct holder", "holder()", "bpf_obj_drop(v)"),
    "ringbuf": ("long", "bpf_ringbuf_reserve(&rb, 8, 0)", "bpf_ringbuf_discard(v, 0)"),
    "sk": ("struct bpf_sock", "lookup(skb)", "bpf_sk_release(v)"),
    "cgroup": ("struct cgroup", "bpf_cgroup_from_id(cgid)", "bpf_cgroup_release(v)"),
    "cpumask": ("struct bpf_cpumask", "mask()", "bpf_cpumask_release(v)"),
    "crypto": ("struct bpf_crypto_ctx", "crypto()", "bpf_crypto_ctx_release(v)"),
    "pcpu": ("struct pcpu_val", "bpf_percpu_obj_new(struct pcpu_val)", "bpf_percpu_obj_drop(v)"),
}

# kind: (set up, or return 1, before the call; after it)
IN_PLACE = {
    "dynptr": ("struct bpf_dynptr p;\n\n"
               "\tbpf_ringbuf_reserve_dynptr(&rb, 8, 0, &p);\n",
               "\tbpf_ringbuf_discard_dynptr(&p, 0);\n"),
    "iter": ("struct bpf_iter_task_vma it;\n\n"
             "\tbpf_iter_task_vma_new(&it, bpf_get_current_task_btf(), 0);\n"
             "\tif (!bpf_iter_task_vma_next(&it)) {\n"
             "\t\tbpf_iter_task_vma_destroy(&it);\n\t\treturn 1;\n\t}\n",
             "\tbpf_iter_task_vma_destroy(&it);\n"),
    "rcu": ("\n\tbpf_rcu_read_lock();\n", "\tbpf_rcu_read_unlock();\n"),
    "preempt": ("\n\tbpf_preempt_disable();\n", "\tbpf_preempt_enable();\n"),
}


# Kinds whose kfuncs only syscall (not tc) programs get.
SYSCALL = {"cpumask", "crypto"}


def throw(d, sys):
    arg, cond, lvl = ("", "sys_throw", "slevel") if sys else ("skb", "skb->len", "level")
    if d == 0:
        return f"\tr = 0;\n\tif ({cond})\n\t\tbpf_throw(COOKIE);\n"
    # level3() throws, level2() calls it, level1() calls level2(): three
    # frames (clang turns a recursive chain into a loop).
    return f"\tr = {lvl}{4 - d}({arg});\n"


def body(kind, place, d):
    sys = kind in SYSCALL
    if kind in POINTERS:
        t, acq, rel = POINTERS[kind]
        if place == "reg":
            return (f"\t{t} *v = {acq};\n\tint r;\n\n\tif (!v)\n\t\treturn 1;\n"
                    f"{throw(d, sys)}\t{rel};\n\treturn r;\n")
        return (f"\t{t} *volatile s[2] = {{}};\n\t{t} *v = {acq};\n\tint r;\n\n"
                f"\tif (!v)\n\t\treturn 1;\n\ts[1] = v;\n{throw(d, sys)}\tv = s[1];\n"
                f"\tif (v)\n\t\t{rel};\n\treturn r;\n")
    setup, done = IN_PLACE[kind]
    return f"\tint r;\n\t{setup}{throw(d, False)}{done}\treturn r;\n"


def main():
    out = ["/* SPDX-License-Identifier: GPL-2.0 */",
           "/* Written by tools/selftests/cleanup-matrix.py: see there. */", ""]
    for kind in list(POINTERS) + list(IN_PLACE):
        places = ("reg", "slot") if kind in POINTERS else (None,)
        for holder in ("main", "static", "global"):
            for d in range(4):
                for place in places:
                    name = f"throw_mx_{kind}_{holder}_d{d}" + (f"_{place}" if place else "")
                    tags = "__success" + ("" if kind == "sk" else " __retval(7)")
                    code = body(kind, place, d)
                    # A global function's arguments need a type: the
                    # syscall programs' helpers take none.
                    sec, param, hparam, arg = (("?syscall", "void *ctx", "void", "")
                                               if kind in SYSCALL else
                                               ("?tc", "struct __sk_buff *skb",
                                                "struct __sk_buff *skb", "skb"))
                    if holder == "main":
                        out.append(f'SEC("{sec}")\n{tags}\nint {name}({param})\n'
                                   f"{{\n{code}}}\n")
                        continue
                    link = "static __noinline" if holder == "static" else "__noinline"
                    out.append(f"{link} int h_{name}({hparam})\n{{\n{code}}}\n")
                    out.append(f'SEC("{sec}")\n{tags}\nint {name}({param})\n'
                               f"{{\n\treturn h_{name}({arg});\n}}\n")
    print("\n".join(out))


if __name__ == "__main__":
    main()
