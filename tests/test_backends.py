"""One table of checks for every SamplesLoss backend, against the tensorized one.

Each backend must give the dense numbers: `blocked` to 1e-10 in float64 (the same arithmetic, in row
blocks), `online` (KeOps, marked `pykeops`) to 1e-9 in float64 and 1e-6 in float32. Online cases use
D = 2, float64 and the formulas tests/test_keops.py compiles anyway, plus one float32 case, so the
table adds about two KeOps compilations to CI. Distances: dense backends floor them at 1e-4 (GeomLoss's
dense convention), KeOps does not, so online p = 1 is compared on the cross problem only.
"""
import pytest
import torch

from otbook import SamplesLoss
from otbook.geometry import GEOMETRIES, BlockedGeometry
from helpers import finite_differences, rel, value_and_grads

F64 = torch.float64
BACKENDS = [pytest.param('blocked', id='blocked'), pytest.param('online', id='online', marks=pytest.mark.pykeops)]
RTOL = {'blocked': 1e-10, 'online': 1e-9}


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    "Blocks of a few rows, so that every test crosses block boundaries"
    monkeypatch.setattr(BlockedGeometry, 'entries', 40)


def clouds(N=13, M=9, B=None, seed=0, mass_b=1., dtype=F64, empty=True):
    "Random weighted 2-D clouds (a, x, b, y) with one zero weight and a duplicated point"
    g = torch.Generator().manual_seed(seed)
    sh = () if B is None else (B,)
    x, y = torch.rand(*sh, N, 2, generator=g, dtype=dtype), .6 * torch.rand(*sh, M, 2, generator=g, dtype=dtype) + .3
    x[..., 1, :] = x[..., 0, :]
    a, b = torch.rand(*sh, N, generator=g, dtype=dtype) + .1, torch.rand(*sh, M, generator=g, dtype=dtype) + .1
    if empty: a[..., 2] = 0
    return a / a.sum(-1, keepdim=True), x, mass_b * b / b.sum(-1, keepdim=True), y


def assert_like_tensorized(backend, kw, args, rtol):
    "Values and gradients in every argument of SamplesLoss(**kw) on `backend` equal the tensorized ones"
    (v, g), (v0, g0) = (value_and_grads(SamplesLoss(**kw, backend=bk), *args) for bk in (backend, 'tensorized'))
    torch.testing.assert_close(v, v0, rtol=rtol, atol=0)
    for u, u0 in zip(g, g0): torch.testing.assert_close(u, u0, rtol=rtol, atol=rtol * u0.abs().max().item())


LOSSES = [dict(), dict(debias=False), dict(blur=.3, scaling=.8), dict(loss='hausdorff', blur=.1), dict(loss='gaussian')]
DENSE_ONLY = [dict(p=1), dict(p=1, debias=False), dict(loss='laplacian'), dict(loss='energy')]


@pytest.mark.parametrize('backend', BACKENDS)
@pytest.mark.parametrize('kw', LOSSES + DENSE_ONLY, ids=str)
def test_values_and_gradients(backend, kw):
    if backend == 'online' and kw in DENSE_ONLY: pytest.skip('KeOps has no distance floor: see test_keops.py')
    assert_like_tensorized(backend, kw, clouds(), RTOL[backend])


@pytest.mark.parametrize('backend', BACKENDS)
def test_batches(backend):
    for kw in (dict(), dict(loss='gaussian')):
        assert_like_tensorized(backend, kw, clouds(B=3, seed=1), RTOL[backend])


@pytest.mark.parametrize('backend', BACKENDS)
def test_unbalanced_values_and_gradients_against_finite_differences(backend):
    a, x, b, y = clouds(N=5, M=4, mass_b=1.3, seed=2, empty=False)  # finite differences need a > 0
    for debias in (True, False):
        kw = dict(reach=.5, blur=.3, scaling=.8, debias=debias)
        assert_like_tensorized(backend, kw, (a, x, b, y), RTOL[backend])
        L = SamplesLoss(**kw, tol=1e-13, backend=backend)
        _, g = value_and_grads(L, a, x, b, y)
        for gk, fk in zip(g, finite_differences(L, (a, x, b, y))): assert rel(gk, fk) < 1e-6


