"""`labelgate`: the command line.

    labelgate create-project --project-name widgets
    labelgate create-dataset --project-arn ARN --dataset-type TRAIN --manifest train.manifest
    labelgate wait project-version-running --project-arn ARN --version-names v1
    labelgate watch-project-version --project-version-arn ARN     (labelgate extension)
    labelgate export-model --project-version-arn ARN --output model.zip   (extension)
    labelgate start-model --project-version-arn ARN [--min-inference-units N]   (extension)
    labelgate stop-model --project-version-arn ARN                     (extension)
    labelgate serve --port 50051 --data-dir ./data

Commands and options are those of `aws rekognition` for the Custom Labels operations.
Output is the response as JSON (or the AWS CLI's text format), optionally narrowed by a
JMESPath `--query`. Errors print one line on stderr; exit codes follow the AWS
CLI: 252 bad parameters, 254 an error from the service, 255 any other failure (connection,
waiter), 130 interrupted.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Sequence

import grpc

from labelgate.cli import _output
from labelgate.cli._commands import (
    ServerNotInstalledError,
    run_operation,
    run_serve,
    run_wait,
)
from labelgate.cli._extensions import ACTION as EXTENSION_ACTION
from labelgate.cli._extensions import TrainingFailedError, run_extension
from labelgate.cli._params import ParamError
from labelgate.cli._parser import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_PARAM,
    EXIT_SERVICE,
    UsageError,
    build_parser,
    request_params,
)
from labelgate.client import Client, ClientOptions, LabelgateConnectionError, WaiterError
from labelgate.errors import LabelgateError


def _client(endpoint: str, backend: str | None, timeout: float) -> Client:
    target = endpoint.rstrip("/")
    credentials = None
    for scheme in ("grpcs://", "https://"):
        if target.startswith(scheme):
            target, credentials = target[len(scheme):], grpc.ssl_channel_credentials()
    for scheme in ("grpc://", "http://"):
        target = target.removeprefix(scheme)
    options = ClientOptions(timeout=timeout or None, credentials=credentials)
    return Client(target, options=options, backend=backend)


def _fail(message: str, code: int, debug: bool) -> int:
    if debug:
        traceback.print_exc(file=sys.stderr)
    print(message.replace("\n", " "), file=sys.stderr)
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the process exit code."""
    try:
        ns = build_parser().parse_args(argv)
    except UsageError as e:
        return _fail(str(e), EXIT_PARAM, False)
    except SystemExit as e:  # --help / --version
        return e.code if isinstance(e.code, int) else EXIT_OK
    debug: bool = ns.debug
    if debug:
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr,
                            format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        if ns.action == "serve":
            run_serve(ns)
            return EXIT_OK
        params = request_params(ns)
        query = _output.compile_query(ns.query)
        with _client(ns.endpoint, ns.backend, ns.cli_read_timeout) as client:
            if ns.action == "wait":
                run_wait(client, ns, params)
            elif ns.action == EXTENSION_ACTION:
                result = run_extension(client, ns)
                _output.write(result, sys.stdout, ns.output, query)
            else:
                result = run_operation(client, ns, params)
                _output.write(result, sys.stdout, ns.output, query)
        return EXIT_OK
    except ServerNotInstalledError as e:
        return _fail(str(e), EXIT_FAILURE, debug)
    except (UsageError, ParamError) as e:
        return _fail(str(e), EXIT_PARAM, debug)
    except (LabelgateConnectionError, WaiterError, TrainingFailedError) as e:
        return _fail(e.one_line(), EXIT_FAILURE, debug)
    except LabelgateError as e:
        if debug and e.request_id:
            print(f"request id: {e.request_id}", file=sys.stderr)
        return _fail(e.one_line(), EXIT_SERVICE, debug)
    except KeyboardInterrupt:
        return _fail("", EXIT_INTERRUPTED, False)
    except BrokenPipeError:
        # `labelgate list-dataset-entries ... | head`: the reader left; say nothing more, and
        # keep Python from complaining when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILURE
    except Exception as e:  # a local failure or a bug: still one line, details with --debug
        return _fail(f"{type(e).__name__}: {e}", EXIT_FAILURE, debug)


if __name__ == "__main__":
    sys.exit(main())
