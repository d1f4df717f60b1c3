"""otbook.bregman against POT 0.9.7 (test-only oracle) on random problems, numpy and torch; bad input; POT scripts."""
import warnings

import numpy as np
import ot as pot
import pytest
import torch

import otbook
from otbook import bregman
from otbook.utils import InputError, UnsupportedError, ConvergenceWarning

TOL = 1e-10
KINDS = ('numpy', 'torch')


def problem(seed, n=25, m=20, reg=.05):
    "Random weights a, b on POT's usual cost M = dist / max between uniform points, and reg"
    rng = np.random.default_rng(seed)
    a, b = rng.random(n) + .1, rng.random(m) + .1
    M = pot.dist(rng.random((n, 2)), rng.random((m, 2)))
    return a / a.sum(), b / b.sum(), M / M.max(), reg


def as_kind(kind, *xs):
    "The arrays `xs` as numpy (unchanged) or as float64 torch tensors"
    return xs if kind == 'numpy' else tuple(torch.tensor(x) for x in xs)


def close(x, y, tol=TOL):
    "Assert x, y (numpy, tensors, floats or lists) have one shape and are within `tol`, and x is typed as y"
    assert torch.is_tensor(x) == torch.is_tensor(y), (type(x), type(y))
    x, y = (np.asarray(t.detach().cpu() if torch.is_tensor(t) else t, dtype=float) for t in (x, y))
    assert x.shape == y.shape, (x.shape, y.shape)
    np.testing.assert_allclose(x, y, rtol=0, atol=tol)


LOG_KEYS = {'sinkhorn': ('u', 'v', 'err'), 'sinkhorn_log': ('log_u', 'log_v', 'u', 'v', 'err'),
            'greenkhorn': ('u', 'v'), 'sinkhorn_stabilized': ('logu', 'logv', 'alpha', 'beta', 'err'),
            'sinkhorn_epsilon_scaling': ()}


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('method', list(LOG_KEYS))
@pytest.mark.parametrize('seed', range(3))
def test_sinkhorn_equals_pot(seed, method, kind):
    "Plans, iteration counts and invariant log entries of every method, to 1e-10"
    a, b, M, reg = problem(seed)
    args = as_kind(kind, a, b, M)
    P, log = otbook.sinkhorn(*args, reg, method=method, log=True)
    P_ref, log_ref = pot.sinkhorn(*args, reg, method=method, log=True)
    close(P, P_ref)
    assert set(log) == set(log_ref)
    for key in ('niter', 'n_iter'):
        if key in log_ref: assert log[key] == log_ref[key]
    for key in LOG_KEYS[method]:
        close(log[key], np.asarray([float(e) for e in log_ref[key]]) if key == 'err' else log_ref[key])


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('method', bregman.SINKHORN2)
@pytest.mark.parametrize('seed', range(3))
def test_sinkhorn2_equals_pot(seed, method, kind):
    "Values, for one b and for several histograms (the columns of a 2-D b)"
    a, b, M, reg = problem(seed)
    B = np.stack([b, np.roll(b, 3), np.full(len(b), 1 / len(b))], 1)
    for target in (b, B):
        args = as_kind(kind, a, target, M)
        close(otbook.sinkhorn2(*args, reg, method=method), pot.sinkhorn2(*args, reg, method=method))


def test_sinkhorn_on_cuda_device_if_any():
    "torch in, torch out on the same device"
    if not torch.cuda.is_available(): pytest.skip('needs a GPU')
    a, b, M, reg = (torch.tensor(x, device='cuda') for x in problem(0)[:3]) + (.05,)
    assert otbook.sinkhorn(a, b, M, reg).device == M.device


