# vm-refcnt: the per-VMA lock as a reference count, for Linux 6.12.
# Every target is one script in bin/; docs/commands.md says what each does.
#
#   make                 apply, build PLAIN, boot, run the default workload
#   make check           the test suite (what CI runs)
#   make run SCENARIO=LOCKDEP PLAN=check [PROG=fault_munmap] [BASE=1]
#   make bench [ROUNDS=5]   base vs patched, both boot orders, published to docs/
#   make profile [BENCH=mmap]   base vs patched, instructions per function
#   make tree / make export      the developer loop
#   make kselftests      the mm selftests, base vs patched (KSFT), parity table
#   make matrix [CELLS="nopvl i386"]   the series built in configs/matrix/'s cells
#   make run ARCH=arm64 ...      the guest on another architecture (configs/arch/)
#   make arm64           arm64: patched LOCKDEP check + base LOCKDEP stress (~13 min, ~31 cold)
SCENARIO ?= PLAIN
PLAN ?= check
PROG ?=
# ARCH=arm64 on the make line: the guest's architecture, handed to bin/ as
# VMRC_ARCH (default x86_64). Only from the command line: an ARCH exported
# in the environment (kernel developers have one) is left alone, and the
# make line's ARCH goes no further than VMRC_ARCH (not to the kernel's make,
# which bin/build gives its own).
ifeq ($(origin ARCH),command line)
export VMRC_ARCH := $(ARCH)
unexport ARCH
MAKEOVERRIDES := $(filter-out ARCH=%,$(MAKEOVERRIDES))
endif

all:
	@bin/run PLAIN default

check:
	@bin/check $(SCENARIOS)

run:
	@bin/run $(if $(BASE),--base) $(SCENARIO) $(PLAN) $(PROG)

deps:
	@bin/deps

base:
	@bin/prepare-base

tree:
	@bin/tree

export:
	@bin/export

bench:
	@bin/bench --order both --publish $(if $(ROUNDS),--rounds $(ROUNDS))

bench-loops:
	@bin/bench --modes icount --plan icount=bench_loops --rounds $(or $(ROUNDS),2)

profile:
	@bin/profile $(if $(BENCH),--bench $(BENCH))

soak:
	@bin/soak $(DURATION) $(SCENARIOS)

consumers:
	@bin/consumers

kselftests:
	@bin/kselftests

matrix:
	@bin/matrix $(CELLS)

prefixes:
	@bin/prefixes $(if $(filter-out PLAIN,$(SCENARIO)),$(SCENARIO))

arm64:
	@bin/arch-check arm64

layout:
	@bin/vma-layout

provenance:
	@bin/provenance

vmatest:
	@bin/prepare-base && bin/vmatest $$(bin/apply)

lint:
	@bin/prepare-base && bin/apply >/dev/null && \
	for p in $$(sed -e 's/#.*//' -e '/^[[:space:]]*$$/d' patches/series); do \
		bin/lint-patch patches/$$p && echo "ok $$p" || exit 1; done

clean:
	rm -rf .work

.PHONY: all check run deps base tree export bench bench-loops profile soak consumers kselftests matrix prefixes arm64 layout provenance vmatest lint clean
