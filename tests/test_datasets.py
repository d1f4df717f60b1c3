"""otbook.datasets against POT (test-only oracle), the density images, and bad input."""
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import pytest
import torch

import ot as pot
from otbook import datasets

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize('name', ['3gauss', '3gauss2', 'gaussrot', '2gauss_prop'])
@pytest.mark.parametrize('seed', [0, 1, 7, 2024])
def test_make_data_classif_matches_pot(name, seed):
    kw = dict(nz=.2, theta=1.1, p=.4)
    for rs in (seed, np.random.RandomState(seed)):  # an int, and a RandomState
        ours = datasets.make_data_classif(name, 77, random_state=rs, **kw)
        theirs = pot.datasets.make_data_classif(name, 77, random_state=np.random.RandomState(seed), **kw)
        np.testing.assert_array_equal(ours[0], theirs[0])
        np.testing.assert_array_equal(ours[1], theirs[1])
        assert ours[1].dtype == theirs[1].dtype


@pytest.mark.parametrize('seed', [0, 3, 11])
def test_global_seed_path_matches_pot(seed):
    # the POT gallery's pattern: one global seed, then several draws in a row
    np.random.seed(seed)
    ours = [datasets.make_data_classif('gaussrot', 100, nz=.1),
            datasets.make_data_classif('gaussrot', 100, theta=2 * np.pi / 20, nz=.1),
            datasets.make_2D_samples_gauss(30, np.array([1., 2.]), np.array([[1., .3], [.3, .5]]))]
    np.random.seed(seed)
    theirs = [pot.datasets.make_data_classif('gaussrot', 100, nz=.1),
              pot.datasets.make_data_classif('gaussrot', 100, theta=2 * np.pi / 20, nz=.1),
              pot.datasets.make_2D_samples_gauss(30, np.array([1., 2.]), np.array([[1., .3], [.3, .5]]))]
    for o, t in zip(ours[:2], theirs[:2]):
        np.testing.assert_array_equal(o[0], t[0]); np.testing.assert_array_equal(o[1], t[1])
    np.testing.assert_array_equal(ours[2], theirs[2])


def test_make_1D_gauss_matches_pot():
    for n, m, s in ((100, 20, 5), (7, 0, .5), (50, 60, 10)):
        np.testing.assert_array_equal(datasets.make_1D_gauss(n, m, s), pot.datasets.make_1D_gauss(n, m, s))


def test_bad_input():
    with pytest.raises(ValueError, match='dataset must be one of'): datasets.make_data_classif('spiral', 5)
    with pytest.raises(ValueError, match='random_state'): datasets.make_data_classif('3gauss', 5, random_state=1.5)
    with pytest.raises(ValueError, match='s must be'): datasets.make_1D_gauss(5, 1, -1)


def test_density_images_are_what_the_script_writes(tmp_path):
    for p in datasets.write_density_images(tmp_path):
        np.testing.assert_array_equal(imageio.imread(p), imageio.imread(ROOT / 'data' / p.name))
    a, b = (datasets.load_density(ROOT / 'data' / f) for f in ('density_a.png', 'density_b.png'))
    assert a.shape == b.shape == (200, 200) and np.abs(a - b).mean() > .05  # two distinct shapes


def test_draw_samples(tmp_path):
    fname = ROOT / 'data' / 'density_a.png'
    x = datasets.draw_samples(fname, 500)
    assert x.shape == (500, 2) and x.dtype == torch.float32
    torch.testing.assert_close(x, datasets.draw_samples(str(fname), 500, seed=0))
    assert not torch.equal(datasets.draw_samples(fname, 500, seed=None), datasets.draw_samples(fname, 500, seed=None))
    assert datasets.draw_samples(fname, 3, dtype=torch.FloatTensor).dtype == torch.float32
    assert datasets.draw_samples(fname, 3, dtype=torch.float64).dtype == torch.float64
    assert (x > -.05).all() and (x < 1.05).all()


def test_draw_samples_bad_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nothere.png'): datasets.draw_samples(tmp_path / 'nothere.png', 5)
    (tmp_path / 'text.png').write_text('hello')
    with pytest.raises(ValueError, match='text.png'): datasets.draw_samples(tmp_path / 'text.png', 5)
