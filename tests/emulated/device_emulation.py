"""A second torch device on a CPU-only machine, to test that code keeps its tensors on the
network's device (what a CUDA run needs) without a GPU.

Inside :func:`emulated_device`, ``net.to(FAKE)`` gives a
network whose tensors report ``device == FAKE`` but hold real CPU values (:class:`OnDevice`,
a wrapper tensor subclass). Every aten operator then goes through :class:`DeviceEmulator`,
which

- runs the operator on the CPU values (so results are the CPU results, bit for bit),
- creates tensors asked for on ``FAKE`` (``torch.zeros(..., device=FAKE)``) as wrapped CPU
  tensors, and moves them with ``.to``/``.cpu()`` like a real device,
- records every operator whose tensor inputs mix ``FAKE`` with the CPU, with the rules CUDA
  applies: a 0-dim CPU tensor may join a device operator (a CPU scalar), the index tensors
  of ``t[idx]`` / ``t[idx] = v`` may stay on the CPU, and ``copy_`` / ``.to`` cross devices;
  everything else (``cuda_t + torch.zeros(3)``, ``cuda_t[mask] = cpu_values``, ...) is the
  "Expected all tensors to be on the same device" error a CUDA run raises.

``.numpy()`` of an ``OnDevice`` tensor fails as it does for a CUDA tensor (the code must call
``.cpu()`` first). What it cannot see: code that branches on ``device.type == "cuda"``,
CUDA-only kernels, and memory. ``FAKE`` is torch's PrivateUse1 backend registered as a Python
backend (``torch.utils.backend_registration``) under the name ``emulated``: a device torch
treats like any accelerator (no ``meta`` special cases), whose kernels never run.
"""
from __future__ import annotations

import contextlib
import traceback
from dataclasses import dataclass, field

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten, tree_map

_NAME = "emulated"
if torch._C._get_privateuse1_backend_name() != _NAME:  # once per process
    # the dummy device guard and hooks torch needs to create tensors on PrivateUse1
    torch.utils.backend_registration._setup_privateuseone_for_python_backend(_NAME)
#: The emulated device: torch's PrivateUse1 backend, set up as a Python backend and named here.
FAKE = torch.device(_NAME, 0)
aten = torch.ops.aten


def _empty_strided(size, stride, dtype=None, layout=None, device=None, pin_memory=None):
    return OnDevice(torch.empty_strided(size, stride, dtype=dtype, layout=layout))


def _empty(size, dtype=None, layout=None, device=None, pin_memory=None, memory_format=None):
    return OnDevice(torch.empty(size, dtype=dtype, layout=layout, memory_format=memory_format))


def _copy_from(src, dst, non_blocking=False):
    _unwrap(dst).copy_(_unwrap(src))
    return dst


# C++ paths that bypass Python dispatch (the index tensor of ``t[[1, 3]]`` is made on t's
# device by the indexing code) allocate on the device itself: give them wrapped CPU memory.
_LIBRARY = torch.library.Library("aten", "IMPL")
_LIBRARY.impl("empty_strided", _empty_strided, "PrivateUse1")
_LIBRARY.impl("empty.memory_format", _empty, "PrivateUse1")
_LIBRARY.impl("_copy_from", _copy_from, "PrivateUse1")
#: Operators that move data between devices (allowed to mix them).
_MOVES = {aten.copy_.default, aten._to_copy.default, aten.to.dtype_layout, aten.to.device,
          aten._copy_from.default, aten._copy_from_and_resize.default}
#: Arguments that may (or must) stay on the CPU, by position: index tensors of ``t[idx]`` and
#: ``t[idx] = v``, and the lengths / batch sizes of packed sequences (torch keeps them on the CPU).
_CPU_ARGS = {aten.index.Tensor: 1, aten.index_put_.default: 1, aten.index_put.default: 1,
             aten._index_put_impl_.default: 1, aten._pack_padded_sequence.default: 1,
             aten._pad_packed_sequence.default: 1, aten.gru.data: 1, aten.lstm.data: 1,
             aten.rnn_tanh.data: 1, aten.rnn_relu.data: 1}
