"""Running exported models: the code the trainer's test predictions and serving share.

    card.py        model.json (`ModelCard`): task, labels, input size/resize, normalization
    imaging.py     bytes/path → upright 8-bit RGB (`open_rgb`), boxes kept in the image
    records.py     task kinds, labelled images, predictions (shared with training)
    pipeline.py    pre/post-processing around a bare ONNX graph (Triton runs the graph)
    classifier.py  classification/multilabel: preprocessing + ONNX Runtime → label scores
    detector.py    detection: the same for boxes
    predictor.py   `load_predictor(model_dir)`: picks the implementation by the card's task

No torch here: serving imports this package with numpy, Pillow and onnxruntime only.
"""

from labelgate.backends.local.inference.card import CardError, ModelCard
from labelgate.backends.local.inference.imaging import open_rgb
from labelgate.backends.local.inference.predictor import Predictor, load_predictor

__all__ = ["CardError", "ModelCard", "Predictor", "load_predictor", "open_rgb"]
