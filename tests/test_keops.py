"""The online (KeOps) backend against the tensorized one and against GeomLoss's online backend.

Every test is marked `pykeops` (run with NBDEV_FLAGS=pykeops). Each KeOps formula × dimension × dtype
costs 8–25 s of g++ on a cold cache, so all tests share D = 2, float64, and the few formulas SamplesLoss
needs: the soft-min for p = 1 and 2 and its gradient, the three kernel products and their gradients,
and one plan reduction. GeomLoss's online soft-min compiles to the same formulas as ours (free to
compare); its kernel losses compile three more formulas each, so the kernels are compared with the
tensorized backend only (which tests/test_samplesloss.py compares with GeomLoss).
"""
import pytest
import torch

import geomloss
from otbook import SamplesLoss
from otbook.geometry import keops_works, choose_backend
from helpers import value_and_grads

pytestmark = pytest.mark.pykeops
F64 = torch.float64


def clouds(N=30, M=20, B=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    sh = () if B is None else (B,)
    x, y = torch.rand(*sh, N, 2, generator=g, dtype=F64), .6 * torch.rand(*sh, M, 2, generator=g, dtype=F64) + .3
    a, b = torch.rand(*sh, N, generator=g, dtype=F64) + .1, torch.rand(*sh, M, generator=g, dtype=F64) + .1
    return a / a.sum(-1, keepdim=True), x, b / b.sum(-1, keepdim=True), y


def assert_same(L1, L2, args, rtol):
    (v, g), (v0, g0) = value_and_grads(L1, *args), value_and_grads(L2, *args)
    torch.testing.assert_close(v, v0, rtol=rtol, atol=0)
    for u, u0 in zip(g, g0): torch.testing.assert_close(u, u0, rtol=rtol, atol=rtol * u0.abs().max().item())


def test_keops_compiles_here():
    assert keops_works()
    assert choose_backend('auto', 6000, 6000, D=2, device='cuda') == 'online'


@pytest.mark.parametrize('p', [1, 2])
def test_sinkhorn_online_equals_geomloss_online(p):
    "GeomLoss rounds 1/ε to float32 in its online soft-min: agreement to 1e-7, not to the last digit"
    args = clouds()
    for kw in (dict(), dict(debias=False), dict(reach=.4, blur=.1)):
        L, L0 = SamplesLoss(p=p, **kw, backend='online'), geomloss.SamplesLoss(p=p, **kw, backend='online')
        if 'reach' in kw: torch.testing.assert_close(L(*args), L0(*args), rtol=1e-7, atol=0)
        else: assert_same(L, L0, args, rtol=1e-6)


def test_sinkhorn_online_equals_tensorized_p2():
    args = clouds()
    for kw in (dict(), dict(reach=.4, blur=.1), dict(tol=1e-9, blur=.1), dict(loss='hausdorff', blur=.1)):
        assert_same(SamplesLoss(**kw, backend='online'), SamplesLoss(**kw, backend='tensorized'), args, rtol=1e-9)


def test_p1_and_kernels_online_equal_tensorized_up_to_the_distance_floor():
    "Dense distances are floored at 1e-4 (GeomLoss's dense convention), KeOps's are exact"
    args = clouds()
    assert_same(SamplesLoss('gaussian', backend='online'), SamplesLoss('gaussian', backend='tensorized'), args, rtol=1e-9)
    for kw in (dict(p=1), dict(loss='laplacian'), dict(loss='energy')):
        assert_same(SamplesLoss(**kw, backend='online'), SamplesLoss(**kw, backend='tensorized'), args, rtol=2e-3)


def test_batches_and_potentials_online():
    args = clouds(B=3)
    torch.testing.assert_close(SamplesLoss(backend='online')(*args), SamplesLoss(backend='tensorized')(*args), rtol=1e-9, atol=0)
    for u, u0 in zip(SamplesLoss(backend='online', potentials=True)(*args[1::2]),
                     SamplesLoss(backend='tensorized', potentials=True)(*args[1::2])):
        torch.testing.assert_close(u, u0, rtol=1e-9, atol=1e-12)


def test_online_plan_is_a_lazytensor_with_the_right_marginals():
    a, x, b, y = clouds()
    L = SamplesLoss(blur=.1, backend='online')
    P = L.plan(a, x, b, y, tol=1e-9)
    assert type(P).__name__ == 'LazyTensor' and P.shape == (30, 20)
    torch.testing.assert_close(P.sum(1)[:, 0], a, atol=1e-9, rtol=0)
    P_dense = SamplesLoss(blur=.1, backend='tensorized').plan(a, x, b, y, tol=1e-9)
    torch.testing.assert_close(P.sum(1)[:, 0], P_dense.sum(1), atol=1e-12, rtol=0)


def test_online_errors_name_the_argument():
    a, x, b, y = clouds()
    with pytest.raises(ValueError, match='cost: the online backend needs a KeOps formula string'):
        SamplesLoss(cost=lambda x, y: x, backend='online')(x, y)
    with pytest.raises(ValueError, match='cost: the online backend needs a LazyTensor form'):
        SamplesLoss(cost='Norm2(X-Y)', backend='online').plan(x, y)


def test_user_cost_formula():
    args = clouds()
    torch.testing.assert_close(SamplesLoss(cost='(SqDist(X,Y) / IntCst(2))', backend='online')(*args),
                               SamplesLoss(backend='tensorized')(*args), rtol=1e-9, atol=0)
