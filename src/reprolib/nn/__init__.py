"""Neural-network building blocks shared by the chapters.

* :mod:`reprolib.nn.backbones`: ImageNet trunks (AlexNet, VGG16, SqueezeNet 1.1) with torchvision's
  state-dict keys, returning the LPIPS taps.
* :mod:`reprolib.nn.pretrained`: their ImageNet weights and the LPIPS linear layers, offline.
* :mod:`reprolib.nn.gan`: GAN losses over multi-scale maps, PatchGAN and multi-scale discriminators.
* :mod:`reprolib.nn.unet`: the U-Net generator with a latent code (z at every level or at the input).
* :mod:`reprolib.nn.latent`: Gaussian latent codes: the encoders, reparameterisation and the KL to N(0, I).
"""

from reprolib.nn.backbones import (  # noqa: F401
    BACKBONES,
    IMAGENET_MEAN,
    IMAGENET_STD,
    TAP_CHANNELS,
    AlexNetFeatures,
    FeatureTaps,
    Fire,
    SqueezeNet11Features,
    VGG16_RELU_X_1,
    VGG16Features,
    build_backbone,
    imagenet_normalize,
    vgg16_relu_x_1,
)
