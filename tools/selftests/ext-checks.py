#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Extract the RUN_EXT checks of prog_tests/exceptions.c for exc_loader.

Prints one line per check:
name|load_ret|attach_err|ext_prog|target_prog|target_func|msg|run_prog|run_retval

Usage: ext-checks.py prog_tests/exceptions.c [DIFFERENCES]

A line of DIFFERENCES (same format, '#' comments) replaces upstream's check
of the same name: our intended, documented differences.
"""
import re
import sys

ERRNO = {"-EINVAL": -22, "0": 0}

src = open(sys.argv[1]).read()
body = src[src.index("#define RUN_EXT"):]
body = body[body.index("\n\n"):]
pat = re.compile(
    r'test__start_subtest\("([^"]+)"\)\)\s*(?:/\*.*?\*/\s*)?'
    r'RUN_EXT\((-?E?[A-Z0-9]+),\s*(true|false),\s*\(\{\s*'
    r'prog = eskel->progs\.(\w+);.*?'
    r'bpf_program__fd\(skel->progs\.(\w+)\),\s*"(\w+)"\).*?\}\),\s*'
    r'"([^"]*)",\s*(0|\(\{\s*RUN_SUCCESS\((\w+),\s*(\d+)\);\s*\}\))\);',
    re.S)
ours = {}
if len(sys.argv) > 2:
    for line in open(sys.argv[2]):
        line = line.rstrip("\n")
        if line and not line.startswith("#"):
            ours[line.split("|")[0]] = line
n = 0
for m in pat.finditer(body):
    name, ret, aerr, ext, tgt, func, msg, _, run, rv = m.groups()
    line = "|".join([name, str(ERRNO[ret]), "1" if aerr == "true" else "0",
                     ext, tgt, func, msg, run or "", rv or "0"])
    print(ours.pop(name, line))
    n += 1
if ours:
    sys.exit(f"differences name no upstream check: {', '.join(ours)}")
if n != body.count("RUN_EXT("):
    sys.exit(f"parsed {n} of {body.count('RUN_EXT(')} RUN_EXT checks")
