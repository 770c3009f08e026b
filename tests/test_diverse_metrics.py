"""Tests of Table 3's measures (Deshpande et al. 2017) in reprolib.metrics.diversity: error-of-best and the variance
of k outputs, against hand-computed answers."""

from __future__ import annotations

import pytest
import torch

from reprolib.metrics.diversity import error_of_best, output_variance


def _hand_case():
    """One input, two outputs of one pixel: truth (0, 0), outputs (0.1, 0) and (0.2, 0.2)."""
    truth = torch.zeros(1, 2, 1, 1)
    outputs = torch.tensor([[0.1, 0.0], [0.2, 0.2]], dtype=torch.float64).reshape(1, 2, 2, 1, 1)
    return outputs, truth


def test_error_of_best_by_hand():
    outputs, truth = _hand_case()
    # output errors: mean(0.1, 0) = 0.05 and mean(0.2, 0.2) = 0.2; the best is 0.05
    eob = error_of_best(outputs, truth)
    assert eob.dtype == torch.float64 and eob.shape == (1,)
    assert float(eob[0]) == pytest.approx(0.05)


def test_error_of_best_takes_the_best_output_whole_not_the_best_per_pixel():
    # two pixels; output 0 is right at pixel 0 only, output 1 at pixel 1 only: each output's error is 0.5, not 0
    truth = torch.zeros(1, 2, 1, 2)
    outputs = torch.zeros(1, 2, 2, 1, 2)
    outputs[0, 0, :, 0, 1] = 1.0
    outputs[0, 1, :, 0, 0] = 1.0
    assert error_of_best(outputs, truth).tolist() == [0.5]


def test_error_of_best_per_item_and_exact_output_gives_zero():
    g = torch.Generator().manual_seed(0)
    truth = torch.randn(3, 2, 4, 5, generator=g)
    outputs = truth[:, None] + torch.randn(3, 4, 2, 4, 5, generator=g)
    outputs[1, 2] = truth[1]  # item 1 has an exact output
    eob = error_of_best(outputs, truth)
    want = torch.stack([torch.stack([(outputs[n, j].double() - truth[n].double()).abs().mean() for j in range(4)]).min()
                        for n in range(3)])
    assert torch.allclose(eob, want) and float(eob[1]) == 0.0


def test_output_variance_by_hand():
    outputs, _ = _hand_case()
    # channel a: 0.1 and 0.2, population variance 0.0025; channel b: 0 and 0.2, 0.01; their mean 0.00625
    var = output_variance(outputs)
    assert var.dtype == torch.float64 and var.shape == (1,)
    assert float(var[0]) == pytest.approx(0.00625)


def test_output_variance_is_the_population_variance_across_outputs():
    g = torch.Generator().manual_seed(1)
    outputs = torch.randn(2, 5, 2, 3, 3, generator=g)
    x = outputs.double()
    want = ((x - x.mean(1, keepdim=True)) ** 2).sum(1).div(5).mean((1, 2, 3))
    assert torch.allclose(output_variance(outputs), want)
    # constant along the outputs, however the pixels vary: 0
    assert output_variance(outputs[:, :1].expand(-1, 4, -1, -1, -1)).abs().max() < 1e-15


def test_one_output_has_variance_zero():
    outputs = torch.randn(3, 1, 2, 4, 4, generator=torch.Generator().manual_seed(2))
    assert output_variance(outputs).tolist() == [0.0, 0.0, 0.0]


def test_order_of_the_outputs_does_not_matter():
    g = torch.Generator().manual_seed(3)
    truth = torch.randn(2, 2, 4, 4, generator=g)
    outputs = torch.randn(2, 5, 2, 4, 4, generator=g)
    shuffled = outputs[:, torch.tensor([3, 0, 4, 1, 2])]
    assert torch.allclose(error_of_best(shuffled, truth), error_of_best(outputs, truth))
    assert torch.allclose(output_variance(shuffled), output_variance(outputs))


def test_the_scale_enters_as_expected():
    # on ab / 128 fields Eob is the ab-unit value / 128 and Var the ab-unit value / 128^2 (Table 3's units)
    g = torch.Generator().manual_seed(4)
    truth = 50 * torch.randn(2, 2, 4, 4, generator=g)
    outputs = truth[:, None] + 10 * torch.randn(2, 5, 2, 4, 4, generator=g)
    assert torch.allclose(error_of_best(outputs / 128, truth / 128), error_of_best(outputs, truth) / 128)
    assert torch.allclose(output_variance(outputs / 128), output_variance(outputs) / 128 ** 2)


@pytest.mark.parametrize("outputs", [torch.zeros(2, 2, 4, 4), torch.zeros(2, 5, 3, 4, 4), torch.zeros(2, 0, 2, 4, 4),
                                     torch.zeros(2, 5, 2, 4, 4, dtype=torch.int64), [[0.0]]],
                         ids=["4-d", "3 channels", "no outputs", "integer", "a list"])
def test_bad_outputs_are_refused(outputs):
    with pytest.raises(ValueError, match=r"outputs must be a floating \(N, k, 2, H, W\) tensor"):
        output_variance(outputs)
    with pytest.raises(ValueError, match=r"outputs must be a floating \(N, k, 2, H, W\) tensor"):
        error_of_best(outputs, torch.zeros(2, 2, 4, 4))


@pytest.mark.parametrize("truth", [torch.zeros(3, 2, 4, 4), torch.zeros(2, 2, 4, 5), torch.zeros(2, 1, 2, 4, 4),
                                   torch.zeros(2, 2, 4, 4).numpy()],
                         ids=["other N", "other size", "5-d", "an array"])
def test_truth_must_match_the_outputs(truth):
    with pytest.raises(ValueError, match=r"truth must be a floating \(N, 2, H, W\) = \(2, 2, 4, 4\) tensor"):
        error_of_best(torch.zeros(2, 5, 2, 4, 4), truth)
