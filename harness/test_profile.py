#!/usr/bin/python3
"""Unit tests of harness/profile.py on canned profiles (run by make check)."""
import contextlib
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import profile as prof  # noqa: E402  (harness/profile.py, not the stdlib's)

SYSTEM_MAP = """\
ffffffff81000000 T _stext
ffffffff81000100 T alpha
ffffffff81000200 t beta
ffffffff81000300 D not_text
ffffffff81000400 T gamma
"""


def boot(d, ops, regions):
    """A boot dir: ops [(name, n)], regions [[(vaddr, insns, execs)]]"""
    os.makedirs(d)
    with open(os.path.join(d, 'System.map'), 'w') as f:
        f.write(SYSTEM_MAP)
    with open(os.path.join(d, 'ktap.log'), 'w') as f:
        f.write('KTAP version 1\n1..1\n# Subtest: x\n')
        for name, n in ops:
            f.write(f'    # bench: {name} ns/op 1 5.0\n    # profile-ops: {name} {n}\r\n')
        f.write('ok 1 x\n')
    with open(os.path.join(d, 'insn_profile.txt'), 'w') as f:
        for i, r in enumerate(regions, 1):
            f.write(f'region {i}\n')
            for va, n, ex in r:
                f.write(f'{va:x} {n} {ex}\n')
            f.write(f'end {i}\n')
    return d


class Profile(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def test_attribution(self):
        d = boot(os.path.join(self.dir, 'b'), [('mmap', 10)], [[
            (0xffffffff81000100, 4, 10),   # alpha's entry: 10 calls
            (0xffffffff81000120, 3, 20),   # inside alpha: not a call
            (0xffffffff81000210, 5, 10),   # inside beta, never entered at its start
            (0xffffffff81000310, 2, 1),    # after a data symbol: still beta's text
            (0x401000, 7, 10),             # user space
        ]])
        got = prof.load(d)['mmap']
        self.assertEqual(got[0], 10)
        self.assertEqual(got[1]['alpha'], (10, 4 * 10 + 3 * 20))
        self.assertEqual(got[1]['beta'], (0, 5 * 10 + 2))
        self.assertEqual(got[1]['(user)'], (0, 70))

    def test_blocks_translated_twice_add_up(self):
        d = boot(os.path.join(self.dir, 'b'), [('brk', 1)], [[
            (0xffffffff81000400, 2, 3), (0xffffffff81000400, 2, 4)]])
        self.assertEqual(prof.load(d)['brk'][1]['gamma'], (7, 14))

    def test_regions_pair_with_ops_in_order(self):
        d = boot(os.path.join(self.dir, 'b'), [('a', 1), ('b', 2)], [
            [(0xffffffff81000100, 1, 1)], [(0xffffffff81000400, 1, 6)]])
        got = prof.load(d)
        self.assertEqual(set(got['a'][1]), {'alpha'})
        self.assertEqual(got['b'][1]['gamma'], (6, 6))

    def test_missing_region_fails(self):
        d = boot(os.path.join(self.dir, 'b'), [('a', 1), ('b', 2)], [
            [(0xffffffff81000100, 1, 1)]])
        with self.assertRaises(prof.Fail):
            prof.load(d)

    def test_table_per_op_and_delta(self):
        base = boot(os.path.join(self.dir, 'base'), [('m', 10)], [[
            (0xffffffff81000100, 10, 20), (0xffffffff81000200, 5, 10)]])
        patched = boot(os.path.join(self.dir, 'patched'), [('m', 20)], [[
            (0xffffffff81000100, 10, 20), (0xffffffff81000400, 2, 20)]])
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            self.assertEqual(prof.main([base, patched]), 0)
        text = out.getvalue()
        # per op: alpha 20 -> 10, beta 5 -> 0, gamma 0 -> 2; totals 25 -> 12
        self.assertIn('base 25.0, patched 12.0, delta -13.0 (-52.00%)', text)
        self.assertIn('| `alpha` | 2.000 | 1.000 | 20.0 | 10.0 | -10.0 |', text)
        self.assertIn('| `beta` | 1.000 | 0 | 5.0 | 0 | -5.0 |', text)
        self.assertIn('| `gamma` | 0 | 1.000 | 0 | 2.0 | +2.0 |', text)
        lines = [x for x in text.splitlines() if x.startswith('| `')]
        self.assertEqual(lines[0].split('`')[1], 'alpha')   # largest |delta| first

    def test_one_sided_bench_fails(self):
        base = boot(os.path.join(self.dir, 'base'), [('m', 1)], [[(0xffffffff81000100, 1, 1)]])
        patched = boot(os.path.join(self.dir, 'patched'), [('n', 1)], [[(0xffffffff81000100, 1, 1)]])
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(prof.main([base, patched]), 1)

    def test_usage(self):
        with contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(prof.main([]), 2)
            self.assertEqual(prof.main(['--top', 'x', 'a', 'b']), 2)


if __name__ == '__main__':
    unittest.main()
