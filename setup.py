"""Build the optional compiled kernels (src/leakhunter/_native.c).

Everything else is declared in pyproject.toml. The extension is optional: where
no C compiler is found the install still succeeds and the pprof reader takes
its numpy path, which gives the same answers more slowly.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "leakhunter._native",
            ["src/leakhunter/_native.c"],
            extra_compile_args=["-O2"],
            optional=True,
        )
    ]
)
