"""Builds the native chunker through cffi; all other metadata lives in pyproject.toml."""

from setuptools import setup

setup(cffi_modules=["native/build_chunker.py:ffibuilder"])
