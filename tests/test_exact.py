"""otbook.exact against POT (test-only oracle), brute force and finite differences; bad input; the seed script."""
import itertools, re, warnings
from pathlib import Path

import numpy as np
import ot as pot
import pytest
import scipy.optimize
import torch

import otbook
from helpers import finite_differences, rel, value_and_grads
from seeds import needs_seed, on_otbook, seed_blocks
from otbook.exact import emd, emd2, emd_1d, emd2_1d, wasserstein_1d, MAX_ITER_MSG
from otbook.utils import InputError

ROOT = Path(__file__).resolve().parents[1]


def sqcost(x, y):
    return ((x[:, None] - y[None]) ** 2).sum(-1)


def problem(rng, n, m, uniform=False, integer=False):
    "A random 2-D problem: weights a, b and squared euclidean costs C"
    a = np.full(n, 1 / n) if uniform else rng.dirichlet(np.ones(n))
    b = np.full(m, 1 / m) if uniform else rng.dirichlet(np.ones(m))
    C = sqcost(rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) + .5)
    return a, b, np.round(4 * C) if integer else C


def assert_optimal(a, b, C, P, log, tol=1e-12):
    "Marginals, dual feasibility, complementary slackness and centring of an emd result"
    u, v = log['u'], log['v']
    np.testing.assert_allclose(P.sum(1), a, rtol=0, atol=tol)
    np.testing.assert_allclose(P.sum(0), b, rtol=0, atol=tol)
    assert (P >= 0).all()
    assert (u[:, None] + v[None] <= C + tol * max(1, C.max())).all()
    np.testing.assert_allclose((u[:, None] + v[None] - C)[P > 0], 0, atol=tol * max(1, C.max()))
    np.testing.assert_allclose(a @ u, b @ v, rtol=1e-10, atol=tol)


