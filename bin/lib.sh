# shellcheck shell=bash
# lib.sh - helpers shared by the harness scripts. Source it; do not run it.
#
# Paths (all overridable from the environment):
#   VMRC_CACHE  kept between runs: base repo, build dirs, ccache
#               (default ${XDG_CACHE_HOME:-$HOME/.cache}/vm-refcnt)
#   VMRC_WORK   per-checkout scratch: guest binaries, initramfs (default <top>/.work)
#   VMRC_RESULTS one directory per run below it (default <top>/results)
#   VMRC_ARCH   the guest architecture, a configs/arch/NAME.env (default
#               x86_64; 'make ... ARCH=arm64' sets it)

set -euo pipefail

TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=../configs/base.env
. "$TOP/configs/base.env"

VMRC_CACHE=${VMRC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vm-refcnt}
VMRC_WORK=${VMRC_WORK:-$TOP/.work}
VMRC_RESULTS=${VMRC_RESULTS:-$TOP/results}
SRC=$VMRC_CACHE/src             # harness-owned kernel tree (base repo)
# Debian's amd64 kernel config (package linux-config-6.12), for 'make layout'
DEBIAN_CONFIG=/usr/src/linux-config-6.12/config.amd64_none_amd64.xz
JOBS=${JOBS:-$(nproc)}

# Exit codes shared by all scripts (documented in docs/commands.md).
E_USAGE=2      # bad arguments, unknown scenario/program
E_ENV=3        # missing package, unusable tool, dirty tree we must not touch
E_APPLY=4      # a patch does not apply
E_BUILD=5      # build or config check failed
E_TEST=1       # a test ran and failed

# log MSG...: progress line on stderr with a timestamp
log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# die CODE MSG...: one clear message, then exit CODE
die() {
	local code=$1
	shift
	printf 'error: %s\n' "$*" >&2
	exit "$code"
}

# need_cmd CMD PKG: fail clearly when CMD is missing (hint: make deps)
need_cmd() {
	command -v "$1" >/dev/null 2>&1 ||
		die $E_ENV "'$1' not found (Debian package $2); run 'make deps'"
}

# The guest architecture: configs/arch/$VMRC_ARCH.env (kernel ARCH and
# compiler, image, QEMU, console and KTAP devices, packages). The default
# architecture's paths carry no suffix, as before there were others;
# another's builds are $VMRC_CACHE/build/LABEL-SCENARIO$ARCH_SUFFIX and its
# guest files are under $ARCH_WORK ($VMRC_WORK/NAME).
VMRC_ARCH_DEFAULT=x86_64
VMRC_ARCH=${VMRC_ARCH:-$VMRC_ARCH_DEFAULT}
# arch_names: the known architectures
arch_names() {
	local f
	for f in "$TOP"/configs/arch/*.env; do f=${f##*/}; echo "${f%.env}"; done
}
[[ $VMRC_ARCH =~ ^[a-z0-9_]+$ && -f $TOP/configs/arch/$VMRC_ARCH.env ]] ||
	die $E_USAGE "unknown architecture '$VMRC_ARCH' (VMRC_ARCH or make ARCH=; known: $(arch_names | tr '\n' ' '))"
# shellcheck source=../configs/arch/x86_64.env
. "$TOP/configs/arch/$VMRC_ARCH.env"
if [[ $VMRC_ARCH == "$VMRC_ARCH_DEFAULT" ]]; then
	ARCH_SUFFIX= ARCH_WORK=$VMRC_WORK
else
	ARCH_SUFFIX=-$VMRC_ARCH ARCH_WORK=$VMRC_WORK/$VMRC_ARCH
	# Only these verbs know about other architectures; the rest (make
	# check, bench, profile, soak, ...) would mix x86_64's assumptions
	# with another architecture's kernels, so they refuse.
	case ${0##*/} in
	run | build | boot | initramfs | deps | prepare-base | apply | verdict | \
		watch-boot | check-config | parse-ktap | scan-console | arch-check) ;;
	*) die $E_USAGE "${0##*/} supports only $VMRC_ARCH_DEFAULT, not VMRC_ARCH=$VMRC_ARCH (for $VMRC_ARCH: bin/run, bin/build, bin/boot, bin/initramfs, make $VMRC_ARCH)" ;;
	esac
fi

# scenarios: print the known scenario names (UPPERCASE fragment files)
scenarios() {
	local f
	for f in "$TOP"/configs/*; do
		f=${f##*/}
		[[ $f =~ ^[A-Z][A-Z0-9_]*$ ]] && echo "$f"
	done
	return 0
}

# check_scenario NAME: die unless NAME is a known scenario
check_scenario() {
	[[ -f $TOP/configs/$1 && $1 =~ ^[A-Z][A-Z0-9_]*$ ]] ||
		die $E_USAGE "unknown scenario '$1' (known: $(scenarios | tr '\n' ' '))"
}

