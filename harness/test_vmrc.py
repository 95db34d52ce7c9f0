"""Unit tests of harness/vmrc.py on the canned data of tests/ and on small
inputs made here. Run: /usr/bin/python3 -m unittest discover -s harness
(bin/check runs it as one step of its harness self-tests)."""
import glob
import io
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from contextlib import redirect_stderr, redirect_stdout

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import vmrc  # noqa: E402

TOP = vmrc.TOP
TESTS = os.path.join(TOP, 'tests')


def ktap(text):
    return vmrc.Ktap.parse(text.split('\n'))


def run_bin(name, *args):
    """(exit code, stdout + stderr) of bin/NAME."""
    p = subprocess.run([os.path.join(TOP, 'bin', name), *args], capture_output=True, text=True)
    return p.returncode, p.stdout + p.stderr


class TempDir(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, self.tmp)

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, 'w') as f:
            f.write(text)
        return path


class Plans(TempDir):
    def load(self, name):
        return vmrc.load_plan(name, [os.path.join(self.tmp, 'plans')])

    def assertBad(self, name, message):
        with self.assertRaises(vmrc.Die) as e:
            self.load(name)
        self.assertEqual(e.exception.code, vmrc.E_USAGE)
        self.assertIn(message, e.exception.message)

    def test_include_is_resolved_in_place(self):
        self.write('plans/a.plan', '# comment\n\nfirst 5 /bin/x -d 1\n@include b\nlast 0 /bin/z\n')
        self.write('plans/b.plan', '  middle   10   /bin/y  a  b\n')
        self.assertEqual([t.line() for t in self.load('a')],
                         ['first 5 /bin/x -d 1', 'middle 10 /bin/y a b', 'last 0 /bin/z'])

    def test_project_plans(self):
        dirs = [os.path.join(TOP, 'guest', 'runner', 'plans')]
        names = vmrc.plan_names(dirs)
        self.assertIn('check', names)
        for name in names:
            self.assertTrue(vmrc.load_plan(name, dirs), name)
        check = vmrc.load_plan('check', dirs)
        self.assertEqual(check[0].name, 'kunit')
        self.assertEqual(check[1:], vmrc.load_plan('stress', dirs))

    def test_unknown_plan(self):
        self.write('plans/a.plan', 'x 1 /bin/x\n')
        self.assertBad('nope', "unknown plan 'nope' (known: a)")
        self.assertBad('../plans/a', "unknown plan '../plans/a'")

    def test_unknown_include_names_the_line(self):
        self.write('plans/a.plan', 'x 1 /bin/x\n@include gone\n')
        self.assertBad('a', "a.plan:2: unknown plan 'gone'")

    def test_include_cycle(self):
        self.write('plans/a.plan', '@include b\n')
        self.write('plans/b.plan', '@include a\n')
        self.assertBad('a', "plan 'a' includes itself: a -> b -> a")

    def test_bad_lines(self):
        for text in ('x 10\n', 'x ten /bin/x\n', 'x -1 /bin/x\n', '@include\n', '@include a b\n'):
            with self.subTest(text=text):
                self.write('plans/bad.plan', text)
                self.assertBad('bad', 'bad.plan:1:')

    def test_duplicate_name(self):
        self.write('plans/a.plan', 'x 1 /bin/x\n@include b\n')
        self.write('plans/b.plan', 'x 2 /bin/y\n')
        self.assertBad('a', "test 'x' twice")

    def test_flatten(self):
        plans = os.path.join(self.tmp, 'plans')
        self.write('plans/a.plan', 'first 5 /bin/x\n@include b\n')
        self.write('plans/b.plan', 'second 10 /bin/y -d 3\n')
        stale = self.write('flat/old.plan', 'gone 1 /bin/gone\n')
        flat = os.path.join(self.tmp, 'flat')
        vmrc.flatten_plans(flat, [plans])
        self.assertFalse(os.path.exists(stale))
        self.assertEqual(sorted(os.listdir(flat)), ['a.plan', 'b.plan'])
        with open(os.path.join(flat, 'a.plan')) as f:
            text = f.read()
        self.assertNotIn('@include', text)
        self.assertEqual([t.line() for t in vmrc.load_plan('a', [flat])],
                         [t.line() for t in vmrc.load_plan('a', [plans])])

    def test_bin_run_messages(self):
        rc, out = run_bin('run', 'PLAIN', 'nope')
        self.assertEqual((rc, "error: unknown plan 'nope'" in out), (2, True), out)
        rc, out = run_bin('run', 'PLAIN', 'check', 'no_such_prog')
        self.assertEqual((rc, "plan 'check' has no test 'no_such_prog'" in out), (2, True), out)


class KtapCanned(unittest.TestCase):
    def test_canned_logs(self):
        logs = sorted(glob.glob(os.path.join(TESTS, 'ktap', '*.log')))
        self.assertGreaterEqual(len(logs), 13)
        for log in logs:
            with self.subTest(log=os.path.basename(log)):
                self.assertEqual(vmrc.selftest_ktap(log), [])

    def test_a_wrong_expectation_is_reported(self):
        tmp = tempfile.mkdtemp()
        self.addCleanup(shutil.rmtree, tmp)
        shutil.copy(os.path.join(TESTS, 'ktap', 'nested_fail.log'), tmp)
        with open(os.path.join(tmp, 'nested_fail.expect'), 'w') as f:
            f.write('fail\nfailed check: norace_mprotect: not ok 1 data intact\n')
        self.assertIn('expected in output: failed check: norace_mprotect: not ok 1 data intact',
                      vmrc.selftest_ktap(os.path.join(tmp, 'nested_fail.log')))


