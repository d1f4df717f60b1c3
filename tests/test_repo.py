"""The notebooks are the source of truth: the module, README.md and docs/ must all follow them."""
import importlib.util, json, re, shutil, subprocess, sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
NBS = sorted(p for p in (ROOT / 'nbs').glob('*.ipynb'))


def _load_build_docs():
    spec = importlib.util.spec_from_file_location('build_docs', ROOT / 'tools' / 'build_docs.py')
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope='module')
def copy(tmp_path_factory):
    "A copy of the sources (settings, notebooks, module) where nbdev may write"
    d = tmp_path_factory.mktemp('repo')
    for name in ('settings.ini', 'setup.py', 'pyproject.toml'): shutil.copy(ROOT / name, d / name)
    shutil.copytree(ROOT / 'nbs', d / 'nbs', ignore=shutil.ignore_patterns('_proc', '.*'))
    shutil.copytree(ROOT / 'otbook', d / 'otbook', ignore=shutil.ignore_patterns('__pycache__'))
    return d


def _tree(folder: Path, pattern: str) -> dict:
    return {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob(pattern)) if '__pycache__' not in p.parts}


def test_export_is_noop(copy):
    "nbdev_export on the committed notebooks reproduces otbook/ byte for byte"
    subprocess.run([BIN / 'nbdev_export'], cwd=copy, check=True)
    exported, committed = _tree(copy / 'otbook', '*.py'), _tree(ROOT / 'otbook', '*.py')
    assert exported.keys() == committed.keys(), 'module files differ from what the notebooks export'
    changed = [str(k) for k in exported if exported[k] != committed[k]]
    assert not changed, f'otbook/ is not what nbs/ exports (run nbdev_export): {changed}'


def test_clean_is_noop(copy):
    "nbdev_clean leaves the committed notebooks unchanged"
    before = _tree(copy / 'nbs', '*.ipynb')
    subprocess.run([BIN / 'nbdev_clean'], cwd=copy, check=True)
    changed = [str(k) for k, v in _tree(copy / 'nbs', '*.ipynb').items() if before[k] != v]
    assert not changed, f'notebooks are not clean (run nbdev_clean): {changed}'


def test_readme_follows_index():
    assert (ROOT / 'README.md').read_text() == _load_build_docs().readme_text(), \
        'README.md is stale: run `python tools/build_docs.py --readme`'


def test_readme_starts_with_the_two_commands():
    body = (ROOT / 'README.md').read_text().split('```sh\n', 1)[1].split('```', 1)[0]
    assert [l.split('#')[0].strip() for l in body.strip().splitlines()] == ['make', 'make test']


def test_docs_are_current():
    "docs/ was rendered from exactly the committed notebooks"
    bd = _load_build_docs()
    assert bd.STAMP.read_text().strip() == bd.source_hash(), 'docs/ is stale: run `make docs`'
    for nb in NBS:
        page = 'index.html' if nb.stem == 'index' else re.sub(r'^\d+[a-z]?_', '', nb.stem) + '.html'
        assert (ROOT / 'docs' / page).exists(), f'no docs page for {nb.name}'


