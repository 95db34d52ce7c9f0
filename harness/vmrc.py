#!/usr/bin/python3
"""vmrc.py - the harness's data layer: plans, KTAP, console, verdict,
expectations and benchmark statistics (Python standard library only).

Usage: harness/vmrc.py VERB ARGS...   (the bin/ script of each verb is a
wrapper around it; its header says what the verb does)

    plan PLAN [PROG]          the tests of a plan, "@include" resolved
    flatten-plans OUTDIR      every plan, flattened, into OUTDIR (initramfs)
    parse-ktap KTAP_LOG       bin/parse-ktap
    scan-console LOG [PATTERNS [BENIGN]]   bin/scan-console
    verdict OUTDIR            bin/verdict
    expect BOOTDIR EXPECTFILE bin/expect
    bench-report RUNDIR [OTHER_RUNDIR]    bin/bench-report
    bench-compare RUN_A RUN_B             bin/bench-compare
    bench-publish RUNDIR [OTHER_RUNDIR]   bin/bench-publish
    selftest CASE             bin/selftest (console, ktap, boot, bench cases)

Exit codes as in bin/lib.sh: 0 ok, 1 a test failed, 2 usage or bad input,
3 environment. Bad input is one "error: ..." line on stderr.
"""
import csv
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field, fields
from typing import Optional

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
E_TEST, E_USAGE, E_ENV = 1, 2, 3


class Die(Exception):
    """Bad input or environment: one message, one exit code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def read_lines(path):
    """The lines of a log as awk sees them: split at "\\n" only (a "\\r"
    stays in its line), undecodable bytes kept as they are."""
    with open(path, encoding='utf-8', errors='surrogateescape', newline='') as f:
        text = f.read()
    lines = text.split('\n')
    if lines[-1] == '':
        lines.pop()
    return lines


def write_text(path, text):
    with open(path, 'w', encoding='utf-8', errors='surrogateescape') as f:
        f.write(text)


def rel_to_top(path):
    """PATH without the checkout's prefix, as the messages show it."""
    return path[len(TOP) + 1:] if path.startswith(TOP + '/') else path


# ---------------------------------------------------------------- plans

@dataclass
class PlanTest:
    name: str
    timeout: int        # seconds; 0: no timeout
    argv: list
    origin: str         # "FILE:LINE", for messages

    def line(self):
        return ' '.join([self.name, str(self.timeout)] + self.argv)


def plan_dirs():
    """Where plans are looked up, in order: the checkout's, then generated
    ones (bin/soak)."""
    work = os.environ.get('VMRC_WORK') or os.path.join(TOP, '.work')
    return [os.path.join(TOP, 'guest', 'runner', 'plans'), os.path.join(work, 'plans')]


def plan_names(dirs):
    names = set()
    for d in dirs:
        if os.path.isdir(d):
            names.update(f[:-5] for f in os.listdir(d) if f.endswith('.plan'))
    return sorted(names)


def plan_path(name, dirs):
    for d in dirs:
        path = os.path.join(d, name + '.plan')
        if re.fullmatch(r'[A-Za-z0-9_-]+', name) and os.path.isfile(path):
            return path
    raise Die(E_USAGE, f"unknown plan '{name}' (known: {' '.join(plan_names(dirs))})")


def load_plan(name, dirs=None, _chain=()):
    """The tests of plan NAME in order, every "@include OTHER" replaced by
    OTHER's tests. A plan line is "name timeout program [args]"; blank lines
    and lines starting with '#' are skipped."""
    dirs = dirs or plan_dirs()
    if name in _chain:
        raise Die(E_USAGE, f"plan '{name}' includes itself: {' -> '.join(_chain + (name,))}")
    path = plan_path(name, dirs)
    tests = []
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            words = line.split()
            where = f'{rel_to_top(path)}:{number}'
            if not words or words[0].startswith('#'):
                continue
            if words[0] == '@include':
                if len(words) != 2:
                    raise Die(E_USAGE, f'{where}: "@include" takes one plan name')
                try:
                    tests += load_plan(words[1], dirs, _chain + (name,))
                except Die as e:
                    raise Die(e.code, f'{where}: {e.message}') from None
                continue
            if len(words) < 3 or not re.fullmatch(r'[0-9]+', words[1]):
                raise Die(E_USAGE, f'{where}: not "name timeout program [args]": {line.strip()}')
            tests.append(PlanTest(words[0], int(words[1]), words[2:], where))
    if not _chain:
        seen = {}
        for t in tests:
            if t.name in seen:
                raise Die(E_USAGE, f"plan '{name}': test '{t.name}' twice ({seen[t.name]}, {t.origin})")
            seen[t.name] = t.origin
    return tests


def cmd_plan(args):
    if len(args) not in (1, 2):
        raise Die(E_USAGE, 'usage: harness/vmrc.py plan PLAN [PROG]')
    tests = load_plan(args[0])
    if len(args) == 2:
        wanted = [t for t in tests if t.name == args[1]]
        if not wanted:
            raise Die(E_USAGE, f"plan '{args[0]}' has no test '{args[1]}' "
                      f"(it has: {' '.join(t.name for t in tests)})")
        tests = wanted
    for t in tests:
        print(t.line())
    return 0


def flatten_plans(out, dirs=None):
    """OUT/NAME.plan for every plan: its tests, includes resolved, so that
    the guest's init reads one flat file. Other OUT/*.plan are removed."""
    dirs = dirs or plan_dirs()
    flat = {name: load_plan(name, dirs) for name in plan_names(dirs)}
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith('.plan'):
            os.remove(os.path.join(out, f))
    for name, tests in flat.items():
        head = f'# {name}: flattened by harness/vmrc.py (name timeout program [args])\n'
        write_text(os.path.join(out, name + '.plan'), head + ''.join(t.line() + '\n' for t in tests))


def cmd_flatten_plans(args):
    if len(args) != 1:
        raise Die(E_USAGE, 'usage: harness/vmrc.py flatten-plans OUTDIR')
    flatten_plans(args[0])
    return 0


# ---------------------------------------------------------------- KTAP
#
# The guest's init prints one KTAP document at the top level: one result
# per program of the plan, each preceded by "# Subtest: NAME" and by what
# the program printed, indented. What a program prints may itself be KTAP
# (a header, a plan, one result per check, diagnostics) and may nest
# further. Any line indented deeper than its parent belongs to a subtest.

@dataclass
class Line:
    indent: int
    text: str           # without the indentation
    raw: str            # as logged, "\r" removed


@dataclass
class Result:
    ok: bool
    number: int
    name: str
    directive: str      # after " # ": "SKIP", "TIMEOUT after 120 s", "exit 1"
    text: str           # "not ok 2 name # exit 1"
    numeral: str        # the number as written ("02")
    subtests: Optional['Block'] = None  # what the test printed before its result

    @property
    def skipped(self):
        return self.ok and '# SKIP' in self.text