PASS = 'KTAP version 1\n1..2\n# Subtest: a\n    # hello\nok 1 a\nok 2 b # SKIP\n# Totals: pass:1 fail:0 skip:1\n'


class KtapTopLevel(unittest.TestCase):
    def test_complete_log_passes(self):
        k = ktap(PASS)
        self.assertTrue(k.ok, k.report())
        self.assertEqual(k.report(), ['ktap: 2 planned, 1 ok, 0 not ok, 1 skipped'])

    def test_crlf(self):
        self.assertTrue(ktap(PASS.replace('\n', '\r\n')).ok)

    def test_not_ok_fails_even_with_skip(self):
        k = ktap(PASS.replace('ok 2 b # SKIP', 'not ok 2 b # SKIP').replace('fail:0 skip:1', 'fail:1 skip:0'))
        self.assertEqual(k.report(), ['ktap: 2 planned, 1 ok, 1 not ok, 0 skipped', 'failed: not ok 2 b # SKIP'])

    def test_totals_must_be_last_and_agree(self):
        self.assertIn('missing final Totals line', ktap(PASS + '# after\n').problems)
        k = ktap(PASS.replace('pass:1', 'pass:2'))
        self.assertEqual(k.problems, ['Totals line disagrees with the results: # Totals: pass:2 fail:0 skip:1'])

    def test_missing_result_header_and_plan(self):
        self.assertIn('only 1 of 2 results (guest died or hung)', ktap(PASS.replace('ok 2 b # SKIP\n', '')).problems)
        self.assertEqual(ktap(PASS.replace('KTAP version 1\n', '')).problems, ['no KTAP header'])
        self.assertEqual(ktap(PASS.replace('KTAP version 1', 'TAP version 13')).problems, ['no KTAP header'])
        self.assertEqual(ktap(PASS.replace('1..2\n', '')).problems, ['no plan line'])
        self.assertIn('empty plan: 1..0 # SKIP', ktap('KTAP version 1\n1..0 # SKIP\n').problems)

    def test_out_of_order(self):
        k = ktap(PASS.replace('ok 2 b', 'ok 3 b'))
        self.assertEqual(k.problems[0], 'result 3 out of order after 1')

    def test_indented_results_do_not_count_at_the_top(self):
        k = ktap(PASS.replace('    # hello', '    ok 1 check'))
        self.assertTrue(k.ok, k.report())
        self.assertEqual((k.passed, k.skipped), (1, 1))


def nested(body, result='ok 1 prog'):
    """A complete log of one program whose output is BODY."""
    fail, skip = result.startswith('not ok'), '# SKIP' in result
    totals = f'# Totals: pass:{int(not fail and not skip)} fail:{int(fail)} skip:{int(skip and not fail)}'
    return f'KTAP version 1\n1..1\n# Subtest: prog\n{body}\n{result}\n{totals}\n'


class KtapNested(unittest.TestCase):
    def test_passing_checks(self):
        k = ktap(nested('    TAP version 13\n    1..2\n    ok 1 data intact\n    ok 2 # SKIP no counters'))
        self.assertTrue(k.ok, k.report())
        sub = k.top.results[0].subtests
        self.assertEqual((sub.plan, [r.name for r in sub.results]), (2, ['data intact', '']))

    def test_failing_check_is_named(self):
        k = ktap(nested('    1..2\n    ok 1 data intact\n    # why\n    not ok 2 race exercised',
                        'not ok 1 prog # exit 1'))
        self.assertEqual(k.report(), ['ktap: 1 planned, 0 ok, 1 not ok, 0 skipped',
                                      'failed: not ok 1 prog # exit 1',
                                      'failed check: prog: not ok 2 race exercised'])

    def test_failing_check_under_an_ok_result_fails(self):
        k = ktap(nested('  KTAP version 1\n  1..1\n  not ok 1 leak'))
        self.assertFalse(k.ok)
        self.assertEqual(k.failures, ['failed check: prog: not ok 1 leak'])

    def test_deeper_nesting_names_the_path(self):
        k = ktap(nested('    1..1\n        ok 1 case_a\n        not ok 2 case_b\n    not ok 1 vma_lock'))
        self.assertEqual(k.failures, ['failed check: prog: not ok 1 vma_lock',
                                      'failed check: prog: vma_lock: not ok 2 case_b'])
        self.assertEqual([(p, r.name) for p, r in k.failed_checks],
                         [(['prog'], 'vma_lock'), (['prog', 'vma_lock'], 'case_b')])

    def test_missing_checks(self):
        k = ktap(nested('    1..3\n    ok 1 a\n    ok 2 b'))
        self.assertEqual(k.problems, ['prog: only 2 of 3 checks'])
        self.assertEqual(k.summary(), 'ktap: 1 planned, 1 ok, 0 not ok, 0 skipped, 1 problem(s)')

    def test_a_skipped_test_may_stop_short(self):
        k = ktap(nested('    1..3\n    ok 1 # SKIP no tracefs', 'ok 1 prog # SKIP'))
        self.assertTrue(k.ok, k.report())
        k = ktap(nested('    1..3\n    ok 1 # SKIP no tracefs', 'ok 1 prog'))
        self.assertEqual(k.problems, ['prog: only 1 of 3 checks'])

    def test_nested_out_of_order(self):
        self.assertEqual(ktap(nested('    1..2\n    ok 2 b\n    ok 1 a')).problems,
                         ['prog: check 2 out of order after ', 'prog: check 1 out of order after 2',
                          'prog: only 1 of 2 checks'])

    def test_checks_of_a_test_that_never_ended(self):
        k = ktap('KTAP version 1\n1..2\nok 1 a\n# Subtest: racer\n    1..2\n    not ok 1 hits\n')
        self.assertIn('failed check: racer: not ok 1 hits', k.failures)
        self.assertIn('racer: only 1 of 2 checks', k.problems)
        self.assertIn('only 1 of 2 results (guest died or hung)', k.problems)

    def test_diagnostics_between_subtest_runs_keep_every_check(self):
        k = ktap(nested('    1..3\n    ok 1 a\n# a line of init\n    not ok 2 b\n# another\n    ok 3 c'))
        self.assertEqual(k.failures, ['failed check: prog: not ok 2 b'])
        self.assertEqual(k.problems, [])


