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
def test_colab_ready(nb):
    "A Colab badge for this very notebook and a hidden install cell that nbdev never runs"
    cells = json.loads(nb.read_text())['cells']
    assert any(f'colab.research.google.com/github/otbook/otbook/blob/main/nbs/{nb.name}' in ''.join(c['source'])
               for c in cells[:4] if c['cell_type'] == 'markdown'), 'no Colab badge near the top'
    install = [''.join(c['source']) for c in cells[:6] if c['cell_type'] == 'code' and '!pip install' in ''.join(c['source'])]
    assert install and '#| hide' in install[0] and '#| eval: false' in install[0], 'no hidden install cell'


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


@pytest.mark.parametrize('nb', NBS, ids=lambda p: p.stem)
def test_colab_installs_what_the_notebook_imports(nb):
    "The test-only oracles a notebook imports (POT, GeomLoss, KeOps) are in its Colab install cell"
    cells = json.loads(nb.read_text())['cells']
    code = '\n'.join(''.join(c['source']) for c in cells if c['cell_type'] == 'code')
    install = next(''.join(c['source']) for c in cells[:6] if '!pip install' in ''.join(c['source']))
    for module, package in (('ot', 'pot'), ('geomloss', 'geomloss'), ('pykeops', 'pykeops')):
        if re.search(rf'^\s*(import|from) {module}\b', code, re.M):
            assert re.search(rf'\s{package}\b', install), f'{nb.name} imports {module} but its install cell lacks {package}'
