"""rnnkit: recurrent neural networks from first principles, exact against torch.nn."""

__version__ = "0.1.0"


def load(path, device: str = "cpu", task: str | None = None):
    """Load a trained model from a checkpoint file or run directory (of recipe ``task``, when
    given: another recipe's run is a CheckpointError naming both).

    Example:
        >>> lm = rnnkit.load("runs/charlm-20261123-170000")  # doctest: +SKIP
        >>> lm.sample("ROMEO:", length=100, temperature=0.8, seed=1)  # doctest: +SKIP
    """
    from rnnkit.recipes import load as load_task

    return load_task(path, device=device, task=task)


__all__ = ["load", "__version__"]