@pytest.mark.parametrize('backend', BACKENDS)
def test_potentials(backend):
    a, x, b, y = clouds(seed=3)
    for kw in (dict(), dict(reach=.4), dict(loss='gaussian')):
        F, G = SamplesLoss(**kw, potentials=True, backend=backend)(a, x, b, y)
        F0, G0 = SamplesLoss(**kw, potentials=True, backend='tensorized')(a, x, b, y)
        assert F.shape == a.shape and G.shape == b.shape
        torch.testing.assert_close(F, F0, rtol=RTOL[backend], atol=1e-12)
        torch.testing.assert_close(G, G0, rtol=RTOL[backend], atol=1e-12)


def dense(P):
    "A plan as a dense tensor (KeOps LazyTensors through their row sums against the identity)"
    return P if torch.is_tensor(P) else P @ torch.eye(P.shape[-1], dtype=F64)


@pytest.mark.parametrize('backend', BACKENDS)
def test_plans_and_tol(backend):
    a, x, b, y = clouds(seed=4)
    L, L0 = SamplesLoss(blur=.1, backend=backend), SamplesLoss(blur=.1, backend='tensorized')
    P, P0 = dense(L.plan(a, x, b, y, tol=1e-9)), L0.plan(a, x, b, y, tol=1e-9)
    assert L.result.converged and L.result.n_iter == L0.result.n_iter
    torch.testing.assert_close(P.sum(-1), a, atol=1e-9, rtol=0)
    torch.testing.assert_close(P, P0, rtol=1e-8, atol=1e-12)
    Lt = SamplesLoss(blur=.1, tol=1e-8, backend=backend)
    Lt(a, x, b, y)
    assert Lt.result.converged and Lt.result.error < 1e-8


@pytest.mark.pykeops
def test_online_float32():
    "float32: the online backend within 1e-6 of the tensorized one, values and gradients"
    args = [t.float() for t in clouds(N=40, M=30, seed=5)]
    assert_like_tensorized('online', dict(), args, 1e-5)


def test_blocked_plan_too_large_names_the_size(monkeypatch):
    import otbook.geometry as geometry
    monkeypatch.setattr(geometry, 'available_memory', lambda device: 2 ** 8)
    _, x, _, y = clouds()
    with pytest.raises(ValueError, match=r"backend: a dense 13×9 plan needs about"):
        SamplesLoss(backend='blocked').plan(x, y)
    with pytest.raises(ValueError, match=r"backend: tensorized \(N=13, M=9\) needs about .* use backend='blocked'"):
        SamplesLoss(backend='tensorized')(x, y)
    torch.testing.assert_close(SamplesLoss()(x, y), SamplesLoss(backend='blocked')(x, y))  # auto falls back


def test_every_backend_is_in_the_table():
    assert set(GEOMETRIES) == {'tensorized', 'blocked', 'online', 'multiscale'}


# --- multiscale: clusters, then the points; with `tol` the dense numbers, by default the accuracy of the notebook ---
MULTISCALE = [dict(), dict(p=1), dict(debias=False), dict(reach=.5), dict(p=1, reach=.5, debias=False)]


def big_clouds(N=120, M=80, seed=0, mass_b=1.):
    "Weighted 2-D clouds large enough for several clusters at cluster_scale=.2"
    g = torch.Generator().manual_seed(seed)
    x, y = torch.rand(N, 2, generator=g, dtype=F64), .5 + .15 * torch.randn(M, 2, generator=g, dtype=F64)
    a, b = torch.rand(N, generator=g, dtype=F64) + .1, torch.rand(M, generator=g, dtype=F64) + .1
    a[3] = 0
    return a / a.sum(), x, mass_b * b / b.sum(), y