class Console(TempDir):
    def scan(self, text, benign=''):
        log = self.write('c.log', text)
        return vmrc.scan_console(log, vmrc.load_patterns(vmrc.SPLATS),
                                 vmrc.load_benign(self.write('benign', benign)))

    def test_canned_logs(self):
        logs = sorted(glob.glob(os.path.join(TESTS, 'console', '*.log')))
        self.assertGreaterEqual(len(logs), 15)
        for log in logs:
            with self.subTest(log=os.path.basename(log)):
                self.assertEqual(vmrc.selftest_console(log), [])

    def test_counts_and_first_line(self):
        splats = self.scan('[    1.000000] refcount_t: underflow; use-after-free.\r\n'
                           '[    2.5] refcount_t: saturated; leaking memory.\n')
        self.assertEqual([s.line() for s in splats], ['refcount 2 | refcount_t: underflow; use-after-free.'])

    def test_a_line_counts_once_in_its_first_category(self):
        splats = self.scan('WARNING: CPU: 0 PID: 1 at mm/x.c:1 f\nkernel BUG at mm/x.c:2!\n')
        self.assertEqual([(s.category, s.count) for s in splats], [('warning', 1), ('bug', 1)])

    def test_default_lists(self):
        # bin/scan-console without PATTERNS and BENIGN reads configs/console/
        self.assertEqual(vmrc.SPLATS, os.path.join(TOP, 'configs', 'console', 'splats'))
        self.assertEqual(vmrc.BENIGN, os.path.join(TOP, 'configs', 'console', 'benign'))
        rc, out = run_bin('scan-console', os.path.join(TESTS, 'console', 'refcount.log'))
        self.assertEqual((rc, out.split('\n')[0]), (1, 'refcount 1 | refcount_t: underflow; use-after-free.'))

    def test_benign_and_clean(self):
        self.assertEqual(self.scan('WARNING: CPU: 0 PID: 1 at drivers/ok.c:1 f\n', 'drivers/ok\\.c'), [])
        self.assertEqual(self.scan('hello\n'), [])

    def test_bad_pattern_file(self):
        for text in ('nocategory-and-no-tab\n', 'cat\t(unclosed\n'):
            with self.subTest(text=text), self.assertRaises(vmrc.Die) as e:
                vmrc.load_patterns(self.write('p', text))
            self.assertEqual(e.exception.code, vmrc.E_USAGE)

    def test_bin_exit_codes(self):
        self.assertEqual(run_bin('scan-console', os.path.join(TESTS, 'console', 'clean.log')), (0, 'clean\n'))
        self.assertEqual(run_bin('scan-console', os.path.join(TESTS, 'console', 'kasan.log'))[0], 1)
        self.assertEqual(run_bin('scan-console', '/nonexistent'), (2, 'error: no console log at /nonexistent\n'))


