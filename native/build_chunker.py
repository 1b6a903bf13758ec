"""cffi build script for the native chunker (``aria_actors.storage._chunker``).

Run by setuptools at install time through ``setup.py``'s ``cffi_modules``; no prebuilt binary.
"""

from __future__ import annotations

import pathlib

from cffi import FFI

HERE = pathlib.Path(__file__).resolve().parent

ffibuilder = FFI()
ffibuilder.cdef(
    """
    uint32_t aria_chunker_discriminator(uint64_t avg);
    size_t aria_chunker_next(const uint8_t *buf, size_t len, size_t min, size_t max,
                             uint32_t discriminator, int eof);
    size_t aria_chunker_cut(const uint8_t *buf, size_t len, size_t min, size_t max,
                            uint32_t discriminator, int eof, uint64_t *ends, size_t cap);
    """
)
ffibuilder.set_source(
    "aria_actors.storage._chunker",
    '#include "chunker.h"',
    # Relative to the repository root, where setuptools runs the build: absolute paths would
    # end up in the wheel's build metadata.
    sources=["native/chunker.c"],
    include_dirs=["native"],
    extra_compile_args=["-O3"],
)

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
