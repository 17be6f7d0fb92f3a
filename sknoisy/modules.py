"""Ready-made torch modules for sknoisy's classifiers.

Every module returns **logits** of shape ``(n_samples, n_classes)``; the
estimators apply the softmax themselves. The classifiers inject
``n_features`` and ``n_classes`` into a module class whose constructor takes
them, so ``ForwardCorrectedClassifier(MLP)`` needs no sizes.
"""

import math

from torch import nn

__all__ = ["MLP", "SmallCNN"]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "elu": nn.ELU}


def _activation(name):
    try:
        return _ACTIVATIONS[name]
    except KeyError:
        raise ValueError(
            f"Unknown activation {name!r}; valid activations are {sorted(_ACTIVATIONS)}."
        ) from None


class MLP(nn.Module):
    """A multi-layer perceptron that returns logits.

    Parameters
    ----------
    n_features : int
        Number of input features (injected by the sknoisy classifiers).
        Inputs with more than two dimensions are flattened first.
    n_classes : int, default=2
        Number of output logits (injected by the sknoisy classifiers).
    hidden_units : int or tuple of int, default=(64,)
        Width of each hidden layer; ``()`` gives a linear model.
    dropout : float, default=0.0
        Dropout probability after each hidden layer.
    activation : {"relu", "tanh", "gelu", "elu"}, default="relu"
        Hidden-layer non-linearity.

    Examples
    --------
    Two hidden layers of 32 and 16 units on 4 features, 3 output logits:

    >>> import torch
    >>> from sknoisy.modules import MLP
    >>> net = MLP(n_features=4, n_classes=3, hidden_units=(32, 16))
    >>> [layer.out_features for layer in net.net if isinstance(layer, torch.nn.Linear)]
    [32, 16, 3]
    >>> net(torch.zeros(5, 4)).shape
    torch.Size([5, 3])
    """

    def __init__(self, n_features, n_classes=2, hidden_units=(64,), dropout=0.0, activation="relu"):
        super().__init__()
        if isinstance(hidden_units, int):
            hidden_units = (hidden_units,)
        if n_features is None or int(n_features) < 1:
            raise ValueError(f"MLP needs n_features >= 1, got {n_features!r}.")
        if int(n_classes) < 2:
            raise ValueError(f"MLP needs n_classes >= 2, got {n_classes!r}.")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout!r}.")
        act = _activation(activation)
        layers = []
        width = int(n_features)
        for units in hidden_units:
            layers += [nn.Linear(width, int(units)), act()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = int(units)
        layers.append(nn.Linear(width, int(n_classes)))
        self.net = nn.Sequential(*layers)

    def forward(self, X):
        if X.dim() > 2:
            X = X.flatten(1)
        return self.net(X)


def _square_image_shape(n_features):
    side = math.isqrt(int(n_features))
    if side * side != int(n_features):
        raise ValueError(
            f"SmallCNN cannot infer a square image from {n_features} features; "
            "pass module__image_shape=(channels, height, width)."
        )
    return (1, side, side)


class SmallCNN(nn.Module):
    """A small convolutional network for 8x8 to 32x32 images, returning logits.

    Two 3x3 convolution blocks, adaptive average pooling to 4x4, and a linear
    head. Inputs may be flat rows (as scikit-learn passes them, e.g. the 64
    pixels of ``load_digits``) or already shaped ``(n, channels, h, w)`` or
    ``(n, h, w)``.

    Parameters
    ----------
    n_features : int, default=None
        Number of input features of a flat row (injected by the classifiers);
        used to infer a square one-channel image when ``image_shape`` is None.
    n_classes : int, default=10
        Number of output logits (injected by the classifiers).
    image_shape : tuple of int, default=None
        ``(channels, height, width)`` of the images.
    channels : tuple of int, default=(16, 32)
        Output channels of the two convolution blocks.
    dropout : float, default=0.0
        Dropout before the linear head.

    Examples
    --------
    The image shape is inferred from a flat square row (64 features: 1x8x8),
    or given for colour images passed as flat rows:

    >>> import torch
    >>> from sknoisy.modules import SmallCNN
    >>> SmallCNN(n_features=64, n_classes=10).image_shape
    (1, 8, 8)
    >>> cnn = SmallCNN(n_classes=10, image_shape=(3, 32, 32))
    >>> cnn(torch.zeros(2, 3 * 32 * 32)).shape
    torch.Size([2, 10])
    """

    def __init__(self, n_features=None, n_classes=10, image_shape=None, channels=(16, 32), dropout=0.0):
        super().__init__()
        if image_shape is None:
            if n_features is None:
                raise ValueError("SmallCNN needs n_features or image_shape.")
            image_shape = _square_image_shape(n_features)
        if len(image_shape) == 2:
            image_shape = (1, *image_shape)
        self.image_shape = tuple(int(s) for s in image_shape)
        c1, c2 = channels
        self.features = nn.Sequential(
            nn.Conv2d(self.image_shape[0], c1, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(c1, c2, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2) if min(self.image_shape[1:]) >= 8 else nn.Identity(),
            nn.AdaptiveAvgPool2d(4),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Dropout(dropout), nn.Linear(c2 * 16, int(n_classes)))

    def forward(self, X):
        X = X.reshape(X.shape[0], *self.image_shape)
        return self.head(self.features(X))
