"""The animatediff family: its model code is the `model` module, imported on the first use of any of its
names (videodpo.families.animatediff.X is model's X; videodpo.families.model_on_first_use)."""

from videodpo.families import model_on_first_use

__getattr__ = model_on_first_use(__name__)
