"""Run one notebook the way Colab's "Run all" does, in the interpreter that runs this script.

    python tests/colab_run.py NOTEBOOK WHEEL WORKDIR

Colab knows nothing of nbdev's directives, so every code cell runs, top to bottom, in one kernel
whose working directory is WORKDIR: `#| eval: false` cells too, the hidden install cell first
(with otbook's git URL replaced by WHEEL, and each of its shell commands checked, since a failing
`!pip` does not fail its cell). Cells flagged `notest`, `slow` or `pykeops` are skipped, as
nbdev's tests skip them (they work on Colab, only slowly). `#| gpu` cells run: on a CPU runtime
they must skip themselves and say so. Prints one line per cell; exits 1 at the first failing cell.
"""
import json, re, sys, time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

GIT_SPEC = '"otbook @ git+https://github.com/otbook/otbook@main"'
SKIP = {'notest', 'slow', 'pykeops'}
GPU_SKIPPED = 'skipped: needs a GPU'
ANSI = re.compile(r'\x1b\[[0-9;]*m')  # IPython's traceback colours


def flags(source: str) -> set:
    "The directive names of a cell: `#| gpu` and `#| eval: false` give {'gpu', 'eval:'}"
    out = set()
    for line in source.splitlines():
        if not line.startswith('#|'): break
        out |= set(line[2:].split()[:1])
    return out


def colab_source(source: str, wheel: str) -> str:
    "A cell as run here: the wheel instead of otbook's git URL, every shell command's exit code checked"
    lines = []
    for line in source.replace(GIT_SPEC, f'"{wheel}"').splitlines():
        lines.append(line)
        if line.startswith('!'): lines.append(f'assert _exit_code == 0, {line[1:]!r}')
    return '\n'.join(lines)


def kernel_name() -> str:
    "A kernelspec for this very interpreter (not whatever `python3` names elsewhere on the machine)"
    spec = Path(sys.prefix) / 'share' / 'jupyter' / 'kernels' / 'colab-cpu'
    spec.mkdir(parents=True, exist_ok=True)
    argv = [sys.executable, '-m', 'ipykernel_launcher', '-f', '{connection_file}']
    (spec / 'kernel.json').write_text(json.dumps({'argv': argv, 'display_name': 'Colab (CPU)', 'language': 'python'}))
    return 'colab-cpu'


def text_of(cell) -> str:
    "The stream and plain-text outputs of an executed cell"
    return ''.join(o.get('text', '') + o.get('data', {}).get('text/plain', '') for o in cell.outputs)


def run(nb_path: Path, wheel: str, workdir: Path) -> bool:
    "Execute the notebook cell by cell; print one line per cell; False at the first failing cell"
    nb = nbformat.read(nb_path, as_version=4)
    client = NotebookClient(nb, timeout=900, kernel_name=kernel_name(), resources={'metadata': {'path': str(workdir)}})
    with client.setup_kernel():
        for i, cell in enumerate(nb.cells):
            if cell.cell_type != 'code': continue
            f = flags(cell.source)
            if f & SKIP:
                print(f'skip [{i}] {" ".join(sorted(f & SKIP))}', flush=True)
                continue
            cell.source = colab_source(cell.source, wheel)
            t0 = time.time()
            try: client.execute_cell(cell, i)
            except CellExecutionError as e:
                print(f'FAILED [{i}]\n{ANSI.sub("", str(e))}', flush=True)
                return False
            gpu = ' gpu-skipped' if 'gpu' in f and GPU_SKIPPED in text_of(cell) else ''
            print(f'ok   [{i}] {time.time() - t0:5.1f} s{gpu}', flush=True)
    return True


if __name__ == '__main__':
    nb_path, wheel, workdir = sys.argv[1:4]
    sys.exit(0 if run(Path(nb_path), wheel, Path(workdir)) else 1)
