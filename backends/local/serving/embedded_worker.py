"""One inference unit of the embedded runtime: an ONNX Runtime session in its own process.

    python -m labelgate.backends.local.serving.embedded_worker MODEL.onnx THREADS

Speaks length-prefixed pickles over stdin/stdout (a 4-byte big-endian length, then the
pickle). It first answers ("ready", None) once the session is open, or
("error", message) and exits. Then, per request, {input name: array} in and ("ok", {output
name: array}) or ("error", message) out, one at a time, until stdin closes. The parent is
the gateway, the only writer of stdin, so unpickling its messages is safe.
"""

from __future__ import annotations

import os
import pickle
import struct
import sys
from typing import Any, BinaryIO

HEADER = struct.Struct(">I")


def read_frame(stream: BinaryIO) -> Any:
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        raise EOFError
    (size,) = HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        raise EOFError
    return pickle.loads(data)


def write_frame(stream: BinaryIO, message: Any) -> None:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(HEADER.pack(len(data)) + data)
    stream.flush()


def main(argv: list[str]) -> int:
    # The protocol owns the real stdout; anything a library prints goes to stderr.
    out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    stdin = sys.stdin.buffer
    onnx_path, threads = argv[0], int(argv[1])
    try:
        from labelgate.backends.local.inference.predictor import open_session

        session = open_session(onnx_path, threads=threads)
        names = [o.name for o in session.get_outputs()]
    except Exception as exc:  # reported to the gateway, which fails the start with it
        write_frame(out, ("error", f"cannot load the model: {exc}"))
        return 1
    write_frame(out, ("ready", None))
    while True:
        try:
            inputs = read_frame(stdin)
        except EOFError:
            return 0
        try:
            outputs = session.run(names, inputs)
            write_frame(out, ("ok", dict(zip(names, outputs, strict=True))))
        except Exception as exc:
            write_frame(out, ("error", str(exc)))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
