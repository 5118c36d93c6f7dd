"""Encoder-decoder with attention, shared by the translate and chat recipes.

``encoder`` (a recurrent encoder: ids -> :class:`~rnnkit.families.seq2seq.encoder.Memory`, i.e.
memory ``(N, S, H)``, mask ``(N, S)`` and final state), ``decoder`` (the attention decoder, over
any memory and mask, so a convolutional encoder's grid can feed it), ``model`` (their
composition, :class:`~rnnkit.families.seq2seq.model.Seq2Seq`), ``search`` (search options and
their ranges), ``translator`` (decoding and the use commands), ``pairs`` (the build shared by
translate and chat) and the parallel-text data (``parallel``, ``splits``, ``bitext``).
"""
