"""SamplesLoss against GeomLoss 0.3.1 (tensorized backend, float64), finite differences, properties and bad input.

GeomLoss is the oracle for every balanced value and gradient and every unbalanced value; where GeomLoss
is wrong (unbalanced gradients, unconverged envelope gradients, 'hausdorff'), finite differences are.
"""
import itertools

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

import geomloss
import ot as pot
from otbook import SamplesLoss
from helpers import finite_differences, rel, value_and_grads

F64 = torch.float64


def clouds(N=9, M=7, D=2, B=None, seed=0, mass_b=1.):
    "Random weighted clouds (a, x, b, y), float64, with a duplicated point"
    g = torch.Generator().manual_seed(seed)
    sh = () if B is None else (B,)
    x, y = torch.rand(*sh, N, D, generator=g, dtype=F64), .7 * torch.rand(*sh, M, D, generator=g, dtype=F64) + .2
    if N > 1: x[..., 1, :] = x[..., 0, :]
    a, b = torch.rand(*sh, N, generator=g, dtype=F64) + .1, torch.rand(*sh, M, generator=g, dtype=F64) + .1
    return a / a.sum(-1, keepdim=True), x, mass_b * b / b.sum(-1, keepdim=True), y


BALANCED = [dict(loss='sinkhorn', p=p, debias=d, blur=bl, scaling=s)
            for p, d, (bl, s) in itertools.product((1, 2), (True, False), ((.05, .5), (.1, .9), (1., .5)))]
BALANCED += [dict(loss=k, blur=bl) for k in ('gaussian', 'laplacian', 'energy') for bl in (.1, .5)]


@pytest.mark.parametrize('kw', BALANCED, ids=str)
@pytest.mark.parametrize('D,B', [(1, None), (2, None), (3, 3), (5, None)])
def test_balanced_values_and_gradients_equal_geomloss(kw, D, B):
    args = clouds(D=D, B=B, seed=D)
    v, g = value_and_grads(SamplesLoss(**kw, backend='tensorized'), *args)
    v0, g0 = value_and_grads(geomloss.SamplesLoss(**kw, backend='tensorized'), *args)
    assert v.shape == v0.shape
    assert rel(v, v0) < 1e-6
    for gk, g0k in zip(g, g0): assert rel(gk, g0k) < 1e-6


@pytest.mark.parametrize('p,debias,reach', list(itertools.product((1, 2), (True, False), (.3, 1.))))
def test_unbalanced_values_equal_geomloss(p, debias, reach):
    args = clouds(B=2, mass_b=1.4, seed=p)
    kw = dict(p=p, debias=debias, reach=reach, blur=.1, scaling=.7, backend='tensorized')
    torch.testing.assert_close(SamplesLoss(**kw)(*args), geomloss.SamplesLoss(**kw)(*args), rtol=1e-10, atol=0)


def test_uniform_weights_and_potentials_equal_geomloss():
    _, x, _, y = clouds(N=20, M=15)
    for kw in (dict(), dict(debias=False), dict(reach=.5), dict(loss='gaussian'), dict(loss='energy')):
        torch.testing.assert_close(SamplesLoss(**kw)(x, y), geomloss.SamplesLoss(**kw)(x, y), rtol=1e-10, atol=0)
        for u, u0 in zip(SamplesLoss(**kw, potentials=True)(x, y), geomloss.SamplesLoss(**kw, potentials=True)(x, y)):
            assert u.shape == u0.shape[-1:]  # (N,) like the weights (GeomLoss's dense backend returns (1, N))
            torch.testing.assert_close(u, u0[0], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize('p,debias', list(itertools.product((1, 2), (True, False))))
def test_unbalanced_gradients_equal_finite_differences(p, debias):
    "GeomLoss's are off by (ρ+ε/2)/(ρ+ε); ours are right once the loop has converged (tol)"
    a, x, b, y = clouds(N=5, M=4, mass_b=1.3, seed=3)
    L = SamplesLoss(p=p, blur=.3, scaling=.8, reach=.5, debias=debias, tol=1e-13)
    _, g = value_and_grads(L, a, x, b, y)
    for gk, fk in zip(g, finite_differences(L, (a, x, b, y))): assert rel(gk, fk) < 1e-6


def test_tol_brings_envelope_gradients_to_finite_differences():
    a, x, b, y = clouds(N=6, M=5, seed=4)
    errors = {}
    for tol in (None, 1e-10):
        L = SamplesLoss(blur=.1, scaling=.5, tol=tol)
        _, g = value_and_grads(L, a, x, b, y)
        fd = finite_differences(lambda x, y: L(a, x, b, y), (x, y))  # balanced: weights must keep their masses
        errors[tol] = max(rel(g[1], fd[0]), rel(g[3], fd[1]))
    assert errors[None] > 1e-2 and errors[1e-10] < 1e-6


@pytest.mark.parametrize('p,reach', list(itertools.product((1, 2), (None, .5))))
def test_hausdorff(p, reach):
    a, x, b, y = clouds(N=6, M=5, seed=5, mass_b=1. if reach is None else 1.2)
    L = SamplesLoss('hausdorff', p=p, blur=.1, reach=reach)
    h = L(a, x, b, y)
    assert h > 0
    torch.testing.assert_close(L(b, y, a, x), h, rtol=1e-10, atol=0)
    assert abs(L(a, x, a, x)) < 1e-10
    _, g = value_and_grads(L, a, x, b, y)
    for gk, fk in zip(g, finite_differences(L, (a, x, b, y))): assert rel(gk, fk) < 1e-6


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10 ** 6), N=st.integers(1, 12), M=st.integers(1, 12), D=st.integers(1, 4),
       loss=st.sampled_from(['sinkhorn', 'hausdorff', 'gaussian', 'laplacian', 'energy']), p=st.sampled_from([1, 2]))
