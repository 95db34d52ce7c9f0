#!/usr/bin/python3
"""bin/kselftests's data layer: the results of the mm selftests on the base
and the patched kernel, their parity table and its gate.

    kselftests.py status KTAP_LOG   "complete", or "died NAME" (the entry the
                                    guest was in), or "died -" (between two)
    kselftests.py finished KTAP_LOG the entries with a result, one line
    kselftests.py table RUNDIR      write RUNDIR/results-LABEL.tsv, table.md
    kselftests.py gate RUNDIR       exit 1 naming every test that passes on
                                    the base and not on the patched kernel
    kselftests.py brief RUNDIR      the table with one reason column, as
                                    docs/kselftests.md shows it

A run dir holds build.tsv (suite, program, built|no-build, compiler
message), boots-LABEL.txt ("BOOTDIR PLAN" per boot, in order),
crashed-LABEL.txt (entries a guest died in) and the boots. The reasons come
from configs/ksft-notes ("name<TAB>reason"; a name that is no plan entry
and no program is a row of its own, e.g. a shell script) and from what the
test printed (its KTAP skip lines). Standard library only.
"""
import os
import re
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'harness'))
import vmrc  # noqa: E402  (plans, read_lines)

NOTES = os.path.join(TOP, 'configs', 'ksft-notes')
LABELS = ('base', 'patched')
TOP_RESULT = re.compile(r'(not )?ok [0-9]+ (\S+)(?: # (.*))?$')
NESTED_TOTALS = re.compile(r'# Totals: pass:([0-9]+) fail:([0-9]+)(?: xfail:([0-9]+))?'
                           r'(?: xpass:([0-9]+))? skip:([0-9]+)(?: error:([0-9]+))?')
SKIP_RES = (re.compile(r'^\s*ok [0-9]+ (.*?)\s*# SKIP:?\s*(.*)$'),      # ok N name # SKIP why
            re.compile(r'^\s*1\.\.0 # SKIP:?\s*(.*)$'),                # 1..0 # SKIP why
            re.compile(r'^\s*# SKIP:?\s*(.*)$'),                       # # SKIP why
            re.compile(r'^\s*#? ?\[SKIP\]\s*(.*)$'))                   # [SKIP] why
NOT_OK = re.compile(r'^\s*not ok [0-9]+ (.*)$')
TIME = re.compile(r'^\s*# time: ([0-9.]+) s$')     # /bin/sysctl_set's


def segments(path):
    """[(name, result line or None, [nested lines])] of a KTAP log, and
    whether it ended with the Totals line."""
    out, cur, complete = [], None, False
    if not os.path.isfile(path):
        return out, False
    for raw in vmrc.read_lines(path):
        line = raw.rstrip('\r')
        if line.startswith('# Subtest: '):
            cur = (line[len('# Subtest: '):].strip(), [None], [])
            out.append(cur)
        elif line.startswith('# Totals:'):
            complete = True
        elif cur and TOP_RESULT.match(line):     # init's result: not indented
            cur[1][0] = line
            cur = None
        elif cur:
            cur[2].append(line)
    return [(n, r[0], nested) for n, r, nested in out], complete


def cmd_status(args):
    segs, complete = segments(args[0])
    open_ = [n for n, r, _ in segs if r is None]
    print('complete' if complete else f'died {open_[-1] if open_ else "-"}')
    return 0


def cmd_finished(args):
    segs, _ = segments(args[0])
    print(' '.join(n for n, r, _ in segs if r is not None))
    return 0


def shorten(text, n=160):
    text = ' '.join(re.sub(r'\x1b\[[0-9;]*m', '', text).split())
    return text if len(text) <= n else text[:n - 3] + '...'


def judge(result, nested):
    """(status, detail, seconds): status pass|skip|fail|timeout; detail:
    the nested totals, the skip reasons, the first failures; seconds: how
    long the test ran, from sysctl_set's "# time:" line ('' without)"""
    m = TOP_RESULT.match(result)
    directive = m.group(3) or ''
    times = [TIME.match(l) for l in nested]
    secs = next((t.group(1) for t in times if t), '')
    nested = [l for l in nested if not TIME.match(l)]
    if not m.group(1):
        status = 'skip' if directive.startswith('SKIP') else 'pass'
    else:
        status = 'timeout' if directive.startswith('TIMEOUT') else 'fail'
    parts = []
    totals = [NESTED_TOTALS.search(l) for l in nested]
    totals = [t for t in totals if t]
    if totals:
        p = [sum(int(t.group(i) or 0) for t in totals) for i in (1, 2, 5)]
        parts.append(f'subtests pass {p[0]} fail {p[1]} skip {p[2]}')
    if status in ('fail', 'timeout') and directive:
        parts.append(directive)
    skips = []
    for l in nested:
        for r in SKIP_RES:
            s = r.match(l)
            if s:
                why = ' '.join(g for g in s.groups() if g).strip()
                if why and why not in skips:
                    skips.append(why)
                break
    if skips:
        more = f' (+{len(skips) - 3} more)' if len(skips) > 3 else ''
        parts.append('skipped: ' + '; '.join(shorten(s, 90) for s in skips[:3]) + more)
    fails = []
    for l in nested:
        f = NOT_OK.match(l)
        if f and f.group(1) not in fails:
            fails.append(f.group(1))
    if fails:
        more = f' (+{len(fails) - 3} more)' if len(fails) > 3 else ''
        parts.append('not ok: ' + '; '.join(shorten(f, 90) for f in fails[:3]) + more)
    if status in ('fail', 'timeout', 'skip') and not skips and not fails:
        last = [l.strip() for l in nested if l.strip()
                and not re.match(r'(ok |# Totals:|1\.\.|K?TAP version|# Planned tests|# /proc/|# /sys/)', l.strip())]
        loud = [l for l in last if re.search(r'bail out|fail|error|assert', l, re.I)]
        if loud or last:
            parts.append('said: ' + shorten((loud or last)[-1], 140))
    return status, ' | '.join(parts), secs


