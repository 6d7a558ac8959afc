"""The committed stubs under clients/python are exactly what `make proto` generates."""

from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parents[2]
PROTO = "labelgate/v1/custom_labels.proto"
GENERATED = ["custom_labels_pb2.py", "custom_labels_pb2.pyi", "custom_labels_pb2_grpc.py"]


def test_stubs_match_proto(tmp_path):
    import grpc_tools

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    rc = protoc.main(
        [
            "protoc",
            f"-I{ROOT / 'proto'}",
            f"-I{well_known}",
            f"--python_out={tmp_path}",
            f"--pyi_out={tmp_path}",
            f"--grpc_python_out={tmp_path}",
            str(ROOT / "proto" / PROTO),
        ]
    )
    assert rc == 0
    for name in GENERATED:
        fresh = (tmp_path / "labelgate" / "v1" / name).read_text()
        committed = (ROOT / "clients" / "python" / "labelgate" / "v1" / name).read_text()
        assert committed == fresh, f"{name} is stale: run `make proto` and commit the result"
