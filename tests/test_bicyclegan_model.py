"""The six variants of Fig. 4.6 and the update step of the released code's order (models/bicyclegan.py)."""

import pytest
import torch

from reprolib.models.bicyclegan import LAMBDA_KL, LAMBDA_L1, LAMBDA_LATENT, VARIANTS, BicycleGAN, make_optimizers, train_step
from reprolib.train import TrainConfig, train


def _net(variant, seed=0):
    torch.manual_seed(seed)
    return BicycleGAN(variant, 32, nz=4, ngf=4, nef=4, ndf=4, d_layers=2)


def _batch(n=4, seed=1):
    g = torch.Generator().manual_seed(seed)
    A = torch.rand(n, 1, 32, 32, generator=g) - 0.5
    return {"A": A, "B": torch.cat([A, 0.3 * torch.randn(n, 2, 32, 32, generator=g)], 1)}


def test_the_variants_table_follows_the_thesis():
    v = VARIANTS
    assert list(v) == ["pix2pix_noise", "cae_gan", "cvae_gan", "cvae_gan_pp", "clr_gan", "bicyclegan"]
    # which cycles each runs (Fig. 4.2) and which networks that needs
    assert [x.encoded for x in v.values()] == [False, True, True, True, False, True]
    assert [x.random for x in v.values()] == [True, False, False, True, True, True]
    assert [x.two_discriminators for x in v.values()] == [False, False, False, True, False, True]
    assert not v["pix2pix_noise"].uses_encoder and v["clr_gan"].uses_encoder
    assert v["cae_gan"].sample_code is False and v["cvae_gan"].sample_code is True  # deterministic vs VAE
    assert v["clr_gan"].train_e_on_latent and not v["bicyclegan"].train_e_on_latent  # E frozen in BicycleGAN
    assert (LAMBDA_L1, LAMBDA_LATENT, LAMBDA_KL) == (10.0, 0.5, 0.01)  # sec. 4.3.5
    nets = {k: _net(k) for k in v}
    assert nets["pix2pix_noise"].E is None and nets["bicyclegan"].D2 is not None and nets["cvae_gan"].D2 is None


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_variant_steps_and_logs_its_own_losses(variant):
    net = _net(variant)
    opts = make_optimizers(net)
    assert sorted(opts) == sorted(k for k in ("G", "E", "D", "D2") if getattr(net, k) is not None)
    before = {k: v.clone() for k, v in net.state_dict().items()}
    loss, logs = train_step(net, _batch(), opts)
    v = VARIANTS[variant]
    assert ("kl" in logs) == (v.encoded and v.sample_code) and ("l1_latent" in logs) == v.latent
    assert ("l1_random" in logs) == v.l1_random and ("loss_D2" in logs) == v.two_discriminators
    assert torch.isfinite(loss) and all(torch.isfinite(t) for t in logs.values())
    changed = {k.split(".")[0] for k, t in net.state_dict().items() if not torch.equal(t, before[k])}
    assert changed == set(opts)  # every network with an optimiser moved, and only those


def _recording(opts):
    """Wrap the optimisers' step so that the gradients at each step are recorded."""
    seen = {}
    for k, o in opts.items():
        def step(o=o, k=k, orig=o.step):
            params = [p for g in o.param_groups for p in g["params"]]
            seen[k] = [None if p.grad is None else p.grad.clone() for p in params]
            return orig()
        o.step = step
    return seen


def test_the_discriminator_step_leaves_the_generators_gradients_untouched():
    net = _net("bicyclegan")
    opts = make_optimizers(net)
    seen = _recording(opts)
    train_step(net, _batch(), opts)
    now = [p.grad for p in net.G.parameters()]
    assert all(g is not None for g in seen["G"])
    # the D and D2 steps came after G's: had their losses reached G (a missing detach), G's grads would differ
    assert all(torch.equal(a, b) for a, b in zip(seen["G"], now))
    # and D's own gradients come only from its loss: none are left from the generator's update
    assert all(g is not None and torch.isfinite(g).all() for g in seen["D"])


