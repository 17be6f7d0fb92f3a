"""Tests of InstanceForwardClassifier (sknoisy._instance_forward) and its loss (sknoisy.losses._instance)."""

import numpy as np
import pytest
import torch

from sknoisy import ForwardCorrectedClassifier, InstanceForwardClassifier
from sknoisy.losses import InstanceForwardLoss, instance_forward_loss, instance_transition_matrices
from sknoisy.losses._robust import active_passive_loss
from sknoisy.modules import MLP, SmallCNN
from sknoisy.noise import make_noisy_classification

TINY = {"module__hidden_units": (16,), "batch_size": 32, "lr": 1e-2, "random_state": 0}


@pytest.fixture(scope="module")
def data():
    X, y_noisy, y_clean, _ = make_noisy_classification(150, 5, 3, noise="symmetric", rate=0.3, random_state=0)
    return X.astype(np.float32), y_noisy, y_clean


def _make(**params):
    return InstanceForwardClassifier(MLP, **{**TINY, "max_epochs": 3, **params})


# ----------------------------------------------------------------- the loss
def test_transition_matrices_keep_the_flip_rate_off_the_diagonal():
    scores = torch.randn(4, 3, 3, generator=torch.Generator().manual_seed(0))
    T = instance_transition_matrices(scores, [0.1, 0.2, 0.3])
    torch.testing.assert_close(T.sum(dim=2), torch.ones(4, 3))
    torch.testing.assert_close(torch.diagonal(T, dim1=1, dim2=2), torch.tensor([[0.9, 0.8, 0.7]] * 4))
    # the targets are the softmax of the off-diagonal scores
    off = torch.softmax(torch.tensor([scores[0, 0, 1], scores[0, 0, 2]]), 0) * 0.1
    torch.testing.assert_close(T[0, 0, 1:], off)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_loss_is_nce_rce_plus_weighted_cross_entropy_of_p_times_t_of_x(reduction):
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(5, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    scores = torch.randn(5, 4, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0, 3, 1, 2, 2])
    rate = torch.tensor([0.1, 0.4, 0.2, 0.3], dtype=torch.float64)
    loss = instance_forward_loss(logits, scores, target, rate, ce_weight=0.7, reduction=reduction)
    # by hand: T(x) formed, the noisy posterior, then APL on its logarithm and the cross-entropy
    noisy = torch.einsum("bi,bij->bj", torch.softmax(logits, 1), instance_transition_matrices(scores, rate))
    log_noisy = noisy.log()
    rows = active_passive_loss(log_noisy, target, reduction="none") - 0.7 * log_noisy[torch.arange(5), target]
    expected = {"mean": rows.mean(), "sum": rows.sum(), "none": rows}[reduction]
    torch.testing.assert_close(loss, expected)
    grads = torch.autograd.grad(loss.sum(), (logits, scores))
    expected_grads = torch.autograd.grad(expected.sum(), (logits, scores))
    for got, want in zip(grads, expected_grads):
        torch.testing.assert_close(got, want)


