"""Kernel WebSocket frames between JupyterLab and the Jupyter server: parse them,
rewrite them, count them.

JupyterLab 4 and jupyter_server agree on the subprotocol
``v1.kernel.websocket.jupyter.org`` (``@jupyterlab/services``
``packages/services/src/kernel/serialize.ts``; ``jupyter_server`` ``serialize_msg_to_ws_v1``).
One frame is one kernel message, all binary::

    uint64 LE  n                      number of offsets
    uint64 LE  offsets[0 … n-1]       byte offsets from the frame's start
    bytes      channel                offsets[0] … offsets[1]  (utf-8: "shell", "iopub", …)
    bytes      header                 offsets[1] … offsets[2]  (JSON)
    bytes      parent_header          offsets[2] … offsets[3]  (JSON)
    bytes      metadata               offsets[3] … offsets[4]  (JSON)
    bytes      content                offsets[4] … offsets[5]  (JSON)
    bytes      buffers[i]             offsets[5+i] … offsets[6+i]

so ``n = 6 + len(buffers)`` and the last offset is the frame's length. Without the
subprotocol (an older frontend or server) the legacy format is used: a JSON text
frame for a message without buffers, else a binary frame of a big-endian uint32
count ``nbufs``, ``nbufs`` uint32 offsets, the whole message as JSON, then the buffers.

:class:`CommOpenBufferStripper` sits between the page and the server with
Playwright's ``page.route_web_socket`` and drops the binary buffers of every widget
``comm_open`` (and their ``buffer_paths``), as hosts whose widget manager ignores
them do (Colab's ``commChannelOpened``; Positron before posit-dev/positron#7228).
Everything else passes untouched, byte for byte.
"""

from __future__ import annotations

import json
import re
import struct
import threading
from dataclasses import dataclass, field
from typing import Any

V1 = "v1.kernel.websocket.jupyter.org"
#: The kernel channels WebSocket: /api/kernels/<id>/channels?session_id=…
CHANNELS_URL = re.compile(r"/api/kernels/[^/?]+/channels")

_HEAD = ("header", "parent_header", "metadata", "content")


@dataclass
class KernelMessage:
    """One kernel message as it travelled. ``raw`` keeps the JSON segments as they
    arrived (v1) so an unmodified message is re-sent byte for byte."""

    channel: str
    header: dict[str, Any]
    parent_header: dict[str, Any]
    metadata: dict[str, Any]
    content: dict[str, Any]
    buffers: list[bytes] = field(default_factory=list)
    protocol: str = V1  # V1 or "legacy"
    raw: dict[str, bytes] = field(default_factory=dict, repr=False)

    @property
    def msg_type(self) -> str:
        return self.header.get("msg_type", "")

    @property
    def comm_data(self) -> dict[str, Any]:
        """``content.data`` of a comm message ({} for others)."""
        data = self.content.get("data")
        return data if isinstance(data, dict) else {}


# -- v1.kernel.websocket.jupyter.org -------------------------------------------------------
def parse_v1(frame: bytes) -> KernelMessage:
    """A v1 binary frame → :class:`KernelMessage` (raises ValueError on a malformed one)."""
    frame = bytes(frame)
    if len(frame) < 8:
        raise ValueError(f"a v1 frame has at least 8 bytes, got {len(frame)}")
    (n,) = struct.unpack_from("<Q", frame, 0)
    if n < 6 or 8 * (1 + n) > len(frame):
        raise ValueError(f"bad offset count {n} for a frame of {len(frame)} bytes")
    offsets = list(struct.unpack_from(f"<{n}Q", frame, 8))
    if offsets[0] != 8 * (1 + n) or offsets != sorted(offsets) or offsets[-1] != len(frame):
        raise ValueError(f"bad offsets {offsets[:8]}… for a frame of {len(frame)} bytes")
    seg = [frame[a:b] for a, b in zip(offsets, offsets[1:])]
    raw = dict(zip(_HEAD, seg[1:5]))
    return KernelMessage(
        channel=seg[0].decode("utf-8"),
        **{k: json.loads(v) for k, v in raw.items()},
        buffers=seg[5:],
        protocol=V1,
        raw=raw,
    )


def serialize_v1(msg: KernelMessage) -> bytes:
    """:class:`KernelMessage` → a v1 frame; JSON segments that were not changed since
    parsing keep their original bytes."""
    parts = [msg.channel.encode("utf-8")]
    for name in _HEAD:
        value = getattr(msg, name)
        raw = msg.raw.get(name)
        if raw is None or json.loads(raw) != value:
            raw = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
        parts.append(raw)
    parts += [bytes(b) for b in msg.buffers]
    n = len(parts) + 1
    offsets = [8 * (1 + n)]
    for p in parts:
        offsets.append(offsets[-1] + len(p))
    return struct.pack(f"<Q{n}Q", n, *offsets) + b"".join(parts)


# -- the legacy format (no subprotocol) --------------------------------------------------------
def parse_legacy(frame: str | bytes) -> KernelMessage:
    if isinstance(frame, str):
        d, buffers = json.loads(frame), []
    else:
        (nbufs,) = struct.unpack_from("!I", frame, 0)
        offsets = [*struct.unpack_from(f"!{nbufs}I", frame, 4), len(frame)]
        bufs = [bytes(frame[a:b]) for a, b in zip(offsets, offsets[1:])]
        d, buffers = json.loads(bufs[0]), bufs[1:]
    return KernelMessage(
        channel=d.get("channel", ""),
        header=d.get("header", {}),
        parent_header=d.get("parent_header", {}),
        metadata=d.get("metadata", {}),
        content=d.get("content", {}),
        buffers=buffers,
        protocol="legacy",
        raw={"message": d},
    )


