"""Transfer recipe, trained side: a Lite0 classifier loaded from a checkpoint (:class:`TransferTrained`,
see :class:`~rnnkit.families.vision.trained.TrainedImageClassifier`); its ``train`` split is the
labelled images the run learned from."""

from __future__ import annotations

import torch

from rnnkit.families.vision.trained import META, TrainedImageClassifier
from rnnkit.recipes.transfer.config import Transfer, defaults
from rnnkit.recipes.transfer.data import as_inputs, labelled_rows


class TransferTrained(TrainedImageClassifier):
    """A trained transfer classifier: classes of images, figures on a split."""

    config_defaults = staticmethod(defaults)
    meta_fields = META

    @classmethod
    def build_model(cls, sections, meta: dict):
        # the checkpoint holds every weight, so the network is built without reading ImageNet's
        config = sections["model"]
        return Transfer(len(meta["classes"]), type(config)(**{**vars(config), "mode": "scratch"}))

    def cam_layer(self) -> torch.nn.Module:
        return self.model.backbone.head  # the 1280 feature maps the new layer pools

    def inputs(self, images: torch.Tensor) -> torch.Tensor:
        return as_inputs(images).to(self.device)

    def split_rows(self, labels: torch.Tensor):
        data = self.sections["data"]
        seed = self.sections["train"].seed
        return labelled_rows(labels, data.valid_size, data.labels_per_class, seed, self.classes)

    def about(self) -> str:
        data, model = self.sections["data"], self.sections["model"]
        return f"{data.dataset}, {model.mode}, {data.labels_per_class or 'all'} labels per class"
