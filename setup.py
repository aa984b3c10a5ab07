"""Build the compiled matching engine: `exchange/engine.py` through Cython (pure-Python mode) and gcc.

Everything else about the package is in pyproject.toml; this file only adds the one extension
module. `engine.py` stays the single source of the matching semantics: compiled, Cython reads its
`cython.*` declarations; interpreted, they do nothing. If Cython or the C compiler fails, the build
goes on without the extension and prints a warning, and `carbonmarket.exchange.engine` runs
interpreted (`carbonmarket.exchange.engine.COMPILED` is then False). Environment:

- `CARBONMARKET_ENGINE_BUILD=skip` builds no extension (the interpreted engine only);
- `CARBONMARKET_ENGINE_BUILD=require` makes a failed compilation an error instead (for CI).
"""

from __future__ import annotations

import os
import sys
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ENGINE_SOURCE = "src/carbonmarket/exchange/engine.py"
MODE = os.environ.get("CARBONMARKET_ENGINE_BUILD", "auto").strip().lower()
if MODE not in {"auto", "skip", "require"}:
    raise SystemExit(f"CARBONMARKET_ENGINE_BUILD must be auto, skip or require, not {MODE!r}")

# Compile-time settings of the engine. annotation_typing is off so that the Python annotations
# (for mypy) never become runtime type checks that would change what a bad command gets back:
# only the explicit cython.declare / cython.locals declarations in engine.py type anything.
DIRECTIVES = {"language_level": 3, "annotation_typing": False}


def _warn(message: str) -> None:
    bar = "!" * 78
    print(
        f"\n{bar}\nWARNING: {message}\nThe interpreted matching engine will be used.\n{bar}\n",
        file=sys.stderr,
    )


class OptionalBuildExt(build_ext):
    """build_ext that falls back to the interpreted engine (with a warning) when compiling fails."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as error:
            self._failed(error)

    def build_extension(self, ext: Any) -> None:
        try:
            super().build_extension(ext)
        except Exception as error:
            self._failed(error)

    def _failed(self, error: Exception) -> None:
        if MODE == "require":
            raise error
        _warn(f"the compiled matching engine could not be built ({type(error).__name__}: {error}).")


def _extensions() -> list[Extension]:
    if MODE == "skip":
        _warn("CARBONMARKET_ENGINE_BUILD=skip: the matching engine is not compiled.")
        return []
    try:
        from Cython.Build import cythonize

        return list(
            cythonize(
                [
                    Extension(
                        "carbonmarket.exchange.engine",
                        [ENGINE_SOURCE],
                        # Cython's cpython/type.pxd passes PyObject* where PyType_GenericAlloc takes
                        # PyTypeObject*; the same pointer, so the warning is noise.
                        extra_compile_args=["-Wno-incompatible-pointer-types"],
                    )
                ],
                compiler_directives=DIRECTIVES,
                build_dir="build/cython",  # the generated C stays out of the source tree
                quiet=True,
            )
        )
    except Exception as error:
        if MODE == "require":
            raise
        _warn(f"Cython could not translate the matching engine ({type(error).__name__}: {error}).")
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