class Verdict(TempDir):
    def boot_dir(self, ktap_text=None, case='clean'):
        d = os.path.join(self.tmp, 'boot')
        shutil.copytree(os.path.join(TESTS, 'boot', case), d)
        if ktap_text is not None:
            self.write('boot/ktap.log', ktap_text)
        return d

    def test_canned_boots(self):
        cases = sorted(glob.glob(os.path.join(TESTS, 'boot', '*')))
        self.assertGreaterEqual(len(cases), 5)
        for case in cases:
            with self.subTest(case=os.path.basename(case)):
                self.assertEqual(vmrc.selftest_boot(case), [])

    def test_pass_is_written(self):
        d = self.boot_dir()
        self.assertEqual(vmrc.judge_boot(d), ['PASS', 'ktap: 2 planned, 2 ok, 0 not ok, 0 skipped'])
        with open(os.path.join(d, 'verdict')) as f:
            self.assertEqual(f.read(), 'PASS\nktap: 2 planned, 2 ok, 0 not ok, 0 skipped\n')

    def test_no_ktap_log(self):
        d = self.boot_dir()
        os.remove(os.path.join(d, 'ktap.log'))
        self.assertEqual(vmrc.judge_boot(d)[:3], ['FAIL', 'ktap: no KTAP log', f'problem: missing {d}/ktap.log'])

    def test_failed_check(self):
        d = self.boot_dir(nested('    1..1\n    not ok 1 race exercised'))
        self.assertEqual(vmrc.judge_boot(d), ['FAIL', 'ktap: 1 planned, 1 ok, 0 not ok, 0 skipped',
                                              'failed check: prog: not ok 1 race exercised'])

    def test_hung_with_reason_and_splat(self):
        d = self.boot_dir(case='stalled')
        self.assertEqual(vmrc.judge_boot(d), [
            'FAIL', 'ktap: 0 planned, 0 ok, 0 not ok, 0 skipped, 3 problem(s)',
            'boot: hung (stall report then no test progress for 90 s)',
            'splat: hung_task 1 | INFO: task kunit_try_catch:45 blocked for more than 30 seconds.',
            'splat: call_trace 1 | Call Trace:',
            'problem: no KTAP header', 'problem: no plan line', 'problem: missing final Totals line'])


class Expect(TempDir):
    def check(self, lines, case='nested_check'):
        boot = os.path.join(self.tmp, 'boot')
        shutil.copytree(os.path.join(TESTS, 'boot', case), boot, dirs_exist_ok=True)
        path = self.write('x.expect', '\n'.join(['# a comment', ''] + lines) + '\n')
        out = io.StringIO()
        with redirect_stdout(out):
            rc = vmrc.cmd_expect([boot, path])
        return rc, out.getvalue().splitlines()

    def test_caught(self):
        rc, out = self.check(['verdict FAIL', 'not-ok not_exercised', 'not-ok-check not_exercised race exercised',
                              'boot exit', 'console ^\\[ *[0-9.]+\\] Run /init'])
        self.assertEqual(rc, 0, out)
        self.assertEqual(out[2], 'caught: not-ok-check not_exercised race exercised')

    def test_missed(self):
        wrong = ['verdict PASS', 'not-ok fault_munmap', 'not-ok-check fault_munmap race exercised',
                 'not-ok-check not_exercised data intact', 'not-ok-check not_exercised race', 'splat warning',
                 'boot hung', 'reason no progress', 'console KASAN']
        rc, out = self.check(wrong)
        self.assertEqual(rc, 1)
        self.assertEqual(out, ['MISSED: ' + w for w in wrong])

    def test_unknown_kind(self):
        with self.assertRaises(vmrc.Die) as e:
            self.check(['verdict FAIL', 'nonsense x'])
        self.assertIn("unknown expectation 'nonsense'", e.exception.message)
        with self.assertRaises(vmrc.Die):
            self.check(['not-ok-check only_a_test'])

    def test_project_expectations_parse(self):
        for path in glob.glob(os.path.join(TESTS, 'negative', '*.expect')):
            with self.subTest(path=os.path.basename(path)):
                self.assertTrue(vmrc.load_expectations(path))


