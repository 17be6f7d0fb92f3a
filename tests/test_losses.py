"""Tests for sknoisy.losses: formulas, identities, numerical safety, validation, skorch use."""

import copy
import functools
import math
import pickle
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sknoisy.losses import (
    DEFAULT_LOSS_PARAMS,
    LOSS_NAMES,
    LOSSES,
    PUBLISHED_LOSS_PARAMS,
    ActivePassiveLoss,
    BackwardCorrectedCrossEntropy,
    ForwardCorrectedCrossEntropy,
    GeneralizedCrossEntropy,
    GoldCorrectedCrossEntropy,
    MeanAbsoluteError,
    NormalizedCrossEntropy,
    NormalizedFocalLoss,
    NormalizedGeneralizedCrossEntropy,
    ReverseCrossEntropy,
    SymmetricCrossEntropy,
    TransitionMatrixLoss,
    active_passive_loss,
    backward_corrected_cross_entropy,
    check_invertible,
    forward_corrected_cross_entropy,
    generalized_cross_entropy,
    gold_corrected_cross_entropy,
    make_loss,
    mean_absolute_error_loss,
    normalized_cross_entropy,
    normalized_focal_loss,
    normalized_generalized_cross_entropy,
    reverse_cross_entropy,
    symmetric_cross_entropy,
)

A_RCE = -math.log(1e-4)


# ---------------------------------------------------------------- helpers


def _gen(seed):
    return torch.Generator().manual_seed(seed)


def _random_logits(n, c, seed=0, scale=1.0, dtype=torch.float64):
    return (torch.randn(n, c, generator=_gen(seed), dtype=torch.float64) * scale).to(dtype)


def _random_targets(n, c, seed=1):
    return torch.randint(0, c, (n,), generator=_gen(seed))


def _all_labels(logits):
    """Repeat every row once per label: (N*C, C) logits and (N*C,) targets."""
    n, c = logits.shape
    return logits.repeat_interleave(c, dim=0), torch.arange(c).repeat(n)


def _np_softmax(z):
    z = np.asarray(z, dtype=np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _symmetric_T(c, rate):
    return (1 - rate) * np.eye(c) + rate / (c - 1) * (np.ones((c, c)) - np.eye(c))


# numpy references written straight from the definitions
def _ref_ce(z, y):
    p = _np_softmax(z)
    return -np.log(p[np.arange(len(y)), y])


def _ref_nce(z, y):
    p = _np_softmax(z)
    return -np.log(p[np.arange(len(y)), y]) / -np.log(p).sum(1)


def _ref_nfl(z, y, gamma=0.5):
    p = _np_softmax(z)
    fl = -((1 - p) ** gamma) * np.log(p)
    return fl[np.arange(len(y)), y] / fl.sum(1)


def _ref_ngce(z, y, q=0.7):
    p = np.clip(_np_softmax(z), 1e-7, 1)
    c = p.shape[1]
    return (1 - p[np.arange(len(y)), y] ** q) / (c - (p**q).sum(1))


def _ref_rce(z, y):
    p = _np_softmax(z)
    label = np.clip(np.eye(p.shape[1])[y], 1e-4, 1)
    return -(p * np.log(label)).sum(1)


def _ref_mae(z, y):
    return 1 - _np_softmax(z)[np.arange(len(y)), y]


def _ref_gce(z, y, q=0.7):
    return (1 - _np_softmax(z)[np.arange(len(y)), y] ** q) / q


def _ref_sce(z, y, alpha=0.1, beta=1.0):
    return alpha * _ref_ce(z, y) + beta * _ref_rce(z, y)


SMALL_LOGITS = np.array([[2.0, 0.0, -1.0], [0.5, 0.5, 0.5], [-1.0, 3.0, 0.2], [0.1, -0.3, 0.7]])
SMALL_TARGETS = np.array([0, 1, 2, 2])


# ---------------------------------------------------------------- forward correction


def test_forward_matches_formula():
    T = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.25, 0.25, 0.5]])
    expected = -np.log((_np_softmax(SMALL_LOGITS) @ T)[np.arange(4), SMALL_TARGETS])
    logits = torch.tensor(SMALL_LOGITS)
    target = torch.tensor(SMALL_TARGETS)
    got = forward_corrected_cross_entropy(logits, target, torch.tensor(T), reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-12)
    # numpy T and the module (float32 buffer) agree too
    got_np = forward_corrected_cross_entropy(logits, target, T, reduction="none")
    np.testing.assert_allclose(got_np.numpy(), expected, rtol=1e-12)
    module = ForwardCorrectedCrossEntropy(T, reduction="none")
    np.testing.assert_allclose(module(logits.float(), target).numpy(), expected, rtol=1e-5)


@pytest.mark.parametrize("n_classes", [2, 5, 40])
def test_forward_with_identity_is_cross_entropy(n_classes):
    logits = _random_logits(64, n_classes, scale=3.0, dtype=torch.float32)
    target = _random_targets(64, n_classes)
    criterion = ForwardCorrectedCrossEntropy(np.eye(n_classes))
    expected = F.cross_entropy(logits, target)
    assert torch.allclose(criterion(logits, target), expected, atol=1e-5)
    grad_ours = torch.autograd.grad(criterion(logits.requires_grad_(), target), logits)[0]
    grad_ce = torch.autograd.grad(F.cross_entropy(logits, target), logits)[0]
    assert torch.allclose(grad_ours, grad_ce, atol=1e-6)


def test_forward_differentiable_wrt_transition_matrix():
    logits = _random_logits(10, 3, dtype=torch.float32)
    target = _random_targets(10, 3)
    T = torch.tensor(_symmetric_T(3, 0.3), dtype=torch.float32, requires_grad=True)
    loss = forward_corrected_cross_entropy(logits, target, T)
    loss.backward()
    assert T.grad is not None
    assert torch.isfinite(T.grad).all()
    assert T.grad.abs().sum() > 0
    # d loss / d T[i, j] = -mean over samples with target j of p_i / q_j; check one entry numerically
    p = torch.softmax(logits, 1)
    q = p @ T.detach()
    expected = -(p[:, 0] / q[:, 1] * (target == 1)).sum() / 10
    assert torch.isclose(T.grad[0, 1], expected, atol=1e-6)


