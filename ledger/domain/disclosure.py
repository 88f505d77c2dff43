"""What of a donor may be published: the masking rule for names, and nothing else."""

from __future__ import annotations

# Two-character (compound) surnames, so 欧阳明华 masks as 欧阳** and not 欧***.
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "长孙",
        "宇文",
        "司徒",
        "夏侯",
        "令狐",
        "端木",
        "西门",
        "南宫",
        "独孤",
        "轩辕",
        "呼延",
        "百里",
        "东郭",
        "闻人",
        "赫连",
        "澹台",
        "公冶",
        "宗政",
        "濮阳",
        "太叔",
        "申屠",
        "钟离",
        "万俟",
        "第五",
    ]
)

ANONYMOUS_ZH = "爱心人士"
ANONYMOUS_EN = "Anonymous donor"
ORGANISATION_KINDS = frozenset({"government", "foundation", "enterprise", "community_org"})


def _is_cjk(text: str) -> bool:
    return any("\u3400" <= ch <= "\u9fff" or "\uf900" <= ch <= "\ufaff" for ch in text)


def mask_name(name: str) -> str:
    """Mask a person's name: keep the surname, star the rest.

    张三 -> 张*, 张三丰 -> 张**, 欧阳明华 -> 欧阳**, 司马文 -> 司马*; Latin names keep each
    word's first letter: David Chen -> D**** C***. A one-character name is starred whole.
    """
    name = name.strip()
    if _is_cjk(name):
        surname_chars = 2 if name[:2] in COMPOUND_SURNAMES and len(name) > 2 else 1
        if len(name) <= surname_chars:
            return "*" * len(name)
        return name[:surname_chars] + "*" * (len(name) - surname_chars)
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())


def mask_organisation(name: str) -> str:
    """An organisation that asked to be masked keeps its first two characters."""
    name = name.strip()
    return name[:2] + "*" * max(len(name) - 2, 1) if len(name) > 2 else "*" * len(name)


def public_name(name: str, kind: str, disclosure: str, *, lang: str = "zh") -> str:
    """The name a donor may be shown under on a public page or export."""
    if disclosure == "named":
        return name
    if disclosure == "anonymous":
        return ANONYMOUS_EN if lang == "en" else ANONYMOUS_ZH
    if kind in ORGANISATION_KINDS:
        return mask_organisation(name)
    return mask_name(name)


def public_donor_id(kind: str, disclosure: str) -> bool:
    """Whether a donor's id may be published beside their gifts. An id links every gift of
    its donor: published for organisations that did not ask to be anonymous, never for a
    person (whose linked gifts are personal data) nor an anonymous organisation."""
    return kind in ORGANISATION_KINDS and disclosure != "anonymous"


# Personal data beyond the public variant, field by field. Who may see each is one table of
# the API (``api.access.FIELD_READERS``); the command line's operator sees them all.
DONOR_NAME = "donor_name"  # the real name of a masked or anonymous individual donor
DONOR_CONTACT = "donor_contact"  # a donor's phone numbers and addresses
GIFT_NOTE = "gift_note"  # a note on a gift (it may say anything about the giver)
PAYEE_NAME = "payee_name"  # a person the fund paid
VOUCHER_HASH = "voucher_sha256"  # the hash of a voucher's scan
GIFT_PROOF = "gift_proof"  # a donor's secret, a gift's opening (ledger.domain.gift_refs)
EVERY_FIELD = frozenset(
    {DONOR_NAME, DONOR_CONTACT, GIFT_NOTE, PAYEE_NAME, VOUCHER_HASH, GIFT_PROOF}
)
