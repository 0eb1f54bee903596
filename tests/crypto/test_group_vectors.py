"""docs/protocol.md §10.5: the group vectors in the document hold for the implementation."""

from __future__ import annotations

import json
import re
from pathlib import Path

from stig.crypto.group import Epoch, advance, invite_code, open_sealed, read_invite, seal

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"


def vector() -> dict[str, object]:
    text = DOC.read_text(encoding="utf-8")
    (block,) = re.findall(r"```stig-group-vector\n(.*?)```", text, re.S)
    values: dict[str, object] = {}
    key = ""
    for line in block.splitlines():
        if line.startswith("  "):
            values[key] = str(values[key]) + line.strip()
            continue
        key, _, value = line.partition(": ")
        values[key] = value if key.endswith("_hex") else json.loads(value)
    return values


def test_the_documented_vector_holds() -> None:
    v = vector()
    chain = bytes.fromhex(str(v["chain_hex"]))
    day = int(str(v["day"]))
    epoch = Epoch.of(chain, day)
    assert advance(chain, 1).hex() == v["next_chain_hex"]
    assert epoch.seal_key.hex() == v["seal_key_hex"]
    assert epoch.tag.hex() == v["tag_hex"]
    assert epoch.anonymous.public_key.hex() == v["anonymous_public_key_hex"]
    assert invite_code(chain, day) == v["invite"]
    assert read_invite(str(v["invite"])) == (chain, day)
    inner = bytes.fromhex(str(v["inner_hex"]))
    payload = bytes.fromhex(str(v["payload_hex"]))
    assert seal(epoch, inner, bytes.fromhex(str(v["nonce_hex"]))) == payload
    assert open_sealed(epoch, payload) == inner