@pytest.mark.parametrize("n_classes", [3, 10, 50])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_forward_and_gold_product_and_gather_paths_agree(n_classes, reduction, monkeypatch):
    """Small C takes the whole product p @ T, large C gathers T's column: same loss, same gradients."""
    import sknoisy.losses._transition as transition

    gen = torch.Generator().manual_seed(n_classes)
    logits0 = torch.randn(32, n_classes, generator=gen, dtype=torch.float64) * 4
    logits0[0] = torch.tensor([-300.0] + [300.0] * (n_classes - 1), dtype=torch.float64)  # p_y ~ 0: clamped
    target = torch.randint(0, n_classes, (32,), generator=gen)
    target[0] = 0
    trusted = torch.rand(32, generator=gen) < 0.3
    trusted[0] = True  # a trusted row far past the clamp keeps the cross-entropy's value and gradient
    T0 = torch.tensor(_symmetric_T(n_classes, 0.4), dtype=torch.float64)

    def run(limit, gold):
        monkeypatch.setattr(transition, "_PRODUCT_MAX_CLASSES", limit)
        logits, T = logits0.clone().requires_grad_(), T0.clone().requires_grad_()
        if gold:
            loss = gold_corrected_cross_entropy(logits, target, trusted, T, reduction=reduction)
        else:
            loss = forward_corrected_cross_entropy(logits, target, T, reduction=reduction)
        g_logits, g_T = torch.autograd.grad(loss.sum(), (logits, T), create_graph=True)
        # a second derivative, as MLC's look-ahead takes one through the loss
        (g2,) = torch.autograd.grad((g_logits ** 2).sum(), T)
        return [t.detach() for t in (loss, g_logits, g_T, g2)]

    for gold in (False, True):
        product, gathered = run(10**6, gold), run(0, gold)
        for a, b in zip(product, gathered):
            torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)
    assert product[0].shape == (() if reduction != "none" else (32,))
    # the trusted row 0 costs its cross-entropy (about 600), not the clamp's -log(eps)
    row0 = run(10**6, True)[0] if reduction == "none" else None
    if row0 is not None:
        assert row0[0] == pytest.approx(F.cross_entropy(logits0[:1], target[:1]).item())


def test_forward_module_buffer_and_update():
    criterion = ForwardCorrectedCrossEntropy(torch.tensor(_symmetric_T(3, 0.2)))
    assert criterion.T.dtype == torch.float32
    assert "T" in dict(criterion.named_buffers())
    assert "T" in criterion.state_dict()
    assert criterion.transition_matrix is criterion.T
    assert criterion.n_classes == 3
    ptr = criterion.T.data_ptr()
    criterion.set_transition_matrix(np.eye(3))
    assert criterion.T.data_ptr() == ptr
    assert torch.equal(criterion.T, torch.eye(3))
    criterion.transition_matrix = _symmetric_T(3, 0.4)
    assert criterion.T.data_ptr() == ptr
    np.testing.assert_allclose(criterion.T.numpy(), _symmetric_T(3, 0.4), rtol=1e-6)
    # a tensor that requires grad is accepted (detached for the buffer)
    criterion.set_transition_matrix(torch.eye(3, requires_grad=True))
    assert not criterion.T.requires_grad
    # the buffer moves with the module
    criterion.to(torch.float64)
    assert criterion.T.dtype == torch.float64
    with pytest.raises(ValueError, match=r"shape \(2, 2\) but there are 3 classes"):
        criterion.set_transition_matrix(np.eye(2))
    with pytest.raises(ValueError, match="not row-stochastic"):
        criterion.set_transition_matrix(np.full((3, 3), 0.5))


@pytest.mark.parametrize(
    "T, match",
    [
        (np.full((3, 3), 0.5), "not row-stochastic"),
        (np.ones((2, 3)) / 3, "square"),
        ([[1.2, -0.2], [0.0, 1.0]], "negative"),
        ([[np.nan, 1.0], [0.0, 1.0]], "NaN"),
    ],
)
def test_corrected_losses_reject_bad_transition_matrix(T, match):
    with pytest.raises(ValueError, match=match):
        ForwardCorrectedCrossEntropy(T)
    with pytest.raises(ValueError, match=match):
        BackwardCorrectedCrossEntropy(T)


def test_corrected_functional_rejects_wrong_size():
    logits = _random_logits(4, 3)
    target = _random_targets(4, 3)
    with pytest.raises(ValueError, match=r"logits have 3 classes; expected shape \(3, 3\)"):
        forward_corrected_cross_entropy(logits, target, torch.eye(2))
    with pytest.raises(ValueError, match=r"expected shape \(3, 3\)"):
        backward_corrected_cross_entropy(logits, target, np.eye(4))
    criterion = ForwardCorrectedCrossEntropy(np.eye(2))
    with pytest.raises(ValueError, match="logits have 3 classes"):
        criterion(logits, target)
    with pytest.raises(ValueError, match="transition_matrix must be a numeric"):
        forward_corrected_cross_entropy(logits, target, "abc")


def test_forward_eps_floor():
    logits = torch.tensor([[100.0, -100.0]])
    loss = forward_corrected_cross_entropy(logits, torch.tensor([1]), torch.eye(2), eps=1e-3)
    assert loss.item() == pytest.approx(-math.log(1e-3), rel=1e-6)
    with pytest.raises(ValueError, match=r"eps must be in \(0, 1\)"):
        ForwardCorrectedCrossEntropy(np.eye(2), eps=0.0)


# ---------------------------------------------------------------- backward correction


