"""How a layer's forward call runs: input layouts, initial states, fused or reference kernel.

:func:`run` is what :meth:`rnnkit.nn.RNNBase.forward` and ``trace`` call. It
validates the input, turns ``lengths`` into a ``PackedSequence``, fills the
initial state, then sends the batch either to torch's fused op
(``spec.fused``) or to rnnkit's first-principles stack
(:func:`rnnkit.nn.reference.run_stack`), and lays out the gate record like
the output.

Legend: L sequence length, N batch, H_in input size, H hidden size, H_out
output size, D directions, S total packed rows.
"""

from __future__ import annotations

import os
import warnings

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from . import choose
from .checks import check_input, check_lengths, check_like, check_state, under_autocast
from .reference import own_bf16_layer, run_stack


def run(layer, input, hx, lengths, trace: bool):
    """Run ``layer`` (an :class:`~rnnkit.nn.rnn.RNNBase`) on a dense, padded or packed batch.

    Args:
        input: ``(L, N, H_in)`` (``(N, L, H_in)`` if batch_first), ``(L, H_in)`` or a ``PackedSequence``.
        hx: initial state(s) or None; lengths: optional ``(N,)`` valid lengths of a padded batch.
        trace: run the reference stack and return its gate record.
    Returns:
        ``(output, state, gates)``: output laid out like the input, state as ``torch.nn``
        returns it, gates a dict of ``(D*num_layers, L, N, H)`` tensors (empty unless ``trace``).
    """
    name = layer.spec.name
    ref = layer.weight_ih_l0
    input, hx = under_autocast(input, ref), under_autocast(hx, ref)
    if isinstance(input, PackedSequence):
        if lengths is not None:
            raise ValueError(f"{name}: pass either a PackedSequence or lengths, not both")
        check_input(name, input.data, layer.input_size, (2,), "(packed rows, H_in)")
        check_like(name, "input", input.data, ref)
        out, state, gates = _run_packed(layer, input, hx, trace)
        steps = len(input.batch_sizes)
        return out, state, {k: pad_gate(v, input, layer.batch_first, steps) for k, v in gates.items()}
    check_input(
        name,
        input,
        layer.input_size,
        (2, 3),
        "(N, L, H_in) or (L, H_in)" if layer.batch_first else "(L, N, H_in) or (L, H_in)",
    )
    check_like(name, "input", input, ref)
    if lengths is not None:
        return _run_padded(layer, input, hx, lengths, trace)
    return _run_dense(layer, input, hx, trace)


def _run_padded(layer, x: Tensor, hx, lengths, trace: bool):
    """A padded ``(L, N, H_in)`` batch with ``(N,)`` lengths, run packed; zeros at padding."""
    name = layer.spec.name
    if x.dim() != 3:
        raise ValueError(f"{name}: lengths needs a batched 3-D input, got shape {tuple(x.shape)}")
    seq_len = x.shape[1] if layer.batch_first else x.shape[0]
    batch = x.shape[0] if layer.batch_first else x.shape[1]
    lengths = check_lengths(name, lengths, batch, seq_len)
    packed = pack_padded_sequence(x, lengths, layer.batch_first, enforce_sorted=False)
    out, state, gates = _run_packed(layer, packed, hx, trace)
    out, _ = pad_packed_sequence(out, layer.batch_first, total_length=seq_len)
    gates = {k: pad_gate(v, packed, layer.batch_first, seq_len) for k, v in gates.items()}
    return out, state, gates


def _uses_fused(layer, trace: bool, data: Tensor, batch: int, steps: int, packed: bool = False) -> bool:
    """torch's fused op unless tracing (it reports no gates), ``impl='reference'``, or ``impl='auto'``
    and a timed trial on this machine found rnnkit's kernel faster (:mod:`rnnkit.nn.choose`)."""
    if trace or layer.impl == "reference":
        return False
    if layer.impl != "auto":
        return True
    device = data.device
    amp = torch.is_autocast_enabled(device.type)
    dtype = torch.get_autocast_dtype(device.type) if amp else data.dtype
    # the layer remembers its answers, so a call it has seen costs one dict lookup (and, where the
    # answer is rnnkit's kernel, the check that nothing is tracing or exporting the call)
    call = (batch, steps, packed, dtype, layer.weight_ih_l0.dtype, device, torch.is_grad_enabled())
    call += (torch.get_num_threads(), choose.generation, os.environ.get(choose.OVERRIDE))
    seen = layer.__dict__.setdefault("_kernel_choices", {})
    fused = seen.get(call)
    if fused is None:
        if choose.capturing():
            return True  # nothing is learnt (or timed) while the call is traced or exported
        fused = seen[call] = _first_answer(layer, data, batch, steps, packed, dtype)
    return fused or choose.capturing()


