"""One way an author reads, in the CLI and the terminal UI (stig.node.authors)."""

from __future__ import annotations

from stig.node.authors import Authors, member_of
from stig.node.petnames import Petnames

ANA, ME, ANON = bytes([1]) * 32, bytes([7]) * 32, bytes([3]) * 32


def test_a_petname_then_a_persona_then_a_member_then_the_key() -> None:
    authors = Authors(Petnames({ANA: "ana-from-the-squat"}), {ME: "me"})
    assert authors.describe(ANA) == "ana-from-the-squat"
    assert authors.describe(ME) == "you (me)"
    assert authors.describe(ANON, anonymous_in="crew") == member_of("crew") == "a member of crew"
    assert authors.describe(ANON) == ANON.hex()[:12]
    assert Authors().describe(ANA) == ANA.hex()[:12]