class Bench(TempDir):
    EFFECTS = os.path.join(TESTS, 'bench', 'effects')

    def report(self, samples_text=None):
        run = os.path.join(self.tmp, 'run')
        os.makedirs(run)
        if samples_text is None:
            shutil.copy(os.path.join(self.EFFECTS, 'samples.csv'), run)
        else:
            self.write('run/samples.csv', samples_text)
        return run, vmrc.bench_report(run)

    def test_canned_effects(self):
        self.assertEqual(vmrc.selftest_bench(self.EFFECTS), [])

    def test_wrong_expectations_fail(self):
        bad = vmrc.selftest_bench(self.EFFECTS, os.path.join(self.EFFECTS, 'wrong.expect'))
        with open(os.path.join(self.EFFECTS, 'wrong.expect')) as f:
            wanted = [l.split()[:2] for l in f if l[0] != '#']
        self.assertEqual([l.split(':')[0].split() for l in bad[:len(wanted)]], wanted, bad)

    def test_statistics(self):
        self.assertEqual(vmrc.median([3, 1, 2]), 2)
        self.assertEqual(vmrc.median([4, 1, 2, 3]), 2.5)
        self.assertEqual(vmrc.ratio_of([100, 100], [80]), 0.8)
        self.assertEqual(vmrc.ratio_of([0], [80]), 0)
        samples = vmrc.read_samples(os.path.join(self.EFFECTS, 'samples.csv'))
        first = vmrc.summarise(samples)
        self.assertEqual(first, vmrc.summarise(samples), 'a fixed seed gives the same summary')
        for r in first:
            if r.ratio:
                self.assertTrue(float(r.lo) <= float(r.ratio) <= float(r.hi), r)

    def test_interval_is_the_2_5_and_97_5_percent_points(self):
        class Scripted:
            """Resamples: base always 1, patched 1, 2, ... 2000 in turn."""
            calls = 0

            def choices(self, population, k):
                self.calls += 1
                return [1] * k if self.calls % 2 else [self.calls // 2] * k
        self.assertEqual(vmrc.bootstrap([5, 6], [7, 8], Scripted()), (51, 1950))

    def test_report_rows(self):
        run, rows = self.report()
        with open(os.path.join(run, 'report.md')) as f:
            report = f.read().splitlines()
        self.assertEqual(report[0], f'# Benchmarks: patched / unpatched {vmrc.base_tag()}')
        slower = [r for r in rows if r.bench == 'slower'][0]
        self.assertEqual(slower.sig, '*', 'summary.csv: this run excludes 1.0')
        # one run: its interval excludes 1.0, and still no star in the table
        self.assertEqual(report.count(f'| slower | ns/op | 100 | 120 | 1.200 | '
                                      f'{float(slower.lo):.3f}-{float(slower.hi):.3f} | 5+5 |'), 1, report)
        self.assertIn('| missing | ns/op | | | missing | | 5+0 |', report)
        self.assertIn('## Wall clock (multi-threaded TCG, 2 vCPUs)', report)
        self.assertGreater(os.path.getsize(os.path.join(run, 'figure.svg')), 1000)

    def test_compare(self):
        run, rows = self.report()
        out, agree = vmrc.bench_compare(run, run)
        self.assertTrue(agree)
        self.assertEqual(out[-1], '4 of 4 rows agree (intervals overlap); in 4 each ratio is inside the other interval')
        other = os.path.join(self.tmp, 'other')
        os.makedirs(other)
        for r in rows:
            if r.bench == 'same':
                r.ratio, r.lo, r.hi = '2.0000', '1.9000', '2.1000'
        vmrc.write_csv(os.path.join(other, 'summary.csv'), rows, vmrc.Summary)
        out, agree = vmrc.bench_compare(run, other)
        self.assertFalse(agree)
        self.assertEqual([l.split()[1] for l in out if l.endswith('DISAGREE')], ['same'])

    def test_bad_samples(self):
        for text in ('mode,round,kernel,bench,unit,rep\nwall,1,base,x,ns,1\n',
                     'mode,round,kernel,bench,unit,rep,value\nwall,1,base,x,ns,1,fast\n'):
            with self.subTest(text=text), self.assertRaises(vmrc.Die) as e:
                vmrc.read_samples(self.write('s.csv', text))
            self.assertEqual(e.exception.code, vmrc.E_USAGE)
        with self.assertRaises(vmrc.Die) as e:
            self.report('mode,round,kernel,bench,unit,rep,value\n')
        self.assertEqual(e.exception.code, vmrc.E_TEST)

    def test_publish(self):
        run, _ = self.report()
        self.write('run/bench.info', 'scenario PLAIN\nplan-wall bench\nrounds 5\norder base-first\ndate D\n')
        self.write('run/lockstat.txt', 'wall r1 base: f x=1\nwall r2 base: f x=2\n')
        vmrc.bench_report(run)
        top = os.path.join(self.tmp, 'top')
        os.makedirs(os.path.join(top, 'cover'))
        with self.assertRaises(vmrc.Die) as e:      # no page to publish into
            vmrc.bench_publish(run, top=top)
        self.assertEqual(e.exception.code, vmrc.E_USAGE)
        self.write('top/docs/benchmarks.md', 'before\n<!-- bench:begin -->\nold\n<!-- bench:end -->\nafter\n')
        self.write('top/README.md', 'readme\n')
        with redirect_stderr(io.StringIO()):
            vmrc.bench_publish(run, top=top)
        with open(os.path.join(top, 'docs', 'benchmarks.md')) as f:
            page = f.read().splitlines()
        self.assertEqual((page[0], page[1], page[-2], page[-1]),
                         ('before', '<!-- bench:begin -->', '<!-- bench:end -->', 'after'))
        self.assertNotIn('old', page)
        self.assertIn('### Wall clock (multi-threaded TCG, 2 vCPUs)', page)
        self.assertIn('wall base: f x=1', page)
        self.assertNotIn('wall r2 base: f x=2', page)
        # links relative to docs/, where the page is
        self.assertIn('![ratio patched/base per benchmark](bench/figure.svg)', page)
        with open(os.path.join(top, 'README.md')) as f:
            self.assertEqual(f.read(), 'readme\n')
        with open(os.path.join(top, 'cover', 'benchmarks.md')) as f:
            cover = f.read()
        self.assertIn('  missing                  ns/op       missing', cover)
        self.assertIn('  faster                   instr/op            1003          903   0.900  [0.897-0.903]', cover)
        self.assertIn('One run only: no ratio is marked significant.', cover)
        self.assertIn('| faster | instr/op | 1003 | 903 | 0.900 | 0.897-0.903 | 5+5 |', page)
        self.assertTrue(os.path.isfile(os.path.join(top, 'docs', 'bench', 'samples.csv')))
        self.write('run/bench.info', 'plan-wall bench_smoke\n')
        with self.assertRaises(vmrc.Die):
            vmrc.bench_publish(run, top=top)


def samples_csv(boots):
    """samples.csv text from BOOTS {(mode, bench, unit, kernel): [a value
    per boot]}, one repetition per boot (so its value is the boot's)."""
    lines = ['mode,round,kernel,bench,unit,rep,value']
    for (mode, bench, unit, kernel), values in boots.items():
        lines += [f'{mode},{r},{kernel},{bench},{unit},1,{v}' for r, v in enumerate(values, 1)]
    return '\n'.join(lines) + '\n'


FLAT = [100, 101, 99, 100, 102]


def shifted(values, factor):
    return [round(v * factor, 3) for v in values]


# Two runs, one of each boot order: per row, where each interval lies
RUN_A = {   # base-first
    ('wall', 'both-below', 'ns/op', 'base'): FLAT, ('wall', 'both-below', 'ns/op', 'patched'): shifted(FLAT, 0.8),
    ('wall', 'opposite', 'ns/op', 'base'): FLAT, ('wall', 'opposite', 'ns/op', 'patched'): shifted(FLAT, 1.2),
    ('wall', 'one-across', 'ns/op', 'base'): FLAT, ('wall', 'one-across', 'ns/op', 'patched'): shifted(FLAT, 0.9),
    # patched: 70-71 and 90-92, both sides below 1.0 otherwise
    ('wall', 'split', 'ns/op', 'base'): FLAT, ('wall', 'split', 'ns/op', 'patched'): [70, 90, 71, 91, 92],
    ('icount', 'both-below', 'ns/fault', 'base'): FLAT, ('icount', 'both-below', 'ns/fault', 'patched'): shifted(FLAT, 0.8),
    ('icount', 'rate', 'hits/s', 'base'): FLAT, ('icount', 'rate', 'hits/s', 'patched'): shifted(FLAT, 1.1),
}
RUN_B = dict(RUN_A)    # patched-first
RUN_B.update({
    ('wall', 'opposite', 'ns/op', 'patched'): shifted(FLAT, 0.8),
    ('wall', 'one-across', 'ns/op', 'patched'): [90, 110, 95, 105, 100],
    ('wall', 'split', 'ns/op', 'patched'): shifted(FLAT, 0.8),
})


class BenchRules(TempDir):
    """The three rules of the tables: icount units are instructions, a star
    needs both boot orders to agree, a bimodal row is flagged, not starred."""

    def make_run(self, name, boots, order='base-first', other=None):
        d = os.path.join(self.tmp, name)
        self.write(f'{name}/samples.csv', samples_csv(boots))
        self.write(f'{name}/lockstat.txt', '')
        self.write(f'{name}/bench.info', f'scenario PLAIN\nplan-wall bench\nrounds 5\norder {order}\ndate D\n')
        vmrc.bench_report(d, other)
        return d

    def lines(self, path):
        with open(path) as f:
            return f.read().splitlines()

    def pair(self):
        b = self.make_run('b', RUN_B, 'patched-first')
        return self.make_run('a', RUN_A, 'base-first', b), b

    def interval(self, run, mode, bench):
        r = [r for r in vmrc.read_summary(os.path.join(run, 'summary.csv')) if (r.mode, r.bench) == (mode, bench)][0]
        return f'{float(r.lo):.3f}-{float(r.hi):.3f}'

    def row(self, table, bench):
        """The first table row of BENCH in TABLE (lines of a report)."""
        return next(l for l in table if l.startswith(f'| {bench} |'))

    # ---- units

    def test_units_shown(self):
        for mode, unit, shown in (('icount', 'ns/fault', 'instr/fault'), ('icount', 'hits/s', 'hits/Ginstr'),
                                  ('icount', 'ns', 'instr'), ('icount', 'B/vma', 'B/vma'),
                                  ('icount', 'us/op', 'kinstr/op'), ('wall', 'ns/op', 'ns/op'),
                                  ('wall', 'hits/s', 'hits/s')):
            with self.subTest(mode=mode, unit=unit):
                self.assertEqual(vmrc.shown_unit(mode, unit), shown)

    def test_icount_units_everywhere_but_the_csv_files(self):
        a, b = self.pair()
        report = self.lines(os.path.join(a, 'report.md'))
        icount = report[report.index(next(l for l in report if l.startswith('## Instruction count'))):]
        icount = icount[:icount.index('## Bimodal rows')]
        self.assertTrue(self.row(icount, 'both-below').startswith('| both-below | instr/fault | 100 | 80.0 |'))
        self.assertTrue(self.row(icount, 'rate').startswith('| rate | hits/Ginstr | 100 | 110 |'))
        self.assertFalse([l for l in icount if 'ns/' in l or 'hits/s' in l], icount)
        self.assertTrue(self.row(report, 'both-below').startswith('| both-below | ns/op |'), 'wall keeps ns')
        out, _ = vmrc.bench_compare(a, b)
        self.assertEqual([l.split()[:3] for l in out if l.startswith('icount')],
                         [['icount', 'both-below', 'instr/fault'], ['icount', 'rate', 'hits/Ginstr']])
        cover = vmrc.cover_section(a, vmrc.read_summary(os.path.join(a, 'summary.csv')), 'T', b)
        self.assertEqual([l.split()[:2] for l in cover[cover.index('icount:') + 2:]],
                         [['both-below', 'instr/fault'], ['rate', 'hits/Ginstr']])
        with open(os.path.join(a, 'figure.gp')) as f:
            self.assertIn("title 'icount (instructions)'", f.read())
        # the data files keep the unit the guest printed
        for name in ('samples.csv', 'summary.csv'):
            icount_units = {l.split(',')[2 if name == 'summary.csv' else 4]
                            for l in self.lines(os.path.join(a, name)) if l.startswith('icount,')}
            self.assertEqual(icount_units, {'ns/fault', 'hits/s'}, name)

    # ---- stars

    def test_mark(self):
        def row(lo, hi, base='', patched=''):
            return vmrc.Summary('wall', 'x', 'ns/op', '5', '5', '1', '1', '1', lo, hi, '', base, patched)
        below, above, across = row('0.8', '0.9'), row('1.1', '1.2'), row('0.9', '1.1')
        self.assertEqual(vmrc.mark(below, row('0.85', '0.95')), '*')
        self.assertEqual(vmrc.mark(above, row('1.01', '1.3')), '*')
        self.assertEqual(vmrc.mark(below, None), '', 'one run alone never stars')
        self.assertEqual(vmrc.mark(above, None), '')
        self.assertEqual(vmrc.mark(below, above), '', 'opposite sides')
        self.assertEqual(vmrc.mark(below, across), '')
        self.assertEqual(vmrc.mark(across, below), '')
        self.assertEqual(vmrc.mark(across, across), '')
        self.assertEqual(vmrc.mark(row('0.8', '0.9', patched='1-2 (2) | 5-6 (3)'), below), 'bimodal')
        self.assertEqual(vmrc.mark(below, row('0.8', '0.9', base='1-2 (2) | 5-6 (3)')), 'bimodal')
        self.assertEqual(vmrc.mark(row('0.8', '0.9', '?', '?'), below), '*', "'?': not checked, no flag")

    def test_one_run_stars_nothing(self):
        a = self.make_run('a', RUN_A)
        report = self.lines(os.path.join(a, 'report.md'))
        rows = vmrc.read_summary(os.path.join(a, 'summary.csv'))
        self.assertEqual([r.bench for r in rows if r.sig == '*' and r.mode == 'wall'],
                         ['both-below', 'opposite', 'one-across', 'split'], 'each excludes 1.0 in this run')
        self.assertFalse([l for l in report if l.startswith('| ') and '*' in l], report)
        self.assertIn('One run only: no ratio is starred, whatever its interval. A star needs a', report)
        self.assertEqual(self.row(report, 'opposite'),
                         f"| opposite | ns/op | 100 | 120 | 1.200 | {self.interval(a, 'wall', 'opposite')} | 5+5 |")
        cover = vmrc.cover_section(a, rows, 'T')
        self.assertFalse([l for l in cover if l.startswith('  ') and '*' in l], cover)

    def test_two_runs_star_only_what_both_show(self):
        a, b = self.pair()
        report = self.lines(os.path.join(a, 'report.md'))
        self.assertIn('| benchmark | unit | base | patched | ratio (base-first) | 95% interval '
                      '| ratio (patched-first) | 95% interval | boots |', report)
        starred = [l.split(' | ')[0][2:] + ' ' + l.split(' | ')[4] for l in report if l.startswith('| ') and '*' in l]
        self.assertEqual(starred, ['both-below **0.800** *', 'both-below **0.800** *', 'rate **1.100** *'], report)
        self.assertEqual(self.row(report, 'opposite'),
                         f"| opposite | ns/op | 100 | 120 | 1.200 | {self.interval(a, 'wall', 'opposite')} "
                         f"| 0.800 | {self.interval(b, 'wall', 'opposite')} | 5+5 / 5+5 |")
        self.assertIn('| one-across | ns/op | 100 | 90.0 | 0.900 |', self.row(report, 'one-across'))
        out, agree = vmrc.bench_compare(a, b)
        marks = {l.split()[1]: l.split(']')[2][2:9].strip() for l in out if l.startswith('wall')}
        self.assertEqual(marks, {'both-below': '*', 'opposite': '', 'one-across': '', 'split': 'bimodal'}, out)
        self.assertIn('mark: 3 rows * (both intervals exclude 1.0 on the same side), 1 bimodal', out)
        cover = vmrc.cover_section(a, vmrc.read_summary(os.path.join(a, 'summary.csv')), 'T', b)
        self.assertEqual([l.split()[0] for l in cover if l.startswith('  ') and '*' in l],
                         ['both-below', 'both-below', 'rate'])

    def test_the_second_run_must_have_the_other_order(self):
        b = self.make_run('b', RUN_B, 'base-first')
        for order in ('base-first', 'unknown'):
            with self.subTest(order=order), self.assertRaises(vmrc.Die) as e:
                self.make_run('a' + order, RUN_A, order, b)
            self.assertEqual(e.exception.code, vmrc.E_USAGE)
            self.assertIn('the second run must have the other boot order', e.exception.message)
        self.assertFalse(os.path.exists(os.path.join(self.tmp, 'abase-first', 'summary.csv')),
                         'checked before anything is written')

    def test_publish_two_runs_then_one(self):
        a, b = self.pair()
        top = os.path.join(self.tmp, 'top')
        os.makedirs(os.path.join(top, 'cover'))
        self.write('top/docs/benchmarks.md', 'before\n<!-- bench:begin -->\n<!-- bench:end -->\n')
        with redirect_stderr(io.StringIO()):
            vmrc.bench_publish(a, b, top)
        page = self.lines(os.path.join(top, 'docs', 'benchmarks.md'))
        published = os.path.join(top, 'docs', 'bench')
        self.assertEqual([l.split(' | ')[0][2:] for l in page if l.startswith('| ') and '*' in l],
                         ['both-below', 'both-below', 'rate'])
        self.assertIn('| rate | hits/Ginstr | 100 | 110 | **1.100** * |', self.row(page, 'rate'))
        self.assertEqual(self.lines(os.path.join(published, 'summary-patched-first.csv')),
                         self.lines(os.path.join(b, 'summary.csv')))
        self.assertTrue(os.path.isfile(os.path.join(published, 'samples-patched-first.csv')))
        self.assertIn('mark: 3 rows * (both intervals exclude 1.0 on the same side), 1 bimodal',
                      self.lines(os.path.join(published, 'compare.txt')))
        with redirect_stderr(io.StringIO()):
            vmrc.bench_publish(a, top=top)
        page = self.lines(os.path.join(top, 'docs', 'benchmarks.md'))
        self.assertFalse([l for l in page if l.startswith('| ') and '*' in l])
        self.assertIn('One run only: no ratio is starred, whatever its interval. A star needs a', page)
        self.assertEqual(sorted(os.listdir(published)), ['bench.info', 'figure.svg', 'lockstat.txt', 'report.md',
                                                         'samples.csv', 'summary.csv'], 'the second run is gone')

    # ---- bimodal rows

    def test_bimodal_criterion(self):
        g = vmrc.bimodal_groups
        self.assertEqual(g([13, 10.1, 10, 13.1, 10.2]), ([10, 10.1, 10.2], [13, 13.1]))
        self.assertEqual(g([10, 10.2, 13, 13.1]), ([10, 10.2], [13, 13.1]))
        self.assertIsNone(g([10, 10.1, 10.2, 10.3, 13]), 'one odd boot: an outlier, not a mode')
        self.assertIsNone(g([100, 100.1, 100.2, 105, 105.1]), 'gap 4.8 is under 10% of the median 100.2')
        self.assertEqual(g([100, 100.1, 100.2, 105, 105.1], rel=0.04), ([100, 100.1, 100.2], [105, 105.1]))
        self.assertIsNone(g([10, 11, 12, 13.5, 15]), 'gap 1.5 is not wider than the ranges 2 + 1.5')
        self.assertIsNone(g([10, 10, 13]), 'fewer than 4 boots')
        self.assertIsNone(g([195, 195, 195, 195, 195]))
        self.assertEqual(vmrc.groups_text(([70, 71], [90, 91, 92.5])), '70-71 (2) | 90-92.5 (3)')
        self.assertEqual(vmrc.groups_text(None), '')

    def test_bimodal_row_is_flagged_not_starred(self):
        a, b = self.pair()
        split = [r for r in vmrc.read_summary(os.path.join(a, 'summary.csv')) if r.bench == 'split'][0]
        self.assertEqual((split.bimodal_base, split.bimodal_patched, vmrc.side(split)), ('', '70-71 (2) | 90-92 (3)', -1))
        report = self.lines(os.path.join(a, 'report.md'))
        self.assertEqual(self.row(report, 'split'),
                         f"| split | ns/op | 100 | 90.0 | 0.900 bimodal | {self.interval(a, 'wall', 'split')} "
                         f"| 0.800 | {self.interval(b, 'wall', 'split')} | 5+5 / 5+5 |")
        self.assertIn('- wall split, patched (base-first run), ns/op: 70-71 (2) | 90-92 (3)', report)
        # the flag of either run counts: B's row alone would be starred
        b_split = [r for r in vmrc.read_summary(os.path.join(b, 'summary.csv')) if r.bench == 'split'][0]
        self.assertEqual((vmrc.mark(b_split, split), vmrc.mark(split, b_split)), ('bimodal', 'bimodal'))
        single = self.lines(os.path.join(self.make_run('c', RUN_A), 'report.md'))
        self.assertIn('0.900 bimodal', self.row(single, 'split'))

    def test_a_summary_from_before_the_check_is_not_checked(self):
        a, b = self.pair()
        old = self.lines(os.path.join(b, 'summary.csv'))
        self.write('b/summary.csv', '\n'.join(l.rsplit(',', 2)[0] for l in old) + '\n')
        rows = vmrc.read_summary(os.path.join(b, 'summary.csv'))
        self.assertEqual({(r.bimodal_base, r.bimodal_patched) for r in rows}, {('?', '?')})
        vmrc.bench_report(a, b)
        report = self.lines(os.path.join(a, 'report.md'))
        self.assertIn('- patched-first run: not checked (its summary.csv has no per-boot groups: '
                      'made before the check, or without samples)', report)
        out, _ = vmrc.bench_compare(a, b)
        self.assertIn('not checked for bimodality (no per-boot groups in its summary.csv): B', out)


class Wrappers(unittest.TestCase):
    def test_usage(self):
        for name in ('parse-ktap', 'verdict', 'scan-console', 'expect', 'bench-report', 'bench-compare',
                     'bench-publish', 'selftest'):
            with self.subTest(name=name):
                rc, out = run_bin(name)
                self.assertEqual(rc, 2)
                self.assertTrue(out.startswith(f'error: usage: bin/{name} '), out)

    def test_not_a_canned_case(self):
        self.assertEqual(run_bin('selftest', TOP)[0], 2)


if __name__ == '__main__':
    unittest.main()
