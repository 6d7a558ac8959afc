"""`python -m labelgate.server [--host H] [--port P] [--data-dir D] [--metrics-port M]
[--config FILE]`: run the gateway in the foreground until SIGTERM or Ctrl-C."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from labelgate.server.app import run
from labelgate.server.config import ConfigError, load_settings


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m labelgate.server",
        description="Serve the labelgate gRPC API (Rekognition Custom Labels semantics).",
    )
    # Defaults are None so an option left out does not override the file or environment.
    parser.add_argument("--config", type=Path, help="TOML config file (or LABELGATE_CONFIG)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="gRPC port (default 50051, 0 = any free port)")
    parser.add_argument("--data-dir", type=Path, help="where the local backend keeps its data")
    parser.add_argument("--metrics-port", type=int,
                        help="Prometheus /metrics port (default 9464, 0 = off)")
    parser.add_argument("--aws-port", type=int,
                        help="AWS-compatible HTTP port for boto3 (default 0 = off)")
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING, ... (default INFO)")
    parser.add_argument("--log-format", choices=("auto", "json", "text"),
                        help="auto: JSON lines unless stderr is a terminal")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(
            args.config, host=args.host, port=args.port, data_dir=args.data_dir,
            metrics_port=args.metrics_port, log_level=args.log_level, log_format=args.log_format,
            aws_port=args.aws_port,
        )
    except ConfigError as e:
        print(f"labelgate: {e}", file=sys.stderr)
        return 2
    run(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