def _first_answer(layer, data: Tensor, batch: int, steps: int, packed: bool, dtype: torch.dtype) -> bool:
    """Whether a call of this kind (not being captured) takes torch's op: always where
    :func:`choose.skip_trial` says so, else as forced or as the trial found."""
    device = data.device
    if choose.skip_trial(dtype, device, own_bf16_layer(layer, device)):
        return True
    forced = choose.forced()
    if forced:
        return forced == "fused"
    key = choose.shape_key(layer, batch, steps, dtype, device, packed)
    return choose.choose(key, lambda: _kernel_calls(layer, batch, steps, data), device) == "fused"


def _kernel_calls(layer, batch: int, steps: int, like: Tensor) -> dict:
    """Each kernel's call on random ``(L, N, H_in)`` data shaped like this one, with copies of the
    weights (the layer's gradients untouched); forward + backward when gradients are on."""
    grad = torch.is_grad_enabled()
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(steps, batch, layer.input_size, generator=gen).to(like).requires_grad_(grad)
    state = initial_state(layer, None, x, batch, True)
    weights = {k: w.detach().clone().requires_grad_(grad) for k, w in layer.run_weights().items()}

    def finish(out: Tensor) -> None:
        if grad:  # backward outside any autocast, as a training step runs it
            with torch.autocast(like.device.type, enabled=False):
                out.float().sum().backward()

    def fused() -> None:
        args = (layer.bias, layer.num_layers, layer.dropout, layer.training, layer.bidirectional, False)
        finish(_fused(layer, x, _fused_state(layer.spec, state), list(weights.values()), *args)[0])

    def reference() -> None:
        finish(run_stack(layer, x.reshape(steps * batch, -1), (batch,) * steps, state, False, weights)[0])

    return {"fused": fused, "reference": reference}


def _run_dense(layer, x: Tensor, hx, trace: bool):
    """A dense ``(L, N, H_in)`` / ``(N, L, H_in)`` / unbatched ``(L, H_in)`` batch."""
    spec, weights = layer.spec, layer.run_weights()
    batched = x.dim() == 3
    if not batched:
        x = x.unsqueeze(1 if not layer.batch_first else 0)
    batch = x.shape[0] if layer.batch_first else x.shape[1]
    state = initial_state(layer, hx, x, batch, batched)
    seq_len = x.shape[1] if layer.batch_first else x.shape[0]
    if _uses_fused(layer, trace, x, batch, seq_len):
        out, *final = _fused(
            layer,
            x,
            _fused_state(spec, state),
            list(weights.values()),
            layer.bias,
            layer.num_layers,
            layer.dropout,
            layer.training,
            layer.bidirectional,
            layer.batch_first,
        )
        gates = {}
    else:
        time_major = x.transpose(0, 1) if layer.batch_first else x
        seq_len = time_major.shape[0]
        data = time_major.reshape(seq_len * batch, -1)  # (L, N, H_in) -> (L*N, H_in)
        out, final, packed_gates = run_stack(layer, data, (batch,) * seq_len, state, trace, weights)
        out = out.view(seq_len, batch, -1)
        out = out.transpose(0, 1) if layer.batch_first else out
        gates = {k: dense_gate(v, seq_len, batch, layer.batch_first) for k, v in packed_gates.items()}
    if not batched:
        out = out.squeeze(1 if not layer.batch_first else 0)
        final = [f.squeeze(1) for f in final]
        gates = {k: v.squeeze(2 if not layer.batch_first else 1) for k, v in gates.items()}
    return out, _pack_state(spec, final), gates