@pytest.mark.parametrize('method', ('sinkhorn', 'sinkhorn_log'))
def test_gradients_equal_pot_at_convergence(method):
    "Implicit gradients of the value equal POT's unrolled ones (weights up to a constant)"
    a, b, M, reg = problem(1)
    ours, theirs = [[torch.tensor(x, requires_grad=True) for x in (a, b, M)] for _ in range(2)]
    value = otbook.sinkhorn2(*ours, reg, method=method, stopThr=1e-13)
    value_pot = pot.sinkhorn2(*theirs, reg, method=method, stopThr=1e-13)
    for g, g_pot in zip(torch.autograd.grad(value, ours), torch.autograd.grad(value_pot, theirs)):
        close(g - g.mean(), g_pot - g_pot.mean(), 1e-7)


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('lazy', (False, True))
@pytest.mark.parametrize('metric', ('sqeuclidean', 'euclidean'))
def test_empirical_equals_pot(metric, lazy, kind):
    "empirical_sinkhorn, empirical_sinkhorn2, empirical_sinkhorn_divergence, dense and lazy"
    rng = np.random.default_rng(7)
    X_s, X_t, a = rng.random((40, 2)), rng.random((30, 2)) + .3, rng.dirichlet(np.ones(40))
    X_s, X_t, a = as_kind(kind, X_s, X_t, a)
    out, ref = (f.empirical_sinkhorn(X_s, X_t, .1, a=a, metric=metric, isLazy=lazy, log=True)
                for f in (bregman, pot.bregman))
    for x, y in zip(out[:-1], ref[:-1]): close(x, y)
    if lazy:
        assert out[2]['niter'] == ref[2]['niter']
        close(out[2]['err'], np.asarray([float(e) for e in ref[2]['err']]))
        for key in (3, (slice(2, 9), 4), (slice(None), slice(5, 7))):
            close(out[2]['lazy_plan'][key], ref[2]['lazy_plan'][key])
    close(bregman.empirical_sinkhorn2(X_s, X_t, .1, a=a, metric=metric, isLazy=lazy),
          pot.bregman.empirical_sinkhorn2(X_s, X_t, .1, a=a, metric=metric, isLazy=lazy))
    tol = TOL if metric == 'sqeuclidean' or lazy else 1e-8  # dist's √ of a rounded 0 on the self-cost diagonal
    div = bregman.empirical_sinkhorn_divergence(X_s, X_t, .1, a=a, metric=metric, isLazy=lazy)
    div_ref = pot.bregman.empirical_sinkhorn_divergence(X_s, X_t, .1, a=a, metric=metric, isLazy=lazy)
    assert div.shape == ()  # POT's torch backend returns shape (1,) here (its maximum(0, ·)); otbook a scalar
    close(div, div_ref.reshape(()), tol)


@pytest.mark.parametrize('kind', KINDS)
@pytest.mark.parametrize('method, reg', (('sinkhorn', 1e-3), ('sinkhorn_log', 1e-3), ('sinkhorn_stabilized', .05)))
def test_barycenter_equals_pot(method, reg, kind):
    "The entropic barycenter of two 1-D histograms, uniform and given weights"
    n = 80
    A = np.stack([pot.datasets.make_1D_gauss(n, 20, 5), pot.datasets.make_1D_gauss(n, 55, 8)], 1)
    M = pot.utils.dist0(n)
    M /= M.max()
    for weights in (None, np.array([.2, .8])):
        args = as_kind(kind, A, M) + (reg, None if weights is None else as_kind(kind, weights)[0])
        q, log = otbook.barycenter(*args, method=method, log=True)
        # POT on numpy: its torch backend with given weights stops 10 updates later than its numpy one
        q_ref, log_ref = pot.barycenter(A, M, reg, weights, method=method, log=True)
        assert torch.is_tensor(q) == (kind == 'torch')
        close(q.numpy() if torch.is_tensor(q) else q, q_ref)
        assert log['niter'] == log_ref['niter']


BAD = [(lambda a, b, M: otbook.sinkhorn(a, b[:-1], M, .1), InputError, 'b has 19 weights'),
       (lambda a, b, M: otbook.sinkhorn(-a, b, M, .1), InputError, 'a has negative weights'),
       (lambda a, b, M: otbook.sinkhorn2(a, b, M[None], .1), InputError, 'M must be 2-D'),
       (lambda a, b, M: otbook.sinkhorn2(a, b, M, -.1), InputError, 'reg'),
       (lambda a, b, M: otbook.sinkhorn(a, b, M * np.inf, .1), InputError, 'M contains NaN or infinite'),
       (lambda a, b, M: otbook.sinkhorn(a, b, M, .1, method='sinkhorn_magic'), UnsupportedError, 'method'),
       (lambda a, b, M: otbook.sinkhorn2(a, b, M, .1, method='greenkhorn'), UnsupportedError, 'method'),
       (lambda a, b, M: bregman.greenkhorn(a, np.stack([b, b], 1), M, .1), UnsupportedError, 'b:'),
       (lambda a, b, M: bregman.empirical_sinkhorn(M, M[:, :3], .1), InputError, 'X_t has dimension 3'),
       (lambda a, b, M: bregman.empirical_sinkhorn2(M, M, .1, metric='fakeone'), InputError, 'metric'),
       (lambda a, b, M: otbook.barycenter(np.stack([a, a], 1), M[:, :25], .1), InputError, 'M must be square'),
       (lambda a, b, M: otbook.barycenter(np.stack([b, b], 1), M[:20, :20], .1, [1.]), InputError, 'weights'),
       (lambda a, b, M: otbook.barycenter(np.stack([b, b], 1), M[:20, :20], .1, method='x'), UnsupportedError,
        'method')]