@pytest.mark.parametrize('truncate', [None, 5])
@pytest.mark.parametrize('kw', MULTISCALE, ids=str)
def test_multiscale_with_tol_gives_the_dense_values_and_gradients(kw, truncate, monkeypatch, engine='torch'):
    from otbook.multiscale import MultiscaleGeometry
    monkeypatch.setattr(MultiscaleGeometry, 'entries', 500)  # several blocks of kept pairs
    monkeypatch.setattr(MultiscaleGeometry, 'engine', engine)
    args = big_clouds(mass_b=1. if 'reach' not in kw else 1.3)
    ms = dict(kw, blur=.1, tol=1e-9, cluster_scale=.2, truncate=truncate)
    (v, g), (v0, g0) = (value_and_grads(SamplesLoss(**ms, backend=bk), *args) for bk in ('multiscale', 'tensorized'))
    F, G = SamplesLoss(**ms, potentials=True, backend='multiscale')(*args)
    F0, G0 = SamplesLoss(**ms, potentials=True, backend='tensorized')(*args)
    if 'reach' not in kw:  # balanced potentials are unique up to (F + c, G − c): so are the weights' gradients
        c = (F - F0).mean()
        F, G, g = F - c, G + c, (g[0] - c, g[1], g[2] + c, g[3])
    assert rel(v, v0) < 1e-6
    for u, u0 in zip(g, g0): assert rel(u, u0) < 1e-6
    assert rel(F, F0) < 1e-6 and rel(G, G0) < 1e-6


@pytest.mark.pykeops
@pytest.mark.parametrize('truncate', [None, 5])
@pytest.mark.parametrize('kw', [dict(), dict(p=1, reach=.5, debias=False)], ids=str)
def test_multiscale_keops_engine_gives_the_dense_values_and_gradients(kw, truncate, monkeypatch):
    "KeOps's block-sparse ranges (truncate=5) and full reductions (None), values and every gradient"
    test_multiscale_with_tol_gives_the_dense_values_and_gradients(kw, truncate, monkeypatch, engine='keops')


@pytest.mark.parametrize('engine', ['torch', pytest.param('keops', marks=pytest.mark.pykeops)])
def test_multiscale_default_accuracy(engine, monkeypatch):
    "No tol: ending on the clusters (2-D) stays within 0.2 % of the same-schedule dense value at 3000 points"
    from otbook.multiscale import MultiscaleGeometry
    monkeypatch.setattr(MultiscaleGeometry, 'engine', engine)
    a, x, b, y = big_clouds(N=3000, M=3000, seed=1)
    v, v0 = (SamplesLoss(blur=.05, backend=bk)(a, x, b, y) for bk in ('multiscale', 'tensorized'))
    assert rel(v, v0) < 2e-3


def test_multiscale_auto_rule_and_labels():
    from otbook.geometry import choose_backend
    assert choose_backend('auto', 10 ** 5, 10 ** 5, D=3, half_sq=True, multiscale=True) == 'multiscale'
    assert choose_backend('auto', 10 ** 5, 10 ** 5, D=4, half_sq=True, multiscale=True) == 'blocked'
    assert choose_backend('auto', 10 ** 5, 10 ** 5, D=2, half_sq=False, multiscale=True) == 'blocked'  # p = 1
    assert choose_backend('auto', 9000, 9000, D=2, half_sq=True, multiscale=True) == 'blocked'
    a, x, b, y = big_clouds()
    lx, ly = (x[:, 0] > .5).long(), (y[:, 1] > .5).long()  # 2 clusters per cloud, any D
    x4, y4 = torch.cat([x, x], 1), torch.cat([y, y], 1)
    v = SamplesLoss(blur=.1, tol=1e-11)(lx, a, x4, ly, b, y4)
    torch.testing.assert_close(v, SamplesLoss(blur=.1, tol=1e-11, backend='tensorized')(a, x4, b, y4), rtol=1e-7, atol=0)
    with pytest.raises(ValueError, match='labels'):
        SamplesLoss(backend='online')(lx, a, x, ly, b, y)


def test_multiscale_falls_back_with_a_warning():
    a, x, b, y = big_clouds()
    for kw, args in ((dict(loss='hausdorff'), (a, x, b, y)), (dict(cost=lambda u, v: torch.cdist(u, v)), (a, x, b, y)),
                     (dict(), (a.expand(2, -1), x.expand(2, -1, -1), b.expand(2, -1), y.expand(2, -1, -1)))):
        with pytest.warns(UserWarning, match='multiscale backend'):
            v = SamplesLoss(**kw, backend='multiscale')(*args)
        torch.testing.assert_close(v, SamplesLoss(**kw, backend='tensorized')(*args))