def _run_packed(layer, packed: PackedSequence, hx, trace: bool):
    """A ``PackedSequence`` of ``(S, H_in)`` rows; the output is packed the same way."""
    spec, weights = layer.spec, layer.run_weights()
    batch = int(packed.batch_sizes[0])
    state = initial_state(layer, hx, packed.data, batch, True)
    if packed.sorted_indices is not None:
        state = tuple(s.index_select(1, packed.sorted_indices) for s in state)
    if _uses_fused(layer, trace, packed.data, batch, len(packed.batch_sizes), packed=True):
        out, *final = _fused(
            layer,
            packed.data,
            packed.batch_sizes,
            _fused_state(spec, state),
            list(weights.values()),
            layer.bias,
            layer.num_layers,
            layer.dropout,
            layer.training,
            layer.bidirectional,
        )
        gates = {}
    else:
        sizes = tuple(packed.batch_sizes.tolist())
        out, final, gates = run_stack(layer, packed.data, sizes, state, trace, weights)
    if packed.unsorted_indices is not None:
        final = [f.index_select(1, packed.unsorted_indices) for f in final]
    out = PackedSequence(out, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices)
    return out, _pack_state(spec, final), gates


def _fused(layer, *args):
    """torch's fused op on ``args``. Under autocast, where it fails (oneDNN has no bf16 LSTM
    primitive on some CPUs), this layer runs it in float32 from then on, with a warning."""
    kind = args[0].device.type
    if not torch.is_autocast_enabled(kind):
        return layer.spec.fused(*args)
    if not layer.__dict__.get("_fused_autocast_failed"):
        try:
            return layer.spec.fused(*args)
        except RuntimeError as err:
            if "primitive" not in str(err):  # only oneDNN's missing primitive, not e.g. out of memory
                raise
            layer.__dict__["_fused_autocast_failed"] = True
            why = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            warnings.warn(
                f"{layer.spec.name}: torch's fused op failed under {torch.get_autocast_dtype(kind)} autocast "
                f"({why}); this layer runs in float32 from now on",
                RuntimeWarning,
                stacklevel=4,
            )
    with torch.autocast(kind, enabled=False):
        return layer.spec.fused(*args)


def _fused_state(spec, state: tuple[Tensor, ...]):
    """torch's fused ops take the tuple ``(h, c)`` for a two-state cell and a bare ``h`` otherwise."""
    return state if spec.state_arity > 1 else state[0]


def _pack_state(spec, final):
    """Final states as ``torch.nn`` returns them: ``(h_n, c_n)`` for a two-state cell, else ``h_n``."""
    return tuple(final) if spec.state_arity > 1 else final[0]


def initial_state(layer, hx, like: Tensor, batch: int, batched: bool) -> tuple[Tensor, ...]:
    """Validated initial state(s), each ``(D*num_layers, N, *)``; zeros where hx is None.

    The first state has ``H_out`` features, any further one (LSTM's cell state) ``H``.
    ``hx`` holds one tensor per name of ``spec.state_names`` (a bare tensor for one state).
    """
    spec = layer.spec
    rows = layer.num_layers * layer.num_directions
    sizes = [layer.output_size] + [layer.hidden_size] * (spec.state_arity - 1)
    if hx is None:
        return tuple(like.new_zeros(rows, batch, size) for size in sizes)
    if spec.state_arity > 1:
        if not isinstance(hx, (tuple, list)) or len(hx) != spec.state_arity:
            raise ValueError(
                f"{spec.name}: expected hx to be a tuple ({', '.join(spec.state_names)}), got {type(hx).__name__}"
            )
        states = list(hx)
        args = [f"hx[{k}] ({n})" for k, n in enumerate(spec.state_names)]
    else:
        states, args = [hx], ["hx"]
    result = []
    for s, arg, size in zip(states, args, sizes):
        expected = (rows, batch, size) if batched else (rows, size)
        check_state(spec.name, arg, s, expected, layer.weight_ih_l0)
        result.append(s if batched else s.unsqueeze(1))
    return tuple(result)


def dense_gate(packed: Tensor, seq_len: int, batch: int, batch_first: bool) -> Tensor:
    """``(D*layers, L*N, H) -> (D*layers, L, N, H)`` (or ``(.., N, L, H)`` if batch_first)."""
    out = packed.reshape(packed.shape[0], seq_len, batch, -1)
    return out.transpose(1, 2) if batch_first else out


def pad_gate(gate: Tensor, packed: PackedSequence, batch_first: bool, seq_len: int) -> Tensor:
    """Packed ``(D*layers, S, H)`` gate record -> padded ``(D*layers, L, N, H)``, zeros at padding."""
    layers = [
        pad_packed_sequence(
            PackedSequence(g, packed.batch_sizes, packed.sorted_indices, packed.unsorted_indices),
            batch_first,
            total_length=seq_len,
        )[0]
        for g in gate.unbind(0)
    ]
    return torch.stack(layers)
