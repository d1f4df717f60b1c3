"""Execute notebooks in place and save their outputs, skipping the cells nbdev's tests skip.

nbdev 2 has no `nbdev_test --save`, and execnb alone would run every cell, `#| gpu` ones
included. This runner skips exactly what `nbdev.test.test_nb` skips (cells flagged with a
`tst_flags` entry not forced on with `--flags`, and `#| eval: false` cells), so the committed
outputs of skipped cells (GPU runs, slow benchmarks) are kept.

    python tools/run_nbs.py nbs/50_unmixing.ipynb [more.ipynb ...] [--flags slow]
"""
import argparse, os, sys, time
from pathlib import Path

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.config import get_config

ROOT = Path(__file__).resolve().parents[1]


def directives(source: str) -> dict:
    "The `#| key value` lines at the top of a cell, as {key: [values]} (nbdev's convention)"
    out = {}
    for line in source.splitlines():
        if not line.startswith('#|'): break
        key, *vals = line[2:].split()
        out[key] = vals
    return out


def skipped(cell, flags: set) -> bool:
    "Does `nbdev_test` skip this cell?"
    if cell.cell_type != 'code' or 'nbdev_export(' in cell.source: return True
    d = directives(cell.source)
    return d.get('eval:', [''])[0].lower() == 'false' or bool(flags & d.keys())


def run(fn: Path, flags: set) -> bool:
    "Execute notebook `fn` in a fresh shell, write it back with outputs; False on the first failing cell"
    nb = read_nb(fn)
    shell = CaptureShell(fn)
    with working_directory(fn.parent):
        for cell in nb.cells:
            if skipped(cell, flags): continue
            cell.outputs = []
            shell.cell(cell)
            if shell.exc:
                sys.stderr.write(shell.prettytb(fname=fn) + '\n')
                return False
    write_nb(nb, fn)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*', type=Path)
    ap.add_argument('--flags', default='', help='test flags to run anyway, e.g. "slow pykeops"')
    args = ap.parse_args()
    os.chdir(ROOT)
    flags = set(get_config().tst_flags.split()) - set(args.flags.split())
    sys.path.insert(0, str(ROOT))
    failed = []
    for fn in args.notebooks:
        t0 = time.time()
        ok = run(fn.resolve(), flags)
        print(f"{'ok' if ok else 'FAILED'}  {fn}  ({time.time() - t0:.0f} s)", flush=True)
        if not ok: failed.append(fn)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
