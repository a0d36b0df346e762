"""Runs vLLM's `vllm bench serve` (vllm/benchmarks/serve.py, from the source in VLLM_SRC) with the shims in stub/.

Usage: VLLM_SRC=/path/to/vllm-checkout python3 bench_serve.py [vllm bench serve flags...]
The tokenizer shim asks the server under test (--base-url, or --host/--port) to tokenize.
"""
import os
import sys

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "stub"))
src = os.environ.get("VLLM_SRC", "")
if not src or not os.path.isfile(os.path.join(src, "vllm", "benchmarks", "serve.py")):
    sys.exit("set VLLM_SRC to a folder holding vllm/benchmarks/serve.py (a vLLM checkout); see docs/benchmarks.md")


def server_url(argv):
    def flag(name, default):
        for i, a in enumerate(argv):
            if a == name and i + 1 < len(argv):
                return argv[i + 1]
            if a.startswith(name + "="):
                return a.split("=", 1)[1]
        return default
    base = flag("--base-url", None)
    return base or f"http://{flag('--host', '127.0.0.1')}:{flag('--port', '8000')}"


os.environ.setdefault("PDSERVE_TOKENIZER_URL", server_url(sys.argv[1:]))

from vllm.benchmarks import serve  # noqa: E402
from vllm.utils.argparse_utils import FlexibleArgumentParser  # noqa: E402

parser = FlexibleArgumentParser(description="vllm bench serve (vLLM's script, run by pdserve's shim)")
serve.add_cli_args(parser)
serve.main(parser.parse_args())