def serialize_legacy(msg: KernelMessage) -> str | bytes:
    d = {**msg.raw.get("message", {}), **{name: getattr(msg, name) for name in ("channel", *_HEAD)}}
    d.pop("buffers", None)
    if not msg.buffers:
        d["buffers"] = []
        return json.dumps(d)
    parts = [json.dumps(d).encode("utf-8"), *map(bytes, msg.buffers)]
    offsets = [4 * (len(parts) + 1)]
    for p in parts[:-1]:
        offsets.append(offsets[-1] + len(p))
    return struct.pack(f"!{len(parts) + 1}I", len(parts), *offsets) + b"".join(parts)


def parse(frame: str | bytes, protocol: str) -> KernelMessage:
    return parse_v1(frame) if protocol == V1 else parse_legacy(frame)


def serialize(msg: KernelMessage) -> str | bytes:
    return serialize_v1(msg) if msg.protocol == V1 else serialize_legacy(msg)


def frame_size(frame: str | bytes) -> int:
    """Bytes on the wire of a frame's payload (text frames are utf-8)."""
    return len(frame.encode("utf-8")) if isinstance(frame, str) else len(frame)


# -- the widget's messages ---------------------------------------------------------------------
def custom_content(msg: KernelMessage) -> dict[str, Any] | None:
    """The anywidget custom message inside a ``comm_msg`` (``data.method == "custom"``),
    or None."""
    if msg.msg_type != "comm_msg":
        return None
    data = msg.comm_data
    content = data.get("content") if data.get("method") == "custom" else None
    return content if isinstance(content, dict) else None


# -- the rewriting proxy ------------------------------------------------------------------------
@dataclass
class Stripped:
    comm_id: str
    target_name: str
    buffer_paths: list[list[Any]]
    buffer_bytes: list[int]
    state_keys: list[str]


@dataclass
class CommOpenBufferStripper:
    """Route the page's kernel WebSockets through Python; drop the buffers (and
    ``buffer_paths``) of every widget ``comm_open`` coming from the kernel on iopub;
    forward every other frame as it came. Also records what the page asked for
    (anywidget custom messages on shell) and what came back, for the assertions.

    Install before the page navigates: ``CommOpenBufferStripper().install(page)``.
    """

    target_name: str = "jupyter.widget"
    strip: bool = True  # False: forward comm_open untouched too (a control run)
    stripped: list[Stripped] = field(default_factory=list)
    sent_custom: list[dict[str, Any]] = field(default_factory=list)  # page → kernel
    received_custom: list[tuple[dict[str, Any], list[int]]] = field(default_factory=list)  # kernel → page
    updates_with_buffers: list[list[list[Any]]] = field(default_factory=list)  # buffer_paths of updates
    protocols: list[str] = field(default_factory=list)  # per connection: what the server picked
    frames_in: int = 0
    frames_out: int = 0
    errors: list[str] = field(default_factory=list)  # frames that failed to parse (forwarded as they were)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def install(self, page: Any) -> CommOpenBufferStripper:
        page.route_web_socket(CHANNELS_URL, self._route)
        return self

    def _route(self, ws: Any) -> None:
        server = ws.connect_to_server()
        # The page offers [V1] (JupyterLab 4); Playwright connects to the server with
        # the same protocols, and the server picks V1 when it offers it.
        protocol = V1 if V1 in (ws.protocols or []) else "legacy"
        self.protocols.append(protocol)

        def from_page(frame: str | bytes) -> None:
            self.frames_out += 1
            self._watch_out(frame, protocol)
            server.send(frame)

        def from_server(frame: str | bytes) -> None:
            self.frames_in += 1
            ws.send(self._rewrite_in(frame, protocol))

        ws.on_message(from_page)
        server.on_message(from_server)

    def _watch_out(self, frame: str | bytes, protocol: str) -> None:
        try:
            msg = parse(frame, protocol)
        except Exception as exc:  # a probe must never break the page
            self.errors.append(f"page → kernel: {exc!r}")
            return
        content = custom_content(msg)
        if content is not None:
            with self._lock:
                self.sent_custom.append(content)

    def _rewrite_in(self, frame: str | bytes, protocol: str) -> str | bytes:
        try:
            msg = parse(frame, protocol)
        except Exception as exc:
            self.errors.append(f"kernel → page: {exc!r}")
            return frame
        content = custom_content(msg)
        if content is not None:
            with self._lock:
                self.received_custom.append((content, [len(b) for b in msg.buffers]))
        if msg.channel != "iopub":
            return frame
        data = msg.comm_data
        if msg.msg_type == "comm_msg" and data.get("method") == "update" and data.get("buffer_paths"):
            self.updates_with_buffers.append(data["buffer_paths"])
        if not (
            self.strip
            and msg.msg_type == "comm_open"
            and msg.content.get("target_name") == self.target_name
            and (msg.buffers or data.get("buffer_paths"))
        ):
            return frame
        state = data.get("state") if isinstance(data.get("state"), dict) else {}
        with self._lock:
            self.stripped.append(
                Stripped(
                    comm_id=msg.content.get("comm_id", ""),
                    target_name=msg.content.get("target_name", ""),
                    buffer_paths=list(data.get("buffer_paths") or []),
                    buffer_bytes=[len(b) for b in msg.buffers],
                    state_keys=sorted(state),
                )
            )
        # ipywidgets 8's put_buffers dereferences buffers[i] for each path, so paths
        # without buffers would throw: drop both, and the frontend sees those traits
        # missing from the state (anywidget then has no value for them), as it does in
        # a manager that ignores buffers altogether.
        msg.content = {**msg.content, "data": {**data, "buffer_paths": []}}
        msg.buffers = []
        return serialize(msg)
