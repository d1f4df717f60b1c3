"""otbook.sliced and otbook.utils.dist against POT 0.9.7 (test-only oracle) on random input, numpy and torch;
properties (symmetry, zero self-distance, translations, rotations); a POT script run with only its imports changed."""
import warnings

import numpy as np
import ot as pot
import pytest
import torch
from hypothesis import given, settings, strategies as st

import otbook
from otbook.sliced import get_random_projections, max_sliced_wasserstein_distance, sliced_wasserstein_distance
from otbook.utils import NATIVE_METRICS, InputError, UnsupportedError, dist

FUNCS = [(sliced_wasserstein_distance, pot.sliced_wasserstein_distance),
         (max_sliced_wasserstein_distance, pot.max_sliced_wasserstein_distance)]


def clouds(seed, n, m, d):
    "Two random clouds (n,d), (m,d) and random weights of mass 1"
    rng = np.random.default_rng(seed)
    a, b = rng.dirichlet(np.ones(n)), rng.dirichlet(np.ones(m))
    return rng.normal(size=(n, d)), rng.normal(size=(m, d)) + 1, a, b


@settings(max_examples=30, deadline=None)
@given(n=st.integers(1, 40), m=st.integers(1, 40), d=st.integers(1, 6), K=st.integers(1, 60),
       p=st.sampled_from([1, 1.5, 2, 3]), seed=st.integers(0, 2 ** 16), weighted=st.booleans())
def test_equals_pot_with_the_same_seed(n, m, d, K, p, seed, weighted):
    "Both distances and their logs are POT's for the same int seed, on numpy and on torch"
    X_s, X_t, a, b = clouds(seed, n, m, d)
    w = (a, b) if weighted else (None, None)
    for f, f_ref in FUNCS:
        value, lg = f(X_s, X_t, *w, n_projections=K, p=p, seed=seed, log=True)
        ref, lg_ref = f_ref(X_s, X_t, *w, n_projections=K, p=p, seed=seed, log=True)
        assert type(value) is np.float64
        np.testing.assert_allclose(value, ref, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(lg['projected_emds'], lg_ref['projected_emds'], rtol=1e-12, atol=1e-12)
        tensors = [torch.tensor(t) for t in (X_s, X_t)] + [None if t is None else torch.tensor(t) for t in w]
        value_t = f(*tensors, n_projections=K, p=p, seed=seed)
        np.testing.assert_allclose(value_t.numpy(), f_ref(*tensors, n_projections=K, p=p, seed=seed).numpy(),
                                   rtol=1e-12, atol=1e-12)


def up_to_mass(g_a, g_b):
    "Weight gradients with the (c, -c) that no mass-preserving change of (a, b) sees removed: g_a of mean 0"
    c = g_a.mean()
    return g_a - c, g_b + c


@pytest.mark.parametrize('seed', range(4))
@pytest.mark.parametrize('f,f_ref', FUNCS)
def test_gradients_equal_pot(f, f_ref, seed):
    "Gradients in the points and the projections are POT's, and in the weights up to (c, -c) (float64)"
    X_s, X_t, a, b = clouds(seed, 30, 25, 4)
    P = get_random_projections(4, 12, seed=seed)
    grads = []
    for g in (f, f_ref):
        args = [torch.tensor(t, requires_grad=True) for t in (X_s, X_t, a, b, P)]
        value = g(*args[:4], projections=args[4])
        value, g_s, g_t, g_a, g_b, g_P = value, *torch.autograd.grad(value, args)
        grads.append([value, g_s, g_t, *up_to_mass(g_a, g_b), g_P])
    for u, v in zip(*grads): torch.testing.assert_close(u, v, rtol=0, atol=1e-10)


def test_gradcheck():
    "The sliced distance is differentiable in the points, the weights and the projections (no ties)"
    X_s, X_t, a, b = clouds(5, 7, 6, 3)
    P = torch.tensor(get_random_projections(3, 4, seed=1), requires_grad=True)
    args = [torch.tensor(t, requires_grad=True) for t in (X_s, X_t, a)]
    torch.autograd.gradcheck(lambda x, y, w, q: sliced_wasserstein_distance(x, y, w / w.sum(), torch.tensor(b),
                                                                            projections=q), (*args, P))


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 30), d=st.integers(1, 5), seed=st.integers(0, 2 ** 16))
def test_properties(n, d, seed):
    "SW(X, X) = 0, SW(X, Y) = SW(Y, X), a translation by t moves SW_2^2 by the mean of <θ, t>^2 (uniform weights)"
    rng = np.random.default_rng(seed)
    X, Y, t = rng.normal(size=(n, d)), rng.normal(size=(n + 1, d)), rng.normal(size=d)
    P = get_random_projections(d, 20, seed=seed)
    assert sliced_wasserstein_distance(X, X, projections=P) == 0
    np.testing.assert_allclose(sliced_wasserstein_distance(X, Y, projections=P),
                               sliced_wasserstein_distance(Y, X, projections=P), rtol=1e-12)
    np.testing.assert_allclose(sliced_wasserstein_distance(X, X + t, projections=P) ** 2, ((t @ P) ** 2).mean(),
                               rtol=1e-10, atol=1e-12)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))  # rotating clouds and directions together changes nothing
    np.testing.assert_allclose(max_sliced_wasserstein_distance(X @ Q, Y @ Q, projections=Q.T @ P),
                               max_sliced_wasserstein_distance(X, Y, projections=P), rtol=1e-10)


