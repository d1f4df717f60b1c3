"""otbook.unbalanced against POT 0.9.7 (test-only oracle) on random problems, numpy and torch; bad input."""
import warnings

import numpy as np
import ot as pot
import pytest
import torch

import otbook
from otbook import unbalanced
from otbook.utils import InputError, ConvergenceWarning

TOL = 1e-10
KINDS = ('numpy', 'torch')
METHODS = tuple(unbalanced.UNBALANCED)
REG_MS = (1., (.3, 2.), (.5, np.inf))


def problem(seed, n=20, m=15):
    "Random weights a (mass 1), b (mass 1.7) on POT's usual cost M = dist / max between uniform points"
    rng = np.random.default_rng(seed)
    a, b = rng.random(n) + .1, rng.random(m) + .1
    M = pot.dist(rng.random((n, 2)), rng.random((m, 2)))
    return a / a.sum(), 1.7 * b / b.sum(), M / M.max()


def as_kind(kind, *xs):
    "The arrays `xs` as numpy (unchanged) or as float64 torch tensors"
    return xs if kind == 'numpy' else tuple(torch.tensor(x) for x in xs)


def close(x, y, tol=TOL):
    "Assert x, y (numpy, tensors, floats or lists) have one shape and are within `tol`, and x is typed as y"
    assert torch.is_tensor(x) == torch.is_tensor(y), (type(x), type(y))
    x, y = (np.asarray(t.detach().cpu() if torch.is_tensor(t) else t, dtype=float) for t in (x, y))
    assert x.shape == y.shape, (x.shape, y.shape)
    np.testing.assert_allclose(x, y, rtol=0, atol=tol)


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('reg_m', REG_MS, ids=str)
@pytest.mark.parametrize('method', METHODS)
@pytest.mark.parametrize('seed', range(3))
def test_sinkhorn_unbalanced_equals_pot(seed, method, reg_m, kind):
    "Plans, values and every log entry (the errors of each check included) at POT's defaults and at convergence"
    a, b, M = as_kind(kind, *problem(seed))
    for stop in (1e-6, 1e-12):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            P, lg = otbook.sinkhorn_unbalanced(a, b, M, .05, reg_m, method, stopThr=stop, log=True)
            P_pot, lg_pot = pot.sinkhorn_unbalanced(a, b, M, .05, reg_m, method, stopThr=stop, log=True)
        close(P, P_pot)
        assert set(lg) == set(lg_pot)
        for k in ('logu', 'logv', 'cost', 'total_cost'): close(lg[k], lg_pot[k])
        close([float(e) for e in lg['err']], [float(e) for e in lg_pot['err']])


@pytest.mark.parametrize('method', METHODS)
def test_several_histograms(method):
    "A 2-D b: the vector of values and POT's (N, n_hists) logs"
    a, b, M = problem(5)
    B = np.stack([b, b[::-1], np.full_like(b, .1)], 1)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ours, lg = otbook.sinkhorn_unbalanced2(a, B, M, .05, 1., method, log=True, stopThr=1e-11)
        theirs, lg_pot = pot.sinkhorn_unbalanced2(a, B, M, .05, 1., method, log=True, stopThr=1e-11)
    close(ours, theirs)
    for k in ('logu', 'logv'): close(lg[k], lg_pot[k])


@pytest.mark.parametrize('div', unbalanced.DIVS)
@pytest.mark.parametrize('reg', (0, .05))
@pytest.mark.parametrize('kind', KINDS)
def test_mm_unbalanced_equals_pot(div, reg, kind):
    "Majorization-minimization: the plan, both values and the errors"
    a, b, M = as_kind(kind, *problem(7))
    G, lg = unbalanced.mm_unbalanced(a, b, M, (.5, 2.), reg=reg, div=div, numItermax=300, log=True)
    G_pot, lg_pot = pot.unbalanced.mm_unbalanced(a, b, M, (.5, 2.), reg=reg, div=div, numItermax=300, log=True)
    close(G, G_pot, 1e-12)
    for k in ('cost', 'total_cost'): close(lg[k], lg_pot[k], 1e-12)
    close([float(e) for e in lg['err']], [float(e) for e in lg_pot['err']], 1e-12)


@pytest.mark.parametrize('reg_m', REG_MS, ids=str)
@pytest.mark.parametrize('p', (1, 2))
def test_uot_1d_equals_pot(reg_m, p):
    "1-D Frank-Wolfe: reweighted marginals, value and potentials"
    rng = np.random.default_rng(11)
    x, y = torch.tensor(rng.normal(size=30)), torch.tensor(rng.normal(size=25) + .5)
    a, b = torch.tensor(rng.random(30)), torch.tensor(rng.random(25) * 3)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        ours = unbalanced.uot_1d(x, y, reg_m, a, b, p=p, returnCost='total', log=True)
        theirs = pot.unbalanced.uot_1d(x, y, reg_m, a, b, p=p, returnCost='total', log=True)
    for o, t in zip(ours[:3], theirs[:3]): close(o, t)
    for k in theirs[3]: close(ours[3][k], theirs[3][k])


@pytest.mark.parametrize('method', METHODS)
def test_gradients_equal_pots(method):
    "Gradients of the total value in a, b, M: implicit here, through the iterations in POT; equal at convergence"
    a, b, M = (torch.tensor(x, requires_grad=True) for x in problem(2))
    grads = [torch.autograd.grad(f(a, b, M, .1, (1., 3.), method, returnCost='total', stopThr=1e-13,
                                   numItermax=5000), (a, b, M))
             for f in (otbook.sinkhorn_unbalanced2, pot.sinkhorn_unbalanced2)]
    for ours, theirs in zip(*grads): close(ours, theirs, 1e-8)


def test_solve_paths_equal_pot():
    "ot.solve's unbalanced paths: entropic KL with a pair, exact KL and L2 by MM"
    a, b, M = problem(4)
    for kw in (dict(reg=.05, unbalanced=(.5, 2.)), dict(unbalanced=1.), dict(unbalanced=1., unbalanced_type='L2')):
        res, ref = otbook.solve(M, a, b, **kw), pot.solve(M, a, b, **kw)
        for k in ('value', 'value_linear', 'plan'): close(getattr(res, k), getattr(ref, k))


BAD = [(lambda a, b, M: otbook.sinkhorn_unbalanced(a, b[:-1], M, .1, 1.), 'b has 14 weights'),
       (lambda a, b, M: otbook.sinkhorn_unbalanced(a, b, M, .1, (1., 2., 3.)), 'reg_m'),
       (lambda a, b, M: otbook.sinkhorn_unbalanced(a, b, M, .1, 0.), 'reg_m'),
       (lambda a, b, M: otbook.sinkhorn_unbalanced(a, b, M, .1, 1., c=M[:3]), 'c must have'),
       (lambda a, b, M: unbalanced.mm_unbalanced(a, -b, M, 1.), 'b has negative'),
       (lambda a, b, M: unbalanced.mm_unbalanced(a, b, M, 1., div='kl2'), 'div')]


@pytest.mark.parametrize('call, message', BAD, ids=lambda x: x if isinstance(x, str) else '')
def test_bad_input_names_the_argument(call, message):
    "An InputError (a ValueError, and an AssertionError to POT's callers) naming the argument"
    with pytest.raises(InputError, match=message):
        call(*problem(0))


def test_not_converged_warns():
    "A ConvergenceWarning when the updates run out before stopThr"
    with pytest.warns(ConvergenceWarning):
        otbook.sinkhorn_unbalanced(*problem(0), .05, 1., numItermax=3)