def test_loss_gradient_is_exact_to_second_order_and_through_a_tensor_flip_rate():
    # one autograd node with a written-out gradient; a graph of the gradient comes from the reference formula
    gen = torch.Generator().manual_seed(2)
    logits = torch.randn(6, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    scores = torch.randn(6, 4, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    rate = torch.tensor([0.1, 0.4, 0.2, 0.3], dtype=torch.float64, requires_grad=True)
    target = torch.tensor([0, 3, 1, 2, 2, 1])
    for reduction in ("mean", "sum", "none"):
        def loss(z, s, r, reduction=reduction):
            return instance_forward_loss(z, s, target, r, ce_weight=0.5, reduction=reduction)

        assert torch.autograd.gradcheck(loss, (logits, scores, rate))
        assert torch.autograd.gradgradcheck(loss, (logits, scores, rate))


def test_a_clamped_noisy_probability_passes_no_gradient_through_the_clamp():
    # q below eps for two classes: the loss is capped there; the written-out gradient stays finite and
    # equals autograd's through the clamp (which passes nothing where it held q at eps)
    from sknoisy.losses._instance import _instance_forward_reference

    logits = torch.tensor([[40.0, -40.0, -40.0]], dtype=torch.float64, requires_grad=True)
    scores = torch.zeros(1, 3, 3, dtype=torch.float64, requires_grad=True)
    rate = torch.zeros(3, dtype=torch.float64)
    target = torch.tensor([1])
    loss = instance_forward_loss(logits, scores, target, rate)
    loss.backward()
    assert torch.isfinite(loss)
    assert torch.isfinite(logits.grad).all() and torch.isfinite(scores.grad).all()
    reference = _instance_forward_reference(logits, scores, target, rate, 0.3, -np.log(1e-4), 1e-7).mean()
    torch.testing.assert_close(loss, reference)
    grads = torch.autograd.grad(reference, (logits, scores))
    torch.testing.assert_close(logits.grad, grads[0])
    torch.testing.assert_close(scores.grad, grads[1])


def test_loss_refuses_scores_of_the_wrong_shape_and_bad_rates():
    logits, target = torch.zeros(2, 3), torch.tensor([0, 1])
    with pytest.raises(ValueError, match=r"flip_scores must be a tensor of shape \(2, 3, 3\)"):
        instance_forward_loss(logits, torch.zeros(2, 3), target, 0.2)
    with pytest.raises(ValueError, match="one rate per class"):
        instance_forward_loss(logits, torch.zeros(2, 3, 3), target, [0.1, 0.2])
    with pytest.raises(ValueError, match=r"flip_rate must hold rates in \[0, 1\)"):
        InstanceForwardLoss(flip_rate=[0.5, 1.0])
    with pytest.raises(ValueError, match="ce_weight must be non-negative"):
        InstanceForwardLoss(flip_rate=0.2, ce_weight=-1)


# ----------------------------------------------------------- the classifier
def test_flip_rates_come_from_stage_one_volmin_transition_matrix(data):
    X, y, _ = data
    clf = _make().fit(X, y)
    stage1 = ForwardCorrectedClassifier(MLP, **{**TINY, "max_epochs": 3}).fit(X, y)
    np.testing.assert_allclose(clf.transition_matrix_, stage1.transition_matrix_, atol=1e-6)
    np.testing.assert_allclose(clf.flip_rate_, 1 - np.diag(stage1.transition_matrix_), atol=1e-6)
    torch.testing.assert_close(clf.criterion_.flip_rate, torch.as_tensor(clf.flip_rate_, dtype=torch.float32))
    # the flip head reads the 16 hidden units and gives C x C scores per row
    assert clf.flip_module_.in_features == 16 and clf.flip_module_.out_features == 9


def test_flip_head_starts_uniform(data):
    X, y, _ = data
    clf = _make(max_epochs=1).fit(X, y)
    clf.initialize_module()  # a fresh head
    scores = clf.flip_module_(torch.randn(2, 16))
    T = instance_transition_matrices(scores, clf.flip_rate_).detach().numpy()
    q = clf.flip_rate_[:, None]
    expected = np.where(np.eye(3, dtype=bool), 1 - q, q / 2)
    np.testing.assert_allclose(T, np.stack([expected, expected]), atol=1e-6)


def test_given_flip_rate_trains_no_stage_one_and_is_validated(data):
    X, y, _ = data
    clf = _make(flip_rate=[0.1, 0.2, 0.3]).fit(X, y)
    assert clf.transition_matrix_ is None
    np.testing.assert_allclose(clf.flip_rate_, [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match=r"flip_rate must be a number in \[0, 1\) or hold one such rate per class \(3\)"):
        _make(flip_rate=[0.1, 0.2]).fit(X, y)
    with pytest.raises(ValueError, match="flip_rate"):
        _make(flip_rate=1.0).fit(X, y)


def test_flip_head_reads_the_features_detached(data):
    # its gradient stays in the head: the flip targets do not reshape the network's features
    X, y, _ = data
    clf = _make(flip_rate=0.2, max_epochs=1).fit(X, y)
    features = torch.randn(4, 16, requires_grad=True)
    clf._flip_scores(features).sum().backward()
    assert features.grad is None and clf.flip_module_.weight.grad is not None


def test_step_two_runs_at_instance_lr_and_the_flip_head_at_flip_lr(data):
    X, y, _ = data
    clf = _make(flip_rate=0.2, instance_lr=3e-3, flip_lr=2e-4, max_epochs=1).fit(X, y)
    assert [group["lr"] for group in clf.optimizer_.param_groups] == [3e-3, 2e-4]
    clf = _make(flip_rate=0.2, instance_lr=None, max_epochs=1).fit(X, y)
    assert clf.optimizer_.param_groups[0]["lr"] == TINY["lr"]


def test_weights_are_averaged_over_the_epochs_after_average_from(data):
    X, y, _ = data
    seen = []

    class Record(InstanceForwardClassifier):
        def on_epoch_end(self, net, **kwargs):
            seen.append({k: v.clone() for k, v in self.module_.state_dict().items()})
            super().on_epoch_end(net, **kwargs)

    clf = Record(MLP, **{**TINY, "max_epochs": 4}, flip_rate=0.2, average_from=0.5).fit(X, y)
    for key, value in clf.module_.state_dict().items():
        torch.testing.assert_close(value, (seen[2][key] + seen[3][key]) / 2)
    seen.clear()
    clf = Record(MLP, **{**TINY, "max_epochs": 3}, flip_rate=0.2, average_from=1.0).fit(X, y)
    for key, value in clf.module_.state_dict().items():
        torch.testing.assert_close(value, seen[-1][key])


def test_warm_up_epochs_train_with_plain_cross_entropy(data):
    X, y, _ = data
    clf = _make(flip_rate=0.2, warm_up_epochs=5, max_epochs=1).fit(X, y)
    logits = torch.randn(3, 3, generator=torch.Generator().manual_seed(0))
    table = torch.tensor([[0, 0, 0], [1, 0, 1], [2, 0, 2]])
    clf.infer(torch.as_tensor(X[:3]))  # the batch's features, as in a training step
    loss = clf.get_loss(logits, table, training=True)
    torch.testing.assert_close(loss, torch.nn.functional.cross_entropy(logits, table[:, 0]))


def test_works_with_an_image_network():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 1, 8, 8)).astype(np.float32)
    y = rng.integers(0, 3, 60)
    clf = InstanceForwardClassifier(SmallCNN, flip_rate=0.2, max_epochs=1, batch_size=16, random_state=0).fit(X, y)
    assert clf.flip_module_.in_features == 32 * 16
    assert clf.predict_proba(X[:2]).shape == (2, 3)


def test_a_module_without_an_output_linear_layer_is_refused(data):
    X, y, _ = data

    class NoLinear(torch.nn.Module):
        def __init__(self, n_features, n_classes):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.zeros(n_features, n_classes))

        def forward(self, X):
            return X @ self.weight

    with pytest.raises(ValueError, match=r"a torch.nn.Linear with 3 outputs \(one per class\), but NoLinear has none"):
        InstanceForwardClassifier(NoLinear, flip_rate=0.2, max_epochs=1).fit(X, y)


