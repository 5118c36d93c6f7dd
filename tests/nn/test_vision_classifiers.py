"""The image classifiers: shapes, every parameter reached by the gradient, bad settings named,
and each learns a tiny separable fixture."""

import pytest
import torch
import torch.nn.functional as F

from rnnkit.families.vision.classifiers import ResidualClassifier, SimpleCNN


def _models(channels, side):
    return [
        SimpleCNN(channels, 4, side=side, width=4, stages=2, hidden=16, dropout=0.1),
        ResidualClassifier(channels, 4, width=4, blocks=(1, 2)),
    ]


@pytest.mark.parametrize("channels,side", [(1, 28), (3, 32), (3, 12)])
def test_logits_and_gradients_reach_every_parameter(channels, side):
    torch.manual_seed(0)
    for model in _models(channels, side):
        logits = model(torch.randn(3, channels, side, side))
        assert logits.shape == (3, 4)
        logits.logsumexp(1).sum().backward()
        assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.parameters())


def test_the_residual_stages_halve_the_resolution_after_the_first():
    model = ResidualClassifier(3, 10, width=8, blocks=(1, 1, 1))
    seen = []
    for stage in model.stages:
        stage.register_forward_hook(lambda _m, _i, out: seen.append(tuple(out.shape[1:])))
    model(torch.zeros(1, 3, 32, 32))
    assert seen == [(8, 32, 32), (16, 16, 16), (32, 8, 8)]


def test_each_learns_a_tiny_fixture():
    """Four classes told apart by which quadrant is bright: both reach 100% on the training set."""
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(64) % 4
    images = 0.3 * torch.randn(64, 1, 12, 12, generator=gen)
    for k in range(4):
        rows, cols = divmod(k, 2)
        images[labels == k, :, rows * 6 : rows * 6 + 6, cols * 6 : cols * 6 + 6] += 1.5
    torch.manual_seed(0)
    for model in _models(1, 12):
        opt = torch.optim.Adam(model.parameters(), lr=3e-3)
        for _ in range(60):
            opt.zero_grad()
            F.cross_entropy(model(images), labels).backward()
            opt.step()
        model.eval()
        assert (model(images).argmax(1) == labels).float().mean() == 1.0


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: SimpleCNN(3, 10, side=4, stages=3), "3 poolings need images of at least 8 pixels"),
        (lambda: SimpleCNN(3, 1, side=32), "classes >= 2"),
        (lambda: ResidualClassifier(3, 10, blocks=()), "stages of >= 1"),
        (lambda: ResidualClassifier(3, 10, dropout=1.0), "dropout"),
    ],
)
def test_bad_settings_are_named(make, match):
    with pytest.raises(ValueError, match=match):
        make()
