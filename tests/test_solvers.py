"""otbook.solvers against POT 0.9.7 (test-only oracle): solve, solve_sample, OTResult; numpy and torch; bad input."""
import warnings

import numpy as np
import ot as pot
import pytest
import torch

import otbook
from otbook.solvers import OTResult, GRADS
from otbook.utils import InputError, UnsupportedError

TOL = 1e-10
FIELDS = ('value', 'value_linear', 'plan', 'potential_a', 'potential_b', 'marginal_a', 'marginal_b')


def samples(seed, n=30, m=24):
    "Random clouds X_a, X_b and random weights a, b"
    rng = np.random.default_rng(seed)
    a, b = rng.random(n) + .1, rng.random(m) + .1
    return rng.random((n, 2)), rng.random((m, 2)) * .7 + .2, a / a.sum(), b / b.sum()


def as_kind(kind, *xs):
    "The arrays `xs` as numpy (unchanged) or as float64 torch tensors"
    return xs if kind == 'numpy' else tuple(torch.tensor(x) for x in xs)


def close(x, y, tol=TOL):
    "Assert x, y have one type (numpy or torch), one shape, and are within `tol`"
    assert torch.is_tensor(x) == torch.is_tensor(y), (type(x), type(y))
    x, y = (np.asarray(t.detach().cpu() if torch.is_tensor(t) else t, dtype=float) for t in (x, y))
    assert x.shape == y.shape, (x.shape, y.shape)
    np.testing.assert_allclose(x, y, rtol=0, atol=tol)


def close_results(res, ref, fields=FIELDS, tol=TOL):
    "Assert the `fields` of two OTResults agree; exact potentials modulo (u + c, v − c), which leaves them optimal"
    assert isinstance(res, OTResult)
    exact = res.log is None and res.status is not None
    for k in fields:
        x, y = getattr(res, k), getattr(ref, k)
        if exact and k.startswith('potential'):
            shift = (res.potential_a - ref.potential_a)[0]
            y = y + shift if k == 'potential_a' else y - shift
        close(x, y, tol)


@pytest.mark.parametrize('kind', ('numpy', 'torch'))
@pytest.mark.parametrize('reg, reg_type', ((None, 'KL'), (0, 'KL'), (.05, 'KL'), (.05, 'entropy'), (.2, 'kl')))
@pytest.mark.parametrize('seed', range(2))
def test_solve_equals_pot(seed, reg, reg_type, kind):
    "Every field of solve's result, exact and entropic"
    X_a, X_b, a, b = samples(seed)
    M, a, b = as_kind(kind, pot.dist(X_a, X_b), a, b)
    close_results(otbook.solve(M, a, b, reg=reg, reg_type=reg_type), pot.solve(M, a, b, reg=reg, reg_type=reg_type))
    unique = FIELDS if reg else ('value', 'value_linear', 'marginal_a', 'marginal_b')  # uniform weights: degenerate
    close_results(otbook.solve(M, reg=reg, reg_type=reg_type), pot.solve(M, reg=reg, reg_type=reg_type), unique)


@pytest.mark.parametrize('kind', ('numpy', 'torch'))
@pytest.mark.parametrize('reg, rho', ((.1, 1.), (.05, .2), (.2, 5.)))
def test_solve_unbalanced_equals_pot(reg, rho, kind):
    "Entropic unbalanced OT (KL penalties): every field, on masses that differ"
    X_a, X_b, a, b = samples(8)
    M, a, b = as_kind(kind, pot.dist(X_a, X_b), a, b / 1.4)
    close_results(otbook.solve(M, a, b, reg=reg, unbalanced=rho), pot.solve(M, a, b, reg=reg, unbalanced=rho))
    close_results(otbook.solve_sample(X_a, X_b, a, b, reg=reg, unbalanced=rho) if kind == 'numpy' else
                  otbook.solve(M, a, b, reg=reg, unbalanced=rho), pot.solve(M, a, b, reg=reg, unbalanced=rho))


@pytest.mark.parametrize('grad', GRADS)
def test_solve_gradients_equal_pot(grad):
    "Values and gradients in POT's four modes (weights up to a constant)"
    X_a, X_b, a, b = samples(3)
    ours, theirs = [[torch.tensor(x, requires_grad=True) for x in (pot.dist(X_a, X_b), a, b)] for _ in range(2)]
    res, ref = otbook.solve(*ours, reg=.1, grad=grad), pot.solve(*theirs, reg=.1, grad=grad)
    close(res.value, ref.value)
    assert res.value.requires_grad == ref.value.requires_grad
    if grad == 'detach': return
    for g, g_ref in zip(torch.autograd.grad(res.value, ours), torch.autograd.grad(ref.value, theirs)):
        close(g - g.mean(), g_ref - g_ref.mean(), 1e-8)