def test_the_latent_loss_reaches_g_but_not_a_frozen_encoder(monkeypatch):
    """E's gradients at its step are those of the image losses alone (sec. 4.3.5), G's include the latent loss."""
    import reprolib.models.bicyclegan as bg

    batch, seen = _batch(), {}
    for weight in (0.5, 0.0):
        monkeypatch.setattr(bg, "LAMBDA_LATENT", weight)
        net = _net("bicyclegan")
        opts = make_optimizers(net)
        seen[weight] = _recording(opts)
        torch.manual_seed(5)  # the same random code in both runs
        train_step(net, batch, opts)
    assert all(torch.equal(a, b) for a, b in zip(seen[0.5]["E"], seen[0.0]["E"]))
    assert not all(torch.equal(a, b) for a, b in zip(seen[0.5]["G"], seen[0.0]["G"]))


@pytest.mark.parametrize("encoder, where_add", [("conv", "all"), ("resnet", "input")])
def test_the_ablations_of_table_41_build_and_train(encoder, where_add):
    """E_CNN instead of E_ResNet, z at the input instead of in every layer: same step, other networks."""
    net = BicycleGAN("bicyclegan", 32, nz=4, ngf=4, nef=4, ndf=4, d_layers=2, encoder=encoder, where_add=where_add)
    default = _net("bicyclegan")
    assert type(net.E).__name__ == ("ConvEncoder" if encoder == "conv" else "ResNetEncoder")
    first = dict(net.G.named_parameters())["model.down.0.weight" if where_add == "all" else "model.model.0.weight"]
    assert first.shape[1] == 1 + 4  # the grey channel and the 4 code channels enter the first convolution
    assert sum(p.numel() for p in net.parameters()) != sum(p.numel() for p in default.parameters())
    loss, logs = train_step(net, _batch(), make_optimizers(net))
    assert torch.isfinite(loss) and "l1_latent" in logs


def test_clr_gan_trains_its_encoder_with_the_latent_loss():
    net = _net("clr_gan")
    opts = make_optimizers(net)
    seen = _recording(opts)
    train_step(net, _batch(), opts)
    assert any(g is not None and g.abs().sum() > 0 for g in seen["E"])  # E's only signal is Eq. 4.7


def test_odd_batches_and_bad_settings_are_refused():
    net = _net("bicyclegan")
    with pytest.raises(ValueError, match="even number"):
        train_step(net, _batch(3), make_optimizers(net))
    with pytest.raises(ValueError, match="unknown variant"):
        BicycleGAN("bicycle", 32)
    with pytest.raises(ValueError, match="power of two"):
        BicycleGAN("bicyclegan", 48)
    with pytest.raises(ValueError, match="E_CNN"):
        BicycleGAN("bicyclegan", 32, encoder="vgg")


def test_training_with_several_optimisers_resumes_exactly(tmp_path):
    cfg = TrainConfig(steps=6, lr=1e-3, betas=(0.5, 0.999), lr_linear=(3, 5), checkpoint_every=2, log_every=2, seed=4)

    def get_batch(step):
        return _batch(4, seed=100 + step)

    def run(ckpt=None, stop=None):
        net = _net("bicyclegan")
        train(net, None, get_batch, cfg, device="cpu", progress=False, optimizer=make_optimizers(net, lr=1e-3),
              step_fn=train_step, checkpoint_path=ckpt, stop_after=stop)
        return net

    reference = run()
    ckpt = tmp_path / "b.ckpt"
    run(ckpt, stop=3)
    torch.manual_seed(77)
    resumed = run(ckpt)
    ref, got = reference.state_dict(), resumed.state_dict()
    assert all(torch.equal(ref[k], got[k]) for k in ref)
