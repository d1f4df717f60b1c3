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

FLAGS = set(os.environ.get('NBDEV_FLAGS', '').split())


def pytest_collection_modifyitems(config, items):
    for item in items:
        for flag in ('pykeops', 'slow', 'gpu'):
            if flag in item.keywords and flag not in FLAGS:
                item.add_marker(pytest.mark.skip(reason=f'set NBDEV_FLAGS="{flag}" to run {flag} tests'))