@pytest.mark.parametrize('kind', ('numpy', 'torch'))
@pytest.mark.parametrize('lazy', (False, True))
@pytest.mark.parametrize('metric', ('sqeuclidean', 'euclidean'))
def test_solve_sample_equals_pot(metric, lazy, kind):
    "Dense and lazy entropic OT between samples; the lazy value is the dense one (POT leaves it empty)"
    X_a, X_b, a, b = as_kind(kind, *samples(4))
    res = otbook.solve_sample(X_a, X_b, a, b, metric=metric, reg=.05, lazy=lazy)
    ref = pot.solve_sample(X_a, X_b, a, b, metric=metric, reg=.05, lazy=lazy)
    close_results(res, ref, ('value_linear', 'potential_a', 'potential_b', 'marginal_a', 'marginal_b'))
    close(res.value, otbook.solve(otbook.dist(X_a, X_b, metric), a, b, reg=.05).value)
    if lazy: close(res.lazy_plan[3:6, 2], ref.lazy_plan[3:6, 2])


@pytest.mark.parametrize('kind', ('numpy', 'torch'))
def test_solve_sample_1d_and_exact(kind):
    "method='1d' (per dimension) and exact OT between samples"
    X_a, X_b, a, b = as_kind(kind, *samples(5))
    close_results(otbook.solve_sample(X_a, X_b, a, b, method='1d'), pot.solve_sample(X_a, X_b, a, b, method='1d'),
                  ('value',))
    close_results(otbook.solve_sample(X_a, X_b, a, b), pot.solve_sample(X_a, X_b, a, b))


@pytest.mark.parametrize('method', ('geomloss', 'geomloss_tensorized', 'geomloss_auto'))
def test_solve_sample_geomloss(method):
    "SamplesLoss run to convergence gives the dense entropic value and plan; POT (GeomLoss's looser solver) to 1e-6"
    X_a, X_b, a, b = samples(6)
    res = otbook.solve_sample(X_a, X_b, a, b, reg=.05, method=method, tol=1e-12)
    dense = otbook.solve_sample(X_a, X_b, a, b, reg=.05, tol=1e-12)
    close(res.value, dense.value, 1e-9)
    close(res.plan, dense.plan, 1e-9)
    close(res.value, pot.solve_sample(X_a, X_b, a, b, reg=.05, method=method).value, 1e-6)


UNSUPPORTED = [dict(unbalanced_type='TV', unbalanced=1.), dict(reg_type='L2'), dict(c=np.ones((30, 24))),
               dict(method='lbfgsb')]


@pytest.mark.parametrize('option', UNSUPPORTED, ids=lambda o: next(iter(o)))
def test_unsupported_options_name_themselves(option):
    "An UnsupportedError (a NotImplementedError to POT's callers) naming the option"
    X_a, X_b, a, b = samples(0)
    name = next(iter(option))
    with pytest.raises(UnsupportedError, match=name):
        otbook.solve(pot.dist(X_a, X_b), a, b, reg=.1, **option)
    with pytest.raises(NotImplementedError):
        otbook.solve_sample(X_a, X_b, a, b, reg=.1, **option)


BAD = [(lambda X_a, X_b, a, b: otbook.solve(pot.dist(X_a, X_b), a[:5], b, reg=.1), InputError, 'a has 5 weights'),
       (lambda X_a, X_b, a, b: otbook.solve(pot.dist(X_a, X_b), a, b, reg=.1, grad='x'), InputError, 'grad'),
       (lambda X_a, X_b, a, b: otbook.solve_sample(X_a, X_b, reg=.1, lazy=True, metric='x'), InputError, 'metric'),
       (lambda X_a, X_b, a, b: otbook.solve_sample(X_a, X_b, method='gaussian'), UnsupportedError, 'method'),
       (lambda X_a, X_b, a, b: otbook.solve_sample(X_a, X_b, lazy=True), UnsupportedError, 'lazy'),
       (lambda X_a, X_b, a, b: otbook.solve_sample(X_a, X_b[:, :1], reg=.1, lazy=True), InputError, 'X_b|X_t')]


@pytest.mark.parametrize('call, error, message', BAD)
def test_bad_input_names_the_argument(call, error, message):
    "Bad input: its class, naming the argument"
    with pytest.raises(error, match=message):
        call(*samples(0))


POT_SCRIPT = '''
import numpy as np
import ot
rng = np.random.RandomState(0)
xs, xt = rng.rand(40, 2), rng.rand(35, 2) + .2
res = ot.solve_sample(xs, xt, reg=.1)
lazy = ot.solve_sample(xs, xt, reg=.1, lazy=True)
exact = ot.solve(ot.dist(xs, xt))
one_d = ot.solve_sample(xs, xt, method='1d')
print(float(res.value), float(lazy.value_linear), float(exact.value), one_d.value)
out = dict(value=res.value, plan=res.plan, lazy=lazy.value_linear, marginal=lazy.marginal_a, exact=exact.value,
           exact_plan=exact.plan, one_d=one_d.value)
'''


def test_pot_script_runs_with_only_its_imports_changed(capsys):
    "The same script on POT and on otbook prints the same numbers"
    from test_bregman import run_script
    ours, theirs = run_script(otbook, POT_SCRIPT), run_script(pot, POT_SCRIPT)
    first, second = capsys.readouterr().out.split('\n')[:2]
    printed = [np.array(line.replace('[', ' ').replace(']', ' ').split(), float) for line in (first, second)]
    np.testing.assert_allclose(printed[0], printed[1], rtol=0, atol=1e-12)
    for key in theirs: close(ours[key], theirs[key])
