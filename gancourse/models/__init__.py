"""Model families, one module each: ``mlp``, ``dcgan`` (more arrive with their lessons)."""

from gancourse.models.dcgan import DCGANDiscriminator, DCGANGenerator
from gancourse.models.init import count_parameters, dcgan_init
from gancourse.models.mlp import MLPDiscriminator, MLPGenerator

__all__ = ["DCGANDiscriminator", "DCGANGenerator", "MLPDiscriminator", "MLPGenerator",
           "count_parameters", "dcgan_init"]