@dataclass
class Block:
    """The lines of one indentation level: a KTAP document or a subtest."""
    indent: int
    word: str                   # "result" at the top level, "check" below
    header_line: Optional[Line] = None
    name: str = ''              # "# Subtest: NAME" before its first result
    plan: Optional[int] = None
    results: list = field(default_factory=list)
    problems: list = field(default_factory=list)
    unfinished: Optional['Block'] = None    # nested output no result followed
    unfinished_name: str = ''

    def last_number(self):
        return self.results[-1].number if self.results else 0


RESULT_RE = re.compile(r'(not )?ok ([0-9]+) (.*)')
PLAN_RE = re.compile(r'1\.\.([0-9]+)')
TOTALS_RE = re.compile(r'# Totals: pass:([0-9]+) fail:([0-9]+) skip:([0-9]+)')


def ktap_lines(raw_lines):
    """Non-blank lines with one trailing "\\r" removed."""
    out = []
    for raw in raw_lines:
        if raw.endswith('\r'):
            raw = raw[:-1]
        text = raw.lstrip(' \t')
        if text:
            out.append(Line(len(raw) - len(text), text, raw))
    return out


def parse_result(text):
    m = RESULT_RE.fullmatch(text)
    if not m:
        return None
    rest = m.group(3)
    if rest.startswith('# '):           # kselftest: "ok 3 # SKIP name"
        name, directive = '', rest[2:]
    else:
        name, _, directive = rest.partition(' # ')
    return Result(not m.group(1), int(m.group(2)), name.strip(), directive, text, m.group(2))


def parse_block(lines, i, indent, top):
    """Parse LINES[i:] at INDENT until a shallower line: (Block, next i).
    At the top level only "KTAP version 1" is a header (as always);
    a subtest may also say "TAP version N" (kselftest)."""
    block = Block(indent, 'result' if top else 'check')
    header_re = r'KTAP version 1' if top else r'K?TAP version [0-9]+'
    pending, pending_name = None, ''
    while i < len(lines) and lines[i].indent >= indent:
        line = lines[i]
        if line.indent > indent:
            # a subtest: the run of deeper lines, at its shallowest indentation
            j = i
            while j < len(lines) and lines[j].indent > indent:
                j += 1
            child, i = parse_block(lines, i, min(l.indent for l in lines[i:j]), False)
            pending = absorb(pending, child)
            continue
        i += 1
        text = line.text
        result = parse_result(text)
        if not block.header_line and re.fullmatch(header_re, text):
            block.header_line = line
        elif block.plan is None and PLAN_RE.match(text):
            block.plan = int(PLAN_RE.match(text).group(1))
            if top and block.plan == 0:
                block.problems.append(f'empty plan: {line.raw}')
        elif result:
            problem = order_problem(block.word, block.results[-1] if block.results else None, result)
            block.problems += [problem] if problem else []
            result.subtests, pending, pending_name = pending, None, ''
            block.results.append(result)
        elif text.startswith('# Subtest:'):
            pending_name = text[len('# Subtest:'):].strip()
            if not block.results and not block.name:
                block.name = pending_name
    block.unfinished, block.unfinished_name = pending, pending_name
    return block, i


def order_problem(word, previous, result):
    """A result not numbered one more than the previous, as awk said it."""
    if result.number == (previous.number if previous else 0) + 1:
        return None
    return f'{word} {result.numeral} out of order after {previous.numeral if previous else ""}'


def absorb(into, more):
    """Two runs of subtest lines with a parent line between them: one
    subtest (its only problems are out-of-order checks: numbered again)."""
    if into is None:
        return more
    into.results += more.results
    pairs = zip([None] + into.results, into.results)
    into.problems = [p for p in (order_problem('check', a, b) for a, b in pairs) if p]
    into.plan = more.plan if into.plan is None else into.plan
    into.unfinished = into.unfinished or more.unfinished
    return into


def check_findings(block, path, skipped=False):
    """([(path, failing Result)], [problem]) of what a test printed; PATH:
    the names from the top-level test down to BLOCK. A test that SKIPs may
    stop short of its plan."""
    where = ': '.join(path)
    failed = []
    problems = [f'{where}: {p}' for p in block.problems]
    if block.plan is not None and block.last_number() < block.plan and not skipped:
        problems.append(f'{where}: only {block.last_number()} of {block.plan} checks')
    subtests = [(r, r.subtests) for r in block.results]
    if block.unfinished:
        subtests.append((None, block.unfinished))
    for r, sub in subtests:
        if r and not r.ok:
            failed.append((path, r))
        if sub:
            name = (r.name or r.text) if r else (block.unfinished_name or sub.name or '(unfinished)')
            f, p = check_findings(sub, path + [name], r is not None and r.skipped)
            failed += f
            problems += p
    return failed, problems


@dataclass
class Ktap:
    """A parsed KTAP log and its judgement (one top-level result per plan
    entry, every one ok or skipped, counted in the final Totals line; no
    nested check not ok, no nested plan short of results)."""
    top: Block
    last: str                   # the last non-blank line but the header
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list = field(default_factory=list)        # report lines
    failed_checks: list = field(default_factory=list)   # [(path, Result)]
    problems: list = field(default_factory=list)

    @classmethod
    def parse(cls, raw_lines):
        lines = ktap_lines(raw_lines)
        top, _ = parse_block(lines, 0, 0, True)
        last = [l.raw for l in lines if l is not top.header_line]
        k = cls(top, last[-1] if last else '')
        k.judge()
        return k

    def add_checks(self, block, name, skipped=False):
        failed, problems = check_findings(block, [name], skipped)
        for path, r in failed:
            self.failures.append(f"failed check: {': '.join(path)}: {r.text}")
        self.failed_checks += failed
        return problems

    def judge(self):
        top = self.top
        nested_problems = []
        for r in top.results:
            if not r.ok:
                self.failed += 1
                self.failures.append(f'failed: {r.text}')
            elif r.skipped:
                self.skipped += 1
            else:
                self.passed += 1
            if r.subtests:
                nested_problems += self.add_checks(r.subtests, r.name or r.text, r.skipped)
        if top.unfinished:
            nested_problems += self.add_checks(
                top.unfinished, top.unfinished_name or top.unfinished.name or '(unfinished)')
        self.problems = list(top.problems)
        if not top.header_line:
            self.problems.append('no KTAP header')
        if top.plan is None:
            self.problems.append('no plan line')
        elif top.last_number() < top.plan:
            self.problems.append(f'only {top.last_number()} of {top.plan} results (guest died or hung)')
        totals = TOTALS_RE.fullmatch(self.last)
        if not totals:
            self.problems.append('missing final Totals line')
        elif [int(n) for n in totals.groups()] != [self.passed, self.failed, self.skipped]:
            self.problems.append(f'Totals line disagrees with the results: {self.last}')
        self.problems += nested_problems

    @property
    def ok(self):
        return not self.failures and not self.problems

    def summary(self):
        s = (f'ktap: {self.top.plan or 0} planned, {self.passed} ok, {self.failed} not ok, '
             f'{self.skipped} skipped')
        return s + (f', {len(self.problems)} problem(s)' if self.problems else '')

    def report(self):
        return [self.summary()] + self.failures + [f'problem: {p}' for p in self.problems]


