r"""The residual of the input-held-constant dynamics ``s -> F(s, x)``: ``G = s - F(s, x)``,
the speed ``q = |G|² / D`` and the gradient ratio ``‖(I - J_rec)ᵀ G‖ / ‖G‖``, with the small
tensor helpers every solver uses (the net's device, frozen cell copies, the constant input).
"""
from __future__ import annotations

import copy

import numpy as np
import torch
from torch import Tensor


def net_device(net) -> torch.device:
    """The device of the net's cell parameters (CPU for a cell without parameters)."""
    for p in net.cell.parameters():
        return p.device
    return torch.device("cpu")


def cell_copy(net, dtype: torch.dtype, device: torch.device) -> torch.nn.Module:
    """A frozen copy of ``net.cell`` in ``dtype`` on ``device`` (the net is not touched)."""
    cell = copy.deepcopy(net.cell).to(device=device, dtype=dtype)
    for p in cell.parameters():
        p.requires_grad_(False)
    return cell


def as_tensor(a, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``a`` (array or tensor) as a detached tensor of ``dtype`` on ``device``."""
    if isinstance(a, Tensor):
        return a.detach().to(device=device, dtype=dtype)
    return torch.as_tensor(np.asarray(a), dtype=dtype, device=device)


def constant_input(net, x, dtype: torch.dtype, device: torch.device) -> Tensor:
    """The constant input as a (1, E) tensor (zeros by default)."""
    E = net.embed_dim
    if x is None:
        return torch.zeros(1, E, dtype=dtype, device=device)
    x = as_tensor(x, dtype, device).reshape(-1)
    if x.shape[0] != E:
        raise ValueError(f"x has {x.shape[0]} entries; the network's input size is {E}")
    return x[None]


def residual(cell, s: Tensor, x: Tensor) -> tuple[Tensor, Tensor]:
    """``G = s - F(s, x)`` (B, D) and ``q = |G|² / D`` (B,)."""
    g = s - cell.step(s, x.expand(s.shape[0], -1))
    return g, (g * g).mean(-1)


@torch.no_grad()
def q_values(net, states, x=None) -> np.ndarray:
    """Speed ``q(s) = |s - F(s, x)|² / D`` of each state, computed in float64.

    Parameters
    ----------
    net : RNNClassifier
    states : array or tensor of shape (S, D)
    x : array of shape (E,), optional
        Constant input (default zero).

    Returns
    -------
    ndarray of shape (S,), float64
    """
    cell, s, x_in = _float64_problem(net, states, x)
    return residual(cell, s, x_in)[1].cpu().numpy()


def _float64_problem(net, states, x) -> tuple[torch.nn.Module, Tensor, Tensor]:
    """A float64 copy of the cell, the states as (S, D) float64 and the input as (1, E)."""
    device = net_device(net)
    cell = cell_copy(net, torch.float64, device)
    s = as_tensor(states, torch.float64, device).reshape(-1, net.state_size)
    return cell, s, constant_input(net, x, torch.float64, device)


def grad_ratios(net, states, x=None, *, block: int = 4096) -> np.ndarray:
    r"""``‖(I - J_rec)ᵀ G‖ / ‖G‖`` per state, ``G = s - F(s, x)``, in float64 (0 where G = 0).

    ``∇q = (2/D) (I - J_rec)ᵀ G``, so this is the gradient of q relative to the residual: it
    vanishes at a local minimum of q (a slow point, where ``G`` is orthogonal to the range of
    ``I - J_rec``) and is at least the smallest singular value of ``I - J_rec`` elsewhere.
    One reverse-mode vector-Jacobian product per state.

    Parameters
    ----------
    net : RNNClassifier
    states : array or tensor of shape (S, D)
    x : array of shape (E,), optional

    Returns
    -------
    ndarray of shape (S,), float64
    """
    cell, s, x_in = _float64_problem(net, states, x)
    out = np.zeros(s.shape[0])
    for a in range(0, s.shape[0], block):
        with torch.enable_grad():
            leaf = s[a: a + block].clone().requires_grad_(True)
            g = leaf - cell.step(leaf, x_in.expand(leaf.shape[0], -1))
            gd = g.detach()
            mtg = torch.autograd.grad(g, leaf, gd)[0]  # (I - J)ᵀ G
        gn = gd.norm(dim=1)
        r = torch.where(gn > 0, mtg.norm(dim=1) / gn.clamp_min(1e-300), torch.zeros_like(gn))
        out[a: a + block] = torch.nan_to_num(r, nan=np.inf).cpu().numpy()
    return out

