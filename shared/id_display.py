"""Who sees a full ID number: the holders of `Principal.can_read_full_id_number`; everyone
else sees the mask.

    present_id_number(principal, encrypted_or_plain, masked, *, vault=None) -> str
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from shared.principals import Principal

if TYPE_CHECKING:
    from shared.pii import PiiVault

_ID_NUMBER = re.compile(r"[0-9]{17}[0-9Xx]")


def present_id_number(principal: Principal, encrypted_or_plain: str, masked: str, *,
                      vault: PiiVault | None = None) -> str:
    """The full ID number for those allowed to read it, else `masked`. Ciphertext (from
    `shared.pii.PiiVault.encrypt`) is decrypted only for them, which needs `vault`."""
    if not principal.can_read_full_id_number:
        return masked
    if _ID_NUMBER.fullmatch(encrypted_or_plain):
        return encrypted_or_plain
    if vault is None:
        raise ValueError("an encrypted ID number needs the vault to be shown in full")
    return vault.decrypt(encrypted_or_plain)
