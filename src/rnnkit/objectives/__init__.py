"""Training objectives several recipes share (the engine's ``Objective`` protocol):
supervised batches (``supervised``), language modelling over token streams (``lm``) and
data generated on the fly (``generated``)."""
