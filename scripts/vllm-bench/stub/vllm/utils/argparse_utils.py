import argparse


class FlexibleArgumentParser(argparse.ArgumentParser):
    """vLLM's parser also takes --flag_with_underscores; the benchmark needs nothing more."""

    def parse_args(self, args=None, namespace=None):
        import sys
        args = sys.argv[1:] if args is None else list(args)
        fixed = []
        for a in args:
            if a.startswith("--") and "_" in a.split("=", 1)[0]:
                key, *rest = a.split("=", 1)
                a = "=".join([key.replace("_", "-")] + rest)
            fixed.append(a)
        return super().parse_args(fixed, namespace)