def test_properties(seed, N, M, D, loss, p):
    "S(α,α) = 0, S(α,β) = S(β,α) ≥ 0 (up to the convergence of the loop)"
    a, x, b, y = clouds(N, M, D, seed=seed)
    L = SamplesLoss(loss, p=p, blur=.2, tol=1e-9)
    s = L(a, x, b, y)
    assert abs(L(a, x, a, x)) < 1e-9
    assert s > -1e-9
    torch.testing.assert_close(L(b, y, a, x), s, rtol=1e-6, atol=1e-9)


def test_large_blur_tends_to_the_kernel_norm():
    "As blur → ∞, S tends to ½‖α−β‖² under the kernel −C (the energy distance for p = 1)"
    a, x, b, y = clouds()
    s = SamplesLoss(p=1, blur=1e4)(a, x, b, y)
    torch.testing.assert_close(s, SamplesLoss('energy')(a, x, b, y), rtol=1e-3, atol=0)
    xm, ym = (x * a[:, None]).sum(0), (y * b[:, None]).sum(0)
    torch.testing.assert_close(SamplesLoss(p=2, blur=1e4)(a, x, b, y), ((xm - ym) ** 2).sum() / 2, rtol=1e-3, atol=0)


def test_small_blur_tends_to_exact_ot():
    a, x, b, y = clouds(N=12, M=10)
    C = torch.cdist(x, y) ** 2 / 2
    exact = pot.emd2(a.numpy(), b.numpy(), C.numpy())
    s = SamplesLoss(blur=.005, scaling=.9, debias=False, tol=1e-6)(a, x, b, y)
    np.testing.assert_allclose(s.item(), exact, rtol=0, atol=2e-3)


def test_gradcheck_where_the_loop_converges():
    "Balanced: in the points (weights must keep their masses); unbalanced, Hausdorff, kernels: in everything"
    a, x, b, y = (t.requires_grad_() for t in clouds(N=5, M=4))
    for kw in (dict(blur=2., scaling=.9), dict(blur=.2, tol=1e-13), dict(p=1, blur=.2, tol=1e-13)):
        L = SamplesLoss(**kw)
        assert torch.autograd.gradcheck(lambda x, y: L(a, x, b, y), (x, y))
    for kw in (dict(loss='hausdorff', blur=.2), dict(loss='gaussian'), dict(p=1, blur=.3, tol=1e-13, reach=.5)):
        L = SamplesLoss(**kw)
        assert torch.autograd.gradcheck(L, (a, x, b, y))


@pytest.mark.parametrize('loss', ['sinkhorn', 'hausdorff', 'gaussian', 'laplacian', 'energy'])
@pytest.mark.parametrize('p', [1, 2])
def test_degenerate_inputs_give_finite_values_and_gradients(loss, p):
    one, same = torch.rand(1, 2, dtype=F64), torch.full((6, 2), .3, dtype=F64)
    dup = torch.rand(4, 2, dtype=F64).repeat(2, 1)
    for x, y, kw in ((same, same, {}), (one, same, {}), (dup, dup[:5], {}), (dup, same, dict(blur=100.))):
        x, y = x.clone().requires_grad_(), y.clone().requires_grad_()
        v = SamplesLoss(loss, p=p, **kw)(x, y)
        v.backward()
        assert torch.isfinite(v) and torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()


def test_all_points_equal_gives_zero():
    x = torch.full((5, 3), .7, dtype=F64)
    assert SamplesLoss()(x, x.clone()).abs() < 1e-12