# base_commit: print the commit the tag BASE_TAG names in $SRC
base_commit() {
	git -C "$SRC" rev-parse -q --verify "refs/tags/$BASE_TAG^{commit}" ||
		die $E_ENV "base not prepared ($SRC has no tag $BASE_TAG); run 'make base'"
}

# new_results VERB: create and print a fresh results directory for one run
new_results() {
	local d
	d=$VMRC_RESULTS/$(date +%Y%m%d-%H%M%S)-$1
	[[ -e $d ]] && d=$d-$$
	mkdir -p "$d"
	ln -sfn "${d##*/}" "$VMRC_RESULTS/latest"
	echo "$d"
}

# lock_cache: hold an exclusive lock on $VMRC_CACHE for the rest of the run,
# so two harness runs never check out or build in the same tree at once
lock_cache() {
	[[ -z ${VMRC_LOCKED:-} ]] || return 0
	export VMRC_LOCKED=1
	mkdir -p "$VMRC_CACHE"
	exec 9>"$VMRC_CACHE/.lock"
	flock -n 9 || { log "waiting for another harness run to finish"; flock 9; }
}

# tree_dir LABEL: the harness-owned source tree for LABEL ("patched" is $SRC)
tree_dir() {
	if [[ $1 == patched ]]; then echo "$SRC"; else echo "$VMRC_CACHE/tree-$1"; fi
}

# checkout LABEL COMMIT: put the harness tree for LABEL at COMMIT. git rewrites
# only the files that differ, so make rebuilds only what depends on them.
checkout() {
	local dir
	dir=$(tree_dir "$1")
	if [[ ! -e $dir ]]; then
		git -C "$SRC" worktree add -q --detach "$dir" "$2"
		return
	fi
	[[ -z $(git -C "$dir" status --porcelain --untracked-files=no) ]] ||
		die $E_ENV "$dir has local changes; it belongs to the harness - edit in 'make tree' instead (or remove $dir)"
	[[ $(git -C "$dir" rev-parse HEAD) == "$2" ]] || git -C "$dir" checkout -q --detach "$2"
}

# merge_fragment SCENARIO: print common.config + SCENARIO, #INCLUDE# expanded;
# configs/arch/$VMRC_ARCH.config between them if there is one (x86_64 has
# none, so its fragments are what they always were)
merge_fragment() {
	local line inc archf=$TOP/configs/arch/$VMRC_ARCH.config
	check_scenario "$1"
	if [[ -f $archf ]]; then
		echo "# merged fragment for $1 (common.config + arch/$VMRC_ARCH.config + $1)"
		cat "$TOP/configs/common.config" "$archf"
	else
		echo "# merged fragment for $1 (common.config + $1)"
		cat "$TOP/configs/common.config"
	fi
	while IFS= read -r line; do
		if [[ $line =~ ^#INCLUDE#([A-Z0-9_]+)$ ]]; then
			inc=${BASH_REMATCH[1]}
			check_scenario "$inc"
			grep -v '^#INCLUDE#' "$TOP/configs/$inc"
		else
			echo "$line"
		fi
	done <"$TOP/configs/$1"
}

# init_run VERB: make sure this run has a results directory: sets and
# exports VMRC_RUN (a fresh results/<time>-VERB) unless the caller set it.
# Call it in the main shell, not in $(...), so child scripts inherit it.
init_run() {
	if [[ -z ${VMRC_RUN:-} ]]; then
		VMRC_RUN=$(new_results "$1")
		export VMRC_RUN
	fi
	mkdir -p "$VMRC_RUN"
}

# KTREE: the developer's kernel tree ('make tree'), ignored by the project
KTREE=${KTREE:-$TOP/linux}

# unexported_commits DIR: print commits of DIR (base..HEAD) whose patch-id
# matches no patch in patches/ (work that exists only in DIR)
unexported_commits() {
	local ids c id p
	ids=$(for p in "$TOP"/patches/[0-9]*.patch; do
		[[ -f $p ]] && git patch-id --stable <"$p" | cut -d' ' -f1
	done | sort -u)
	for c in $(git -C "$1" rev-list --no-merges "$BASE_TAG..HEAD"); do
		id=$(git -C "$1" show "$c" | git patch-id --stable | cut -d' ' -f1)
		[[ -z $id ]] || grep -qx "$id" <<<"$ids" || git -C "$1" log -1 --format='%h %s' "$c"
	done
}

# vmrc VERB ARGS...: the harness's data layer (plans, KTAP, verdicts,
# benchmark statistics), harness/vmrc.py, run by Debian's python3
vmrc() { /usr/bin/python3 "$TOP/harness/vmrc.py" "$@"; }

# plan_tests PLAN: print the test lines of a plan ("name timeout program
# [args]"), "@include OTHER" resolved; dies (E_USAGE) on an unknown plan or
# a bad plan file
plan_tests() {
	vmrc plan "$1" || exit
}

# check_plan PLAN [PROG]: die unless PLAN exists (and has a test PROG)
check_plan() {
	vmrc plan "$1" ${2:+"$2"} >/dev/null || exit
}
