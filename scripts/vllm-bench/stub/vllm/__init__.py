"""The few pieces of vLLM that its benchmark client imports, for running it without vLLM installed.

vllm.benchmarks itself comes from the vLLM source the user points VLLM_SRC at: this package's path lists
that folder after this one, so what is here (tokenizer, argparse, logging helpers) wins and the rest is
vLLM's own code, unchanged.
"""
import os

__version__ = "pdserve-shim"
__path__ = [os.path.dirname(__file__)] + [os.path.join(p, "vllm") for p in os.environ.get("VLLM_SRC", "").split(os.pathsep) if p]

from vllm.utils.argparse_utils import FlexibleArgumentParser  # noqa: E402,F401
