"""`python -m bench [NAME ...]` runs the named benchmarks (all when none is named)."""

from __future__ import annotations

import argparse
import importlib

# name -> "module" (its main()) or "module:function".
BENCHMARKS = {
    "gateway_overhead": "bench.gateway_overhead",
    "manifest_import": "bench.manifest_import",
    "serving": "bench.serving",
    "training_clothing10": "bench.training:main_clothing10",
    "training_deeppcb_multilabel": "bench.training:main_deeppcb_multilabel",
    "training_deeppcb": "bench.training:main_deeppcb",
}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help=f"benchmarks to run: {', '.join(BENCHMARKS)}")
    args = parser.parse_args()
    unknown = set(args.names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    for name in args.names or BENCHMARKS:
        module, _, function = BENCHMARKS[name].partition(":")
        getattr(importlib.import_module(module), function or "main")()


if __name__ == "__main__":
    main()