def parse_ktap_file(path):
    """(report lines, ok) for a KTAP log; a missing log is a failure."""
    if not os.path.isfile(path):
        return ['ktap: no KTAP log', f'problem: missing {path}'], False
    k = Ktap.parse(read_lines(path))
    return k.report(), k.ok


def cmd_parse_ktap(args):
    if len(args) != 1:
        raise Die(E_USAGE, 'usage: bin/parse-ktap KTAP_LOG')
    lines, ok = parse_ktap_file(args[0])
    print('\n'.join(lines))
    return 0 if ok else E_TEST


# ---------------------------------------------------------------- console

@dataclass
class Splat:
    category: str
    count: int
    first: str

    def line(self):
        return f'{self.category} {self.count} | {self.first}'


def compile_re(regex, where):
    try:
        return re.compile(regex)
    except re.error as e:
        raise Die(E_USAGE, f'{where}: bad regex {regex!r}: {e}') from None


# The console patterns are data, kept with the scenarios they judge.
SPLATS = os.path.join(TOP, 'configs', 'console', 'splats')
BENIGN = os.path.join(TOP, 'configs', 'console', 'benign')


def load_patterns(path):
    """[(category, regex)] from "category<TAB>regex" lines ('#': comment)."""
    if not os.path.isfile(path):
        raise Die(E_USAGE, f'no splat patterns at {path}')
    out = []
    for n, line in enumerate(read_lines(path), 1):
        if line.startswith('#') or not line.strip():
            continue
        cat, _, regex = line.partition('\t')
        regex = regex.split('\t')[0]
        if not cat or not regex:
            raise Die(E_USAGE, f'{path}:{n}: not "category<TAB>regex": {line}')
        out.append((cat, compile_re(regex, f'{path}:{n}')))
    return out


def load_benign(path):
    if not os.path.isfile(path):
        raise Die(E_USAGE, f'no benign-line list at {path}')
    return [compile_re(line, f'{path}:{n}') for n, line in enumerate(read_lines(path), 1)
            if line and not line.startswith('#')]


def scan_console(path, patterns, benign):
    """The splats of a console log, in the order of PATTERNS. A line
    (timestamp and "\\r" removed) counts once, in the first category it
    matches, unless a BENIGN regex matches it."""
    found = {}
    for line in read_lines(path):
        if line.endswith('\r'):
            line = line[:-1]
        line = re.sub(r'^\[ *[0-9]+\.[0-9]+\] ', '', line)
        if any(b.search(line) for b in benign):
            continue
        for cat, regex in patterns:
            if regex.search(line):
                if cat in found:
                    found[cat].count += 1
                else:
                    found[cat] = Splat(cat, 1, line)
                break
    order = list(dict.fromkeys(cat for cat, _ in patterns))
    return [found[c] for c in order if c in found]


def console_splats(path, patterns=None, benign=None):
    return scan_console(path, load_patterns(patterns or SPLATS), load_benign(benign or BENIGN))


def cmd_scan_console(args):
    if not 1 <= len(args) <= 3:
        raise Die(E_USAGE, 'usage: bin/scan-console CONSOLE_LOG [PATTERNS [BENIGN]]')
    if not os.path.isfile(args[0]):
        raise Die(E_USAGE, f'no console log at {args[0]}')
    splats = console_splats(*args)
    print('\n'.join(s.line() for s in splats) if splats else 'clean')
    return E_TEST if splats else 0


# ---------------------------------------------------------------- verdict

def judge_boot(out):
    """The verdict lines of boot directory OUT (written to OUT/verdict):
    PASS or FAIL, the KTAP summary, then every finding."""
    findings = []
    status_path = os.path.join(out, 'boot.status')
    if os.path.isfile(status_path):
        status_lines = read_lines(status_path)
        status = status_lines[0] if status_lines else ''
        reason = '\n'.join(l[len('reason '):] for l in status_lines if l.startswith('reason '))
    else:
        status, reason = 'no boot.status', ''
    if status != 'exit 0':
        findings.append(f'boot: {status}' + (f' ({reason})' if reason else ''))
    console = os.path.join(out, 'console.log')
    if os.path.isfile(console):
        findings += [f'splat: {s.line()}' for s in console_splats(console)]
    else:
        findings.append('boot: no console log')
    ktap, ktap_ok = parse_ktap_file(os.path.join(out, 'ktap.log'))
    if not ktap_ok:
        findings += ktap[1:]
    lines = ['FAIL' if findings else 'PASS', ktap[0]] + findings
    write_text(os.path.join(out, 'verdict'), '\n'.join(lines) + '\n')
    return lines


def cmd_verdict(args):
    if len(args) != 1 or not os.path.isdir(args[0]):
        raise Die(E_USAGE, 'usage: bin/verdict OUTDIR')
    lines = judge_boot(args[0])
    print('\n'.join(lines))
    return 0 if lines[0] == 'PASS' else E_TEST


# ---------------------------------------------------------------- expect

EXPECT_KINDS = ('verdict', 'not-ok', 'not-ok-check', 'splat', 'boot', 'reason', 'console')


@dataclass
class Expectation:
    kind: str
    what: str

    def met(self, boot):
        """Does boot directory BOOT (already judged) show this?"""
        def lines(name):
            path = os.path.join(boot, name)
            return read_lines(path) if os.path.isfile(path) else []
        if self.kind == 'verdict':
            return lines('verdict')[:1] == [self.what]
        if self.kind == 'splat':
            return any(l.startswith(f'splat: {self.what} ') for l in lines('verdict'))
        if self.kind == 'boot':
            status = lines('boot.status')
            return bool(status) and status[0].startswith(self.what)
        if self.kind == 'reason':
            return any(f'reason {self.what}' in l for l in lines('boot.status'))
        if self.kind == 'console':
            regex = compile_re(self.what, 'console expectation')
            return any(regex.search(l) for l in lines('console.log'))
        k = Ktap.parse(lines('ktap.log'))
        if self.kind == 'not-ok':
            return any(not r.ok and r.name == self.what for r in k.top.results)
        top, check = self.what.split(None, 1)   # not-ok-check TOP CHECK...
        return any(path[0] == top and r.name == check for path, r in k.failed_checks)


def load_expectations(path):
    out = []
    for n, line in enumerate(read_lines(path), 1):
        words = line.split(None, 1)
        if not words or words[0].startswith('#'):
            continue
        kind, what = words[0], words[1].strip() if len(words) > 1 else ''
        if kind not in EXPECT_KINDS:
            raise Die(E_USAGE, f"{path}: unknown expectation '{kind}'")
        if kind == 'not-ok-check' and len(what.split()) < 2:
            raise Die(E_USAGE, f'{path}:{n}: not "not-ok-check TEST CHECK": {line}')
        out.append(Expectation(kind, what))
    return out


def cmd_expect(args):
    if len(args) != 2 or not os.path.isdir(args[0]) or not os.path.isfile(args[1]):
        raise Die(E_USAGE, 'usage: bin/expect BOOTDIR EXPECTFILE')
    expectations = load_expectations(args[1])
    judge_boot(args[0])
    missed = 0
    for e in expectations:
        met = e.met(args[0])
        print(f"{'caught' if met else 'MISSED'}: {e.kind} {e.what}")
        missed |= not met
    return E_TEST if missed else 0


