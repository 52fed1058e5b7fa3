"""The learner's side of the boundary: sent as source text, with ``grading.boundary_data``, into
the kernel that runs a submission, and installed there as the module ``_fj_boundary``.

It does two things, both on request of the trusted grader: after an answer cell, write the
values of the answer's names as data (``export``); during a hidden test, call the learner's
functions on arguments the grader sends as data and send their results back (``serve``).
Nothing here decides a mark: a learner who tampers with it only changes what their own answers
look like to the grader, which checks them itself.
"""

# ``Writer``, ``Reader``, ``Unencodable`` and ``describe`` come from grading.boundary_data, whose
# source precedes this one in the module the kernel installs.

FUNCTIONS: dict = {}


def export(names: list, folder: str, capture: str) -> None:
    import IPython

    namespace = IPython.get_ipython().user_ns
    writer = Writer(folder, capture)  # noqa: F821 (from boundary_data)
    manifest = {}
    for name in names:
        if name not in namespace:
            continue
        value = namespace[name]
        try:
            if callable(value) and not isinstance(value, type) and not hasattr(value, "to_frame"):
                FUNCTIONS[(capture, name)] = value
                manifest[name] = {"kind": "function"}
            else:
                manifest[name] = {"kind": "value", "value": writer.encode(value)}
        except Exception as err:  # noqa: BLE001 (whatever a learner's object raises)
            manifest[name] = {"kind": "unavailable", "type": describe(value),  # noqa: F821
                              "why": str(err)[:200]}
    writer.write_json(f"{capture}.json", manifest)


def serve(address: str, folder: str) -> None:
    """Call the learner's functions for the grader until it says stop: requests and replies
    are length-prefixed JSON over a socket the grader listens on (an abstract name only it and
    this kernel know); frames and arrays go through ``folder``."""
    import json as _json
    import socket as _socket
    import struct as _struct

    connection = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    connection.connect(address)
    try:
        while True:
            header = receive(connection, 4)  # noqa: F821 (from boundary_data)
            if header is None:
                return
            body = receive(connection, _struct.unpack(">I", header)[0])  # noqa: F821
            if body is None:
                return
            request = _json.loads(body)
            if request.get("op") == "stop":
                return
            data = _json.dumps(_call(request, folder), allow_nan=False).encode("utf-8")
            connection.sendall(_struct.pack(">I", len(data)) + data)
    finally:
        connection.close()


def _call(request: dict, folder: str) -> dict:
    name = request.get("name")
    reader = Reader(folder)  # noqa: F821
    writer = Writer(folder, f"{request.get('id')}r")  # noqa: F821
    try:
        args = reader.decode(request["args"])
        kwargs = reader.decode(request["kwargs"])
        result = FUNCTIONS[(request["capture"], name)](*args, **kwargs)
        try:
            return {"ok": True, "value": writer.encode(result)}
        except Exception as err:  # noqa: BLE001
            return {"ok": False, "type": "NotData",
                    "message": f"{name} returned {describe(result)}, which cannot be passed "  # noqa: F821
                               f"to the grader as data ({str(err)[:100]})"}
    except KeyboardInterrupt:
        raise
    except BaseException as err:  # noqa: BLE001 (the learner's function may raise anything)
        return {"ok": False, "type": type(err).__name__[:60], "message": str(err)[:500]}
