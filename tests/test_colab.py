"""Colab's path: every notebook runs top to bottom in a fresh environment holding only what Colab has.

Once per session: otbook's wheel, built from the files a clone would have (not an editable
install, so missing package data fails), and a base venv with what a Colab CPU runtime brings
(torch, a Jupyter kernel, numpy, scipy, matplotlib, ...: otbook's requirements) but not otbook.
Each notebook then runs in an empty venv on top of the base, so its install cell must bring
everything else it imports (notebooks whose install cells are the same line share one such venv: it
holds exactly what that line installs, and pip's second run of it takes seconds), and runs in a temporary working directory outside the repo
(`tests/colab_run.py` says which cells run). pip must reach the package index: where it cannot,
these tests fail. Developers may opt out locally with OTBOOK_SKIP_COLAB=1 (ignored where CI is set).
"""
import json, os, re, shutil, subprocess, sys, time
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
DRIVER = ROOT / 'tests' / 'colab_run.py'
NBS = sorted(p for p in (ROOT / 'nbs').rglob('*.ipynb')
             if not any(part.startswith(('_', '.')) for part in p.relative_to(ROOT / 'nbs').parts))
COLAB_HAS = ['torch==2.13.0', 'nbclient', 'ipykernel']  # plus otbook's requirements, which Colab has too
SITE = f'lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages'
GIT_SPEC = '"otbook @ git+https://github.com/otbook/otbook@main"'

pytestmark = pytest.mark.skipif(os.environ.get('OTBOOK_SKIP_COLAB') == '1' and not os.environ.get('CI'),
                                reason='OTBOOK_SKIP_COLAB=1: the fresh-venv Colab runs are off (never in CI)')


def sh(*cmd, **kw):
    "Run a command, failing loudly with its output"
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    assert r.returncode == 0, f'{" ".join(map(str, cmd))} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}'
    return r


def shipped_files() -> list:
    "What a clone of this checkout holds: tracked and new files, not ignored ones (no stale build/)"
    r = sh('git', 'ls-files', '-z', '--cached', '--others', '--exclude-standard', cwd=ROOT)
    return [f for f in r.stdout.split('\0') if f and (ROOT / f).is_file()]