@pytest.mark.parametrize('seed', range(60))
def test_matches_pot(seed):
    rng = np.random.default_rng(seed)
    n, m = rng.integers(5, 60, size=2)
    a, b, C = problem(rng, n, m, uniform=seed % 2 == 0, integer=seed % 5 == 0)
    P, log = emd(a, b, C, log=True)
    np.testing.assert_allclose(log['cost'], pot.emd2(a, b, C), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(emd2(a, b, C), log['cost'], rtol=1e-14)
    assert_optimal(a, b, C, P, log)
    assert np.count_nonzero(P) <= n + m - 1


@pytest.mark.parametrize('n', range(1, 8))
def test_brute_force_permutations(n):
    rng = np.random.default_rng(100 + n)
    C = rng.uniform(size=(n, n))
    best = min(C[np.arange(n), list(p)].sum() for p in itertools.permutations(range(n))) / n
    np.testing.assert_allclose(emd2([], [], C), best, rtol=1e-13)
    P = emd([], [], C)
    assert ((P == 0) | np.isclose(P, 1 / n, rtol=0, atol=1e-15)).all()  # a permutation: a vertex


def test_log_and_return_conventions():
    rng = np.random.default_rng(0)
    a, b, C = problem(rng, 7, 9)
    P, log = emd(a, b, C, log=True)
    _, log2 = pot.emd(a, b, C, log=True)
    assert set(log) == set(log2) and log['result_code'] == 1 and log['warning'] is None
    W, log = emd2(a, b, C, log=True, return_matrix=True)
    assert isinstance(W, float) and np.array_equal(log['G'], P)
    u, v = emd(a, b, C, log=True, center_dual=False)[1]['u'], emd(a, b, C, log=True)[1]['v']
    assert not np.isclose(a @ u, b @ v)  # without centring the duals keep the solver's offset
    np.testing.assert_allclose(emd2(list(a), list(b), C.tolist()), W)  # lists are accepted
    np.testing.assert_allclose(emd2(a, b, C, 1, 100000), W)  # POT's positional order (processes, numItermax)


def test_zero_weights_duplicates_and_scales():
    rng = np.random.default_rng(1)
    a, b, C = problem(rng, 30, 25)
    a[[0, 3, 29]], b[[1, 2]] = 0, 0
    a, b = a / a.sum(), b / b.sum()
    C[15:] = C[:15]  # duplicate source points
    P, log = emd(a, b, C, log=True)
    assert_optimal(a, b, C, P, log)
    np.testing.assert_allclose(log['cost'], pot.emd2(a, b, C), rtol=1e-12)
    assert (P[a == 0] == 0).all() and (P[:, b == 0] == 0).all()
    for scale in (1e-15, 1e-6, 1e6, 1e15):
        np.testing.assert_allclose(emd2(a, b, scale * C), scale * log['cost'], rtol=1e-12)


@pytest.mark.parametrize('huge', [1e8, 1e15, 1e30])
def test_huge_costs(huge):
    "A block of forbidden pairs does not spoil the precision of the rest (POT's fails at 1e30)"
    rng = np.random.default_rng(2)
    a, b, C = problem(rng, 20, 20)
    C[:6, :6] = huge
    ref = pot.emd2(a, b, np.where(C == huge, 1e6, C))  # same optimum: the block is avoided either way
    np.testing.assert_allclose(emd2(a, b, C), ref, rtol=1e-12)


def test_degenerate_all_equal_costs():
    for C in (np.zeros((4, 6)), np.ones((5, 5))):
        P, log = emd([], [], C, log=True)
        assert_optimal(np.full(C.shape[0], 1 / C.shape[0]), np.full(C.shape[1], 1 / C.shape[1]), C, P, log)
    np.testing.assert_allclose(emd2([1.], [1.], [[3.]]), 3.)


def test_mass_rescaling_and_unnormalised_weights():
    rng = np.random.default_rng(3)
    a, b, C = problem(rng, 10, 12)
    np.testing.assert_allclose(emd2(5 * a, 5 * b, C), 5 * emd2(a, b, C), rtol=1e-12)
    np.testing.assert_allclose(emd2(a, b * (1 + 5e-7), C), pot.emd2(a, b * (1 + 5e-7), C), rtol=1e-12)
    assert emd2(a, b * 1.1, C, check_marginals=False) == pytest.approx(emd2(a, b, C), rel=1e-12)


def test_max_iter_warns():
    rng = np.random.default_rng(4)
    a, b, C = problem(rng, 30, 30)
    with pytest.warns(UserWarning, match=re.escape(MAX_ITER_MSG)):
        W, log = emd2(a, b, C, numItermax=10, log=True)
    assert log['result_code'] == 3 and log['warning'] == MAX_ITER_MSG
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        emd2(a, b, C)


BAD = [
    (dict(a=[.5, .5]), 'a has 2 weights but there are 3 rows in M'),
    (dict(b=[1.]), 'b has 1 weights but there are 4 columns in M'),
    (dict(a=[.5, .6, -.1]), 'a has negative weights'),
    (dict(b=[np.nan, .5, .5, 0]), 'b contains NaN'),
    (dict(a=[0., 0., 0.]), 'a must have a positive total mass'),
    (dict(b=[.25, .25, .25, .26]), 'a and b must have the same total mass'),
    (dict(M=np.full((3, 4), np.nan)), 'M contains NaN'),
    (dict(M=np.full((3, 4), -np.inf)), 'M contains -inf'),
    (dict(M=np.full((3, 4), np.inf)), 'M: every entry is +inf'),
    (dict(M=np.ones(4)), 'M must be 2-D'),
    (dict(M=np.ones((3, 4, 1))), 'M must be 2-D'),
    (dict(a=np.ones((3, 1)) / 3), 'a must be 1-D'),
]


@pytest.mark.parametrize('kw,msg', BAD, ids=[m for _, m in BAD])
def test_bad_input(kw, msg):
    args = dict(a=[], b=[], M=np.ones((3, 4)))
    args.update(kw)
    for f in (emd, emd2):
        with pytest.raises(ValueError, match=re.escape(msg)):
            f(args['a'], args['b'], args['M'])


def lp_cost(a, b, C):
    "OT cost by HiGHS, the variables of +inf costs fixed at 0"
    n, m = C.shape
    A = np.vstack([np.kron(np.eye(n), np.ones(m)), np.kron(np.ones(n), np.eye(m))])
    bounds = [(0, 0) if np.isinf(c) else (0, None) for c in C.ravel()]
    res = scipy.optimize.linprog(np.where(np.isinf(C), 0, C).ravel(), A_eq=A, b_eq=np.r_[a, b], bounds=bounds,
                                 method='highs')
    return res.fun if res.status == 0 else None


@pytest.mark.parametrize('seed', range(8))
def test_negative_costs_match_pot_and_highs(seed):
    "Issue 15: emd2(a, b, M - 1) is a valid LP; same plan as M, value lower by the mass"
    rng = np.random.default_rng(40 + seed)
    a, b, C = problem(rng, *rng.integers(2, 25, size=2))
    np.testing.assert_allclose(emd2(a, b, C - 1), pot.emd2(a, b, C - 1), rtol=1e-11, atol=1e-12)
    for shift in (1., 1e3):  # POT 0.9.7 reports 'Problem infeasible' and returns 0 at a shift of 1e3
        W = emd2(a, b, C - shift)
        np.testing.assert_allclose(W, emd2(a, b, C) - shift, rtol=1e-12)
        np.testing.assert_allclose(W, lp_cost(a, b, C - shift), rtol=1e-8, atol=1e-9)
        P, log = emd(a, b, C - shift, log=True)
        assert_optimal(a, b, C - shift, P, log, tol=1e-10)
    np.testing.assert_allclose(emd2(a, b, -C), lp_cost(a, b, -C), rtol=1e-8)


@pytest.mark.parametrize('seed', range(8))
def test_forbidden_arcs_match_highs(seed):
    "Issue 15: +inf entries are forbidden pairs; a feasible problem is solved, an infeasible one named"
    rng = np.random.default_rng(60 + seed)
    n = int(rng.integers(3, 15))
    x = rng.normal(size=(n, 2))
    a = rng.dirichlet(np.ones(n)) * .5 + .5 / n  # no weight above half the mass: a derangement exists
    C = sqcost(x, x)
    np.fill_diagonal(C, np.inf)
    C[rng.uniform(size=C.shape) < .15] = np.inf
    ref = lp_cost(a, a, C)
    if ref is None:
        with pytest.raises(InputError, match='M: its \\+inf entries'): emd2(a, a, C)
        return
    P, log = emd(a, a, C, log=True)
    assert (P[np.isinf(C)] == 0).all()
    np.testing.assert_allclose(log['cost'], ref, rtol=1e-9)
    np.testing.assert_allclose(P.sum(1), a, atol=1e-14)
    u, v = log['u'], log['v']
    assert (u[:, None] + v[None] <= C + 1e-10).all()
    np.testing.assert_allclose(a @ u + a @ v, ref, rtol=1e-9)


def test_infeasible_forbidden_arcs():
    C = np.array([[0., np.inf], [0., np.inf]])
    with pytest.raises(InputError, match='at least 0.5 of the mass 1'): emd2([.5, .5], [.5, .5], C)
    with pytest.raises(AssertionError): emd([.5, .5], [.5, .5], C)  # what POT's callers catch
    assert emd2([1., 0.], [1., 0.], C) == 0.  # feasible once the second column has no mass


def test_costs_near_the_float_range():
    "Issue 15: costs near 1.7e308 gave a value 9 % off; now exact to rounding, without warnings"
    rng = np.random.default_rng(7)
    a, b, C = problem(rng, 20, 30)
    Ch = C / C.max() * 1.7e308
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        W = emd2(a, b, Ch)
    np.testing.assert_allclose(W, lp_cost(a, b, Ch / 1e300) * 1e300, rtol=1e-9)
    np.testing.assert_allclose(W, pot.emd2(a, b, Ch / 1e300) * 1e300, rtol=1e-12)
    np.testing.assert_allclose(emd2(a, b, -Ch), lp_cost(a, b, -Ch / 1e300) * 1e300, rtol=1e-9)  # near -1.7e308


def test_gradients_with_negative_and_forbidden_costs():
    "dW/dM = P and dW/da, dW/db = centred potentials still hold after the shift and the forbidden arcs"
    rng = np.random.default_rng(8)
    a, b, C = problem(rng, 6, 5)
    C = C - 2
    C[0, 0] = C[3, 2] = np.inf
    at, bt, Ct = (torch.tensor(z) for z in (a, b, C))
    fin = torch.isfinite(Ct)
    f = lambda a_, b_, c_: emd2(a_, b_, torch.where(fin, c_, torch.inf))
    W, (ga, gb, gC) = value_and_grads(f, at, bt, torch.where(fin, Ct, 0.))
    assert (gC[~fin] == 0).all()
    fd_a, fd_b, fd_C = finite_differences(f, [at, bt, torch.where(fin, Ct, 0.)], h=1e-7)
    assert rel(gC, fd_C) < 1e-6
    P = emd(a, b, C)
    np.testing.assert_allclose(gC.numpy(), P, atol=1e-14)
    proj = lambda g: g - g.mean()  # the gradient in the weights is defined up to a constant (masses are tied)
    assert rel(proj(ga), proj(fd_a)) < 1e-5 and rel(proj(gb), proj(fd_b)) < 1e-5


def test_issue_reproducers_bad_arguments():
    a, b, C = np.full(3, 1 / 3), np.full(4, .25), np.ones((3, 4))
    with pytest.raises(TypeError, match='M must be an array or tensor of numbers, got NoneType'): emd2(a, b, None)
    with pytest.raises(TypeError, match='a must be an array or tensor of numbers, got str'): emd2('abc', b, C)
    with pytest.raises(TypeError, match='M must be an array or tensor of numbers'): emd(a, b, [['x', 'y']])
    for bad in (0, -1, 2.5):
        with pytest.raises(ValueError, match='numItermax must be an integer >= 1'): emd(a, b, C, numItermax=bad)
    assert emd2(a, b, C, numItermax=1e5) == pytest.approx(1.)  # an integral float, as POT users write it


def test_torch_types_and_float32():
    rng = np.random.default_rng(5)
    a, b, C = problem(rng, 12, 9)
    W = emd2(a, b, C)
    for dtype in (torch.float32, torch.float64):
        at, bt, Ct = (torch.tensor(z, dtype=dtype) for z in (a, b, C))
        Wt, P = emd2(at, bt, Ct), emd(at, bt, Ct)
        assert Wt.dtype == P.dtype == dtype and not P.requires_grad
        tol = 1e-6 if dtype == torch.float32 else 1e-13
        np.testing.assert_allclose(Wt.item(), W, rtol=tol)
        np.testing.assert_allclose(P.sum(1).numpy(), at.numpy(), atol=tol)
    Wt = emd2([], [], torch.tensor(C, dtype=torch.float32))  # uniform weights typed like M
    assert Wt.dtype == torch.float32


def test_gradcheck():
    rng = np.random.default_rng(6)
    a, b, C = problem(rng, 7, 6)
    la, lb = (torch.tensor(np.log(z), requires_grad=True) for z in (a, b))
    Ct = torch.tensor(C, requires_grad=True)
    assert torch.autograd.gradcheck(lambda la, lb, Ct: emd2(la.softmax(0), lb.softmax(0), Ct), (la, lb, Ct))
    x, y = torch.tensor(rng.normal(size=(7, 2)), requires_grad=True), torch.tensor(rng.normal(size=(6, 2)))
    assert torch.autograd.gradcheck(lambda x: emd2(torch.tensor(a), torch.tensor(b), otbook.dist(x, y)), (x,))


@pytest.mark.parametrize('seed', range(5))
def test_gradients_match_pot(seed):
    rng = np.random.default_rng(10 + seed)
    a, b, C = problem(rng, 15, 20)
    grads = []
    for f in (emd2, pot.emd2):
        at, bt, Ct = (torch.tensor(z, requires_grad=True) for z in (a, b, C))
        f(at, bt, Ct).backward()
        grads.append((at.grad, bt.grad, Ct.grad))
    for g, g2 in zip(*grads):
        torch.testing.assert_close(g, g2, rtol=1e-9, atol=1e-11)


def test_same_tensor_twice_gets_both_gradients():
    a = torch.full((4,), .25, dtype=torch.float64, requires_grad=True)
    C = torch.tensor(np.random.default_rng(7).uniform(size=(4, 4)))
    emd2(a, a, C).backward()
    _, log = emd2(a.detach().numpy(), a.detach().numpy(), C.numpy(), log=True)
    u, v = log['u'], log['v']
    np.testing.assert_allclose(a.grad.numpy(), u - u.mean() + v - v.mean(), atol=1e-14)


@pytest.mark.parametrize('seed', range(10))
def test_1d_against_general_solver(seed):
    rng = np.random.default_rng(20 + seed)
    n, m = rng.integers(1, 15, size=2)
    x, y = rng.normal(size=n), rng.normal(size=m)
    if seed % 3 == 0: x = np.round(x)  # ties
    a, b = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
    for metric, q in (('sqeuclidean', 2), ('minkowski', 3), ('cityblock', 1)):
        C = np.abs(x[:, None] - y[None]) ** q
        np.testing.assert_allclose(emd2_1d(x, y, a, b, metric, p=q), emd2(a, b, C), rtol=1e-11, atol=1e-14)
        np.testing.assert_allclose(wasserstein_1d(x, y, a, b, p=q), emd2(a, b, C), rtol=1e-11, atol=1e-14)
        G = emd_1d(x, y, a, b, metric, p=q)
        np.testing.assert_allclose(G.sum(1), a, atol=1e-14)
        np.testing.assert_allclose((G * C).sum(), emd2(a, b, C), rtol=1e-11, atol=1e-14)


def test_1d_gradients():
    rng = np.random.default_rng(30)
    x, y = torch.tensor(rng.normal(size=8), requires_grad=True), torch.tensor(rng.normal(size=5))
    la = torch.tensor(rng.normal(size=8), requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, la: wasserstein_1d(x, y, la.softmax(0), None, p=1.5), (x, la))
    g = torch.autograd.grad(wasserstein_1d(x, y, p=2), x)[0]
    g2 = torch.autograd.grad(pot.wasserstein_1d(x, y, p=2), x)[0]
    torch.testing.assert_close(g, g2)


def test_1d_sparse_numpy_plan():
    "Issue 15: emd_1d(..., dense=False) on numpy raised NameError: scipy (hidden by a test-only import)"
    import otbook.exact as ex
    G = ex.emd_1d(np.array([0., 1., 2.]), np.array([.5, 3.]), dense=False)
    assert type(G) is type(pot.emd_1d(np.array([0., 1., 2.]), np.array([.5, 3.]), dense=False))  # scipy's coo_array, as POT
    np.testing.assert_allclose(G.toarray(), emd_1d(np.array([0., 1., 2.]), np.array([.5, 3.])))


def test_1d_w_infinity():
    "wasserstein_1d(p=inf) is W_inf, the largest move of the quantile coupling (was NaN with a RuntimeWarning)"
    rng = np.random.default_rng(31)
    for _ in range(10):
        x, y = rng.normal(size=9), rng.normal(size=6) * 2
        a, b = rng.dirichlet(np.ones(9)), rng.dirichlet(np.ones(6))
        G = emd_1d(x, y, a, b, metric='cityblock')
        with warnings.catch_warnings():
            warnings.simplefilter('error')
            w = wasserstein_1d(x, y, a, b, p=np.inf)
        assert w == np.abs(x[:, None] - y[None])[G > 1e-15].max()
        assert w >= wasserstein_1d(x, y, a, b, p=30) ** (1 / 30)
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))
    np.testing.assert_array_equal(wasserstein_1d(X, Y, p=np.inf),
                                  [wasserstein_1d(X[:, k], Y[:, k], p=np.inf) for k in range(3)])


