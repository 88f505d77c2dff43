"""Blinded references to a donor on each gift: unlinkable without the donor's secret.

A gift's public record must not let anyone link it to the same person's other gifts (PIPL:
linkable records of an anonymous or masked individual are personal data), yet the donor must
be able to find and prove every gift of theirs in the books. So a gift carries, instead of the
donor's id, a reference made from a secret of the donor's:

    donor secret  = HKDF-SHA256(the donor's sealing key, info = "fund-ledger donor secret v1")
    gift opening  = HMAC-SHA256(donor secret, "fund-ledger gift opening v1" | donation id)
    reference     = "ref:" + hex SHA-256("fund-ledger gift reference v1" | gift opening)

References of two gifts are unrelated to anyone without the secret. The receipt of one gift can
carry its opening, which proves that gift and says nothing of any other; the donor secret
finds every gift of the donor in the public log. The secret derives from the donor's sealing
key, so ``forget`` destroys it with the key.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

SECRET_INFO = b"fund-ledger donor secret v1"
OPENING_LABEL = b"fund-ledger gift opening v1\x00"
REFERENCE_LABEL = b"fund-ledger gift reference v1\x00"
REFERENCE_PREFIX = "ref:"


def donor_secret(person_key: bytes) -> bytes:
    """The donor's secret, from the key their personal data is sealed under."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=SECRET_INFO).derive(
        person_key
    )


def gift_opening(secret: bytes, donation_id: str) -> bytes:
    """What proves one gift: its receipt may carry it without linking any other gift."""
    return hmac.new(secret, OPENING_LABEL + donation_id.encode(), hashlib.sha256).digest()


def gift_reference(opening: bytes) -> str:
    """The reference a gift's public record shows in place of its donor."""
    return REFERENCE_PREFIX + hashlib.sha256(REFERENCE_LABEL + opening).hexdigest()
