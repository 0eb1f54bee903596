"""Keys, signatures and proof of work: the pure cryptographic layer of stig.

Nothing here touches files, sockets or the clock; key files are turned into bytes and back by
``stig.crypto.keyfile`` and stored by ``stig.node.keyring``.
"""

from stig.crypto.persona import Persona, verify
from stig.crypto.pow import mint, work_bits

__all__ = ["Persona", "mint", "verify", "work_bits"]
