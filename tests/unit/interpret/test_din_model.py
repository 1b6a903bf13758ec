"""DIN model: Dice statistics, the activation unit's masking and algebra, cold histories, MBA-L2."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from aria_actors.interpret.din.model import DIN, Dice  # noqa: E402


def make_model(seed: int = 0) -> DIN:
    torch.manual_seed(seed)
    torch.set_num_threads(1)
    item_category = torch.tensor([0] + [1 + i % 3 for i in range(20)])
    return DIN(21, 4, item_category, item_dim=6, category_dim=2, attention=(7, 5), mlp=(9, 4))


def batch(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    hist = torch.randint(1, 21, (5, 6), generator=g)
    for r, n in enumerate([6, 3, 0, 1, 4]):
        hist[r, n:] = 0
    return hist, torch.randint(1, 21, (5, 3), generator=g)


def test_dice_uses_batch_stats_in_training_and_running_stats_in_eval():
    dice = Dice(3)
    x = torch.randn(64, 3) * 4 + 2
    dice.train()
    y = dice(x)
    assert torch.allclose(dice.running_mean, 0.1 * x.mean(0), atol=1e-5)
    # training output of one row depends on the batch; eval output does not
    assert not torch.allclose(dice(x[:2])[0], y[0])
    dice.eval()
    assert torch.allclose(dice(x[:2]), dice(x)[:2])
    expected = torch.sigmoid((x - dice.running_mean) / torch.sqrt(dice.running_var + dice.eps)) * x
    assert torch.allclose(dice(x), expected, atol=1e-6)  # alpha = 0


def test_dice_gradient_matches_autograd_with_constant_statistics():
    dice = Dice(4).double().eval()
    with torch.no_grad():
        dice.alpha.copy_(torch.tensor([0.0, 0.3, -0.2, 1.0]))
        dice.running_mean.copy_(torch.tensor([0.1, -0.5, 0.0, 2.0]))
        dice.running_var.copy_(torch.tensor([1.0, 2.0, 0.5, 3.0]))
    x = torch.randn(10, 4, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(10, 4, dtype=torch.float64)
    dice(x).backward(grad)
    fused_x, fused_alpha = x.grad.clone(), dice.alpha.grad.clone()
    x.grad = None
    alpha = dice.alpha.detach().clone().requires_grad_(True)
    p = torch.sigmoid((x - dice.running_mean) / torch.sqrt(dice.running_var + dice.eps))
    (p * x + (1 - p) * alpha * x).backward(grad)
    assert torch.allclose(fused_x, x.grad) and torch.allclose(fused_alpha, alpha.grad)


def test_padding_does_not_change_outputs_in_train_and_eval():
    model = make_model()
    hist, cands = batch()
    wider = torch.cat([hist, torch.zeros(5, 4, dtype=hist.dtype)], dim=1)
    for mode in (model.train, model.eval):
        mode()
        torch.manual_seed(0)
        a = model(hist, cands)
        b = model(wider, cands)
        assert torch.allclose(a, b, atol=1e-6)


def test_empty_history_works_and_ignores_the_history_branch():
    model = make_model().eval()
    _, cands = batch()
    empty = torch.zeros(5, 1, dtype=torch.long)
    out = model(empty, cands)
    assert out.shape == (5, 3) and torch.isfinite(out).all()
    # with no history, a candidate's score depends on the candidate only
    assert torch.allclose(out[0], model(torch.zeros(1, 4, dtype=torch.long), cands[:1])[0], atol=1e-6)


def test_activation_unit_equals_the_papers_concatenation():
    model = make_model().eval()
    hist, cands = batch()
    h = model.embed(hist)
    c = model.embed(cands)
    att = model.attention
    mask = hist != 0
    weights = att(h, mask, c)  # [R, K, T]
    hh = h[:, None, :, :].expand(-1, 3, -1, -1)
    cc = c[:, :, None, :].expand(-1, -1, h.shape[1], -1)
    x = att.first(torch.cat([hh, cc, hh - cc, hh * cc], dim=-1))  # [R, K, T, A]
    x = att.dice[0](x)
    for layer, dice in zip(att.rest, att.dice[1:], strict=True):
        x = dice(layer(x))
    expected = att.out(x).squeeze(-1) * mask[:, None, :]
    assert torch.allclose(weights, expected, atol=1e-5)


def test_mba_l2_is_frequency_scaled_over_rows_in_the_batch():
    model = make_model()
    hist, cands = batch()
    inv_item = torch.rand(21)
    inv_cat = torch.rand(4)
    got = model.mba_l2(hist, cands, inv_item, inv_cat)
    used = sorted(set(hist.reshape(-1).tolist()) | set(cands.reshape(-1).tolist()))
    cats = sorted({int(model.item_category[i]) for i in used})
    with torch.no_grad():
        expected = sum(float(model.item_emb.weight[i].pow(2).sum() * inv_item[i]) for i in used)
        expected += sum(float(model.cat_emb.weight[c].pow(2).sum() * inv_cat[c]) for c in cats)
    assert float(got.detach()) == pytest.approx(expected, rel=1e-5)


def test_training_step_gives_finite_gradients_to_every_parameter():
    model = make_model().train()
    hist, cands = batch()
    labels = torch.zeros(5, 3)
    labels[:, 0] = 1
    loss = torch.nn.functional.binary_cross_entropy_with_logits(model(hist, cands), labels)
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
    assert float(model.item_emb.weight.grad[0].abs().sum()) == 0.0  # padding row never learns