def boot_dirs(run, label):
    """[(boot dir, plan)] of one kernel in order: boots-LABEL.txt, else
    (a run still going) its boot-N directories"""
    boots = os.path.join(run, f'boots-{label}.txt')
    out = []
    if os.path.isfile(boots):
        out = [tuple(l.split()[:2]) for l in vmrc.read_lines(boots) if l.strip()]
    d = os.path.join(run, f'{label}-KSFT')
    if os.path.isdir(d):
        extra = sorted((int(n[5:]), os.path.join(d, n)) for n in os.listdir(d)
                       if re.fullmatch(r'boot-[0-9]+', n))
        known = {b for b, _ in out}
        out += [(b, '?') for _, b in extra if b not in known]
    return out


def label_results(run, label):
    """{test: (status, detail, seconds)} for one kernel, over all its boots"""
    res = {}
    boots = boot_dirs(run, label)
    if not boots:
        return None
    for bdir, _ in boots:
        segs, _ = segments(os.path.join(bdir, 'ktap.log'))
        for name, result, nested in segs:
            if result is not None:
                res[name] = judge(result, nested)
            elif name not in res and not os.path.isfile(os.path.join(bdir, 'boot.status')):
                res[name] = ('running', 'the boot is still going', '')
            elif name not in res:
                res[name] = ('crash', 'the guest died or hung in it: ' + rel(bdir), '')
    return res


def rel(path):
    return vmrc.rel_to_top(os.path.abspath(path))


def load_notes():
    notes = {}
    if os.path.isfile(NOTES):
        for line in vmrc.read_lines(NOTES):
            if line.strip() and not line.startswith('#'):
                name, _, why = line.partition('\t')
                notes[name.strip()] = why.strip()
    return notes


def plan_of(run):
    for label in LABELS:
        boots = boot_dirs(run, label)
        if boots and boots[0][1] != '?':
            return boots[0][1]
    return 'kselftests'


def cell(text):
    return text.replace('|', '\\|')


