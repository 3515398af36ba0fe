"""The one C extension (everything else is in pyproject.toml): the TreeSHAP tables' per-row
work, models/_treeshap.c. Optional: an install without a C compiler still works, and
models/treeshap.py then computes the same explanations with numpy, more slowly."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("models._treeshap", ["models/_treeshap.c"], optional=True,
                             extra_compile_args=["-O2"])])