@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_flagged_cells_hold_no_imports(nb):
    "nbdev's docs step runs every cell holding an import, ignoring test flags"
    for c in json.loads(nb.read_text())['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'code' and re.search(r'^#\|\s*(gpu|slow|pykeops)\b', src, re.M):
            assert not re.search(r'^\s*(import|from)\s+\w', src, re.M), f'flagged cell imports:\n{src}'


def _write_nb(path: Path, cells):
    nb = {'cells': [{'cell_type': 'code', 'execution_count': None, 'id': f'c{i}', 'metadata': {}, 'outputs': [],
                     'source': src} for i, src in enumerate(cells)],
          'metadata': {'kernelspec': {'display_name': 'python3', 'language': 'python', 'name': 'python3'}},
          'nbformat': 4, 'nbformat_minor': 5}
    path.write_text(json.dumps(nb))
    return path


def test_bridge_fails_on_a_failing_cell_and_honours_flags(tmp_path):
    "The pytest bridge really fails a notebook with a failing cell, and skips only flagged cells"
    from nbdev.test import test_nb as run_notebook
    skip = ['notest', 'gpu', 'slow', 'pykeops']
    bad = _write_nb(tmp_path / 'bad.ipynb', ['x = 1', 'assert x == 2'])
    assert not run_notebook(bad, skip_flags=skip, showerr=False)[0]
    flagged = _write_nb(tmp_path / 'flagged.ipynb', ['x = 1', '#| gpu\nassert False', '#| pykeops\nassert False'])
    assert run_notebook(flagged, skip_flags=skip)[0]
    assert not run_notebook(flagged, skip_flags=skip, force_flags=['pykeops'], showerr=False)[0]


def test_quarto_config_is_valid():
    "nbdev_docs still works where Quarto exists: a valid website config with offline math"
    import yaml
    cfg = yaml.safe_load((ROOT / 'nbs' / '_quarto.yml').read_text())
    assert cfg['project']['type'] == 'website'
    assert cfg['format']['html']['html-math-method'] == 'mathml'


# --- Colab: what every notebook must hold so that "Run all" works there (tests/test_colab.py runs them) ---
GIT_SPEC = '"otbook @ git+https://github.com/otbook/otbook@main"'
PINS = {'fastcore': '"fastcore<2"', 'ot': 'pot==0.9.7.post1', 'geomloss': 'geomloss==0.3.1', 'pykeops': 'pykeops==2.3'}
GPU_META = {'accelerator': 'GPU', 'colab': {'gpuType': 'T4', 'provenance': []}}
GPU_ELSE = "else:\n    print('skipped: needs a GPU')"


def _code(nb: Path) -> list:
    "The sources of a notebook's code cells"
    return [''.join(c['source']) for c in json.loads(nb.read_text())['cells'] if c['cell_type'] == 'code']


def _imports(code: list, module: str) -> bool:
    return any(re.search(rf'^\s*(import|from) {module}\b', src, re.M) for src in code)


def _install_cell(nb: Path) -> str:
    return next((src for src in _code(nb)[:3] if '!pip install' in src), '')


def _is_gpu(src: str) -> bool:
    return bool(re.match(r'#\|\s*gpu\b', src))


@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_colab_badge(nb):
    "A Colab badge for this very notebook near the top"
    cells = json.loads(nb.read_text())['cells']
    assert any(f'colab.research.google.com/github/otbook/otbook/blob/main/nbs/{nb.name}' in ''.join(c['source'])
               for c in cells[:4] if c['cell_type'] == 'markdown'), 'no Colab badge near the top'


@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_colab_install_cell(nb):
    "A hidden install cell nbdev never runs: otbook from main, and pinned, whatever else the notebook imports"
    install, code = _install_cell(nb), _code(nb)
    assert install.startswith('#| hide\n#| eval: false\n'), f'no hidden, non-evaluated install cell:\n{install}'
    assert GIT_SPEC in install, f'the install cell must install {GIT_SPEC}'
    for module, pin in PINS.items():
        if _imports(code, module): assert pin in install, f'{nb.name} imports {module}: its install cell needs {pin}'
        package = pin.strip('"').split('<')[0].split('=')[0]
        assert not re.search(rf'\s"?{package}\b', install) or pin in install, f'{package} must be pinned as {pin}'


@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_colab_gpu_cells_skip_themselves(nb):
    "Every gpu cell runs its body only where CUDA exists, and says it skipped; torch is imported before it"
    code = _code(nb)
    for i, src in enumerate(code):
        if not _is_gpu(src): continue
        body = '\n'.join(l for l in src.splitlines() if not l.startswith('#|'))
        guarded = body.startswith('if torch.cuda.is_available():\n') and body.endswith(GPU_ELSE)
        assert guarded, f'unguarded gpu cell:\n{src}'
        assert _imports(code[:i], 'torch'), f'the gpu cell needs `import torch` in an earlier cell:\n{src}'


@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_colab_export_cell(nb):
    "The nbdev_export cell is hidden, never evaluated by nbdev, and a no-op outside a clone (on Colab)"
    for src in _code(nb):
        if 'nbdev_export(' in src:
            assert src.startswith('#| hide\n#| eval: false\n'), f'export cell not hidden and non-evaluated:\n{src}'
            assert "if os.path.exists('../settings.ini'):" in src, f'export cell would fail on Colab:\n{src}'


@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_colab_gpu_runtime_metadata(nb):
    "A notebook with gpu cells opens on Colab's GPU runtime (and only such a notebook)"
    meta = json.loads(nb.read_text())['metadata']
    has_gpu = any(_is_gpu(src) for src in _code(nb))
    assert {k: meta.get(k) for k in GPU_META} == (GPU_META if has_gpu else {k: None for k in GPU_META})


def test_export_cell_is_skipped_by_nbdev_and_the_runner(tmp_path):
    "nbdev_test and tools/run_nbs.py skip the export cell (it would fail if run here)"
    from nbdev.test import test_nb as run_notebook
    spec = importlib.util.spec_from_file_location('run_nbs', ROOT / 'tools' / 'run_nbs.py')
    run_nbs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_nbs)
    export = next(src for src in _code(ROOT / 'nbs' / '00_utils.ipynb') if 'nbdev_export(' in src)
    nb = _write_nb(tmp_path / 'export.ipynb', ['x = 1', export + "\nraise RuntimeError('the export cell ran')"])
    assert run_notebook(nb, skip_flags=['notest', 'gpu', 'slow', 'pykeops'], showerr=False)[0]
    assert run_nbs.run(nb, set())
    failing = _write_nb(tmp_path / 'failing.ipynb', ['x = 1', "raise RuntimeError('ran')"])
    assert not run_nbs.run(failing, set())


