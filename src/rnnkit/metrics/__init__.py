"""Metric families: classification (accuracy, F1, confusion), calibration (ECE, temperature),
word similarity and analogies, forecasting (MAE, MASE, interval coverage) and BLEU."""
