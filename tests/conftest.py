"""Shared pytest set-up: the KeOps build cache inside the repo, and test flags shared with nbdev.

`NBDEV_FLAGS` (e.g. "pykeops slow") turns on the notebook cells flagged so, and the pytest
tests marked so: one switch for both kinds of tests.
"""
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Before anything imports pykeops: compiled formulas go to an ignored folder of the repo.
os.environ.setdefault('KEOPS_CACHE_FOLDER', str(ROOT / '.keops_cache'))
os.environ.setdefault('MPLBACKEND', 'Agg')
if os.environ.get('PYTEST_XDIST_WORKER'):  # `make test` runs two workers: one thread each, or they fight over the cores
    os.environ.setdefault('OMP_NUM_THREADS', '1')

FLAGS = set(os.environ.get('NBDEV_FLAGS', '').split())


def uses_keops(item) -> bool:
    "Does this test compile KeOps formulas? (a `pykeops` mark, test_keops.py, or a notebook with `#| pykeops` cells)"
    if 'pykeops' in item.keywords or item.path.name == 'test_keops.py': return True
    nb = getattr(item, 'callspec', None) and item.callspec.params.get('nb')
    return item.path.name == 'test_notebooks.py' and nb is not None and '#| pykeops' in Path(nb).read_text()


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook, which reads the groups to name the items
def pytest_collection_modifyitems(config, items):
    for item in items:
        if uses_keops(item): item.add_marker(pytest.mark.xdist_group('keops'))  # one worker: no two compiles of a formula at once
        for flag in ('pykeops', 'slow', 'gpu'):
            if flag in item.keywords and flag not in FLAGS:
                item.add_marker(pytest.mark.skip(reason=f'set NBDEV_FLAGS="{flag}" to run {flag} tests'))