# ---------------------------------------------------------------- bench

@dataclass
class Sample:           # a row of samples.csv (bin/bench)
    mode: str
    round: str
    kernel: str
    bench: str
    unit: str           # as the guest printed it, raw: "ns/op" in icount too (see shown_unit)
    rep: str
    value: float


@dataclass
class Summary:          # a row of summary.csv; values as written
    mode: str
    bench: str
    unit: str
    n_base: str
    n_patched: str
    base: str = ''
    patched: str = ''
    ratio: str = ''
    lo: str = ''
    hi: str = ''
    sig: str = ''               # '*': THIS run's interval excludes 1.0 (a table stars only two runs agreeing)
    # added later, so the last columns (bin/bench reads the ratio as column 8):
    # the two groups of a kernel's per-boot values (bimodal_groups) as
    # "LO-HI (N) | LO-HI (N)"; '' not bimodal; '?' not checked (a
    # summary.csv from before the check, without these columns)
    bimodal_base: str = '?'
    bimodal_patched: str = '?'


SUMMARY_LATER = ('bimodal_base', 'bimodal_patched')
RESAMPLES = 2000


def read_csv(path, cls, convert=None, optional=()):
    """The rows of a CSV file as CLS, by column name; a column named in
    OPTIONAL may be absent (its default is taken)."""
    names = [f.name for f in fields(cls)]
    with open(path, newline='', encoding='utf-8') as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames or []
        missing = [n for n in names if n not in header and n not in optional]
        if missing:
            raise Die(E_USAGE, f"{path}: no column {', '.join(missing)} (header: {','.join(header)})")
        rows = []
        for row in reader:
            values = {n: row[n] for n in names if n in header}
            if convert:
                try:
                    values = convert(values)
                except ValueError:
                    raise Die(E_USAGE, f'{path}:{reader.line_num}: not a number: {row}') from None
            rows.append(cls(**values))
    return rows


def median(values):
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) / 2


def ratio_of(base, patched):
    b = median(base)
    return median(patched) / b if b else 0


def bootstrap(base, patched, rng, resamples=RESAMPLES):
    """95% percentile bootstrap interval of ratio_of(base, patched):
    resample the boots of each kernel with replacement."""
    ratios = sorted(ratio_of(rng.choices(base, k=len(base)), rng.choices(patched, k=len(patched)))
                    for _ in range(resamples))
    return ratios[int(0.025 * resamples)], ratios[int(0.975 * resamples) - 1]


BIMODAL_GAP = 0.10     # the gap between the groups: more than this fraction of the median


def bimodal_groups(values, rel=BIMODAL_GAP):
    """The two groups of per-boot VALUES (of one kernel, one mode, one run)
    if they split in two, else None. Sorted, the values are cut at the
    largest gap between neighbours; they are bimodal when each side holds
    at least 2 boots (one odd boot is an outlier, which the median
    tolerates) and the gap is wider than both sides' ranges together and
    than REL times the median of all the values (without that, 5 draws of
    one normal distribution pass the first two tests 16% of the time)."""
    s = sorted(values)
    if len(s) < 4:
        return None
    gaps = [s[i + 1] - s[i] for i in range(len(s) - 1)]
    gap = max(gaps)
    cut = gaps.index(gap) + 1           # at the first of equal gaps
    low, high = s[:cut], s[cut:]
    if len(low) < 2 or len(high) < 2:
        return None
    if gap <= (low[-1] - low[0]) + (high[-1] - high[0]) or gap <= rel * median(s):
        return None
    return low, high


def groups_text(groups):
    """bimodal_groups() as summary.csv keeps it: '' for None."""
    return ' | '.join('%.10g-%.10g (%d)' % (g[0], g[-1], len(g)) for g in groups or ())


def summarise(samples, seed=1):
    """Summary rows: one sample per boot (the median of its repetitions),
    per kernel the median over boots, their ratio and its interval. One
    random stream with a fixed seed: the same samples, the same summary."""
    boots = {}          # (mode, bench, kernel) -> {round: [values]}
    benches = {}        # mode -> benches in order
    unit = {}           # (mode, bench) -> unit (the last one seen)
    for s in samples:
        boots.setdefault((s.mode, s.bench, s.kernel), {}).setdefault(s.round, []).append(s.value)
        benches.setdefault(s.mode, {})[s.bench] = True
        unit[(s.mode, s.bench)] = s.unit
    rng = random.Random(seed)
    rows = []
    for mode, names in benches.items():
        for bench in names:
            per = {k: [median(v) for v in boots.get((mode, bench, k), {}).values()]
                   for k in ('base', 'patched')}
            row = Summary(mode, bench, unit[(mode, bench)], str(len(per['base'])), str(len(per['patched'])))
            if per['base'] and per['patched']:
                lo, hi = bootstrap(per['base'], per['patched'], rng)
                row.base = '%.10g' % median(per['base'])
                row.patched = '%.10g' % median(per['patched'])
                row.ratio = '%.4f' % ratio_of(per['base'], per['patched'])
                row.lo, row.hi = '%.4f' % lo, '%.4f' % hi
                row.sig = '*' if lo > 1 or hi < 1 else ''
            row.bimodal_base = groups_text(bimodal_groups(per['base']))
            row.bimodal_patched = groups_text(bimodal_groups(per['patched']))
            rows.append(row)
    return rows


def write_csv(path, rows, cls):
    """ROWS (dataclasses CLS) as a CSV file with a header line."""
    with open(path, 'w', newline='', encoding='utf-8') as f:
        w = csv.DictWriter(f, [x.name for x in fields(cls)], lineterminator='\n')
        w.writeheader()
        w.writerows(vars(r) for r in rows)


def read_samples(path):
    def convert(v):
        v['value'] = float(v['value'])
        return v
    return read_csv(path, Sample, convert)


def read_summary(path):
    return read_csv(path, Summary, optional=SUMMARY_LATER)


def base_tag():
    with open(os.path.join(TOP, 'configs', 'base.env'), encoding='utf-8') as f:
        for line in f:
            if line.startswith('BASE_TAG='):
                return line.strip().split('=', 1)[1]
    raise Die(E_ENV, 'configs/base.env has no BASE_TAG')


# Under icount (QEMU -icount shift=0) 1 ns of guest time is 1 executed
# instruction. The guest program does not know its mode and prints "ns/op",
# "hits/s": samples.csv and summary.csv keep those raw units, and every
# table, figure and comparison shows them as instructions (same numbers).
AS_INSTRUCTIONS = {'ns': 'instr', 'us': 'kinstr', 'ms': 'Minstr', 's': 'Ginstr'}


def shown_unit(mode, unit):
    """UNIT as the tables show it in MODE: under icount a time is a count of
    instructions ("ns/op" -> "instr/op"; "hits/s" -> "hits/Ginstr", hits
    per 10^9 instructions)."""
    if mode != 'icount':
        return unit
    return '/'.join(AS_INSTRUCTIONS.get(part, part) for part in unit.split('/'))


