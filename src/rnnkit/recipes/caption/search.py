"""Caption recipe, search: captions of images with :func:`rnnkit.decode.greedy_search` or
``beam_search`` over the model's ``start``/``step``, in batches, with each word's attention.

Shapes: M images, S their side, T words of a caption, R regions of the encoder's grid.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch
from torch import Tensor

from rnnkit.data.token_vocab import Vocab
from rnnkit.decode import beam_search, forbid, greedy_search
from rnnkit.objectives.supervised import evaluating
from rnnkit.train.params import Param

#: the most words of a caption (the search stops there; reference captions are far shorter)
MAX_WORDS = Param("max_words", int, 30, "the most words of a caption", low=1, high=200)


@dataclass
class Caption:
    """One image's caption: its text, its words and, when kept, the attention (T [+1 for the
    end], R) of each step over the grid's regions."""

    text: str
    words: list[str]
    attention: Optional[Tensor] = None
    score: float = 0.0


def caption_images(
    model,
    vocab: Vocab,
    images: Tensor,
    beam: int = 1,
    length_penalty: float = 1.0,
    max_words: int = MAX_WORDS.default,
    attention: bool = False,
    batch_size: int = 100,
) -> list[Caption]:
    """Captions of images (M, 3, S, S) uint8, greedy (``beam`` 1) or by beam search, in order.

    ``attention`` keeps each step's weights over the regions (None for a model without attention).
    """
    out: list[Caption] = []
    with evaluating(model), torch.no_grad():
        for start in range(0, len(images), batch_size):
            chunk = images[start : start + batch_size]
            state, memory = model.start(chunk)
            step = model.step
            if not attention:
                step = lambda *inputs: (*model.step(*inputs)[:2], None)  # noqa: E731
            common = dict(
                batch_size=len(chunk),
                sos=Vocab.SOS,
                eos=Vocab.EOS,
                max_lengths=torch.full((len(chunk),), max_words + 1, dtype=torch.long),  # the words and <eos>
                constrain=forbid([Vocab.PAD, Vocab.SOS]),
            )
            if beam == 1:
                found = greedy_search(step, state, memory, **common)
            else:
                found = [
                    h[0] for h in beam_search(step, state, memory, beam=beam, length_penalty=length_penalty, **common)
                ]
            for hyp in found:
                words = vocab.decode(hyp.tokens[:max_words])  # one cut by the limit has max_words + 1
                weights = hyp.attention[: len(words) + 1].cpu() if hyp.attention is not None else None
                out.append(Caption(" ".join(words), words, weights, float(hyp.score)))
    return out
