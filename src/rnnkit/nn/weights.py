"""The parameters of a multi-layer recurrent layer, laid out exactly as ``torch.nn``'s.

:class:`LayerWeights` is the base of :class:`~rnnkit.nn.rnn.RNNBase`: it creates the
parameters in torch's flat order (per layer, per direction ``weight_ih_l{k}{_reverse}``,
``weight_hh``, ``bias_ih``, ``bias_hh``, ``weight_hr``), initialises them as torch does, hands
them to a forward call (with DropConnect on ``weight_hh`` when asked) and keeps them in
cuDNN's flat buffer on a GPU. It reads the layer's configuration from the attributes
``RNNBase`` sets: ``mode``, ``input_size``, ``hidden_size``, ``num_layers``, ``bias``,
``batch_first``, ``bidirectional``, ``proj_size`` and ``weight_dropout``.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .specs import CELLS, CellSpec

_WEIGHT_BASES = ("weight_ih", "weight_hh", "bias_ih", "bias_hh", "weight_hr")


class LayerWeights(nn.Module):
    """The parameters of :class:`~rnnkit.nn.rnn.RNNBase` and what reads them (see the module)."""

    def _make_weights(self, device=None, dtype=None) -> None:
        """Create every parameter (uninitialised) in torch's flat order, and remember their names."""
        self._flat_weights_names: list[str] = []
        kw = {"device": device, "dtype": dtype}
        for layer in range(self.num_layers):
            for direction in range(self.num_directions):
                for base, shape in self._weight_shapes(layer):
                    name = base + _suffix(layer, direction)
                    setattr(self, name, nn.Parameter(torch.empty(shape, **kw)))
                    self._flat_weights_names.append(name)

    @property
    def spec(self) -> CellSpec:
        """The description of this layer's recurrence (:data:`rnnkit.nn.specs.CELLS`)."""
        return CELLS[self.mode]

    @property
    def num_directions(self) -> int:
        return 2 if self.bidirectional else 1

    @property
    def output_size(self) -> int:
        """Features per direction of the output (``H_out``)."""
        return self.proj_size or self.hidden_size

    def _weight_shapes(self, layer: int) -> list[tuple[str, tuple[int, ...]]]:
        """``(base name, shape)`` of one direction of ``layer``, in torch's flat order.

        ``weight_ih (G*H, H_in)`` (``H_in = D*H_out`` above the first layer), ``weight_hh (G*H, H_out)``,
        ``bias_ih, bias_hh (G*H,)`` if bias, ``weight_hr (proj_size, H)`` if proj_size.
        """
        gate_rows = self.spec.gates * self.hidden_size
        layer_in = self.input_size if layer == 0 else self.output_size * self.num_directions
        shapes = [("weight_ih", (gate_rows, layer_in)), ("weight_hh", (gate_rows, self.output_size))]
        if self.bias:
            shapes += [("bias_ih", (gate_rows,)), ("bias_hh", (gate_rows,))]
        if self.proj_size:
            shapes.append(("weight_hr", (self.proj_size, self.hidden_size)))
        return shapes

    def reset_parameters(self) -> None:
        """Uniform(-1/sqrt(H), 1/sqrt(H)) for every parameter, as torch does."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            nn.init.uniform_(p, -bound, bound)

    def flat_weights(self) -> list[Tensor]:
        """Parameters in torch's flat order: per layer, per direction ``w_ih, w_hh, b_ih, b_hh, w_hr``."""
        return [getattr(self, n) for n in self._flat_weights_names]

    def layer_weights(
        self, layer: int, direction: int, weights: Optional[dict[str, Tensor]] = None
    ) -> dict[str, Optional[Tensor]]:
        """One layer's parameters by base name (from ``weights`` when given)."""
        sfx = _suffix(layer, direction)
        source = weights if weights is not None else {n: getattr(self, n) for n in self._flat_weights_names}
        return {base: source.get(base + sfx) for base in _WEIGHT_BASES}

    def run_weights(self) -> dict[str, Tensor]:
        """The weights one forward call uses, in flat order.

        With ``weight_dropout`` in training mode, every ``weight_hh`` is
        DropConnect-ed (Wan et al., 2013; AWD-LSTM's weight-drop, Merity et
        al., 2018): one mask per call, so every time step of the batch uses
        the same dropped recurrent matrix. The dropped weights go to the same
        fused kernel, so the layer stays on the fast path.
        """
        named = {n: getattr(self, n) for n in self._flat_weights_names}
        if self.weight_dropout and self.training:
            for n in named:
                if n.startswith("weight_hh"):
                    named[n] = F.dropout(named[n], self.weight_dropout, training=True)
        return named

    def flatten_parameters(self) -> None:
        """On CUDA with cuDNN, put the weights in one contiguous chunk (as torch does) so
        cuDNN needs no copy; elsewhere nothing to do. (GPU path not yet measured.)"""
        weights = self.flat_weights()
        first = weights[0]
        if not (first.is_cuda and torch.backends.cudnn.is_acceptable(first)):
            return
        if len({(w.dtype, w.device) for w in weights}) != 1:
            return
        with torch.no_grad():
            if torch._use_cudnn_rnn_flatten_weight():
                per_layer = (4 if self.bias else 2) + (1 if self.proj_size else 0)
                torch._cudnn_rnn_flatten_weight(
                    weights,
                    per_layer,
                    self.input_size,
                    self.spec.cudnn_mode,
                    self.hidden_size,
                    self.proj_size,
                    self.num_layers,
                    self.batch_first,
                    self.bidirectional,
                )

    def _apply(self, fn, recurse=True):
        result = super()._apply(fn, recurse)
        self.flatten_parameters()
        return result


def _suffix(layer: int, direction: int) -> str:
    """torch's parameter name suffix: ``_l{layer}``, plus ``_reverse`` for the second direction."""
    return f"_l{layer}" + ("_reverse" if direction else "")