@pytest.mark.parametrize('call, error, message', BAD)
def test_bad_input_names_the_argument(call, error, message):
    "Each bad input raises its class (an AssertionError or NotImplementedError to POT's callers) naming the argument"
    a, b, M, _ = problem(0)
    with pytest.raises(error, match=message) as info:
        call(a, b, M)
    assert isinstance(info.value, (AssertionError, NotImplementedError)) and isinstance(info.value, ValueError)


def test_warns_when_not_converged():
    "POT's warning (a UserWarning) when numItermax is too small, none with warn=False"
    a, b, M, _ = problem(0)
    with pytest.warns(ConvergenceWarning):
        otbook.sinkhorn(a, b, M, 1e-3, numItermax=10)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        otbook.sinkhorn(a, b, M, 1e-3, numItermax=10, warn=False)


POT_SCRIPT = '''
import numpy as np
import ot
from ot.lp import emd
rng = np.random.RandomState(42)
xs, xt = rng.randn(30, 2), rng.randn(25, 2) + 1
a, b = ot.unif(30), ot.unif(25)
M = ot.dist(xs, xt)
M /= M.max()
G0 = emd(a, b, M)
Gs = ot.sinkhorn(a, b, M, 1e-1)
Gl = ot.sinkhorn(a, b, M, 1e-2, method='sinkhorn_log')
w = ot.sinkhorn2(a, b, M, 1e-1)
res = ot.solve(M, a, b, reg=1e-1)
A = np.stack([ot.datasets.make_1D_gauss(60, 15, 4), ot.datasets.make_1D_gauss(60, 40, 6)], 1)
Mg = ot.utils.dist(np.arange(60.)[:, None])
Mg /= Mg.max()
bary = ot.bregman.barycenter(A, Mg, 1e-3)
bary_log = ot.barycenter(A, Mg, 1e-3, method='sinkhorn_log')
emp = ot.bregman.empirical_sinkhorn2(xs, xt, .5)
print(float((G0 * M).sum()), float(w), float(res.value), float(bary @ np.arange(60)), float(emp))
out = dict(G0=G0, Gs=Gs, Gl=Gl, w=w, value=res.value, plan=res.plan, bary=bary, bary_log=bary_log, emp=emp)
'''


def run_script(module, script=POT_SCRIPT):
    "Run a POT script with `import ot` bound to `module` (its only change); its `out` dict"
    import sys
    saved = {k: sys.modules.get(k) for k in ('ot', 'ot.lp')}
    sys.modules['ot'], sys.modules['ot.lp'] = module, module.lp
    try:
        scope = {}
        exec(script, scope)
        return scope['out']
    finally:
        for k, v in saved.items(): sys.modules[k] = v


def test_pot_script_runs_with_only_its_imports_changed(capsys):
    "The same script on POT and on otbook prints the same numbers"
    ours, theirs = run_script(otbook), run_script(pot)
    printed = capsys.readouterr().out.split('\n')
    numbers = [np.array(line.split(), float) for line in printed[:2]]
    np.testing.assert_allclose(numbers[0], numbers[1], rtol=0, atol=1e-12)
    for key in theirs: close(ours[key], theirs[key])


@pytest.mark.parametrize('method', ('sinkhorn', 'sinkhorn_log', 'sinkhorn_stabilized'))
def test_warm_starts_equal_pot(method):
    "A warm start from another problem's solution gives POT's plan and iteration count"
    a, b, M, reg = problem(2)
    _, log0 = pot.sinkhorn(a, b, M * 1.1, reg, method=method, log=True)
    start = (log0['alpha'], log0['beta']) if method == 'sinkhorn_stabilized' else \
        (np.log(log0['u']), np.log(log0['v']))
    P, log = otbook.sinkhorn(a, b, M, reg, method=method, log=True, warmstart=start)
    P_ref, log_ref = pot.sinkhorn(a, b, M, reg, method=method, log=True, warmstart=start)
    close(P, P_ref)
    assert log.get('niter', log.get('n_iter')) == log_ref.get('niter', log_ref.get('n_iter'))


def test_pot_namespaces():
    "ot.sinkhorn and friends are functions; ot.bregman, ot.lp and ot.utils modules; `from otbook.lp import emd` works"
    import subprocess
    import sys
    code = ('import otbook as ot\nfrom otbook.lp import emd\nimport otbook.lp\n'
            'assert emd is ot.emd is ot.lp.emd and otbook.lp.emd is ot.exact.emd and ot.lp.barycenter is not ot.barycenter\n'
            'for f in (ot.sinkhorn, ot.sinkhorn2, ot.barycenter, ot.solve, ot.solve_sample, ot.bregman.barycenter,\n'
            '          ot.bregman.empirical_sinkhorn, ot.utils.unif): assert callable(f)\n'
            'import otbook.loop, otbook.losses\nprint("ok")')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    assert out.stdout.strip().endswith('ok'), out.stderr