MODE_TITLES = {
    'wall': 'Wall clock (multi-threaded TCG, 2 vCPUs)',
    'icount': 'Instruction count (TCG -icount shift=0: 1 ns of guest time = 1 instruction, '
              'so the units are instructions; vCPUs serialised)',
}
MODE_KEYS = {'wall': 'wall (time)', 'icount': 'icount (instructions)'}     # the figure's legend
ORDERS = ('base-first', 'patched-first')


def modes_of(rows):
    return list(dict.fromkeys(r.mode for r in rows))


def side(row):
    """Where ROW's interval lies: -1 below 1.0, 1 above, 0 across it (or no ratio)."""
    if not row.ratio:
        return 0
    return -1 if float(row.hi) < 1 else 1 if float(row.lo) > 1 else 0


def flagged(row):
    """Are the boots of a kernel of ROW bimodal? ('?', not checked, is no flag.)"""
    return row.bimodal_base not in ('', '?') or row.bimodal_patched not in ('', '?')


def mark(row, other):
    """What a table shows after ROW's ratio: 'bimodal' when a kernel's boots
    split in two in either run; '*' only when OTHER, the same row of the
    run with the other boot order, is given and both runs' intervals
    exclude 1.0 on the same side; else ''. One run alone never stars."""
    if flagged(row) or (other is not None and flagged(other)):
        return 'bimodal'
    if other is not None and side(row) != 0 and side(row) == side(other):
        return '*'
    return ''


def run_info(run):
    """RUN/bench.info as {key: value} (the first line of each key)."""
    path = os.path.join(run, 'bench.info')
    info = {}
    for line in read_lines(path) if os.path.isfile(path) else []:
        key, _, value = line.partition(' ')
        info.setdefault(key, value)
    return info


def other_rows(run, other):
    """The summary rows of OTHER by (mode, bench), once RUN and OTHER are one
    base-first and one patched-first run (bench.info, "order"); None
    without OTHER."""
    if other is None:
        return None
    orders = [run_info(r).get('order', 'of unknown order') for r in (run, other)]
    if sorted(orders) != sorted(ORDERS):
        raise Die(E_USAGE, f'the second run must have the other boot order: {rel_to_top(run)} is {orders[0]}, '
                  f'{rel_to_top(other)} is {orders[1]} (line "order" of bench.info)')
    return {(r.mode, r.bench): r for r in read_summary(os.path.join(other, 'summary.csv'))}


def num(v):
    return '%.0f' % float(v) if float(v) >= 100 else '%.1f' % float(v)


def ratio_cell(row, m):
    ratio = '%.3f' % float(row.ratio)
    return f'**{ratio}** *' if m == '*' else f'{ratio} {m}' if m else ratio


def bimodal_lines(label, rows):
    """The groups of the bimodal kernels of ROWS, and what was not checked."""
    out, unchecked, few = [], False, False
    for r in rows:
        for kernel in ('base', 'patched'):
            groups = getattr(r, 'bimodal_' + kernel)
            unchecked |= groups == '?'
            few |= bool(r.ratio) and int(getattr(r, 'n_' + kernel)) < 4
            if groups not in ('', '?'):
                out.append(f'- {r.mode} {r.bench}, {kernel} ({label}), {shown_unit(r.mode, r.unit)}: {groups}')
    if unchecked:
        out.append(f'- {label}: not checked (its summary.csv has no per-boot groups: '
                   'made before the check, or without samples)')
    if few:
        out.append(f'- {label}: a kernel with fewer than 4 boots cannot be flagged')
    return out


def report_lines(run, rows, tag, other=None):
    """report.md: a table per timing mode. With OTHER, the run with the other
    boot order, its ratios stand beside RUN's and both decide the stars."""
    pair = other_rows(run, other)
    order = run_info(run).get('order', 'this run')
    out = [f'# Benchmarks: patched / unpatched {tag}', '']
    if os.path.isfile(os.path.join(run, 'bench.info')):
        out += ['    ' + l for l in read_lines(os.path.join(run, 'bench.info'))] + ['']
    out += ['Ratio = median(patched) / median(base) over the boots; below 1.0 the patched',
            'kernel is cheaper (rates - per second, or per 10^9 instructions - : above 1.0',
            'it is faster). Interval: 95% bootstrap over the boots.']
    if pair is None:
        out += ['One run only: no ratio is starred, whatever its interval. A star needs a',
                'second run with the other boot order (bin/bench --order) whose interval',
                "excludes 1.0 on the same side as this run's (bin/bench-report RUN OTHER_RUN)."]
    else:
        other_order = run_info(other).get('order')
        out += [f'`*` marks a ratio only when the intervals of both runs, {order} (the medians',
                f'shown) and {other_order} ({rel_to_top(other)}), exclude 1.0 on the',
                'same side; everything else is indistinguishable from no change at this sample size.']
    out += ['`bimodal` (never starred) marks a row where the per-boot values of a kernel split',
            'in two, in either run: sorted and cut at their largest gap, each side holds at',
            "least 2 boots and the gap is wider than both sides' ranges together and than",
            f'{BIMODAL_GAP:.0%} of the median (the groups are listed below the tables).']
    if 'icount' in modes_of(rows):
        out += ['Under icount 1 ns of guest time is 1 instruction: times are shown as instructions',
                '(instr/op), rates per 10^9 instructions (hits/Ginstr); samples.csv and summary.csv',
                'keep the units the guest printed (ns/op, hits/s).']
    for m in modes_of(rows):
        head = '| benchmark | unit | base | patched | ratio | 95% interval | boots |'
        if pair is not None:
            head = (f'| benchmark | unit | base | patched | ratio ({order}) | 95% interval '
                    f'| ratio ({other_order}) | 95% interval | boots |')
        out += ['', '## ' + MODE_TITLES.get(m, m), '', head,
                '|---|---|---:|---:|---:|---|' + ('---:|---|' if pair is not None else '') + '---:|']
        for r in rows:
            if r.mode != m:
                continue
            b = pair.get((r.mode, r.bench)) if pair is not None else None
            boots = f'{r.n_base}+{r.n_patched}' + (f' / {b.n_base}+{b.n_patched}' if b else '')
            cells = [r.bench, shown_unit(m, r.unit)]
            if r.ratio:
                cells += [num(r.base), num(r.patched), ratio_cell(r, mark(r, b)),
                          f'{float(r.lo):.3f}-{float(r.hi):.3f}']
            else:
                cells += ['', '', 'missing', '']
            if pair is not None:
                cells += ['%.3f' % float(b.ratio), f'{float(b.lo):.3f}-{float(b.hi):.3f}'] if b and b.ratio else ['missing', '']
            out.append('|' + '|'.join(f' {c} ' if c else ' ' for c in cells + [boots]) + '|')
    runs = [(f'{order} run' if pair is not None else 'this run', rows)]
    if pair is not None:
        runs.append((f'{other_order} run', list(pair.values())))
    groups = [l for label, rs in runs for l in bimodal_lines(label, rs)]
    out += ['', '## Bimodal rows', '',
            'Per-boot values (the median of each boot) of the kernels flagged bimodal:',
            'LO-HI (boots) of the two groups.', ''] + (groups or ['- none'])
    lockstat = os.path.join(run, 'lockstat.txt')
    if os.path.isfile(lockstat) and os.path.getsize(lockstat):
        out += ['', '## Per-VMA lock counters during the fault, madvise and maps benchmarks (first round)', '',
                'Deltas of /proc/vmstat over the timed repetitions: every fault that',
                'vma_lock_success counts was handled under the per-VMA lock, without',
                'mmap_lock. faults_by_design is what the program asked for;',
                'madvise_vma_locked and vma_iter_locked count the madvise() calls and the',
                'VMAs of maps readers served under a per-VMA lock (absent: a kernel',
                'without them; the *_fallback counters: those that took mmap_lock).', '', '```']
        out += [l.replace(' r1 ', ' ', 1) for l in read_lines(lockstat) if ' r1 ' in l]
        out.append('```')
    return out


