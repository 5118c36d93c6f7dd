"""rnnkit: recurrent neural networks from first principles, exact against torch.nn."""
__version__ = "0.1.0"