def test_float32_and_seeds_on_torch():
    "float32 tensors keep their dtype; a torch.Generator seed is POT's; the same int seed gives the same value"
    X_s, X_t, _, _ = clouds(0, 50, 40, 3)
    xs, xt = torch.tensor(X_s, dtype=torch.float32), torch.tensor(X_t, dtype=torch.float32)
    for f, f_ref in FUNCS:
        value = f(xs, xt, seed=torch.Generator().manual_seed(4))
        assert value.dtype == torch.float32
        torch.testing.assert_close(value, f_ref(xs, xt, seed=torch.Generator().manual_seed(4)))
        assert f(xs, xt, seed=1) == f(xs, xt, seed=1)


@pytest.mark.parametrize('call,error,message', [
    (lambda x, y: sliced_wasserstein_distance(x, y[:, :2]), InputError, 'X_t has dimension 2'),
    (lambda x, y: sliced_wasserstein_distance(x, y, np.ones(3)), InputError, 'a has 3 weights'),
    (lambda x, y: max_sliced_wasserstein_distance(x, y, p=0), InputError, 'p must be >= 1'),
    (lambda x, y: sliced_wasserstein_distance(x, y, seed=1.5), InputError, 'seed must be'),
    (lambda x, y: get_random_projections(3, 2, backend='tf'), UnsupportedError, 'backend'),
    (lambda x, y: dist(torch.tensor(x), torch.tensor(y), 'canberra'), UnsupportedError, "metric 'canberra'"),
    (lambda x, y: dist(x, y, 'nope'), ValueError, 'metric must be one of'),
    (lambda x, y: dist(x, y, 'minkowski', w=np.ones(2)), ValueError, 'w has 2 weights'),
])
def test_bad_input_names_the_argument(call, error, message):
    "Each bad input raises a ValueError (InputError or UnsupportedError) naming the argument"
    X_s, X_t, _, _ = clouds(0, 5, 4, 3)
    with pytest.raises(error, match=message) as info:
        call(X_s, X_t)
    assert isinstance(info.value, ValueError)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 20), m=st.integers(1, 20), d=st.integers(1, 5), seed=st.integers(0, 2 ** 16),
       metric=st.sampled_from(NATIVE_METRICS), p=st.sampled_from([1, 1.5, 2, 4]), weighted=st.booleans())
def test_dist_equals_pot(n, m, d, seed, metric, p, weighted):
    "dist is POT's on numpy and torch for every torch metric, with and without x2 (diagonal 0 then)"
    rng = np.random.default_rng(seed)
    x, y, w = rng.normal(size=(n, d)), rng.normal(size=(m, d)), (rng.random(d) if weighted else None)
    if metric == 'correlation' and d == 1: return  # a 1-D row minus its mean is 0: undefined (POT gives NaN)
    for args in ((x, y), (x,)):
        ref = pot.dist(*args, metric=metric, p=p, w=w)
        np.testing.assert_allclose(dist(*args, metric=metric, p=p, w=w), ref, rtol=1e-12, atol=1e-12)
        C = dist(*(torch.tensor(z) for z in args), metric=metric, p=p, w=w)
        np.testing.assert_allclose(C.numpy(), ref, rtol=1e-12, atol=1e-12)
    assert (np.diag(dist(x, metric=metric, p=p, w=w)) == 0).all()