def test_runner_keeps_outputs_that_differ_only_in_timings(tmp_path):
    "tools/run_nbs.py rewrites a cell's outputs when they change, not when only a timing does (make stays clean)"
    spec = importlib.util.spec_from_file_location('run_nbs', ROOT / 'tools' / 'run_nbs.py')
    run_nbs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(run_nbs)
    timed = "import time\nprint(f'{n} apples in {time.perf_counter():.6f} s, {1 / time.perf_counter():.3f} it/s')"
    nb = _write_nb(tmp_path / 'timed.ipynb', ['n = 3', timed])
    assert run_nbs.run(nb, set())
    first = nb.read_text()
    assert '3 apples in' in first
    assert run_nbs.run(nb, set()) and nb.read_text() == first
    nb.write_text(first.replace('n = 3', 'n = 4'))
    assert run_nbs.run(nb, set()) and '4 apples in' in nb.read_text()


def test_keops_tests_share_one_worker(tmp_path):
    "`make test`'s two workers: every KeOps-compiling test runs on the same one (two compiles of a formula corrupt its .so)"
    shutil.copy(ROOT / 'tests' / 'conftest.py', tmp_path / 'conftest.py')
    log = tmp_path / 'workers.txt'
    body = (f"import os, pytest\n@pytest.mark.parametrize('i', range(6))\ndef test_{{}}(i):\n"
            f"    open({str(log)!r}, 'a').write('{{}} ' + os.environ['PYTEST_XDIST_WORKER'] + '\\n')\n")
    (tmp_path / 'test_keops.py').write_text(body.format('compiles', 'keops'))
    (tmp_path / 'test_other.py').write_text(body.format('plain', 'other'))
    r = subprocess.run([sys.executable, '-m', 'pytest', '-q', '-p', 'no:cacheprovider', '-n', '2', '--dist', 'loadgroup',
                        str(tmp_path)], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-2000:]
    workers = [line.split() for line in log.read_text().splitlines()]
    assert len(workers) == 12 and len({w for kind, w in workers if kind == 'keops'}) == 1, workers
