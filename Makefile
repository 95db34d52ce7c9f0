# vm-refcnt: the per-VMA lock as a reference count, for Linux 6.12.
# Every target is one script in bin/; docs/commands.md says what each does.
#
#   make                 apply, build PLAIN, boot, run the default workload
#   make check           the test suite (what CI runs)
#   make run SCENARIO=LOCKDEP PLAN=check [PROG=fault_munmap] [BASE=1]
#   make bench [ROUNDS=5]   base vs patched, both boot orders, published to docs/
#   make profile [BENCH=mmap]   base vs patched, instructions per function
#   make tree / make export      the developer loop
SCENARIO ?= PLAIN
PLAN ?= check
PROG ?=

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

prefixes:
	@bin/prefixes $(if $(filter-out PLAIN,$(SCENARIO)),$(SCENARIO))

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

.PHONY: all check run deps base tree export bench bench-loops profile soak consumers prefixes layout provenance vmatest lint clean