def test_numpy_in_numpy_out():
    _, x, _, y = clouds()
    v = SamplesLoss()(x.numpy(), y.numpy())
    assert isinstance(v, np.ndarray) and v.dtype == np.float64
    np.testing.assert_allclose(v, SamplesLoss()(x, y).item(), rtol=1e-12)


BAD_PARAMETERS = [
    (dict(p=3), 'p must be one of'), (dict(loss='wasserstein'), 'loss must be one of'),
    (dict(backend='sparse'), 'backend must be one of'), (dict(reach=0.), 'reach must be'),
    (dict(reach=-1.), 'reach must be'), (dict(scaling=1.), 'scaling must lie strictly between 0 and 1'),
    (dict(scaling=0.), 'scaling must lie'), (dict(blur=0.), 'blur must be'), (dict(tol=-1.), 'tol must be'),
    (dict(diameter=float('nan')), 'diameter must be'),
]


@pytest.mark.parametrize('kw,msg', BAD_PARAMETERS, ids=str)
def test_bad_parameters(kw, msg):
    with pytest.raises(ValueError, match=msg): SamplesLoss(**kw)


def test_bad_inputs():
    a, x, b, y = clouds()
    L = SamplesLoss()
    cases = [
        ((x[0], y), 'x must be 2-D or 3-D'), ((x, y[None]), 'y must be 2-D'), ((x, y[:, :1]), 'y has dimension 1'),
        ((a[:-1], x, b, y), 'a has 8 weights but there are 9 points'), ((a, x, b[None], y), 'b must be 1-D'),
        ((-a, x, b, y), 'a has negative weights'), ((a, x, b * float('nan'), y), 'b contains NaN'),
        ((a, x, b * 2, y), 'a and b must have the same total mass'), ((x * float('inf'), y), 'x contains NaN'),
        ((x, y.float()), 'y is torch.float32'), ((x,), 'takes (x, y), (a, x, b, y)'),
        ((x[None].expand(2, -1, -1), y[None].expand(3, -1, -1)), 'y has batch size 3'),
    ]
    for args, msg in cases:
        with pytest.raises(ValueError, match=msg.replace('(', r'\(').replace(')', r'\)')): L(*args)
    with pytest.raises(ValueError, match='cost: the tensorized backend needs a callable'):
        SamplesLoss(cost='Norm2(X-Y)', backend='tensorized')(x, y)
    with pytest.raises(ValueError, match="loss: plans exist for 'sinkhorn' only"): SamplesLoss('energy').plan(x, y)


def test_auto_backend_never_raises_without_keops(monkeypatch):
    import otbook.geometry as geometry
    monkeypatch.setattr(geometry, 'keops_works', lambda: False)
    assert geometry.choose_backend('auto', 10 ** 4, 10 ** 4) == 'blocked'
    _, x, _, y = clouds()
    torch.testing.assert_close(SamplesLoss()(x, y), SamplesLoss(backend='tensorized')(x, y))


def test_user_cost_and_kernel():
    a, x, b, y = clouds()
    cost = lambda x, y: ((x[:, :, None] - y[:, None]) ** 2).sum(-1) / 2
    torch.testing.assert_close(SamplesLoss(cost=cost)(a, x, b, y), SamplesLoss()(a, x, b, y), rtol=1e-10, atol=0)
    kernel = lambda x, y, blur=.1, **kwargs: torch.exp(-torch.cdist(x, y) ** 2 / (2 * blur ** 2))
    v, v0 = (SL('gaussian', kernel=kernel, blur=.3, backend='tensorized')(a, x, b, y) for SL in (SamplesLoss, geomloss.SamplesLoss))
    torch.testing.assert_close(v, v0, rtol=1e-10, atol=0)


def test_verbose_reports_the_schedule_and_the_error(capsys):
    _, x, _, y = clouds()
    SamplesLoss(verbose=True)(x, y)
    out = capsys.readouterr().out
    assert "SamplesLoss('sinkhorn', p=2, blur=0.05" in out and 'values of ε' in out and 'marginal error' in out
    SamplesLoss(verbose=True, tol=1e-8)(x, y)
    assert 'tol 1e-08 reached' in capsys.readouterr().out


def test_plan_marginals_and_verbose(capsys):
    a, x, b, y = clouds(N=30, M=20)
    L = SamplesLoss(blur=.05, verbose=True)
    P = L.plan(a, x, b, y, tol=1e-8)
    assert P.shape == (30, 20)
    assert (P.sum(1) - a).abs().sum() + (P.sum(0) - b).abs().sum() < 1e-8
    assert 'values of ε' in capsys.readouterr().out and L.result.converged
    Pb = SamplesLoss(blur=.05).plan(*clouds(B=2))
    assert Pb.shape == (2, 9, 7)
