"""otbook.stochastic: dual values and plans vs POT, the optima vs independent references,
POT's stochastic solvers draw for draw, bad input, and the POT gallery script run on otbook."""
import warnings

import matplotlib
import numpy as np
import pytest
import scipy.optimize
import scipy.special
import torch

import ot as pot
import ot.plot  # noqa: F401  (POT's module, stubbed below when the seed runs on POT)
from helpers import finite_differences, rel, value_and_grads
from seeds import needs_seed, on_otbook, seed_blocks
from otbook import stochastic as st
from otbook.utils import ConvergenceWarning, InputError, NonFiniteWarning, dist

matplotlib.use('Agg')


def problem(seed, n=9, m=7):
    rng = np.random.default_rng(seed)
    a, b = rng.uniform(.2, 1, n), rng.uniform(.2, 1, m)
    return a / a.sum(), b / b.sum(), dist(rng.normal(size=(n, 2)), rng.normal(size=(m, 2)) + 1)


# --- dual objectives and plans -------------------------------------------------------------

@pytest.mark.parametrize('seed', [0, 1, 2])
@pytest.mark.parametrize('name', ['loss_dual_entropic', 'plan_dual_entropic', 'loss_dual_quadratic', 'plan_dual_quadratic'])
def test_duals_match_pot(seed, name):
    rng = np.random.default_rng(seed)
    xs, xt = rng.normal(size=(8, 3)), rng.normal(size=(6, 3))
    u, v = rng.normal(size=8), rng.normal(size=6)
    ws, wt = rng.dirichlet(np.ones(8)), rng.dirichlet(np.ones(6))
    for kw in (dict(reg=.4), dict(reg=1.3, ws=ws, wt=wt, metric='euclidean')):
        want = getattr(pot.stochastic, name)(u, v, xs, xt, **kw)
        np.testing.assert_allclose(getattr(st, name)(u, v, xs, xt, **kw), want, rtol=1e-10, atol=1e-13)
        tkw = {k: torch.tensor(w) if isinstance(w, np.ndarray) else w for k, w in kw.items()}
        got = getattr(st, name)(*map(torch.tensor, (u, v, xs, xt)), **tkw)
        assert torch.is_tensor(got) and got.dtype == torch.float64
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-10, atol=1e-13)


def test_dual_gradient_is_marginal_error():
    a, b, M = problem(3)
    for reg_type in st.REG_TYPES:
        al = torch.randn(9, dtype=torch.float64, requires_grad=True)
        be = torch.randn(7, dtype=torch.float64, requires_grad=True)
        A, B, C = map(torch.tensor, (a, b, M))
        ga, gb = torch.autograd.grad(st.dual_objective(al, be, A, B, C, .7, reg_type), (al, be))
        P = st.dual_plan(al, be, A, B, C, .7, reg_type)
        torch.testing.assert_close(ga, A - P.sum(1)); torch.testing.assert_close(gb, B - P.sum(0))


def test_loss_dual_gradients_by_finite_differences():
    "The POT-face dual value is differentiable in the potentials and the points (shared test helpers)"
    rng = np.random.default_rng(4)
    u, v, xs, xt = (torch.tensor(z) for z in (rng.normal(size=5), rng.normal(size=4),
                                              rng.normal(size=(5, 2)), rng.normal(size=(4, 2))))
    f = lambda u, v, xs, xt: st.loss_dual_entropic(u, v, xs, xt, reg=.8)
    _, grads = value_and_grads(f, u, v, xs, xt)
    for g, fd in zip(grads, finite_differences(f, [u, v, xs, xt])): assert rel(g, fd) < 1e-7


# --- optima ---------------------------------------------------------------------------------