def test_dist_scipy_metrics_equal_pot():
    "The other scipy metrics, on numpy and with backend='scipy', are POT's numbers"
    rng = np.random.default_rng(0)
    x, y, w = np.abs(rng.normal(size=(12, 3))), np.abs(rng.normal(size=(9, 3))), rng.random(3)
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        for metric in ('braycurtis', 'canberra', 'chebyshev', 'hamming', 'sqeuclidean'):
            np.testing.assert_array_equal(dist(x, y, metric, w=w, backend='scipy'),
                                          pot.dist(x, y, metric, w=w, backend='scipy'))
            np.testing.assert_allclose(dist(x, y, metric, w=w), pot.dist(x, y, metric, w=w), rtol=1e-13, atol=1e-14)
        np.testing.assert_array_equal(dist(x, y, 'jensenshannon'), pot.dist(x, y, 'jensenshannon'))
    with pytest.raises(ValueError, match="metric='jensenshannon'"):  # POT: scipy's TypeError
        dist(x, y, 'jensenshannon', w=w, backend='scipy')


POT_SCRIPT = '''
import numpy as np
import ot
rng = np.random.RandomState(3)
xs, xt = rng.randn(50, 3), rng.randn(40, 3) + 1
a, b = ot.unif(50), ot.unif(40)
sw = ot.sliced_wasserstein_distance(xs, xt, a, b, 30, seed=0)
msw, log = ot.max_sliced_wasserstein_distance(xs, xt, a, b, 30, seed=np.random.RandomState(1), log=True)
P = ot.sliced.get_random_projections(3, 20, seed=2)
sw_p = ot.sliced.sliced_wasserstein_distance(xs, xt, projections=P, p=1)
res = ot.solve_sample(xs, xt, a, b, method='sliced', random_state=5)
M = ot.dist(xs, xt, metric='cityblock') + ot.dist(xs, xt, metric='minkowski', p=3)
M += ot.dist(xs, metric='cosine')[:, :40]
print(float(sw), float(msw), float(sw_p), float(res.value), float(M.sum()))
out = dict(sw=sw, msw=msw, emds=log['projected_emds'], P=P, sw_p=sw_p, value=res.value, M=M)
'''


def test_pot_script_runs_with_only_its_imports_changed(capsys):
    "The same script on POT and on otbook prints the same numbers"
    from test_bregman import run_script
    ours, theirs = run_script(otbook, POT_SCRIPT), run_script(pot, POT_SCRIPT)
    printed = capsys.readouterr().out.split('\n')
    np.testing.assert_allclose(*(np.array(line.split(), float) for line in printed[:2]), rtol=1e-12)
    for key in theirs: np.testing.assert_allclose(ours[key], theirs[key], rtol=0, atol=1e-12, err_msg=key)


def test_pot_namespaces():
    "ot.sliced is a module and the two distances are top-level, as in POT"
    assert otbook.sliced.sliced_wasserstein_distance is otbook.sliced_wasserstein_distance
    assert otbook.sliced.max_sliced_wasserstein_distance is otbook.max_sliced_wasserstein_distance
    assert callable(otbook.sliced.get_random_projections)


@pytest.mark.gpu
def test_cuda_equals_pot():
    "On CUDA the directions come from the device's generator, as POT's: the same values for an int seed"
    if not torch.cuda.is_available(): pytest.skip('needs a GPU')
    X_s, X_t, a, b = clouds(0, 50, 40, 3)
    xs, xt = torch.tensor(X_s, device='cuda'), torch.tensor(X_t, device='cuda')
    for f, f_ref in FUNCS:
        value = f(xs, xt, seed=0)
        assert value.device.type == 'cuda'
        torch.testing.assert_close(value, f_ref(xs, xt, seed=0), rtol=0, atol=1e-10)
    for metric in NATIVE_METRICS:
        C = dist(xs, xt, metric)
        assert C.device.type == 'cuda'
        torch.testing.assert_close(C.cpu(), torch.tensor(pot.dist(X_s, X_t, metric)), rtol=1e-10, atol=1e-10)