def test_backward_matches_formula():
    T = np.array([[0.7, 0.2, 0.1], [0.1, 0.8, 0.1], [0.25, 0.25, 0.5]])
    per_label = -np.log(_np_softmax(SMALL_LOGITS))
    expected = (np.linalg.inv(T)[SMALL_TARGETS] * per_label).sum(1)
    logits = torch.tensor(SMALL_LOGITS)
    target = torch.tensor(SMALL_TARGETS)
    got = backward_corrected_cross_entropy(logits, target, torch.tensor(T), reduction="none")
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-10)
    got_inv = backward_corrected_cross_entropy(
        logits, target, inverse_transition_matrix=np.linalg.inv(T), reduction="none"
    )
    np.testing.assert_allclose(got_inv.numpy(), expected, rtol=1e-10)
    module = BackwardCorrectedCrossEntropy(T, reduction="none")
    np.testing.assert_allclose(module(logits.float(), target).numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("rate", [0.0, 0.3, 0.6])
def test_backward_expectation_is_clean_cross_entropy(rate):
    # E over noisy labels ~ T[y] of the backward loss equals the clean CE: sum_j T[y, j] loss(x, j) = l_y
    n_classes = 4
    T = _symmetric_T(n_classes, rate)
    T[0] = [0.5, 0.3, 0.2, 0.0]  # an asymmetric row too
    logits = _random_logits(6, n_classes, seed=3)
    rows, labels = _all_labels(logits)
    per_label = backward_corrected_cross_entropy(rows, labels, torch.tensor(T), reduction="none").view(6, n_classes)
    expectation = per_label @ torch.tensor(T).T  # [i, y] = sum_j T[y, j] loss(x_i, j)
    clean = -F.log_softmax(logits, dim=1)
    assert torch.allclose(expectation, clean, atol=1e-10)
    # the module (float32 inverse) satisfies it to float32 precision
    module = BackwardCorrectedCrossEntropy(T, reduction="none")
    per_label32 = module(rows.float(), labels).view(6, n_classes).double()
    assert torch.allclose(per_label32 @ torch.tensor(T).T, clean, atol=1e-4)


def test_backward_singular_matrix_is_refused():
    uniform = np.full((4, 4), 0.25)  # uniform noise at rate (C-1)/C
    match = r"singular.*backward correction needs an invertible T; use forward correction"
    with pytest.raises(ValueError, match=match):
        BackwardCorrectedCrossEntropy(uniform)
    with pytest.raises(ValueError, match="singular"):
        BackwardCorrectedCrossEntropy(uniform, max_condition=None, warn_condition=None)
    duplicate_rows = np.array([[0.6, 0.4, 0.0], [0.6, 0.4, 0.0], [0.0, 0.0, 1.0]])
    with pytest.raises(ValueError, match=r"rank 2 < 3 classes"):
        BackwardCorrectedCrossEntropy(duplicate_rows)


def test_backward_ill_conditioned_warns_and_refuses():
    # symmetric noise over C classes has condition number 1 / |1 - r C / (C - 1)|
    c = 4
    rate_cond_500 = (1 - 1 / 500) * (c - 1) / c
    T = _symmetric_T(c, rate_cond_500)
    with pytest.warns(UserWarning, match=r"ill-conditioned \(condition number 500"):
        criterion = BackwardCorrectedCrossEntropy(T)
    assert criterion.condition_number == pytest.approx(500, rel=1e-6)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        BackwardCorrectedCrossEntropy(T, warn_condition=None)
        BackwardCorrectedCrossEntropy(T, warn_condition=1e3)
        BackwardCorrectedCrossEntropy(_symmetric_T(c, 0.3))
    rate_cond_1e8 = (1 - 1e-8) * (c - 1) / c
    T_bad = _symmetric_T(c, rate_cond_1e8)
    with pytest.raises(ValueError, match=r"too ill-conditioned.*max_condition=1e\+06.*forward correction"):
        BackwardCorrectedCrossEntropy(T_bad)
    with pytest.warns(UserWarning, match="ill-conditioned"):
        BackwardCorrectedCrossEntropy(T_bad, max_condition=None)
    with pytest.raises(ValueError, match="max_condition must be at least 1"):
        BackwardCorrectedCrossEntropy(np.eye(2), max_condition=0.5)
    with pytest.raises(TypeError, match="warn_condition must be a real number"):
        BackwardCorrectedCrossEntropy(np.eye(2), warn_condition="high")


def test_backward_set_transition_matrix_updates_inverse():
    criterion = BackwardCorrectedCrossEntropy(np.eye(3))
    ptr = criterion.T_inv.data_ptr()
    T = _symmetric_T(3, 0.3)
    criterion.transition_matrix = T
    assert criterion.T_inv.data_ptr() == ptr
    np.testing.assert_allclose(criterion.T_inv.numpy(), np.linalg.inv(T), rtol=1e-5)
    np.testing.assert_allclose(criterion.T.numpy(), T, rtol=1e-6)
    assert criterion.condition_number == pytest.approx(np.linalg.cond(T))
    with pytest.raises(ValueError, match="singular"):
        criterion.set_transition_matrix(np.full((3, 3), 1 / 3))
    np.testing.assert_allclose(criterion.T.numpy(), T, rtol=1e-6)  # unchanged after the refusal


# ---------------------------------------------------------------- one base for every T-using criterion
def _t_criteria(T):
    return {
        "forward": ForwardCorrectedCrossEntropy(T),
        "backward": BackwardCorrectedCrossEntropy(T),
        "gold": GoldCorrectedCrossEntropy(T),
    }


def test_every_T_criterion_shares_the_T_lifecycle():
    T = _symmetric_T(3, 0.2)
    for name, criterion in _t_criteria(T).items():
        assert isinstance(criterion, TransitionMatrixLoss), name
        assert criterion.transition_matrix is criterion.T
        assert criterion.T.dtype == torch.float32 and criterion.n_classes == 3
        assert "T" in criterion.state_dict()
        ptr = criterion.T.data_ptr()
        # tensors (with grad, float64) are accepted; the buffer is updated in place
        criterion.set_transition_matrix(torch.tensor(_symmetric_T(3, 0.3), requires_grad=True))
        assert criterion.T.data_ptr() == ptr and not criterion.T.requires_grad
        np.testing.assert_allclose(criterion.T.numpy(), _symmetric_T(3, 0.3), rtol=1e-6)
        criterion.transition_matrix = np.eye(3)
        assert torch.equal(criterion.T, torch.eye(3))


@pytest.mark.parametrize("name", ["forward", "backward", "gold"])
@pytest.mark.parametrize(
    "bad, match",
    [
        (np.full((3, 3), 0.5), "not row-stochastic"),
        (np.eye(2), r"shape \(2, 2\) but there are 3 classes"),
        (np.full((3, 3), np.nan), "NaN or infinity"),
        ([[1.2, -0.2, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], "negative"),
        (torch.full((3, 3), 0.5), "not row-stochastic"),
    ],
)
def test_every_T_criterion_refuses_a_bad_T_and_keeps_its_own(name, bad, match):
    T = _symmetric_T(3, 0.2)
    criterion = _t_criteria(T)[name]
    with pytest.raises(ValueError, match=match):
        criterion.set_transition_matrix(bad)
    np.testing.assert_allclose(criterion.T.numpy(), T, rtol=1e-6)
    if not isinstance(bad, torch.Tensor) and np.shape(bad) == (3, 3):
        with pytest.raises(ValueError, match=match):
            type(criterion)(bad)


def test_gold_criterion_is_its_function_and_takes_a_reduction():
    logits = _random_logits(9, 3, seed=5, dtype=torch.float32)
    target = _random_targets(9, 3)
    trusted = torch.arange(9) % 3 == 0
    T = _symmetric_T(3, 0.3)
    per_row = gold_corrected_cross_entropy(logits, target, trusted, T, reduction="none")
    clean = F.cross_entropy(logits, target, reduction="none")
    corrected = forward_corrected_cross_entropy(logits, target, T, reduction="none")
    torch.testing.assert_close(per_row, torch.where(trusted, clean, corrected))
    torch.testing.assert_close(GoldCorrectedCrossEntropy(T)(logits, target, trusted), per_row.mean())
    torch.testing.assert_close(GoldCorrectedCrossEntropy(T, reduction="sum")(logits, target, trusted), per_row.sum())
    # a 0/1 mask (a column of the target table) is read as booleans
    torch.testing.assert_close(
        gold_corrected_cross_entropy(logits, target, trusted.long(), T, reduction="none"), per_row
    )
    with pytest.raises(ValueError, match=r"trusted must have shape \(9,\)"):
        gold_corrected_cross_entropy(logits, target, trusted[:3], T)
    with pytest.raises(TypeError, match="trusted must be a boolean torch.Tensor"):
        gold_corrected_cross_entropy(logits, target, trusted.numpy(), T)
    with pytest.raises(ValueError, match="reduction must be one of"):
        GoldCorrectedCrossEntropy(T, reduction="median")


def test_check_invertible_is_the_backward_check():
    T = _symmetric_T(3, 0.3)
    inverse, cond = check_invertible(T, return_condition=True)
    np.testing.assert_allclose(inverse, np.linalg.inv(T))
    assert cond == pytest.approx(np.linalg.cond(T))
    np.testing.assert_allclose(check_invertible(torch.tensor(T)), inverse)
    criterion = BackwardCorrectedCrossEntropy(T)
    np.testing.assert_allclose(criterion.T_inv.numpy(), inverse, rtol=1e-5)
    assert criterion.condition_number == cond
    with pytest.raises(ValueError, match=r"singular \(rank 1 < 3 classes.*use forward correction"):
        check_invertible(np.full((3, 3), 1 / 3))
    c = 4
    T_500 = _symmetric_T(c, (1 - 1 / 500) * (c - 1) / c)  # condition number 500
    with pytest.warns(UserWarning, match=r"ill-conditioned \(condition number 500"):
        check_invertible(T_500)
    with pytest.raises(ValueError, match=r"too ill-conditioned.*max_condition=100"):
        check_invertible(T_500, max_condition=100)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_invertible(T_500, warn_condition=None)
        check_invertible(T_500, warn_condition=1e3)
    with pytest.raises(ValueError, match="square 2-D"):
        check_invertible(np.ones((2, 3)))
    with pytest.raises(ValueError, match="max_condition must be at least 1"):
        check_invertible(T, max_condition=0.5)


def test_backward_needs_exactly_one_matrix():
    logits = _random_logits(2, 2)
    target = _random_targets(2, 2)
    with pytest.raises(ValueError, match="exactly one of transition_matrix and inverse_transition_matrix"):
        backward_corrected_cross_entropy(logits, target)
    with pytest.raises(ValueError, match="exactly one"):
        backward_corrected_cross_entropy(logits, target, np.eye(2), inverse_transition_matrix=np.eye(2))


def test_backward_differentiable_wrt_transition_matrix():
    logits = _random_logits(8, 3, dtype=torch.float32)
    T = torch.tensor(_symmetric_T(3, 0.3), dtype=torch.float32, requires_grad=True)
    backward_corrected_cross_entropy(logits, _random_targets(8, 3), T).backward()
    assert torch.isfinite(T.grad).all() and T.grad.abs().sum() > 0


# ---------------------------------------------------------------- robust losses: formulas

FUNCTIONAL_CASES = [
    ("nce", lambda z, y: normalized_cross_entropy(z, y, reduction="none"), _ref_nce),
    ("nfl", lambda z, y: normalized_focal_loss(z, y, reduction="none"), _ref_nfl),
    (
        "nfl_g2",
        lambda z, y: normalized_focal_loss(z, y, gamma=2.0, reduction="none"),
        lambda z, y: _ref_nfl(z, y, 2.0),
    ),
    ("ngce", lambda z, y: normalized_generalized_cross_entropy(z, y, reduction="none"), _ref_ngce),
    (
        "ngce_q01",
        lambda z, y: normalized_generalized_cross_entropy(z, y, q=0.1, reduction="none"),
        lambda z, y: _ref_ngce(z, y, 0.1),
    ),
    ("rce", lambda z, y: reverse_cross_entropy(z, y, reduction="none"), _ref_rce),
    ("mae", lambda z, y: mean_absolute_error_loss(z, y, reduction="none"), _ref_mae),
    ("gce", lambda z, y: generalized_cross_entropy(z, y, reduction="none"), _ref_gce),
    ("gce_q1", lambda z, y: generalized_cross_entropy(z, y, q=1.0, reduction="none"), lambda z, y: _ref_gce(z, y, 1.0)),
    ("sce", lambda z, y: symmetric_cross_entropy(z, y, reduction="none"), _ref_sce),
    (
        "sce_custom",
        lambda z, y: symmetric_cross_entropy(z, y, alpha=2.0, beta=0.5, reduction="none"),
        lambda z, y: _ref_sce(z, y, 2.0, 0.5),
    ),
]


@pytest.mark.parametrize("name, func, ref", FUNCTIONAL_CASES, ids=[c[0] for c in FUNCTIONAL_CASES])
def test_robust_losses_match_formula(name, func, ref):
    logits = torch.tensor(SMALL_LOGITS)
    target = torch.tensor(SMALL_TARGETS)
    expected = ref(SMALL_LOGITS, SMALL_TARGETS)
    np.testing.assert_allclose(func(logits, target).numpy(), expected, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(func(logits.float(), target).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_hand_computed_values():
    # logits (2, 0, -1), label 0: p = e^2, 1, e^-1 over their sum
    p = np.exp([2.0, 0.0, -1.0])
    p /= p.sum()
    logits = torch.tensor([[2.0, 0.0, -1.0]], dtype=torch.float64)
    y = torch.tensor([0])
    assert normalized_cross_entropy(logits, y).item() == pytest.approx(np.log(p[0]) / np.log(p).sum())
    assert mean_absolute_error_loss(logits, y).item() == pytest.approx(p[1] + p[2])
    assert reverse_cross_entropy(logits, y).item() == pytest.approx(A_RCE * (1 - p[0]))
    assert generalized_cross_entropy(logits, y, q=0.5).item() == pytest.approx((1 - np.sqrt(p[0])) / 0.5)
    assert normalized_generalized_cross_entropy(logits, y, q=0.5).item() == pytest.approx(
        (1 - np.sqrt(p[0])) / (3 - np.sqrt(p).sum())
    )
    fl = -np.sqrt(1 - p) * np.log(p)
    assert normalized_focal_loss(logits, y).item() == pytest.approx(fl[0] / fl.sum())
    assert symmetric_cross_entropy(logits, y).item() == pytest.approx(-0.1 * np.log(p[0]) + A_RCE * (1 - p[0]))


def test_special_cases_coincide():
    logits = _random_logits(20, 6, seed=5)
    target = _random_targets(20, 6)
    assert torch.allclose(
        normalized_focal_loss(logits, target, gamma=0.0), normalized_cross_entropy(logits, target), atol=1e-12
    )
    assert torch.allclose(
        generalized_cross_entropy(logits, target, q=1.0), mean_absolute_error_loss(logits, target), atol=1e-12
    )
    assert torch.allclose(
        reverse_cross_entropy(logits, target), A_RCE * mean_absolute_error_loss(logits, target), atol=1e-12
    )
    # the detached normaliser changes gradients, not values
    assert torch.allclose(
        normalized_focal_loss(logits, target, detach_denominator=True), normalized_focal_loss(logits, target)
    )


@pytest.mark.parametrize("active", ["nce", "nfl", "ngce"])
@pytest.mark.parametrize("passive", ["rce", "mae"])
def test_active_passive_is_weighted_sum(active, passive):
    logits = _random_logits(12, 5, seed=7)
    target = _random_targets(12, 5)
    actives = {
        "nce": normalized_cross_entropy(logits, target, reduction="none"),
        "nfl": normalized_focal_loss(logits, target, gamma=1.5, reduction="none"),
        "ngce": normalized_generalized_cross_entropy(logits, target, q=0.3, reduction="none"),
    }
    passives = {
        "rce": reverse_cross_entropy(logits, target, reduction="none"),
        "mae": mean_absolute_error_loss(logits, target, reduction="none"),
    }
    expected = 2.0 * actives[active] + 3.0 * passives[passive]
    module = ActivePassiveLoss(active, passive, alpha=2.0, beta=3.0, gamma=1.5, q=0.3, reduction="none")
    assert torch.allclose(module(logits, target), expected, atol=1e-12)
    got = active_passive_loss(logits, target, active, passive, 2.0, 3.0, gamma=1.5, q=0.3, reduction="none")
    assert torch.allclose(got, expected, atol=1e-12)
    made = make_loss(f"{active}+{passive}", alpha=2.0, beta=3.0, gamma=1.5, q=0.3, reduction="none")
    assert torch.allclose(made(logits, target), expected, atol=1e-12)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("alpha, beta, label_min", [(1.0, 1.0, 1e-4), (1.0, 10.0, 1e-3), (0.0, 2.0, 1e-4), (3.0, 0.0, 1e-4)])
def test_fused_nce_rce_module_has_the_function_values_and_gradients(reduction, alpha, beta, label_min):
    gen = torch.Generator().manual_seed(11)
    logits = (8 * torch.randn(40, 7, generator=gen, dtype=torch.float64)).requires_grad_()
    target = torch.randint(0, 7, (40,), generator=gen)
    module = ActivePassiveLoss("nce", "rce", alpha=alpha, beta=beta, label_min=label_min, reduction=reduction)
    fused = module(logits, target)
    assert type(fused.grad_fn).__name__ == "_FusedNCERCEBackward"  # one autograd node
    reference = active_passive_loss(logits, target, "nce", "rce", alpha, beta, label_min=label_min, reduction=reduction)
    torch.testing.assert_close(fused, reference, rtol=1e-12, atol=1e-12)
    weights = torch.randn(fused.shape, generator=gen, dtype=torch.float64)
    (got,) = torch.autograd.grad((fused * weights).sum(), logits)
    (expected,) = torch.autograd.grad((reference * weights).sum(), logits)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)
    # a graph-building backward (meta-learning) gives exact second derivatives too
    (got,) = torch.autograd.grad((module(logits, target) * weights).sum(), logits, create_graph=True)
    reference = active_passive_loss(logits, target, "nce", "rce", alpha, beta, label_min=label_min, reduction=reduction)
    (expected,) = torch.autograd.grad((reference * weights).sum(), logits, create_graph=True)
    (got2,) = torch.autograd.grad(got.square().sum(), logits)
    (expected2,) = torch.autograd.grad(expected.square().sum(), logits)
    torch.testing.assert_close(got2, expected2, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", [name for name in LOSS_NAMES if "+" in name])
def test_only_nce_rce_takes_the_fused_path(name):
    # the other APL pairs keep the generic path through autograd
    logits = _random_logits(8, 5, seed=4).requires_grad_()
    loss = make_loss(name)(logits, _random_targets(8, 5))
    assert (type(loss.grad_fn).__name__ == "_FusedNCERCEBackward") == (name == "nce+rce")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_fused_nce_rce_with_sample_weights_matches_the_composed_loss(reduction):
    # sample_weight reaches the loss as reduction='none' times the row weights
    from sknoisy.base import weighted_criterion_loss

    logits = _random_logits(32, 6, seed=5, scale=4.0).requires_grad_()
    target = _random_targets(32, 6)
    weight = torch.rand(32, generator=_gen(6), dtype=torch.float64) * 2
    fused = weighted_criterion_loss(make_loss("nce+rce", beta=10.0, reduction=reduction), weight, logits, target)
    rows = active_passive_loss(logits, target, "nce", "rce", 1.0, 10.0, reduction="none") * weight
    composed = rows.mean() if reduction == "mean" else rows.sum()
    torch.testing.assert_close(fused, composed, rtol=1e-12, atol=1e-12)
    (got,) = torch.autograd.grad(fused, logits)
    (expected,) = torch.autograd.grad(composed, logits)
    torch.testing.assert_close(got, expected, rtol=1e-10, atol=1e-12)


def test_fused_nce_rce_checks_its_inputs_and_float32():
    module = ActivePassiveLoss("nce", "rce")
    with pytest.raises(ValueError, match="at least 2 classes"):
        module(torch.zeros(3, 1), torch.zeros(3, dtype=torch.long))
    with pytest.raises(TypeError, match="integer class indices"):
        module(torch.zeros(3, 2), torch.zeros(3))
    logits = _random_logits(16, 4, seed=3).float().requires_grad_()
    target = _random_targets(16, 4)
    loss = module(logits, target)
    assert loss.dtype == torch.float32
    loss.backward()
    reference = logits.detach().clone().requires_grad_()
    active_passive_loss(reference, target).backward()
    torch.testing.assert_close(logits.grad, reference.grad)


def test_nfl_detach_denominator_changes_gradient_only():
    logits = _random_logits(5, 4, seed=2).requires_grad_()
    target = _random_targets(5, 4)
    g_full = torch.autograd.grad(normalized_focal_loss(logits, target), logits)[0]
    g_detached = torch.autograd.grad(normalized_focal_loss(logits, target, detach_denominator=True), logits)[0]
    assert not torch.allclose(g_full, g_detached)
    # the full gradient matches a finite difference of the loss
    def f(z):
        return normalized_focal_loss(z, target)

    assert torch.autograd.gradcheck(f, (logits,))


def _authors_nfl(logits, target, gamma):
    """The APL authors' NFL: the focal weights come from detached probabilities."""
    log_proba = F.log_softmax(logits, dim=1)
    weight = (1 - log_proba.detach().exp()) ** gamma
    focal = -weight * log_proba
    return (focal.gather(1, target[:, None]).squeeze(1) / focal.sum(dim=1)).mean()


def test_nfl_detach_focal_weights_is_the_authors_gradient():
    logits = _random_logits(6, 4, seed=3).requires_grad_()
    target = _random_targets(6, 4)
    ours = normalized_focal_loss(logits, target, gamma=0.5, detach_focal_weights=True)
    theirs = _authors_nfl(logits, target, 0.5)
    assert torch.allclose(ours, theirs, atol=1e-12)
    assert torch.allclose(ours, normalized_focal_loss(logits, target, gamma=0.5), atol=1e-12)  # same value
    g_ours = torch.autograd.grad(ours, logits)[0]
    g_theirs = torch.autograd.grad(theirs, logits)[0]
    assert torch.allclose(g_ours, g_theirs, atol=1e-12)
    # and it is neither the full gradient nor the detached-normaliser one
    g_full = torch.autograd.grad(normalized_focal_loss(logits, target, gamma=0.5), logits)[0]
    g_denominator = torch.autograd.grad(
        normalized_focal_loss(logits, target, gamma=0.5, detach_denominator=True), logits
    )[0]
    assert not torch.allclose(g_ours, g_full, atol=1e-6)
    assert not torch.allclose(g_ours, g_denominator, atol=1e-6)


def test_detach_focal_weights_reaches_the_modules():
    logits = _random_logits(6, 4, seed=4).requires_grad_()
    target = _random_targets(6, 4)
    nfl = _authors_nfl(logits, target, 0.5)
    expected = {
        "nfl": nfl,
        "nfl+mae": nfl + 2.0 * mean_absolute_error_loss(logits, target),
        "nfl+rce": nfl + 2.0 * reverse_cross_entropy(logits, target),
    }
    criteria = {
        "nfl": NormalizedFocalLoss(detach_focal_weights=True),
        "nfl+mae": ActivePassiveLoss("nfl", "mae", beta=2.0, gamma=0.5, detach_focal_weights=True),
        "nfl+rce": make_loss("nfl+rce", beta=2.0, gamma=0.5, detach_focal_weights=True),
    }
    for name, criterion in criteria.items():
        grad = torch.autograd.grad(criterion(logits, target), logits)[0]
        want = torch.autograd.grad(expected[name], logits, retain_graph=True)[0]
        assert torch.allclose(grad, want, atol=1e-12), name
    assert "detach_focal_weights=True" in repr(criteria["nfl"])


@pytest.mark.parametrize("loss_name", ["nce", "nfl", "ngce", "rce", "mae", "gce", "sce"])
def test_gradients_match_finite_differences(loss_name):
    logits = _random_logits(4, 3, seed=9).requires_grad_()
    target = _random_targets(4, 3)
    criterion = make_loss(loss_name)
    assert torch.autograd.gradcheck(lambda z: criterion(z, target), (logits,))


# ---------------------------------------------------------------- normalisation identities


@pytest.mark.parametrize(
    "make",
    [
        NormalizedCrossEntropy,
        lambda **kw: NormalizedFocalLoss(gamma=0.5, **kw),
        lambda **kw: NormalizedFocalLoss(gamma=3.0, **kw),
        lambda **kw: NormalizedGeneralizedCrossEntropy(q=0.7, **kw),
        lambda **kw: NormalizedGeneralizedCrossEntropy(q=0.1, **kw),
        lambda **kw: NormalizedGeneralizedCrossEntropy(q=1.0, **kw),
    ],
    ids=["nce", "nfl0.5", "nfl3", "ngce0.7", "ngce0.1", "ngce1"],
)
@pytest.mark.parametrize("n_classes", [2, 7])
@pytest.mark.parametrize("scale", [0.01, 1.0, 5.0])
def test_normalized_losses_sum_to_one_over_labels(make, n_classes, scale):
    logits = _random_logits(9, n_classes, seed=11, scale=scale)
    rows, labels = _all_labels(logits)
    totals = make(reduction="none")(rows, labels).view(9, n_classes).sum(1)
    assert torch.allclose(totals, torch.ones(9, dtype=torch.float64), atol=1e-10)


@pytest.mark.parametrize("n_classes", [2, 7])
def test_passive_losses_sum_to_constant_over_labels(n_classes):
    logits = _random_logits(9, n_classes, seed=12, scale=3.0)
    rows, labels = _all_labels(logits)
    mae = MeanAbsoluteError(reduction="none")(rows, labels).view(9, n_classes).sum(1)
    rce = ReverseCrossEntropy(reduction="none")(rows, labels).view(9, n_classes).sum(1)
    assert torch.allclose(mae, torch.full((9,), n_classes - 1.0, dtype=torch.float64), atol=1e-10)
    assert torch.allclose(rce, torch.full((9,), A_RCE * (n_classes - 1), dtype=torch.float64), atol=1e-9)


# ---------------------------------------------------------------- numerical safety


@functools.lru_cache(maxsize=None)
def _all_criteria(n_classes):
    # cached: inverting a 1000 x 1000 T for the backward loss takes about a second
    T = _symmetric_T(n_classes, 0.2)
    criteria = {name: make_loss(name, **DEFAULT_LOSS_PARAMS[name]) for name in LOSS_NAMES}
    criteria["nfl_detached"] = NormalizedFocalLoss(detach_denominator=True)
    criteria["forward"] = ForwardCorrectedCrossEntropy(T)
    criteria["backward"] = BackwardCorrectedCrossEntropy(T)
    return criteria


@pytest.mark.parametrize("n_classes", [2, 1000])
@pytest.mark.parametrize("scale", [1e-8, 1.0, 1e4])
@pytest.mark.parametrize("confident_target", [True, False])
def test_no_nan_or_inf_in_loss_and_gradients(n_classes, scale, confident_target):
    logits = _random_logits(8, n_classes, seed=13, scale=scale, dtype=torch.float32)
    if scale == 1e4:  # fully saturated rows: one +1e4, the rest -1e4
        logits = torch.full((8, n_classes), -1e4)
        logits[:, 0] = 1e4
    target = torch.zeros(8, dtype=torch.long) if confident_target else torch.ones(8, dtype=torch.long)
    for name, criterion in _all_criteria(n_classes).items():
        z = logits.clone().requires_grad_()
        loss = criterion(z, target)
        assert torch.isfinite(loss), (name, loss)
        loss.backward()
        assert torch.isfinite(z.grad).all(), name


def test_random_extreme_logits_many_classes():
    logits = _random_logits(16, 1000, seed=14, scale=1e4, dtype=torch.float32)
    target = _random_targets(16, 1000)
    for name, criterion in _all_criteria(1000).items():
        z = logits.clone().requires_grad_()
        loss = criterion(z, target)
        loss.backward()
        assert torch.isfinite(loss) and torch.isfinite(z.grad).all(), name


def test_saturated_loss_values_are_right():
    logits = torch.tensor([[1e4, -1e4, -1e4]])
    right, wrong = torch.tensor([0]), torch.tensor([1])
    assert normalized_cross_entropy(logits, right).item() == pytest.approx(0.0, abs=1e-6)
    assert normalized_cross_entropy(logits, wrong).item() == pytest.approx(0.5, abs=1e-6)
    assert mean_absolute_error_loss(logits, right).item() == pytest.approx(0.0, abs=1e-7)
    assert mean_absolute_error_loss(logits, wrong).item() == pytest.approx(1.0)
    assert reverse_cross_entropy(logits, wrong).item() == pytest.approx(A_RCE)
    assert generalized_cross_entropy(logits, wrong, q=0.5).item() == pytest.approx(2.0)
    assert normalized_focal_loss(logits, wrong).item() == pytest.approx(0.5, abs=1e-6)
    # backward: -log p capped at -log(eps) keeps the loss finite and bounded
    capped = backward_corrected_cross_entropy(logits, wrong, torch.eye(3))
    assert capped.item() == pytest.approx(-math.log(1e-7), rel=1e-5)


# ---------------------------------------------------------------- reductions


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_reductions(name):
    logits = _random_logits(10, 4, seed=15)
    target = _random_targets(10, 4)
    none = make_loss(name, reduction="none")(logits, target)
    assert none.shape == (10,)
    assert torch.allclose(make_loss(name, reduction="sum")(logits, target), none.sum())
    mean = make_loss(name)(logits, target)
    assert mean.ndim == 0
    assert torch.allclose(mean, none.mean())


def test_reductions_corrected_losses():
    logits = _random_logits(10, 3, seed=16, dtype=torch.float32)
    target = _random_targets(10, 3)
    T = _symmetric_T(3, 0.3)
    for cls in (ForwardCorrectedCrossEntropy, BackwardCorrectedCrossEntropy):
        none = cls(T, reduction="none")(logits, target)
        assert none.shape == (10,)
        assert torch.allclose(cls(T, reduction="sum")(logits, target), none.sum())
        assert torch.allclose(cls(T)(logits, target), none.mean())


@pytest.mark.parametrize(
    "build",
    [
        lambda: NormalizedCrossEntropy(reduction="avg"),
        lambda: ActivePassiveLoss(reduction=None),
        lambda: ForwardCorrectedCrossEntropy(np.eye(2), reduction="max"),
        lambda: normalized_cross_entropy(torch.zeros(2, 2), torch.zeros(2, dtype=torch.long), reduction="avg"),
    ],
)
def test_bad_reduction(build):
    with pytest.raises(ValueError, match="reduction must be one of 'mean', 'sum', 'none'"):
        build()


# ---------------------------------------------------------------- parameter validation


@pytest.mark.parametrize(
    "build, error, match",
    [
        (lambda: GeneralizedCrossEntropy(q=0.0), ValueError, r"q must be in \(0, 1\], got 0.0"),
        (lambda: GeneralizedCrossEntropy(q=1.5), ValueError, r"q must be in \(0, 1\]"),
        (lambda: NormalizedGeneralizedCrossEntropy(q=-0.2), ValueError, r"q must be in \(0, 1\]"),
        (lambda: ActivePassiveLoss("ngce", q=2.0), ValueError, r"q must be in \(0, 1\]"),
        (lambda: GeneralizedCrossEntropy(q=float("nan")), ValueError, "q must be finite"),
        (lambda: GeneralizedCrossEntropy(q="0.7"), TypeError, "q must be a real number"),
        (lambda: NormalizedFocalLoss(gamma=-1.0), ValueError, "gamma must be non-negative"),
        (lambda: ActivePassiveLoss("nfl", gamma=-0.5), ValueError, "gamma must be non-negative"),
        (lambda: ActivePassiveLoss(alpha=-1.0), ValueError, "alpha must be non-negative"),
        (lambda: ActivePassiveLoss(beta=-1.0), ValueError, "beta must be non-negative"),
        (lambda: SymmetricCrossEntropy(alpha=-0.1), ValueError, "alpha must be non-negative"),
        (lambda: ActivePassiveLoss(alpha=0, beta=0), ValueError, "alpha and beta cannot both be 0"),
        (lambda: SymmetricCrossEntropy(alpha=0.0, beta=0.0), ValueError, "alpha and beta cannot both be 0"),
        (lambda: ActivePassiveLoss(alpha=True), TypeError, "alpha must be a real number"),
        (
            lambda: ActivePassiveLoss(active="ce"),
            ValueError,
            "active must be one of 'nce', 'nfl', 'ngce'; got 'ce'",
        ),
        (lambda: ActivePassiveLoss(passive="nce"), ValueError, "passive must be one of 'rce', 'mae'; got 'nce'"),
        (lambda: ActivePassiveLoss(active=None), ValueError, "active must be one of"),
        (lambda: ReverseCrossEntropy(label_min=0.0), ValueError, r"label_min must be in \(0, 1\)"),
        (lambda: NormalizedFocalLoss(eps=1.0), ValueError, r"eps must be in \(0, 1\)"),
        (lambda: BackwardCorrectedCrossEntropy(np.eye(2), eps=-1e-7), ValueError, r"eps must be in \(0, 1\)"),
    ],
)
def test_parameter_validation(build, error, match):
    with pytest.raises(error, match=match):
        build()


def test_functional_forms_validate_parameters_too():
    logits = _random_logits(3, 3)
    target = _random_targets(3, 3)
    with pytest.raises(ValueError, match=r"q must be in \(0, 1\]"):
        generalized_cross_entropy(logits, target, q=0)
    with pytest.raises(ValueError, match="gamma must be non-negative"):
        normalized_focal_loss(logits, target, gamma=-2)
    with pytest.raises(ValueError, match="active must be one of 'nce', 'nfl', 'ngce'"):
        active_passive_loss(logits, target, active="gce")
    with pytest.raises(ValueError, match="alpha and beta cannot both be 0"):
        active_passive_loss(logits, target, alpha=0.0, beta=0.0)


@pytest.mark.parametrize(
    "logits, target, error, match",
    [
        (torch.zeros(3), torch.zeros(3, dtype=torch.long), ValueError, r"logits must have shape \(n_samples, n_cl"),
        (np.zeros((3, 2)), torch.zeros(3, dtype=torch.long), TypeError, "logits must be a torch.Tensor"),
        (torch.zeros(3, 2), [0, 1, 0], TypeError, "target must be a torch.Tensor"),
        (torch.zeros(3, 2), torch.zeros(4, dtype=torch.long), ValueError, r"target must have shape \(3,\)"),
        (torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.long), ValueError, r"target must have shape \(3,\)"),
        (torch.zeros(3, 2), torch.zeros(3), TypeError, "target must hold integer class indices"),
        (torch.zeros(3, 2, dtype=torch.long), torch.zeros(3, dtype=torch.long), TypeError, "floating point"),
    ],
)
def test_input_validation(logits, target, error, match):
    for name in ("nce+rce", "gce", "mae"):
        with pytest.raises(error, match=match):
            make_loss(name)(logits, target)
    with pytest.raises(error, match=match):
        forward_corrected_cross_entropy(logits, target, np.eye(2))


def test_normalized_losses_need_two_classes():
    logits = torch.zeros(3, 1)
    target = torch.zeros(3, dtype=torch.long)
    for name in ("nce", "nfl", "ngce", "nce+mae"):
        with pytest.raises(ValueError, match="at least 2 classes"):
            make_loss(name)(logits, target)
    # the non-normalised ones are defined (and zero) for a single class
    assert make_loss("mae")(logits, target).item() == 0.0


def test_int32_targets_accepted():
    logits = _random_logits(5, 3)
    target = _random_targets(5, 3)
    for name in ("nce+rce", "sce"):
        criterion = make_loss(name)
        assert torch.equal(criterion(logits, target.int()), criterion(logits, target))


# ---------------------------------------------------------------- registry


def test_registry_names():
    expected = {
        "ce", "gce", "sce", "nce", "nfl", "ngce", "rce", "mae",
        "nce+rce", "nce+mae", "nfl+rce", "nfl+mae", "ngce+rce", "ngce+mae",
    }  # fmt: skip
    assert isinstance(LOSS_NAMES, tuple)
    assert set(LOSS_NAMES) == expected and len(LOSS_NAMES) == len(expected)
    assert set(LOSSES) == expected
    assert set(DEFAULT_LOSS_PARAMS) == expected
    with pytest.raises(TypeError):
        LOSSES["new"] = NormalizedCrossEntropy
    with pytest.raises(TypeError):
        DEFAULT_LOSS_PARAMS["sce"]["alpha"] = 5.0


@pytest.mark.parametrize("name", LOSS_NAMES)
def test_make_loss_each_name(name):
    criterion = make_loss(name, **DEFAULT_LOSS_PARAMS[name])
    assert isinstance(criterion, torch.nn.Module)
    assert make_loss(name) is not make_loss(name)
    logits = _random_logits(6, 4, seed=17, dtype=torch.float32)
    loss = criterion(logits, _random_targets(6, 4))
    assert loss.ndim == 0 and torch.isfinite(loss)


def test_make_loss_builds_the_right_thing():
    apl = make_loss("ngce+mae", alpha=2.0, q=0.3)
    assert isinstance(apl, ActivePassiveLoss)
    assert (apl.active, apl.passive, apl.alpha, apl.beta, apl.q) == ("ngce", "mae", 2.0, 1.0, 0.3)
    assert isinstance(make_loss("ce"), torch.nn.CrossEntropyLoss)
    assert isinstance(make_loss("sce"), SymmetricCrossEntropy)
    assert "active='ngce'" in repr(apl)


def test_make_loss_errors():
    with pytest.raises(ValueError, match=r"unknown loss 'focal'; valid names are 'ce', 'gce'.*'ngce\+mae'"):
        make_loss("focal")
    with pytest.raises(ValueError, match="unknown loss"):
        make_loss(None)
    with pytest.raises(ValueError, match=r"loss 'nce\+rce' fixes active"):
        make_loss("nce+rce", active="nfl")
    with pytest.raises(TypeError):
        make_loss("nce", q=0.7)  # NCE has no q


def test_default_and_published_params():
    assert dict(DEFAULT_LOSS_PARAMS["nce+rce"]) == {"alpha": 1.0, "beta": 1.0}
    assert dict(DEFAULT_LOSS_PARAMS["sce"]) == {"alpha": 0.1, "beta": 1.0}
    assert dict(DEFAULT_LOSS_PARAMS["gce"]) == {"q": 0.7}
    assert dict(PUBLISHED_LOSS_PARAMS["mnist"]["nce+rce"]) == {"alpha": 1.0, "beta": 10.0}
    assert dict(PUBLISHED_LOSS_PARAMS["mnist"]["nfl+mae"]) == {"alpha": 1.0, "beta": 10.0, "gamma": 0.5}
    assert dict(PUBLISHED_LOSS_PARAMS["cifar100"]["nce+rce"]) == {"alpha": 10.0, "beta": 0.1}
    for dataset, table in PUBLISHED_LOSS_PARAMS.items():
        for name, params in table.items():
            assert name in LOSS_NAMES, (dataset, name)
            make_loss(name, **params)


# ---------------------------------------------------------------- modules: copy, pickle, repr


@pytest.mark.parametrize(
    "criterion",
    [
        ActivePassiveLoss("nfl", "mae", beta=10.0),
        ForwardCorrectedCrossEntropy(_symmetric_T(3, 0.2)),
        BackwardCorrectedCrossEntropy(_symmetric_T(3, 0.2)),
    ],
    ids=["apl", "forward", "backward"],
)
def test_pickle_and_deepcopy(criterion):
    logits = _random_logits(5, 3, dtype=torch.float32)
    target = _random_targets(5, 3)
    expected = criterion(logits, target)
    for clone in (pickle.loads(pickle.dumps(criterion)), copy.deepcopy(criterion)):
        assert torch.equal(clone(logits, target), expected)


def test_repr():
    expected = "ForwardCorrectedCrossEntropy(n_classes=2, eps=1e-07, reduction='mean')"
    assert repr(ForwardCorrectedCrossEntropy(np.eye(2))) == expected
    assert "max_condition=1000000.0" in repr(BackwardCorrectedCrossEntropy(np.eye(2)))
    assert repr(MeanAbsoluteError()) == "MeanAbsoluteError(reduction='mean')"


# ---------------------------------------------------------------- skorch


def _skorch_data(n_classes=3):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 5)).astype(np.float32)
    y = rng.integers(0, n_classes, size=50).astype(np.int64)
    return X, y


def test_usable_as_skorch_criterion():
    from skorch import NeuralNetClassifier

    X, y = _skorch_data()
    net = NeuralNetClassifier(
        torch.nn.Linear,
        module__in_features=5,
        module__out_features=3,
        criterion=ActivePassiveLoss,
        criterion__active="nce",
        criterion__passive="rce",
        max_epochs=2,
        train_split=None,
        verbose=0,
    )
    net.fit(X, y)
    losses = net.history[:, "train_loss"]
    assert len(losses) == 2 and np.all(np.isfinite(losses))
    assert isinstance(net.criterion_, ActivePassiveLoss)
    assert net.criterion_.active == "nce"
    net.set_params(criterion__active="nfl", criterion__gamma=1.0)
    net.initialize()
    assert (net.criterion_.active, net.criterion_.gamma) == ("nfl", 1.0)


@pytest.mark.parametrize("cls", [ForwardCorrectedCrossEntropy, BackwardCorrectedCrossEntropy])
def test_corrected_losses_as_skorch_criterion(cls):
    from skorch import NeuralNetClassifier

    X, y = _skorch_data()
    net = NeuralNetClassifier(
        torch.nn.Linear,
        module__in_features=5,
        module__out_features=3,
        criterion=cls,
        criterion__transition_matrix=_symmetric_T(3, 0.2),
        max_epochs=2,
        train_split=None,
        verbose=0,
    )
    net.fit(X, y)
    assert np.all(np.isfinite(net.history[:, "train_loss"]))
    assert net.criterion_.T.shape == (3, 3)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_losses_on_cuda():
    device = torch.device("cuda")
    T = _symmetric_T(4, 0.3)
    logits = _random_logits(16, 4, seed=18, dtype=torch.float32)
    target = _random_targets(16, 4)
    criteria = dict(_all_criteria(4))
    criteria["forward"] = ForwardCorrectedCrossEntropy(T)
    criteria["backward"] = BackwardCorrectedCrossEntropy(T)
    for name, criterion in criteria.items():
        expected = criterion(logits, target)
        moved = copy.deepcopy(criterion).to(device)
        got = moved(logits.to(device), target.to(device))
        assert got.device.type == "cuda"
        assert torch.allclose(got.cpu(), expected, atol=1e-5), name
    # the functional form takes a CUDA T that requires grad
    T_cuda = torch.tensor(T, dtype=torch.float32, device=device, requires_grad=True)
    forward_corrected_cross_entropy(logits.to(device), target.to(device), T_cuda).backward()
    assert torch.isfinite(T_cuda.grad).all()
    # a CUDA tensor is accepted by set_transition_matrix
    criteria["forward"].to(device).set_transition_matrix(torch.eye(4, device=device))
    assert torch.equal(criteria["forward"].T.cpu(), torch.eye(4))