def cmd_table(args):
    run = args[0]
    notes = load_notes()
    tests = vmrc.load_plan(plan_of(run))
    results = {l: label_results(run, l) for l in LABELS}
    rows = []
    for label, res in results.items():
        if res is None:
            continue
        with open(os.path.join(run, f'results-{label}.tsv'), 'w', encoding='utf-8') as f:
            for t in tests:
                st, det, secs = res.get(t.name, ('not-run', '', ''))
                f.write(f'{t.name}\t{st}\t{secs}\t{det}\n')
    for t in tests:
        cells = []
        for label in LABELS:
            res = results[label]
            cells.append(res.get(t.name, ('not-run', '', '')) if res is not None else ('-', '', ''))
        rows.append((t.name, cells, notes.get(t.name, '')))
    # the programs that were not built, and the notes' own rows (scripts)
    named = {t.name for t in tests}
    progs_run = {t.argv[-1].split('/')[-1] for t in tests} | {a.split('/')[-1] for t in tests for a in t.argv}
    build = os.path.join(run, 'build.tsv')
    extra = []
    if os.path.isfile(build):
        for line in vmrc.read_lines(build):
            w = line.split('\t')
            if len(w) >= 3 and w[2] == 'no-build':
                extra.append((w[1], 'not built', notes.get(w[1], '') or ('build: ' + (w[3] if len(w) > 3 else ''))))
            elif len(w) >= 3 and w[1] not in named and w[1] not in progs_run:
                extra.append((w[1], 'not run', notes.get(w[1], '')))
    for name, why in notes.items():
        if name not in named and name not in [e[0] for e in extra]:
            extra.append((name, 'not run', why))
    out = ['| test | base | patched | seconds (base / patched) | base: what it printed | patched: what it printed | why (skips, base failures) |',
           '|---|---|---|---|---|---|---|']
    for name, cells, why in rows:
        (bs, bd, bt), (ps, pd, pt) = cells
        secs = f'{bt or "-"} / {pt or "-"}'
        out.append(f'| {cell(name)} | {bs} | {ps} | {secs} | {cell(bd)} | {cell(pd)} | {cell(why)} |')
    for name, st, why in extra:
        out.append(f'| {cell(name)} | {st} | {st} | | | | {cell(why)} |')
    counts = []
    for label in LABELS:
        res = results[label]
        if res is None:
            continue
        c = {}
        for name, cells, _ in rows:
            s = cells[LABELS.index(label)][0]
            c[s] = c.get(s, 0) + 1
        counts.append(f'{label}: ' + ', '.join(f'{k} {v}' for k, v in sorted(c.items())))
    boots = []
    for label in LABELS:
        for bdir, bplan in boot_dirs(run, label):
            v = os.path.join(bdir, 'verdict')
            verdict = vmrc.read_lines(v) if os.path.isfile(v) else ['(no verdict)']
            st = os.path.join(bdir, 'boot.status')
            status = ', '.join(vmrc.read_lines(st)) if os.path.isfile(st) else '(no boot.status)'
            splats = [l for l in verdict if l.startswith('splat:') or l.startswith('boot:')]
            boots.append(f'- {label} {rel(bdir)} ({bplan}): {status}'
                         + ''.join(f'\n  - {s}' for s in splats))
    text = ('# mm selftests: base vs patched (scenario KSFT)\n\n'
            + '\n'.join(f'- {c}' for c in counts) + '\n\n'
            + '\n'.join(out) + '\n\n## Boots\n\n' + '\n'.join(boots) + '\n')
    vmrc.write_text(os.path.join(run, 'table.md'), text)
    print(text)
    return 0


def cmd_brief(args):
    """the table as docs/kselftests.md shows it: one reason per row (the
    note, else what the test printed, else its subtest count)"""
    run = args[0]
    notes = load_notes()
    tests = vmrc.load_plan(plan_of(run))
    res = {l: label_results(run, l) or {} for l in LABELS}
    live = any(v[0] == 'running' for r in res.values() for v in r.values())
    print('| test | base | patched | seconds (base / patched) | why: skips, failures, what it tested |')
    print('|---|---|---|---|---|')
    for t in tests:
        b = res['base'].get(t.name, ('not-run', '', ''))
        p = res['patched'].get(t.name, ('not-run', '', ''))
        if b[0] in ('not-run', 'running') and p[0] in ('not-run', 'running'):
            why = 'not reached yet: the boots were still going' if live else 'not run'
        elif notes.get(t.name):
            why = notes[t.name]
        elif b[0] == 'pass' and p[0] == 'pass':
            why = b[1] or 'passes'
        else:
            why = b[1] or p[1] or 'passes'
        print(f'| {cell(t.name)} | {b[0]} | {p[0]} | {b[2] or "-"} / {p[2] or "-"} | {cell(why)} |')
    named = {t.name for t in tests}
    build = os.path.join(run, 'build.tsv')
    shown = set()
    if os.path.isfile(build):
        for line in vmrc.read_lines(build):
            w = line.split('\t')
            if len(w) >= 3 and w[2] == 'no-build':
                shown.add(w[1])
                print(f'| {cell(w[1])} | not built | not built | | {cell(notes.get(w[1], "build: " + (w[3] if len(w) > 3 else "")))} |')
    for name, why in notes.items():
        if name not in named and name not in shown:
            print(f'| {cell(name)} | not run | not run | | {cell(why)} |')
    return 0


def cmd_gate(args):
    run = args[0]
    base, patched = label_results(run, 'base'), label_results(run, 'patched')
    if base is None or patched is None:
        print('gate: needs both kernels (one was not booted)')
        return 0
    bad = [n for n, (s, _, _) in base.items()
           if s == 'pass' and patched.get(n, ('not-run',))[0] not in ('pass', 'skip')]
    for n in bad:
        p = patched.get(n, ('not-run', '', ''))
        print(f'REGRESSION: {n}: passes on the base, {p[0]} on the patched kernel: {p[1]}')
    if not bad:
        print('gate: no test passes on the base and fails on the patched kernel')
    return vmrc.E_TEST if bad else 0


COMMANDS = {'status': cmd_status, 'finished': cmd_finished, 'table': cmd_table, 'gate': cmd_gate,
            'brief': cmd_brief}

if __name__ == '__main__':
    if len(sys.argv) < 3 or sys.argv[1] not in COMMANDS:
        sys.exit('usage: kselftests.py status|finished KTAP_LOG | table|gate RUNDIR')
    try:
        sys.exit(COMMANDS[sys.argv[1]](sys.argv[2:]))
    except vmrc.Die as e:
        print(f'error: {e.message}', file=sys.stderr)
        sys.exit(e.code)
