"""The C extensions (everything else is in pyproject.toml): the TreeSHAP tables' per-row work,
models/_treeshap.c; the lead record codec, streams/core/_record.c; the feature rows,
models/_columns.c; the fold of an event into a lead's state, models/_state.c. All optional:
an install without a C compiler still works, and models/treeshap.py / streams/core/record.py
/ models/columns.py / models/state.py then do the same work in Python (numpy), more slowly,
with the same results."""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("models._treeshap", ["models/_treeshap.c"], optional=True,
              extra_compile_args=["-O2"]),
    Extension("streams.core._record", ["streams/core/_record.c"], optional=True,
              extra_compile_args=["-O2"]),
    Extension("models._columns", ["models/_columns.c"], optional=True,
              depends=["models/_pyfloat.h"],
              extra_compile_args=["-O2"]),
    Extension("models._state", ["models/_state.c"], optional=True,
              depends=["models/_pyfloat.h"],
              extra_compile_args=["-O2"]),
])