#: Outputs that stay on the CPU, by position: the batch sizes of a packed sequence, the
#: lengths of a padded one.
_CPU_OUTPUTS = {aten._pack_padded_sequence.default: 1, aten._pad_packed_sequence.default: 1}


class OnDevice(torch.Tensor):
    """A CPU tensor (``inner``) that reports ``device == FAKE``."""

    inner: torch.Tensor

    @staticmethod
    def __new__(cls, inner: torch.Tensor):
        r = torch.Tensor._make_wrapper_subclass(cls, inner.shape, strides=inner.stride(),
                                                storage_offset=inner.storage_offset(), dtype=inner.dtype,
                                                device=FAKE, requires_grad=inner.requires_grad,
                                                layout=inner.layout)
        r.inner = inner.detach() if inner.requires_grad else inner
        return r

    def __tensor_flatten__(self):
        return ["inner"], None

    @staticmethod
    def __tensor_unflatten__(inner_tensors, meta, outer_size, outer_stride):
        return OnDevice(inner_tensors["inner"])

    def __repr__(self) -> str:
        return f"OnDevice({self.inner!r})"

    @classmethod
    def __torch_dispatch__(cls, func, types, args=(), kwargs=None):
        # autograd's device threads run backward outside the mode: same rules
        if not _ACTIVE:
            raise RuntimeError(f"{func}: a tensor on {FAKE} used outside emulated_device()")
        return _ACTIVE[-1].emulate(func, args, kwargs or {})


@dataclass
class Mismatch:
    """One operator that mixed devices: its name, the devices, where it was called."""

    op: str
    devices: tuple[str, ...]
    where: str

    def __str__(self) -> str:
        return f"{self.op} mixed {', '.join(self.devices)} at\n{self.where}"


@dataclass
class DeviceEmulator(TorchDispatchMode):
    """The dispatch mode of :func:`emulated_device`; ``mismatches`` lists what it saw."""

    mismatches: list[Mismatch] = field(default_factory=list)
    ops: int = 0

    def __post_init__(self):
        super().__init__()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        return self.emulate(func, args, kwargs or {})

    def emulate(self, func, args, kwargs):
        self.ops += 1
        self._check(func, args, kwargs)
        target = kwargs.get("device")
        flat = tree_flatten((args, kwargs))[0]
        wrapped = [t for t in flat if isinstance(t, OnDevice)]
        run_args = tree_map(_unwrap, args)
        run_kwargs = tree_map(_unwrap, dict(kwargs))
        if target is not None and torch.device(target) == FAKE:
            run_kwargs["device"] = torch.device("cpu")
        out = _CPU_KERNELS.get(func, func)(*run_args, **run_kwargs)
        on_fake = torch.device(target) == FAKE if target is not None else bool(wrapped)
        if not on_fake:
            return out
        if func in _CPU_OUTPUTS:
            keep = _CPU_OUTPUTS[func]
            return tuple(o if i == keep else _wrap(o, wrapped) for i, o in enumerate(out))
        return tree_map(lambda o: _wrap(o, wrapped) if isinstance(o, torch.Tensor) else o, out)

    def _check(self, func, args, kwargs) -> None:
        if func in _MOVES:
            return
        skip = _CPU_ARGS.get(func)
        tensors = tree_flatten([a for i, a in enumerate(args) if i != skip] + [kwargs])[0]
        devices = set()
        for t in tensors:
            if isinstance(t, OnDevice):
                devices.add(str(FAKE))
            elif isinstance(t, torch.Tensor) and t.dim() > 0:  # a 0-dim CPU tensor is a scalar
                devices.add(str(t.device))
        if len(devices) > 1:
            frames = [f for f in traceback.extract_stack()
                      if "/torch/" not in f.filename and not f.filename.endswith("device_emulation.py")]
            where = "".join(traceback.format_list(frames[-3:]))
            self.mismatches.append(Mismatch(str(func), tuple(sorted(devices)), where))


def _unwrap(t):
    return t.inner if isinstance(t, OnDevice) else t


def _wrap(o: torch.Tensor, inputs: list[OnDevice]) -> torch.Tensor:
    for t in inputs:  # an in-place operator returns its (wrapped) argument
        if t.inner is o:
            return t
    return OnDevice(o)


