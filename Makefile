# SPDX-License-Identifier: GPL-2.0
#
# BPF exceptions in Rust: the driver.
#
#   make          build the toolchain root and the kernel, then boot it in
#                 QEMU and run the sample (the main job)
#   make check    every test: host cargo tests, KUnit under kunit.py, and
#                 upstream's exceptions selftests through bpftool in QEMU,
#                 on x86-64 and arm64, and the kernel built without Rust
#
# Everything runs inside a Debian trixie root made with debootstrap. The
# root, the kernel tree and the build directory live in $(CACHE), outside
# the repository: a kept machine reuses them and rebuilds only what changed.

CACHE ?= /var/cache/bpfexc
ROOT_KEY := $(shell sha256sum < tools/scripts/trixie-packages.txt | cut -c1-12)
ROOT := $(CACHE)/root-$(ROOT_KEY)
IN_ROOT := tools/scripts/in-root.sh $(ROOT) $(CACHE) $(CURDIR)

.PHONY: all run-sample toolchain kernel stock bench check host-test kunit selftests test-bpf \
	test-verifier test-progs hole-stock faults-stock fuzz check-debug norust arm64 arches \
	series series-bisect clean-cache

all: run-sample

toolchain:
	@tools/scripts/toolchain.sh $(ROOT)

kernel: toolchain
	@$(IN_ROOT) tools/scripts/kernel.sh $(CACHE)

run-sample: kernel
	@$(IN_ROOT) tools/scripts/guest.sh $(CACHE) sample

host-test: toolchain
	@$(IN_ROOT) tools/scripts/host-test.sh $(CACHE)

kunit: kernel
	@$(IN_ROOT) tools/scripts/kunit.sh $(CACHE)

selftests: kernel
	@$(IN_ROOT) tools/scripts/guest.sh $(CACHE) selftests

stock: toolchain
	@$(IN_ROOT) tools/scripts/stock.sh $(CACHE)

# Our exceptions_hole selftests on the stock kernel: which of the programs
# that we reject stock 6.12 accepts.
hole-stock: stock
	@$(IN_ROOT) tools/scripts/guest.sh $(CACHE) hole stock-6.12

# The programs of our fault tests on the stock kernel: where stock 6.12
# differs from ours (wrong callback after dead code removal, out-of-range
# cookies, tracing of bpf_throw(), fexit and freplace attachments).
faults-stock: stock
	@$(IN_ROOT) tools/scripts/guest.sh $(CACHE) faults stock-6.12

# Differential fuzzing: N random programs from SEED on ours and stock
# (make check runs seed 1 with 2000).
N ?= 20000
SEED ?= $(shell date +%s)
fuzz: kernel
	@$(IN_ROOT) tools/scripts/fuzz.sh $(CACHE) $(SEED) $(N)

bench: kernel
	@$(IN_ROOT) tools/scripts/bench.sh $(CACHE)

test-bpf: kernel
	@$(IN_ROOT) tools/scripts/vs-stock.sh $(CACHE) test_bpf

test-verifier: kernel
	@$(IN_ROOT) tools/scripts/vs-stock.sh $(CACHE) test_verifier

# Upstream's test_progs (exceptions, verifier_* and the resource tests), on our
# kernel and on stock: the same verdicts but for the intended differences.
test-progs: kernel
	@$(IN_ROOT) tools/scripts/vs-stock.sh $(CACHE) test_progs

check: kernel
	@tools/scripts/check.sh "$(IN_ROOT)" $(CACHE)

# The same tree built without Rust (tools/scripts/norust.sh): exceptions
# rejected with our message; test_bpf, test_verifier and test_progs against
# stock. make check runs these too.
norust: kernel
	@$(IN_ROOT) tools/scripts/norust.sh $(CACHE)
	@$(IN_ROOT) tools/scripts/guest.sh $(CACHE) norust norust-6.12
	@for s in test_bpf test_verifier test_progs; do \
		$(IN_ROOT) tools/scripts/vs-stock.sh $(CACHE) $$s norust-6.12 || exit 1; done

# arm64, ours with the Rust unwinder and stock, cross-built with LLVM=1 and
# run in qemu-system-aarch64: KUnit, the exceptions selftests, test_bpf
# against stock. make check runs these too.
arm64: kernel
	@$(IN_ROOT) tools/scripts/arm64.sh $(CACHE)
	@$(IN_ROOT) tools/scripts/kunit.sh $(CACHE) arm64-6.12
	@$(IN_ROOT) tools/scripts/guest.sh $(CACHE) selftests arm64-6.12
	@$(IN_ROOT) tools/scripts/guest.sh $(CACHE) stress arm64-6.12
	@$(IN_ROOT) tools/scripts/vs-stock.sh $(CACHE) test_bpf arm64-6.12

# The whole change as a git format-patch series with a cover letter, in
# ./series (SERIES=dir), for git am onto a clean 6.12.117. On the host (git).
SERIES ?= $(CURDIR)/series
series: kernel
	@tools/scripts/series.sh $(CACHE) $(SERIES)

# Build every patch of that series on its own (git rebase -x style): x86-64
# with Rust and without, and arm64 (BISECT_CONFIGS="ours norust arm64").
# Not part of check: 12 to 20 minutes per configuration.
BISECT_CONFIGS ?= ours norust arm64
series-bisect: kernel
	@tools/scripts/series-bisect.sh $(CACHE) $(BISECT_CONFIGS)

# Build-test other architectures (defconfig plus BPF): s390, riscv.
arches: kernel
	@$(IN_ROOT) tools/scripts/arches.sh $(CACHE)

# The same tree with KASAN, kmemleak, lockdep (PROVE_RCU),
# DEBUG_ATOMIC_SLEEP and UBSAN: KUnit and the guest suites on it.
check-debug: kernel
	@tools/scripts/check.sh "$(IN_ROOT)" $(CACHE) debug

clean-cache:
	rm -rf $(CACHE)
