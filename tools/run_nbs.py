"""Execute notebooks in place and save their outputs, skipping the cells nbdev's tests skip.

nbdev 2 has no `nbdev_test --save`, and execnb alone would run every cell, `#| gpu` ones
included. This runner skips exactly what `nbdev.test.test_nb` skips (cells flagged with a
`tst_flags` entry not forced on with `--flags`, and `#| eval: false` cells), so the committed
outputs of skipped cells (GPU runs, slow benchmarks) are kept.

Saved outputs are deterministic, so that `make` on a clean clone leaves `git status` clean: one
thread (digits of float reductions depend on the thread count), seeded global RNGs (numpy's and
Python's; torch's default seed is fixed already), and a cell whose new outputs differ from the
committed ones only in timings (seconds, rates, tqdm clocks) keeps the committed outputs.

    python tools/run_nbs.py nbs/50_unmixing.ipynb [more.ipynb ...] [--flags slow]
"""
import argparse, json, os, random, re, sys, time
from pathlib import Path

if __name__ == '__main__':  # one thread, set before numpy and torch load their thread pools
    for _var in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS', 'NUMBA_NUM_THREADS'):
        os.environ.setdefault(_var, '1')
import numpy as np
import torch

from execnb.nbio import read_nb, write_nb
from execnb.shell import CaptureShell
from fastcore.xtras import working_directory
from nbdev.config import get_config

ROOT = Path(__file__).resolve().parents[1]
TIMING = re.compile(r' *(?:\d+(?:\.\d+)?\s*(?:s|ms|us|µs|min)(?:/ ?\w+)?(?![\w/])'  # 11.9 s, 0.6 ms, 1.19s/ evals
                    r'|\d+(?:\.\d+)?\s*\w+/s\b'  # 4.98 evals/s, 777.50it/s
                    r'|\d+:\d\d(?::\d\d)?(?:<[\d:?]+)?)')  # tqdm's clocks: [00:10<00:08; with the padding before each


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


def _text(x) -> str:
    return ''.join(x) if isinstance(x, list) else str(x)


def untimed(outputs: list) -> str:
    "A cell's outputs with every timing masked: two runs that differ only in timings compare equal"
    norm = [{'type': o.get('output_type'), 'text': _text(o.get('text', '')),
             'data': {k: _text(v) for k, v in o.get('data', {}).items()}} for o in outputs]
    return TIMING.sub('<t>', json.dumps(norm, sort_keys=True))


def as_terminal(s: str) -> str:
    "Stream text as a terminal shows it: each carriage return rewrites its line (progress bars end as one line)"
    return '\n'.join(line.rstrip('\r').rsplit('\r', 1)[-1] for line in s.split('\n'))


def clean_streams(outputs: list) -> list:
    "Outputs with their stream text shown as a terminal would show it"
    for o in outputs:
        if o.get('output_type') == 'stream': o['text'] = as_terminal(_text(o['text']))
    return outputs


def seed():
    "Seed numpy's and Python's global generators (torch's default seed is fixed already)"
    np.random.seed(0)
    random.seed(0)


def run(fn: Path, flags: set) -> bool:
    "Execute notebook `fn` in a fresh shell, write it back with outputs; False on the first failing cell"
    nb = read_nb(fn)
    seed()
    shell = CaptureShell(fn)
    with working_directory(fn.parent):
        for cell in nb.cells:
            if skipped(cell, flags): continue
            committed, cell.outputs = cell.get('outputs', []), []
            shell.cell(cell)
            if shell.exc:
                sys.stderr.write(shell.prettytb(fname=fn) + '\n')
                return False
            clean_streams(cell.outputs)
            if untimed(cell.outputs) == untimed(committed): cell.outputs = committed
    write_nb(nb, fn)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('notebooks', nargs='*', type=Path)
    ap.add_argument('--flags', default='', help='test flags to run anyway, e.g. "slow pykeops"')
    args = ap.parse_args()
    os.chdir(ROOT)
    torch.set_num_threads(1)  # digits of float reductions, and so iteration counts, depend on the thread count
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