def build_wheel(dest: Path) -> Path:
    "otbook's wheel, built from a copy of the shipped files as pip builds it from the git URL (isolated build)"
    src = dest / 'src'
    for f in shipped_files():
        (src / f).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / f, src / f)
    sh(sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', '-w', dest / 'wheel', src)
    return next((dest / 'wheel').glob('otbook-*.whl'))


def make_base(dest: Path, wheel: Path) -> Path:
    "A venv with Colab's kernel, torch and otbook's requirements, without otbook itself"
    sh(sys.executable, '-m', 'venv', dest)
    py = dest / 'bin' / 'python'
    sh(py, '-m', 'pip', 'install', '-q', *COLAB_HAS, wheel)
    sh(py, '-m', 'pip', 'uninstall', '-q', '-y', 'otbook')
    return dest


def make_overlay(base: Path, dest: Path) -> Path:
    "An empty venv that sees base's packages and installs new ones into itself, with `pip` on its PATH"
    sh(sys.executable, '-m', 'venv', '--without-pip', dest)
    (dest / SITE / 'colab_base.pth').write_text(f'import site; site.addsitedir({str(base / SITE)!r})\n')
    pip = dest / 'bin' / 'pip'
    pip.write_text(f'#!{dest}/bin/python\nimport sys\nfrom pip._internal.cli.main import main\nsys.exit(main())\n')
    pip.chmod(0o755)
    return dest


def colab_env(venv: Path) -> dict:
    "The environment of a Colab kernel: this venv first on PATH, nothing of the repo or the user's site"
    env = {k: v for k, v in os.environ.items() if k not in ('PYTHONPATH', 'MPLBACKEND', 'VIRTUAL_ENV', 'PYTHONHOME')}
    return env | {'PATH': f'{venv}/bin:{env.get("PATH", "/usr/bin:/bin")}', 'VIRTUAL_ENV': str(venv),
                  'PYTHONNOUSERSITE': '1', 'OMP_NUM_THREADS': env.get('OMP_NUM_THREADS', '1')}


@pytest.fixture(scope='session')
def colab(tmp_path_factory):
    "The wheel and the base venv, built once per test session"
    tmp = tmp_path_factory.mktemp('colab')
    t0 = time.time()
    wheel = build_wheel(tmp)
    base = make_base(tmp / 'base', wheel)
    print(f'\ncolab: wheel and base venv in {time.time() - t0:.0f} s')
    return SimpleNamespace(wheel=wheel, base=base, overlays={})


def install_line(nb: Path) -> str:
    "The `!pip install` lines of a notebook's install cell (what its venv must hold)"
    for c in json.loads(nb.read_text())['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'code' and '!pip install' in src:
            return '\n'.join(line for line in src.splitlines() if line.startswith('!'))
    return ''


def run_like_colab(colab, nb: Path, tmp: Path):
    "Run notebook `nb` in a fresh venv over the base, in `tmp/content` (so its ../data lands in tmp)"
    key = install_line(nb)
    if key not in colab.overlays: colab.overlays[key] = make_overlay(colab.base, tmp / 'venv')
    venv = colab.overlays[key]
    (tmp / 'content').mkdir()
    return subprocess.run([venv / 'bin' / 'python', DRIVER, nb, colab.wheel, tmp / 'content'], cwd=tmp / 'content',
                          env=colab_env(venv), capture_output=True, text=True, timeout=1800)


def gpu_cells(nb: Path) -> int:
    "How many `#| gpu` cells the notebook has"
    cells = json.loads(nb.read_text())['cells']
    return sum(c['cell_type'] == 'code' and bool(re.match(r'#\|\s*gpu\b', ''.join(c['source']))) for c in cells)


@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_notebook_runs_on_colab_cpu(colab, nb, tmp_path):
    "Every cell Colab would run passes, and each gpu cell says it skipped itself"
    r = run_like_colab(colab, nb, tmp_path)
    assert r.returncode == 0, f'{nb.name} fails on Colab (CPU):\n{r.stdout[-8000:]}\n{r.stderr[-4000:]}'
    assert r.stdout.count('gpu-skipped') == gpu_cells(nb), r.stdout


def _notebook(path: Path, *cells: str) -> Path:
    "A notebook of code cells, the first one an install cell of otbook's form"
    install = f'#| hide\n#| eval: false\n!pip install -q {GIT_SPEC}'
    nb = {'cells': [{'cell_type': 'code', 'execution_count': None, 'id': f'c{i}', 'metadata': {}, 'outputs': [],
                     'source': src} for i, src in enumerate((install,) + cells)],
          'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    path.write_text(json.dumps(nb))
    return path


GUARDED = ("#| gpu\nif torch.cuda.is_available():\n    torch.zeros(1, device='cuda')\n"
           "else:\n    print('skipped: needs a GPU')")
NO_INDEX = '--retries 0 --index-url http://127.0.0.1:9/simple --no-cache-dir'  # a package index that is down
CASES = {'guarded gpu cell': (['import torch\nimport otbook', GUARDED], 'ok'),
         'unguarded gpu cell': (['import torch', "#| gpu\ntorch.zeros(1, device='cuda')"], 'FAILED [2]'),
         'import not installed': (['from fastcore.test import test_eq'], 'FAILED [1]'),
         'unreachable package': ([f'!pip install -q {NO_INDEX} otbook-no-such-pkg'], 'FAILED [1]'),
         'slow and pykeops cells skipped': (['#| slow\nassert False', '#| pykeops\nassert False', 'import otbook'],
                                            'ok')}


@pytest.mark.parametrize('case', CASES)
def test_colab_run_can_fail(colab, case, tmp_path):
    "The Colab run fails on an unguarded gpu cell, a missing package or a failing pip; passes a guarded cell"
    cells, expected = CASES[case]
    r = run_like_colab(SimpleNamespace(**{**vars(colab), 'overlays': {}}), _notebook(tmp_path / 'nb.ipynb', *cells), tmp_path)
    assert (r.returncode == 0) == (expected == 'ok'), r.stdout + r.stderr
    assert expected in r.stdout, r.stdout + r.stderr