def sinkhorn_log(a, b, M, reg, tol=1e-14, max_iter=100_000):
    "Plain dense log-domain Sinkhorn: the entropic plan, independently of otbook"
    f, g = np.zeros(len(a)), np.zeros(len(b))
    for _ in range(max_iter):
        f = -reg * scipy.special.logsumexp((g[None, :] - M) / reg, axis=1, b=b[None, :])
        g = -reg * scipy.special.logsumexp((f[:, None] - M) / reg, axis=0, b=a[:, None])
        P = np.outer(a, b) * np.exp((f[:, None] + g[None, :] - M) / reg)
        if np.abs(P.sum(1) - a).sum() < tol: return P
    raise RuntimeError('sinkhorn did not converge')


@pytest.mark.parametrize('seed,reg', [(0, .05), (1, .3), (2, 2.)])
def test_entropic_optimum_is_sinkhorn(seed, reg):
    a, b, M = problem(seed, 15, 11)
    P = sinkhorn_log(a, b, M, reg)
    primal = (P * M).sum() + reg * (P * np.log(P / np.outer(a, b))).sum()
    alpha, beta, log = st.solve_dual_lbfgs(a, b, M, reg, progress=False)
    assert log['converged']
    np.testing.assert_allclose(log['dual'][-1], primal - reg, rtol=1e-11)
    Pd = st.dual_plan(*map(torch.tensor, (alpha, beta, a, b, M)), reg).numpy()
    np.testing.assert_allclose(Pd, P, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(Pd.sum(1), a, atol=1e-7); np.testing.assert_allclose(Pd.sum(0), b, atol=1e-7)


def quadratic_primal(a, b, M, reg):
    "min <P,M> + reg sum P^2/(a b) over the plans, by SLSQP (one dependent marginal constraint dropped)"
    n, m = M.shape; w = np.outer(a, b).ravel()
    cons = [dict(type='eq', fun=lambda p: p.reshape(n, m).sum(1) - a),
            dict(type='eq', fun=lambda p: p.reshape(n, m).sum(0)[:-1] - b[:-1])]
    res = scipy.optimize.minimize(lambda p: (p @ M.ravel() + reg * (p ** 2 / w).sum(), M.ravel() + 2 * reg * p / w),
                                  w, jac=True, method='SLSQP', bounds=[(0, None)] * (n * m), constraints=cons,
                                  options=dict(ftol=1e-13, maxiter=1000))
    assert res.success, res.message
    return res.fun, res.x.reshape(n, m)


@pytest.mark.parametrize('seed,reg', [(0, .02), (1, .2), (2, 1.)])
def test_quadratic_optimum_is_primal(seed, reg):
    a, b, M = problem(seed, 7, 5)
    primal, P = quadratic_primal(a, b, M, reg)
    alpha, beta, log = st.solve_dual_lbfgs(a, b, M, reg, 'quadratic', progress=False)
    assert log['converged']
    np.testing.assert_allclose(log['dual'][-1], primal, rtol=1e-9)
    Pd = st.dual_plan(*map(torch.tensor, (alpha, beta, a, b, M)), reg, 'quadratic').numpy()
    np.testing.assert_allclose(Pd, P, atol=1e-6)
    np.testing.assert_allclose(Pd.sum(1), a, atol=1e-7); np.testing.assert_allclose(Pd.sum(0), b, atol=1e-7)


def test_lbfgs_types_and_log():
    a, b, M = problem(4)
    alpha, beta, log = st.solve_dual_lbfgs(torch.tensor(a), None, torch.tensor(M, dtype=torch.float32), .5, progress=False)
    assert alpha.dtype == beta.dtype == torch.float32 and alpha.shape == (9,) and beta.shape == (7,)
    assert len(log['dual']) == len(log['err']) == log['n_iter'] and log['converged']
    assert np.all(np.diff(log['dual']) > -1e-12)  # a monotone ascent


# --- POT's stochastic solvers, draw for draw ------------------------------------------------

@pytest.mark.parametrize('seed', [0, 3])
def test_semi_dual_solvers_match_pot(seed):
    a, b, M = problem(seed)
    for ours, theirs, its in ((st.sag_entropic_transport, pot.stochastic.sag_entropic_transport, 2000),
                              (st.averaged_sgd_entropic_transport, pot.stochastic.averaged_sgd_entropic_transport, 2000)):
        np.testing.assert_allclose(ours(a, b, M, .3, its, random_state=seed),
                                   theirs(a, b, M, .3, its, random_state=seed), rtol=1e-10, atol=1e-13)
        rs1, rs2 = np.random.RandomState(seed), np.random.RandomState(seed)
        np.testing.assert_allclose(ours(a, b, M, .3, 50, lr=.1, random_state=rs1), theirs(a, b, M, .3, 50, lr=.1, random_state=rs2), rtol=1e-10)
        assert rs1.randint(1000) == rs2.randint(1000)  # the generators advanced alike
    for method in ('sag', 'ASGD'):  # POT draws from the global generator here
        np.random.seed(seed); P, lg = st.solve_semi_dual_entropic(a, b, M, .3, method, 1000, log=True)
        np.random.seed(seed); Pp, lgp = pot.stochastic.solve_semi_dual_entropic(a, b, M, .3, method, 1000, log=True)
        np.testing.assert_allclose(P, Pp, rtol=1e-10, atol=1e-15)
        for k in ('alpha', 'beta'): np.testing.assert_allclose(lg[k], lgp[k], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize('seed', [0, 5])
def test_dual_sgd_matches_pot(seed):
    a, b, M = problem(seed)
    for o, t in zip(st.sgd_entropic_regularization(a, b, M, .3, 3, 300, .5, random_state=seed),
                    pot.stochastic.sgd_entropic_regularization(a, b, M, .3, 3, 300, .5, random_state=seed)):
        np.testing.assert_allclose(o, t, rtol=1e-10, atol=1e-13)
    np.random.seed(seed); P = st.solve_dual_entropic(a, b, M, .3, 4, 500)
    np.random.seed(seed); Pp = pot.stochastic.solve_dual_entropic(a, b, M, .3, 4, 500)
    np.testing.assert_allclose(P, Pp, rtol=1e-10, atol=1e-15)
    ga, gb = st.batch_grad_dual(a, b, M, .3, np.ones(9), np.ones(7), 2, np.array([0, 4]), np.array([1, 2]))
    gpa, gpb = pot.stochastic.batch_grad_dual(a, b, M, .3, np.ones(9), np.ones(7), 2, np.array([0, 4]), np.array([1, 2]))
    np.testing.assert_allclose(ga, gpa, rtol=1e-12); np.testing.assert_allclose(gb, gpb, rtol=1e-12)


def test_solvers_tensor_in_tensor_out():
    a, b, M = problem(6)
    Mt = torch.tensor(M, dtype=torch.float32)
    beta = st.sag_entropic_transport(a, b, Mt, .5, 100, random_state=0)
    assert torch.is_tensor(beta) and beta.dtype == torch.float32
    np.testing.assert_allclose(beta.numpy(), st.sag_entropic_transport(a, b, M, .5, 100, random_state=0), rtol=1e-6)
    P, log = st.solve_semi_dual_entropic(torch.tensor(a), torch.tensor(b), Mt, .5, 'sag', 100, log=True, random_state=0)
    assert torch.is_tensor(P) and torch.is_tensor(log['alpha']) and P.shape == (9, 7)


# --- bad input --------------------------------------------------------------------------------

def test_bad_input():
    a, b, M = problem(7)
    x, y = np.zeros((9, 2)), np.ones((7, 2))
    with pytest.raises(ValueError, match='reg must be'): st.loss_dual_entropic(np.zeros(9), np.zeros(7), x, y, reg=-1)
    with pytest.raises(ValueError, match='u and v have lengths'): st.plan_dual_quadratic(np.zeros(8), np.zeros(7), x, y)
    with pytest.raises(ValueError, match='ws has 2 weights'):
        st.loss_dual_quadratic(np.zeros(9), np.zeros(7), x, y, ws=[.5, .5])
    with pytest.raises(ValueError, match='metric must be one of'):
        st.plan_dual_entropic(np.zeros(9), np.zeros(7), x, y, metric='l7')
    with pytest.raises(ValueError, match='reg_type must be one of'): st.solve_dual_lbfgs(a, b, M, 1., 'kl')
    with pytest.raises(ValueError, match='M contains NaN'): st.solve_dual_lbfgs(a, b, M * np.nan, 1.)
    with pytest.raises(ValueError, match='b has 3 weights'): st.sag_entropic_transport(a, b[:3], M, 1.)
    with pytest.raises(ValueError, match='method must be one of'): st.solve_semi_dual_entropic(a, b, M, 1., 'sgd')
    with pytest.raises(ValueError, match='batch_size must lie in'): st.solve_dual_entropic(a, b, M, 1., 0)
    with pytest.raises(ValueError, match='numItermax must be an integer >= 1'):
        st.averaged_sgd_entropic_transport(a, b, M, 1., 2.5)
    with pytest.raises(ValueError, match='a has negative weights'): st.solve_dual_entropic(-a, b, M, 1., 2)


def test_issue_reproducers_bad_arguments():
    "Issue 15: errors name the function's own arguments; zero iterations are refused"
    a, b, M = problem(8)
    xs, xt = np.zeros((9, 2)), np.ones((7, 3))
    with pytest.raises(ValueError, match='xt has dimension 3 but xs has dimension 2'):
        st.loss_dual_entropic(np.zeros(9), np.zeros(7), xs, xt)
    with pytest.raises(ValueError, match='xs must be 2-D'): st.loss_dual_quadratic(np.zeros(9), np.zeros(7), xs[0], xt)
    with pytest.raises(ValueError, match='xs contains NaN'):
        st.plan_dual_entropic(np.zeros(9), np.zeros(7), xs * np.nan, xt[:, :2])
    with pytest.raises(TypeError, match='xt must be an array or tensor of numbers, got str'):
        st.loss_dual_entropic(np.zeros(9), np.zeros(7), xs, 'xt')
    for f, kw in ((st.sag_entropic_transport, dict(numItermax=0)),
                  (st.averaged_sgd_entropic_transport, dict(numItermax=-5)), (st.solve_dual_lbfgs, dict(max_iter=0))):
        with pytest.raises(ValueError, match='(numItermax|max_iter) must be an integer >= 1'): f(a, b, M, 1., **kw)
    with pytest.raises(ValueError, match='numItermax must be an integer >= 1'):
        st.sgd_entropic_regularization(a, b, M, 1., 2, 0, 1.)
    with pytest.raises(ValueError, match='lr must be a finite number > 0'):
        st.sag_entropic_transport(a, b, M, 1., lr=-1)
    with pytest.raises(InputError, match='a and b must have the same total mass'): st.solve_dual_lbfgs(a, 2 * b, M, 1.)


@pytest.mark.parametrize('method', ['SAG', 'ASGD'])
def test_semi_dual_small_reg_stays_finite(method):
    "Issue 15: solve_semi_dual_entropic(..., reg=1e-3, 'SAG') returned an all-NaN plan (POT still does)"
    a, b, M = problem(9)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        assert np.isnan(pot.stochastic.solve_semi_dual_entropic(a, b, M, 1e-3, method, 500)).all()
    for reg in (1e-3, 1e-5):
        with warnings.catch_warnings():
            warnings.simplefilter('error')  # no overflow, no 0/0, no NonFiniteWarning
            P = st.solve_semi_dual_entropic(a, b, M, reg, method, 2000, random_state=0)
        assert np.isfinite(P).all()
        np.testing.assert_allclose(P.sum(1), a, atol=1e-13)


def test_sag_small_reg_reaches_the_entropic_plan():
    a, b, M = problem(10)
    P = st.solve_semi_dual_entropic(a, b, M, 1e-2, 'SAG', 60_000, random_state=0)
    P_log = pot.sinkhorn(a, b, M, 1e-2, method='sinkhorn_log', numItermax=100_000, stopThr=1e-13)
    np.testing.assert_allclose(P, P_log, atol=1e-8)
    np.testing.assert_allclose((P * M).sum(), (P_log * M).sum(), rtol=1e-8)


def test_non_finite_results_warn_naming_lr_and_reg():
    a, b, M = problem(11)
    with pytest.warns(NonFiniteWarning, match=r'lower lr \(now 1000\) or raise reg \(now 0.001\)'):
        with warnings.catch_warnings():
            warnings.simplefilter('ignore', RuntimeWarning)  # numpy's overflow on the way
            alpha, beta = st.sgd_entropic_regularization(a, b, M, 1e-3, 4, 200, 1e3, random_state=0)
    assert not np.isfinite(alpha).all()


def test_lbfgs_warns_when_short_of_tol():
    a, b, M = problem(12)
    msg = r'stopped after 2 iterations with marginal error .* raise max_iter \(now 2\)'
    with pytest.warns(ConvergenceWarning, match=msg):
        *_, log = st.solve_dual_lbfgs(a, b, M, .05, max_iter=2, progress=False)
    assert not log['converged']
    with warnings.catch_warnings():
        warnings.simplefilter('error', ConvergenceWarning)
        *_, log = st.solve_dual_lbfgs(a, b, M, .5, progress=False)  # converges: silent
    assert log['converged']


# --- the POT gallery script "Dual OT solvers for entropic and quadratic regularized OT with
# Pytorch", read from ../shared/seeds and run as a user would, block by block, with one line
# added (the numpy seed: the script's data come from numpy's global generator). After the blocks
# that compute the two plans we keep the losses recorded so far and the plan.

def run_seed(imports_on_otbook: bool):
    "[(losses, plan)] for the entropic and the quadratic runs of the seed script"
    import matplotlib.pyplot as pl
    blocks = seed_blocks('dual_ot_pytorch')
    ns, results = {}, []
    exec(on_otbook(blocks[0]) if imports_on_otbook else blocks[0], ns)
    exec('np.random.seed(0)', ns)
    for block in blocks[1:]:
        exec(block, ns)
        for plan in ('Ge', 'Gq'):
            if plan in ns and len(results) < ('Ge', 'Gq').index(plan) + 1:
                results.append((list(ns['losses']), ns[plan].detach().numpy()))
    pl.close('all')
    return results


@pytest.fixture(scope='module')
def seed_on_otbook():
    return run_seed(imports_on_otbook=True)


@needs_seed('dual_ot_pytorch')
def test_seed_script_numbers(seed_on_otbook, capsys):
    (le, Ge), (lq, Gq) = seed_on_otbook
    assert len(le) == len(lq) == 200
    np.testing.assert_allclose([le[-1], lq[-1]], [-40.09624, -39.96920], atol=1e-4)
    assert Ge.shape == Gq.shape == (100, 100) and (Gq == 0).mean() > .5  # the quadratic plan is sparse


@needs_seed('dual_ot_pytorch')
def test_seed_script_same_as_pot(seed_on_otbook, monkeypatch):
    # POT draws one matplotlib line per plan entry (10,000 here): stub its plot, not its numbers
    monkeypatch.setattr(pot.plot, 'plot2D_samples_mat', lambda *args, **kwargs: None)
    theirs = run_seed(imports_on_otbook=False)
    for (lo, Go), (lt, Gt) in zip(seed_on_otbook, theirs):
        np.testing.assert_allclose(lo, lt, rtol=1e-12)
        np.testing.assert_allclose(Go, Gt, rtol=1e-10, atol=1e-15)