def awk_number(v):
    """A number as awk prints it: an integer plainly, else "%.6g"."""
    return str(int(v)) if v == int(v) else '%.6g' % v


def write_figure(run, rows, tag):
    """figure.svg through gnuplot: ratio and interval per benchmark, drawn
    within 0.6-1.6, the modes side by side."""
    def clip(v):
        return '0.6' if float(v) < 0.6 else '1.6' if float(v) > 1.6 else v
    names = list(dict.fromkeys(r.bench for r in rows))
    modes = modes_of(rows)
    write_text(os.path.join(run, 'figure.idx'), ''.join(n + '\n' for n in names))
    plots = []
    for off, m in enumerate(modes):
        dat = os.path.join(run, f'figure-{m}.dat')
        write_text(dat, ''.join(
            f'{clip(r.ratio)} {awk_number(names.index(r.bench) + 0.2 * (off - (len(modes) - 1) / 2))} '
            f'{clip(r.lo)} {clip(r.hi)}\n' for r in rows if r.mode == m and r.ratio))
        plots.append(f"'{dat}' using 1:2:3:4 with xerrorbars pt 7 title '{MODE_KEYS.get(m, m)}'")
    ytics = ', '.join(f'"{n}" {i}' for i, n in enumerate(names))
    gp = os.path.join(run, 'figure.gp')
    write_text(gp, '\n'.join([
        f"set terminal svg size 900,{160 + 24 * len(names)} dynamic font 'sans,11'",
        f"set output '{os.path.join(run, 'figure.svg')}'",
        f"set title 'patched / unpatched {tag}: median ratio, 95% bootstrap interval (< 1: patched cheaper)'",
        "set xlabel 'ratio patched / base (drawn within 0.6-1.6: wider values are clipped, see the table)'",
        'set xrange [0.6:1.6]',
        f'set yrange [{len(names)}:-1]',
        f'set ytics ({ytics})',
        'set grid xtics',
        'set key outside top center horizontal',
        "set arrow from 1, graph 0 to 1, graph 1 nohead lc rgb 'black' dt 2",
        'plot ' + ','.join(plots)]) + '\n')
    with open(os.path.join(run, 'figure.log'), 'w') as log:
        try:
            rc = subprocess.call(['gnuplot', gp], stdout=log, stderr=log)
        except OSError:
            rc = -1
    if rc != 0:
        raise Die(E_ENV, f'gnuplot failed, see {os.path.join(run, "figure.log")}')


def bench_report(run, other=None):
    """RUN's summary.csv from its samples, then report.md (with OTHER, the
    run with the other boot order: both runs' ratios, and stars) and figure.svg."""
    samples = read_samples(os.path.join(run, 'samples.csv'))
    if not samples:
        raise Die(E_TEST, f'{os.path.join(run, "samples.csv")} has no samples')
    other_rows(run, other)      # the orders, before anything is written
    write_csv(os.path.join(run, 'summary.csv'), summarise(samples), Summary)
    # the report and figure are made from summary.csv as written
    rows = read_summary(os.path.join(run, 'summary.csv'))
    tag = base_tag()
    write_text(os.path.join(run, 'report.md'), '\n'.join(report_lines(run, rows, tag, other)) + '\n')
    write_figure(run, rows, tag)
    return rows


def cmd_bench_report(args):
    if (len(args) not in (1, 2) or not os.path.isfile(os.path.join(args[0], 'samples.csv'))
            or (len(args) == 2 and not os.path.isfile(os.path.join(args[1], 'summary.csv')))):
        raise Die(E_USAGE, 'usage: bin/bench-report RUNDIR [OTHER_RUNDIR] (with samples.csv; the other with summary.csv)')
    bench_report(*args)
    print(os.path.join(args[0], 'report.md'))
    return 0


def bench_compare(run_a, run_b):
    """(output lines, agree): for every row both runs measured, do the 95%
    intervals overlap, and is each ratio inside the other's interval? Column
    "mark": the row's mark in a table of A and B (mark())."""
    a = {(r.mode, r.bench): r for r in read_summary(os.path.join(run_a, 'summary.csv')) if r.ratio}
    out = ['%-7s %-22s %-12s %-22s  %-22s  %-7s  %s' % (
        'mode', 'benchmark', 'unit', 'ratio A [95%]', 'ratio B [95%]', 'mark', '')]
    n = agree = inside = stars = bimodal = 0
    unchecked = set()
    for b in read_summary(os.path.join(run_b, 'summary.csv')):
        if not b.ratio or (b.mode, b.bench) not in a:
            continue
        r = a[(b.mode, b.bench)]
        ra, la, ha, rb, lb, hb = (float(v) for v in (r.ratio, r.lo, r.hi, b.ratio, b.lo, b.hi))
        overlap = la <= hb and lb <= ha
        within = lb <= ra <= hb and la <= rb <= ha
        m = mark(r, b)
        out.append('%-7s %-22s %-12s %6.3f [%.3f-%.3f]  %6.3f [%.3f-%.3f]  %-7s  %s' % (
            b.mode, b.bench, shown_unit(b.mode, b.unit), ra, la, ha, rb, lb, hb, m,
            ('agree, inside' if within else 'agree') if overlap else 'DISAGREE'))
        n, agree, inside = n + 1, agree + overlap, inside + within
        stars, bimodal = stars + (m == '*'), bimodal + (m == 'bimodal')
        unchecked |= {name for name, row in (('A', r), ('B', b)) if '?' in (row.bimodal_base, row.bimodal_patched)}
    orders = [run_info(x).get('order', 'of unknown order') for x in (run_a, run_b)]
    out += [f'A = {rel_to_top(run_a)}', f'B = {rel_to_top(run_b)}',
            f'mark: {stars} rows * (both intervals exclude 1.0 on the same side), {bimodal} bimodal'
            + ('' if sorted(orders) == sorted(ORDERS) else
               f' (but A is {orders[0]}, B {orders[1]}: a table stars only a base-first and a patched-first run)')]
    if unchecked:
        out.append(f"not checked for bimodality (no per-boot groups in its summary.csv): {' and '.join(sorted(unchecked))}")
    out.append(f'{agree} of {n} rows agree (intervals overlap); in {inside} each ratio is inside the other interval')
    return out, agree == n