def test_1d_issue_reproducers():
    "Wrong-length weights (was a RuntimeError from tensor sizes) and zero points (was ZeroDivisionError)"
    with pytest.raises(ValueError, match='b has 3 weights but there are 2 points'):
        emd2_1d([0., 1.], [1., 2.], None, [.2, .3, .5])
    with pytest.raises(ValueError, match='u_weights has 1 weights but there are 2 points'):
        wasserstein_1d([0., 1.], [1.], [1.])
    with pytest.raises(ValueError, match='x_a must hold at least one point'): emd2_1d([], [1.])
    with pytest.raises(ValueError, match='v_values must hold at least one point'): wasserstein_1d([1.], np.zeros(0))
    with pytest.raises(TypeError, match='x_b must be an array or tensor of numbers, got str'): emd_1d([1.], 'x')
    with pytest.raises(InputError, match='a and b must have the same total mass'): emd2_1d([0.], [1.], [1.], [2.])


def test_1d_bad_input():
    with pytest.raises(ValueError, match='p must be >= 1'): wasserstein_1d([0.], [1.], p=0)
    with pytest.raises(ValueError, match='v_weights has negative weights'):
        wasserstein_1d([0., 1.], [1., 2.], None, [1.5, -.5])
    with pytest.raises(ValueError, match='x_b must be of shape'): emd_1d([0.], np.zeros((1, 2)))
    with pytest.raises(ValueError, match='u_values contains NaN'): wasserstein_1d([np.nan], [1.])
    with pytest.raises(ValueError, match='v_values has 2 columns but u_values has 3'):
        wasserstein_1d(np.zeros((2, 3)), np.zeros((2, 2)))


