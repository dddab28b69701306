"""The animatediff family: its model code is the `model` module, imported on the first use of any of its
names (videodpo.families.animatediff.X is model's X), so a stage that only reads the family's light
`settings` module, as every stage does to check params, loads no model library."""

from pathlib import Path


def __getattr__(name: str):
    if name.startswith("__"):  # Python's own probes (__path__, __file__ …) are the package's, never the model's
        raise AttributeError(name)
    if (Path(__file__).parent / f"{name}.py").is_file():  # a submodule (toy, hub …) is imported as itself
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    import videodpo.families.animatediff.model as model

    return getattr(model, name)