def test_a_stage_1_error_says_whose_stage_it_is(data):
    X, y = data[0], data[1]
    message = (r"^InstanceForwardClassifier \(its inner ForwardCorrectedClassifier\): the module returned outputs of "
               r"shape \(\d+, 7\)")
    with pytest.raises(ValueError, match=message):
        InstanceForwardClassifier(MLP, module__n_classes=7, max_epochs=1, random_state=0).fit(X, y)


def test_a_module_changing_the_logits_after_the_output_layer_is_refused(data):
    X, y, _ = data

    class Twice(torch.nn.Module):
        """The output layer runs on half the batch only: its features do not match the logits' rows."""

        def __init__(self, n_features, n_classes):
            super().__init__()
            self.out = torch.nn.Linear(n_features, n_classes)

        def forward(self, X):
            half = self.out(X[: len(X) // 2])
            return torch.cat([half, half, self.out.bias.expand(len(X) - 2 * len(half), -1)])

    with pytest.raises(RuntimeError, match="found no features of this batch at the module's output layer"):
        InstanceForwardClassifier(Twice, flip_rate=0.2, warm_up_epochs=0, max_epochs=1).fit(X, y)


def test_same_seed_same_model_and_reinitialising_keeps_one_feature_hook(data):
    X, y, _ = data
    a = _make().fit(X, y).predict_proba(X)
    b = _make().fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(a, b)
    module = MLP(5, 3, hidden_units=(8,))
    clf = InstanceForwardClassifier(module, flip_rate=0.2, max_epochs=1, random_state=0).fit(X, y)
    clf.fit(X, y)
    assert len(module.net[-1]._forward_pre_hooks) == 1