def cmd_bench_compare(args):
    if len(args) != 2 or not all(os.path.isfile(os.path.join(r, 'summary.csv')) for r in args):
        raise Die(E_USAGE, 'usage: bin/bench-compare RUN_A RUN_B (bench runs with summary.csv)')
    out, agree = bench_compare(*args)
    print('\n'.join(out))
    return 0 if agree else E_TEST


BEGIN, END = '<!-- bench:begin -->', '<!-- bench:end -->'
PUBLISHED = ('figure.svg', 'summary.csv', 'samples.csv', 'lockstat.txt', 'bench.info')     # and report.md, made here


def cover_section(run, rows, tag, other=None):
    """cover/benchmarks.md: the plain-text section of the cover letter."""
    info = run_info(run)
    pair = other_rows(run, other)
    out = [f"Benchmarks (bin/bench, {info.get('date', '')}): unpatched {tag} against the",
           "series, both built from the harness's small guest config without",
           f"debugging ({info.get('scenario', '')}), booted alternately ({info.get('order', '')}) under QEMU",
           f"TCG with 2 vCPUs, {info.get('rounds', '')} boots each per timing mode. Ratio = median(patched) /",
           'median(base); below 1.0 the series is cheaper (for rates: faster',
           'above 1.0). [lo-hi] is a 95% bootstrap interval over the boots.']
    if pair is None:
        out += ['One run only: no ratio is marked significant.']
    else:
        out += [f"'*' marks a ratio only when the intervals of this run and of a run",
                f"with the other boot order ({run_info(other).get('order')}, the second ratio) both",
                'exclude 1.0 on the same side.']
    out += ["'bimodal': the boots of a kernel split into two groups (listed in",
            'docs/benchmarks.md), so the median ratio means little; never marked \'*\'.',
            '"wall" is wall-clock time under multi-threaded TCG; "icount" counts guest',
            'instructions (-icount shift=0: its units are instructions, instr/op,',
            'hits/Ginstr; vCPUs serialised, so it shows per-operation cost and',
            'not scaling). Emulated time, not a substitute for measurements on',
            'hardware.']
    ratios = ' ratio' if pair is None else '%-21s  %s [95%%]' % ('ratio [95%]', run_info(other).get('order'))
    for m in modes_of(rows):
        out += ['', f'{m}:', '  %-24s %-11s %12s %12s  %s' % ('benchmark', 'unit', 'base', 'patched', ratios)]
        for r in rows:
            if r.mode != m:
                continue
            unit = shown_unit(m, r.unit)
            if not r.ratio:
                out.append('  %-24s %-11s %s' % (r.bench, unit, 'missing'))
                continue
            b = pair.get((r.mode, r.bench)) if pair is not None else None
            mk = mark(r, b)
            out.append('  %-24s %-11s %12.0f %12.0f  %6.3f%s [%.3f-%.3f]%s%s' % (
                r.bench, unit, float(r.base), float(r.patched), float(r.ratio),
                '*' if mk == '*' else ' ', float(r.lo), float(r.hi),
                '  %6.3f [%.3f-%.3f]' % (float(b.ratio), float(b.lo), float(b.hi)) if b and b.ratio else '',
                ' bimodal' if mk == 'bimodal' else ''))
    return out


def copy_file(src, dst):
    """SRC to DST, unless they are the same file (republishing docs/bench)."""
    if not (os.path.exists(dst) and os.path.samefile(src, dst)):
        shutil.copyfile(src, dst)


def bench_publish(run, other=None, top=TOP):
    """Copy a full run's results to TOP/docs/bench/, rewrite the Results
    section of TOP/docs/benchmarks.md (between BEGIN and END) and
    TOP/cover/benchmarks.md. OTHER, the run with the other boot order, is
    what stars need: its ratios join the tables, its summary.csv (and
    samples.csv) go to docs/bench/ as summary-ORDER.csv (samples-ORDER.csv)
    and the comparison of the two to compare.txt."""
    if not all(os.path.isfile(os.path.join(run, f)) for f in ('summary.csv', 'figure.svg', 'bench.info')):
        raise Die(E_USAGE, 'usage: bin/bench-publish RUNDIR [OTHER_RUNDIR] (a bin/bench run with its report)')
    if 'plan-wall bench' not in read_lines(os.path.join(run, 'bench.info')):
        raise Die(E_USAGE, f'{run} is not a full bench run (plan bench): not published')
    if other is not None and not os.path.isfile(os.path.join(other, 'summary.csv')):
        raise Die(E_USAGE, f'{other} has no summary.csv: not a second run to publish with')
    other_rows(run, other)      # the orders, before anything is written
    page = os.path.join(top, 'docs', 'benchmarks.md')
    if not os.path.isfile(page):
        raise Die(E_USAGE, 'no docs/benchmarks.md: nowhere to publish')
    text = read_lines(page)
    if BEGIN not in text or END not in text:
        raise Die(E_USAGE, f'docs/benchmarks.md has no {BEGIN} / {END} lines')
    dst = os.path.join(top, 'docs', 'bench')
    os.makedirs(dst, exist_ok=True)
    # what a previous second run left, unless it is the one given now
    for f in ['compare.txt'] + [f'{kind}-{o}.csv' for kind in ('summary', 'samples') for o in ORDERS]:
        if os.path.isfile(os.path.join(dst, f)):
            os.remove(os.path.join(dst, f))
    for f in PUBLISHED:
        copy_file(os.path.join(run, f), os.path.join(dst, f))
    rows = read_summary(os.path.join(run, 'summary.csv'))
    report = report_lines(run, rows, base_tag(), other)
    write_text(os.path.join(dst, 'report.md'), '\n'.join(report) + '\n')
    links = []
    if other is not None:
        order = run_info(other)['order']
        for kind in ('summary', 'samples'):
            if os.path.isfile(os.path.join(other, f'{kind}.csv')):
                copy_file(os.path.join(other, f'{kind}.csv'), os.path.join(dst, f'{kind}-{order}.csv'))
                links.append(f'[bench/{kind}-{order}.csv](bench/{kind}-{order}.csv)')
        write_text(os.path.join(dst, 'compare.txt'), '\n'.join(bench_compare(run, other)[0]) + '\n')
        links.append('[bench/compare.txt](bench/compare.txt) (bin/bench-compare)')
    # the links are relative to docs/, where the page is
    source = rel_to_top(run) + (f' and {rel_to_top(other)}' if other else '')
    section = ([BEGIN, f'<!-- generated by bin/bench-publish from {source}: do not edit -->']
               + [re.sub(r'^## ', '### ', l) for l in report[1:]]
               + ['', '![ratio patched/base per benchmark](bench/figure.svg)', '',
                  "Raw samples: [bench/samples.csv](bench/samples.csv); per-boot logs stay in the run's directory."]
               + ([f"The run with the other boot order: {', '.join(links)}."] if links else [])
               + [END])
    new, skip = [], False
    for line in text:
        if line == BEGIN:
            new += section
            skip = True
        elif line == END:
            skip = False
        elif not skip:
            new.append(line)
    write_text(page + '.new', '\n'.join(new) + '\n')
    os.replace(page + '.new', page)
    write_text(os.path.join(top, 'cover', 'benchmarks.md'),
               '\n'.join(cover_section(run, rows, base_tag(), other)) + '\n')
    log(f'published {source} to docs/bench/, docs/benchmarks.md and cover/benchmarks.md')


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr)