@needs_seed('unmix_optim_torch')
def test_pot_unmixing_script_runs_on_otbook():
    "POT's gallery script, with only its import line changed, prints the published mixture"
    import matplotlib.pyplot as plt
    code = on_otbook('\n'.join(seed_blocks('unmix_optim_torch')))
    assert code.count('import otbook as ot') == 1
    ns = {}
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the script's float(loss) on a grad tensor, its '\mu' in plain strings
        exec(compile(code, 'plot_unmix_optim_torch.py', 'exec'), ns)
    plt.close('all')
    np.testing.assert_allclose(ns['we'], [0.09980706, 0.90019294], atol=1e-5)
    assert ns['ot'] is otbook and len(ns['losses']) == 500


from hypothesis import given, settings, strategies as st


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 12), st.integers(1, 12), st.integers(0, 2 ** 31))
def test_properties(n, m, seed):
    "Transposing swaps the roles; permuting rows permutes the plan; adding f_i + g_j to M adds <a,f> + <b,g>"
    rng = np.random.default_rng(seed)
    a, b, C = problem(rng, n, m)
    W = emd2(a, b, C)
    np.testing.assert_allclose(emd2(b, a, C.T), W, rtol=1e-12, atol=1e-15)
    p = rng.permutation(n)
    np.testing.assert_allclose(emd(a[p], b, C[p]), emd(a, b, C)[p], atol=1e-15)
    f, g = rng.uniform(0, 1, n), rng.uniform(0, 1, m)
    np.testing.assert_allclose(emd2(a, b, C + f[:, None] + g[None]), W + a @ f + b @ g, rtol=1e-12)


def test_integer_tensors_give_float_outputs():
    W = emd2(torch.tensor([1, 1]), torch.tensor([1, 1]), torch.tensor([[0, 1], [1, 0]]))
    assert W.dtype == torch.get_default_dtype() and W.item() == 0


@pytest.mark.parametrize('dtype', [torch.float16, torch.bfloat16])
def test_half_precision_tensors(dtype):
    "float16 / bfloat16 costs: solved in float64 on the rounded costs, returned (with gradients) in the input dtype"
    rng = np.random.default_rng(9)
    a, b, C = problem(rng, 6, 5)
    Ct = torch.tensor(C, dtype=dtype, requires_grad=True)
    W = emd2(torch.tensor(a, dtype=dtype), torch.tensor(b, dtype=dtype), Ct)
    W.backward()
    assert W.dtype == Ct.grad.dtype == dtype
    ref = emd2(torch.tensor(a, dtype=dtype).double().numpy(), torch.tensor(b, dtype=dtype).double().numpy(),
               Ct.detach().double().numpy(), check_marginals=False)
    assert W.item() == torch.tensor(ref, dtype=dtype).item()