# --- CPU kernels for the operators torch runs only on accelerators --------------------------
# On a non-CPU device, torch's GRU and LSTM layers (aten.gru.data, aten.lstm.data) call the
# fused cell kernels that CUDA has and the CPU lacks; these compute the same on the CPU. Each
# forward's workspace is what its backward below reads (the activated gates, as CUDA keeps).

def _gru_cell(ig, hg, hx, ib=None, hb=None):
    """``_thnn_fused_gru_cell``: gates (B, 3H) in the order r, z, n -> (h' (B, H), workspace (B, 5H))."""
    if ib is not None:
        ig, hg = ig + ib, hg + hb
    i_r, i_z, i_n = ig.chunk(3, 1)
    h_r, h_z, h_n = hg.chunk(3, 1)
    r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
    n = torch.tanh(i_n + r * h_n)
    return n + z * (hx - n), torch.cat([r, z, n, hx, h_n], 1)


def _gru_cell_backward(grad_hy, ws, has_bias):
    """``_thnn_fused_gru_cell_backward`` -> grads of (input gates, hidden gates, hx, biases)."""
    r, z, n, hx, h_n = ws.chunk(5, 1)
    d_n = grad_hy * (1 - z) * (1 - n * n)
    d_z = grad_hy * (hx - n) * z * (1 - z)
    d_r = d_n * h_n * r * (1 - r)
    g_in, g_hid = torch.cat([d_r, d_z, d_n], 1), torch.cat([d_r, d_z, d_n * r], 1)
    bias = (g_in.sum(0), g_hid.sum(0)) if has_bias else (None, None)
    return g_in, g_hid, grad_hy * z, *bias


def _lstm_cell(ig, hg, cx, ib=None, hb=None):
    """``_thnn_fused_lstm_cell``: gates (B, 4H) in the order i, f, g, o -> (h', c', workspace (B, 4H))."""
    pre = ig + hg if ib is None else ig + hg + ib + hb
    p_i, p_f, p_g, p_o = pre.chunk(4, 1)
    i, f, g, o = torch.sigmoid(p_i), torch.sigmoid(p_f), torch.tanh(p_g), torch.sigmoid(p_o)
    cy = f * cx + i * g
    return o * torch.tanh(cy), cy, torch.cat([i, f, g, o], 1)


def _lstm_cell_backward(grad_hy, grad_cy, cx, cy, ws, has_bias):
    """``_thnn_fused_lstm_cell_backward_impl`` -> grads of (gates (B, 4H), cx, bias)."""
    i, f, g, o = ws.chunk(4, 1)
    tc = torch.tanh(cy)
    gh = torch.zeros_like(cy) if grad_hy is None else grad_hy
    gc = (torch.zeros_like(cy) if grad_cy is None else grad_cy) + gh * o * (1 - tc * tc)
    gates = torch.cat([gc * g * i * (1 - i), gc * cx * f * (1 - f), gc * i * (1 - g * g), gh * tc * o * (1 - o)], 1)
    return gates, gc * f, gates.sum(0) if has_bias else None


def _zeros(size, dtype=None, layout=None, device=None, pin_memory=None):
    """``_efficientzerotensor`` (forward-mode AD's zero tangents) as real zeros: a CPU
    ZeroTensor has no memory, and inside this dispatch no ZeroTensor key would handle it."""
    return torch.zeros(size, dtype=dtype, layout=layout, device=device)


_CPU_KERNELS = {aten._efficientzerotensor.default: _zeros,
                aten._thnn_fused_gru_cell.default: _gru_cell,
                aten._thnn_fused_gru_cell_backward.default: _gru_cell_backward,
                aten._thnn_fused_lstm_cell.default: _lstm_cell,
                aten._thnn_fused_lstm_cell_backward_impl.default: _lstm_cell_backward}

_ACTIVE: list[DeviceEmulator] = []


@contextlib.contextmanager
def emulated_device():
    """``with emulated_device() as emu:`` run code with nets moved to ``FAKE``; then
    ``emu.mismatches`` lists every operator that mixed ``FAKE`` with the CPU."""
    emu = DeviceEmulator()
    _ACTIVE.append(emu)
    try:
        with emu:
            yield emu
    finally:
        _ACTIVE.pop()
