"""Test helpers shared by the test files: values with gradients, relative errors, finite differences."""
import torch


def value_and_grads(L, *args):
    "L(*args) detached, and the gradients of its sum with respect to every argument (cloned, so inputs stay leaves)"
    args = [t.clone().requires_grad_() for t in args]
    v = L(*args)
    return v.detach(), torch.autograd.grad(v.sum(), args)


def rel(u, v):
    "Largest entry of |u - v| relative to the largest entry of |v|, as a float"
    return ((u - v).abs().max() / v.abs().max()).item()


def finite_differences(L, args, h=1e-6):
    "Central differences of the scalar L(*args) with respect to every entry of every argument"
    out = []
    for k, t in enumerate(args):
        g = torch.zeros(t.numel(), dtype=t.dtype)
        for i in range(t.numel()):
            vals = []
            for s in (h, -h):
                moved = [u.clone() for u in args]
                moved[k].view(-1)[i] += s
                vals.append(L(*moved))
            g[i] = (vals[0] - vals[1]) / (2 * h)
        out.append(g.view_as(t))
    return out