def cmd_bench_publish(args):
    if len(args) not in (1, 2):
        raise Die(E_USAGE, 'usage: bin/bench-publish RUNDIR [OTHER_RUNDIR] (a bin/bench run with its report)')
    bench_publish(*args)
    return 0


# ---------------------------------------------------------------- selftest
#
# One canned case of tests/: each returns the lines that explain a failure
# (none: the case behaved as its expect file says).

def expect_lines(expect, output):
    """Every line of EXPECT after the first must occur in OUTPUT."""
    text = '\n'.join(output)
    return [f'expected in output: {l}' for l in read_lines(expect)[1:] if l not in text]


def first_line(path):
    lines = read_lines(path)
    return lines[0] if lines else ''


def selftest_console(log_path):
    benign = log_path[:-len('.log')] + '.benign'
    if not os.path.isfile(benign):
        benign = BENIGN
    splats = console_splats(log_path, None, benign)
    got = sorted(s.category for s in splats) or ['clean']
    want = sorted(l for l in read_lines(log_path[:-len('.log')] + '.expect') if l)
    if got == want:
        return []
    return ['scan-console said:'] + ([s.line() for s in splats] or ['clean']) + ['expected categories:'] + want


def selftest_ktap(log_path):
    expect = log_path[:-len('.log')] + '.expect'
    out, ok = parse_ktap_file(log_path)
    got, want = 'pass' if ok else 'fail', first_line(expect)
    if got != want:
        return [f'parse-ktap said ({got}, expected {want}):'] + out
    missing = expect_lines(expect, out)
    return missing + out if missing else []


def selftest_boot(case):
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(case, tmp, dirs_exist_ok=True)
        out = judge_boot(tmp)
    want = first_line(os.path.join(case, 'expect'))
    if out[0] != want:
        return ['verdict said:'] + out + [f'expected first line: {want}']
    missing = expect_lines(os.path.join(case, 'expect'), out)
    return missing + out if missing else []


def bench_expectations(path):
    """"MODE BENCH sig|nosig|missing [RATIO]" lines ('#': comment); "sig":
    the run's interval excludes 1.0 (summary.csv's column sig, one run's
    evidence, which a table stars only with a second run agreeing)."""
    out = []
    for n, line in enumerate(read_lines(path), 1):
        words = line.split()
        if not words or words[0].startswith('#'):
            continue
        if len(words) not in (3, 4) or words[2] not in ('sig', 'nosig', 'missing'):
            raise Die(E_USAGE, f'{path}:{n}: not "MODE BENCH sig|nosig|missing [RATIO]": {line}')
        out.append(words + [''] * (4 - len(words)))
    return out


def check_summary(rows, expectations):
    """The summary rows that are not as expected, explained."""
    bad = []
    by_key = {(r.mode, r.bench): r for r in rows}
    for mode, bench, want, ratio in expectations:
        r = by_key.get((mode, bench))
        got = None if r is None else 'missing' if not r.ratio else 'sig' if r.sig == '*' else 'nosig'
        got_ratio = '%.2f' % float(r.ratio) if r and r.ratio else ''
        if got != want or (ratio and got_ratio != ratio):
            row = ','.join(vars(r).values()) if r else 'none'
            bad.append(f"{mode} {bench}: expected {want}{' ' + ratio if ratio else ''}, summary row: {row}")
    return bad


def selftest_bench(case, expect=None):
    """bench-report on the case's samples must give every row of its expect
    file; bench-compare must find the run agreeing with itself and not with
    a variant whose first benchmark is 50% slower on the patched kernel."""
    expectations = bench_expectations(expect or os.path.join(case, 'expect'))
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copyfile(os.path.join(case, 'samples.csv'), os.path.join(tmp, 'samples.csv'))
        rows = bench_report(tmp)
        if not all(os.path.getsize(os.path.join(tmp, f)) for f in ('figure.svg', 'report.md')):
            return ['no figure.svg or report.md']
        bad = check_summary(rows, expectations)
        if bad:
            with open(os.path.join(tmp, 'summary.csv')) as f:
                return bad + f.read().splitlines()
        if not bench_compare(tmp, tmp)[1]:
            return ['bench-compare: a run disagrees with itself']
        samples = read_samples(os.path.join(case, 'samples.csv'))
        first = samples[0].bench
        for s in samples:
            if s.kernel == 'patched' and s.bench == first:
                s.value *= 1.5
        slower = os.path.join(tmp, 'slower')
        os.mkdir(slower)
        write_csv(os.path.join(slower, 'samples.csv'), samples, Sample)
        bench_report(slower)
        out, agree = bench_compare(tmp, slower)
    if agree:
        return [f'bench-compare missed a 50% change of {first}:'] + out
    if not any(l.split()[1:2] == [first] and l.endswith('DISAGREE') for l in out):
        return [f'bench-compare did not name {first}:'] + out
    return []


def cmd_selftest(args):
    if len(args) != 1 or not os.path.exists(args[0]):
        raise Die(E_USAGE, 'usage: bin/selftest CASE')
    case = args[0].rstrip('/')
    kind = os.path.basename(os.path.dirname(case))
    if kind == 'console' and case.endswith('.log'):
        bad = selftest_console(case)
    elif kind == 'ktap' and case.endswith('.log'):
        bad = selftest_ktap(case)
    elif kind == 'boot' and os.path.isdir(case):
        bad = selftest_boot(case)
    elif kind == 'bench' and os.path.isdir(case):
        bad = selftest_bench(case)
    else:
        raise Die(E_USAGE, f'not a canned case: {case}')
    if bad:
        print('\n'.join(bad))
    return E_TEST if bad else 0


# ---------------------------------------------------------------- main

VERBS = {
    'plan': cmd_plan,
    'flatten-plans': cmd_flatten_plans,
    'parse-ktap': cmd_parse_ktap,
    'scan-console': cmd_scan_console,
    'verdict': cmd_verdict,
    'expect': cmd_expect,
    'bench-report': cmd_bench_report,
    'bench-compare': cmd_bench_compare,
    'bench-publish': cmd_bench_publish,
    'selftest': cmd_selftest,
}


def main(argv):
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)     # "| head": quiet, as a filter
    sys.stdout.reconfigure(errors='surrogateescape')
    if not argv or argv[0] not in VERBS:
        print(f"error: usage: harness/vmrc.py {'|'.join(VERBS)} ARGS...", file=sys.stderr)
        return E_USAGE
    try:
        return VERBS[argv[0]](argv[1:])
    except Die as e:
        sys.stdout.flush()
        print(f'error: {e.message}', file=sys.stderr)
        return e.code


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
