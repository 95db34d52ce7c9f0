#!/usr/bin/python3
"""profile.py - instructions per kernel function, base vs patched ('make profile').

Usage: harness/profile.py [--top N] BASE_DIR PATCHED_DIR

Each DIR is one profile boot (bin/profile): ktap.log (the "profile-ops:"
lines of guest/bench/bench.c, profile=1), insn_profile.txt (the regions
that the QEMU plugin harness/qemu/insn_profile.c counted: one "VADDR INSNS
EXECS" line per code block) and System.map (the kernel's symbols). The
i-th region belongs to the i-th "profile-ops:" line.

Prints, per benchmark, a Markdown table of the functions whose
instructions per operation differ most between the kernels, with calls per
operation (executions of the block at the function's first address: exact
for functions that do not loop back to their entry) and instructions per
operation (every block attributed to the function holding its first
address: inlined code counts for its caller, a function's callees do not
count for it). User-space instructions are one row, "(user)".
Exit: 0 ok, 1 missing or inconsistent data, 2 usage.
"""
import bisect
import os
import re
import sys

OPS = re.compile(r'^\s*# profile-ops: (\S+) (\d+)\s*$')
KERNEL = 0xffff800000000000


class Fail(Exception):
    pass


def read_ops(path):
    names = []
    with open(path, errors='replace') as f:
        for line in f:
            m = OPS.match(line.rstrip('\r\n'))
            if m:
                names.append((m.group(1), int(m.group(2))))
    return names


def read_regions(path):
    """[{vaddr: instructions}, {vaddr: executions of the block}] per region"""
    regions, cur = [], None
    with open(path) as f:
        for line in f:
            w = line.split()
            if w[0] == 'region':
                cur = ({}, {})
            elif w[0] == 'end':
                regions.append(cur)
                cur = None
            elif cur is not None and len(w) == 3:
                va, n, ex = int(w[0], 16), int(w[1]), int(w[2])
                cur[0][va] = cur[0].get(va, 0) + n * ex
                cur[1][va] = cur[1].get(va, 0) + ex
    return regions


def read_symbols(path):
    """(sorted addresses, names) of the text symbols of a System.map"""
    syms = []
    with open(path) as f:
        for line in f:
            w = line.split()
            if len(w) == 3 and w[1] in 'tTwW':
                syms.append((int(w[0], 16), w[2]))
    syms.sort()
    return [a for a, _ in syms], [n for _, n in syms]


def attribute(region, symbols):
    """{function: (calls, instructions)} of one region"""
    addrs, names = symbols
    out = {}
    insns, execs = region
    for va, n in insns.items():
        if va < KERNEL:
            fn, entry = '(user)', False
        else:
            i = bisect.bisect_right(addrs, va) - 1
            fn = names[i] if i >= 0 else f'0x{va:x}'
            entry = i >= 0 and addrs[i] == va
        calls, total = out.get(fn, (0, 0))
        out[fn] = (calls + (execs[va] if entry else 0), total + n)
    return out


def load(d):
    """{bench: (ops, {function: (calls, instructions)})} of one boot dir"""
    ops = read_ops(os.path.join(d, 'ktap.log'))
    regions = read_regions(os.path.join(d, 'insn_profile.txt'))
    if len(ops) != len(regions):
        raise Fail(f'{d}: {len(ops)} "profile-ops:" lines but {len(regions)} regions')
    symbols = read_symbols(os.path.join(d, 'System.map'))
    return {name: (n, attribute(r, symbols)) for (name, n), r in zip(ops, regions)}


def fmt(x, digits=1):
    return f'{x:,.{digits}f}' if x else '0'


def table(name, base, patched, top):
    (bo, bf), (po, pf) = base, patched
    tb = sum(v[1] for v in bf.values()) / bo
    tp = sum(v[1] for v in pf.values()) / po
    rows = []
    for f in set(bf) | set(pf):
        bc, bn = bf.get(f, (0, 0))
        pc, pn = pf.get(f, (0, 0))
        rows.append((f, bc / bo, pc / po, bn / bo, pn / po, pn / po - bn / bo))
    rows.sort(key=lambda r: (-abs(r[5]), r[0]))
    shown, rest = rows[:top], rows[top:]
    out = [f'### {name}', '',
           f'{bo} operations on the base, {po} on the patched kernel. Instructions per '
           f'operation, all functions and user space: base {fmt(tb)}, patched {fmt(tp)}, '
           f'delta {tp - tb:+,.1f} ({(tp / tb - 1) * 100 if tb else 0:+.2f}%).', '',
           '| function | calls/op base | calls/op patched | instr/op base | instr/op patched | delta |',
           '|---|---:|---:|---:|---:|---:|']
    for f, bc, pc, bn, pn, d in shown:
        out.append(f'| `{f}` | {fmt(bc, 3)} | {fmt(pc, 3)} | {fmt(bn)} | {fmt(pn)} | {d:+,.1f} |')
    if rest:
        out.append(f'| ({len(rest)} other functions) | | | {fmt(sum(r[3] for r in rest))} | '
                   f'{fmt(sum(r[4] for r in rest))} | {sum(r[5] for r in rest):+,.1f} |')
    out.append('')
    return out


def main(argv):
    top, args = 30, list(argv)
    if len(args) >= 2 and args[0] == '--top':
        if not args[1].isdigit():
            print('profile.py: --top needs a number', file=sys.stderr)
            return 2
        top, args = int(args[1]), args[2:]
    if len(args) != 2:
        print('usage: harness/profile.py [--top N] BASE_DIR PATCHED_DIR', file=sys.stderr)
        return 2
    try:
        base, patched = load(args[0]), load(args[1])
    except (OSError, Fail, ValueError) as e:
        print(f'profile.py: {e}', file=sys.stderr)
        return 1
    if not base:
        print('profile.py: no profiled region', file=sys.stderr)
        return 1
    rc, out = 0, []
    for n in dict.fromkeys(list(base) + list(patched)):
        if n not in base or n not in patched:
            print(f'profile.py: {n} was profiled on one kernel only', file=sys.stderr)
            rc = 1
            continue
        out += table(n, base[n], patched[n], top)
    print('\n'.join(out))
    return rc


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
