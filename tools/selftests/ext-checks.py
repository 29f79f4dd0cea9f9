#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Extract the RUN_EXT checks of prog_tests/exceptions.c for exc_loader.

Prints one line per check:
name|load_ret|attach_err|ext_prog|target_prog|target_func|msg|run_prog|run_retval
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
n = 0
for m in pat.finditer(body):
    name, ret, aerr, ext, tgt, func, msg, _, run, rv = m.groups()
    print("|".join([name, str(ERRNO[ret]), "1" if aerr == "true" else "0",
                    ext, tgt, func, msg, run or "", rv or "0"]))
    n += 1
if n != body.count("RUN_EXT("):
    sys.exit(f"parsed {n} of {body.count('RUN_EXT(')} RUN_EXT checks")
