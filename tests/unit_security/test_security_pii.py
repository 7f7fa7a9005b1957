"""Personal data in shared/: the one ID-number mask and what it leaves to guess, ID numbers
normalised before validation and hashing, text with control and format characters refused,
versioned PII keys under both suites, and secrets refused outside development and tests."""

from __future__ import annotations

import base64
import datetime as dt
import itertools
import random

import pytest
from pydantic import BaseModel, ValidationError

from shared.idnumber import (
    InvalidIdNumber,
    MaskedIdNumber,
    check_character,
    mask_id_number,
    parse_id_number,
)
from shared.pii import LEGACY, PiiKey, PiiKeyError, PiiVault, sm4_available, vault_for
from shared.settings import DEV_PII_KEY, Settings
from shared.text import PersonName, PlainText, has_unsafe_characters

ID = "370481198503156526"  # the example: born 1985-03-15, female (2 is even)
OLD_MASK = ID[:6] + "*" * 8 + ID[14:]  # 370481********6526, the mask of the issue
AES_SECRET = "aes-" + "k7Qw9ZpL2mX4vB8nR1tY6uE3sD5fG0hJ"
SM4_SECRET = "sm4-" + "Hq2Wv7Lz0Rk5Tn8Xp3Ys6Ma1Cd4Fb9Gj"


def candidates(mask: str, *, birth: dt.date | None, birth_year: int | None = None,
               sex: str | None) -> list[str]:
    """Every valid ID number that fits `mask` and what else the reader knows (the region
    always: the mask shows it)."""
    region = mask[:6]
    days: list[dt.date]
    if birth is not None:
        days = [birth]
    else:
        assert birth_year is not None
        start = dt.date(birth_year, 1, 1)
        length = (dt.date(birth_year + 1, 1, 1) - start).days
        days = [start + dt.timedelta(n) for n in range(length)]
    out = []
    for day in days:
        for seq in range(1000):
            if sex is not None and (seq % 2 == 1) != (sex == "male"):
                continue
            first17 = f"{region}{day:%Y%m%d}{seq:03d}"
            number = first17 + check_character(first17)
            if all(m in ("*", c) for m, c in zip(mask, number, strict=True)):
                out.append(number)
    return out


# --- the mask -----------------------------------------------------------------------------

def test_the_old_mask_with_the_birth_date_gave_the_number() -> None:
    """What the issue found: the old mask and the birth date leave exactly one number."""
    assert candidates(OLD_MASK, birth=dt.date(1985, 3, 15), sex=None) == [ID]


def test_the_mask_with_birth_date_sex_and_region_leaves_45_numbers() -> None:
    mask = mask_id_number(ID)
    assert mask == "370481***********6"
    found = candidates(mask, birth=dt.date(1985, 3, 15), sex="female")
    assert ID in found and len(found) in (45, 46)
    assert len(candidates(mask, birth=dt.date(1985, 3, 15), sex=None)) in (90, 91)


def test_without_the_birth_date_the_birth_year_leaves_thousands() -> None:
    found = candidates(mask_id_number(ID), birth=None, birth_year=1985, sex="female")
    assert ID in found and len(found) > 16_000


def test_every_18_character_number_keeps_the_region_and_the_check_character_only() -> None:
    for first17 in ("11010519491231002", "44030819990101101", "81000019900101123"):
        number = first17 + check_character(first17)
        assert mask_id_number(number) == number[:6] + "*" * 11 + number[17]


def test_the_mask_is_idempotent_and_remasks_old_masks() -> None:
    assert mask_id_number(mask_id_number(ID)) == mask_id_number(ID)
    assert mask_id_number(OLD_MASK) == mask_id_number(ID)

    class Out(BaseModel):
        id_number_masked: MaskedIdNumber

    assert Out(id_number_masked=OLD_MASK).id_number_masked == "370481***********6"


def test_mistyped_numbers_show_at_most_the_region() -> None:
    assert mask_id_number(ID[:17]) == ID[:6] + "*" * 11
    assert mask_id_number(ID[:15]) == ID[:6] + "*" * 9
    assert mask_id_number(ID[:12]) == "*" * 12


# --- ID numbers at the edge ---------------------------------------------------------------

DEVANAGARI = str.maketrans("0123456789", "०१२३४५६७८९")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789X", "０１２３４５６７８９Ｘ")


@pytest.mark.parametrize("text", [
    "3७०४८११९८५०३१५६५२6",  # the number
    ID.translate(DEVANAGARI),
    ID.translate(ARABIC_INDIC),
    ID[:5] + "\u200b" + ID[5:],  # a zero-width space
    ID[:9] + "\u202e" + ID[9:],
    ID[:9] + "\u00ad" + ID[9:],  # a soft hyphen
])
def test_lookalike_digits_and_invisible_characters_are_refused(text: str) -> None:
    with pytest.raises(InvalidIdNumber, match="只能包含半角数字0-9和X"):
        parse_id_number(text)


@pytest.mark.parametrize("text", [ID.translate(FULLWIDTH), f" {ID} ", f"{ID[:6]} {ID[6:]}",
                                  "\u3000" + ID])
def test_fullwidth_digits_and_spaces_give_the_same_number(text: str) -> None:
    assert parse_id_number(text).value == ID
    vault = PiiVault(AES_SECRET)
    assert vault.lookup_hash(text) == vault.lookup_hash(ID)


def test_the_check_character_is_gb_11643s_and_refuses_anything_but_17_digits() -> None:
    """The check character agrees with the standard's definition (weights 2^(17-i) mod 11,
    then 12 - sum mod 11) on 5,000 random numbers and the published example, and refuses
    what is not 17 ASCII digits instead of answering for it."""
    rng = random.Random(11643)
    for _ in range(5000):
        first17 = "".join(rng.choice("0123456789") for _ in range(17))
        total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
        assert check_character(first17) == "0123456789X"[(12 - total % 11) % 11]
    assert check_character("11010519491231002") == "X"  # GB 11643-1999's example
    for bad in ("1101051949123100", "110105194912310021", "1101051949123100X",
                "１１０１０５１９４９１２３１００２"):
        with pytest.raises(ValueError):
            check_character(bad)


def test_a_lower_case_x_is_the_check_character_x() -> None:
    first17 = next(f for f in (f"37048119850315{n:03d}" for n in range(1000))
                   if check_character(f) == "X")
    assert parse_id_number(first17 + "x").value == first17 + "X"
    # NFKC folds the fullwidth Ｘ and the roman numeral Ⅹ into X: the same number again
    assert parse_id_number(first17 + "Ｘ").value == first17 + "X"
    assert parse_id_number(first17 + "Ⅹ").value == first17 + "X"


# --- text shown to others -----------------------------------------------------------------

class Body(BaseModel):
    name: PersonName
    note: PlainText | None = None


@pytest.mark.parametrize("char", ["\u202e", "\u2067", "\u200f", "\u200b", "\u200d", "\ufeff",
                                  "\u00ad", "\u2060", "\U000e0041", "\x00", "\x1b", "\x85",
                                  "\u2028"])
def test_control_and_format_characters_are_refused_in_names_and_notes(char: str) -> None:
    with pytest.raises(ValidationError) as name_error:
        Body(name="张" + char + "三")
    assert name_error.value.errors()[0]["loc"] == ("name",)
    with pytest.raises(ValidationError) as note_error:
        Body(name="张三", note="已核实" + char)
    assert note_error.value.errors()[0]["loc"] == ("note",)
    assert has_unsafe_characters("a" + char)


def test_line_breaks_are_refused_in_names_only() -> None:
    assert Body(name="张三", note="第一行\n第二行\t完").note == "第一行\n第二行\t完"
    with pytest.raises(ValidationError):
        Body(name="张\n三")


def test_rare_characters_of_names_stay_allowed() -> None:
    for name in ("欧阳娜娜", "𠮷野家", "王\ue000明", "阿依古丽·买买提", "Zoë"):
        assert Body(name=name).name == name


# --- keys, versions and suites ------------------------------------------------------------

SUITES = [("aes", AES_SECRET), ("sm4", SM4_SECRET)]


def test_sm4_gcm_and_hmac_sm3_are_available_in_the_installed_cryptography() -> None:
    assert sm4_available() is None


@pytest.mark.parametrize(("suite", "secret"), SUITES)
def test_encrypt_decrypt_and_hash_under_each_suite(suite: str, secret: str) -> None:
    vault = PiiVault([PiiKey(3, suite, secret)])
    sealed = vault.encrypt(ID)
    assert sealed.startswith(f"v3.{suite}:") and ID not in sealed
    assert vault.decrypt(sealed) == ID
    assert vault.encrypt(ID) != sealed  # a fresh nonce each time
    digest = vault.lookup_hash(ID)
    assert digest.startswith(f"v3.{suite}:") and len(digest) == len(f"v3.{suite}:") + 64
    assert vault.lookup_hash(ID) == digest  # deterministic
    assert vault.lookup_hash(ID[:-1] + "7") != digest
    label, _, body = sealed.partition(":")
    raw = bytearray(base64.b64decode(body))
    raw[14] ^= 1  # one bit of the ciphertext
    tampered = f"{label}:{base64.b64encode(bytes(raw)).decode()}"
    with pytest.raises(PiiKeyError):
        vault.decrypt(tampered)


def test_the_two_suites_give_different_hashes_and_do_not_open_each_other() -> None:
    aes = PiiVault([PiiKey(1, "aes", AES_SECRET)])
    sm4 = PiiVault([PiiKey(1, "sm4", AES_SECRET)])  # same secret, same version number
    assert aes.lookup_hash(ID).split(":")[1] != sm4.lookup_hash(ID).split(":")[1]
    with pytest.raises(PiiKeyError, match="v1.sm4"):
        aes.decrypt(sm4.encrypt(ID))


def test_reads_accept_every_configured_version_and_writes_use_the_current() -> None:
    old = PiiVault([PiiKey(1, "aes", AES_SECRET)])
    ring = PiiVault([PiiKey(2, "sm4", SM4_SECRET), PiiKey(1, "aes", AES_SECRET)], current=2)
    assert ring.decrypt(old.encrypt(ID)) == ID
    assert ring.encrypt(ID).startswith("v2.sm4:")
    assert ring.lookup_hash(ID).startswith("v2.sm4:")
    hashes = ring.lookup_hashes(ID)
    assert hashes[0] == ring.lookup_hash(ID) and old.lookup_hash(ID) in hashes
    assert ring.is_current(ring.encrypt(ID)) and not ring.is_current(old.encrypt(ID))
    index = ring.hash_index([ID])
    assert set(index) == set(hashes) and set(index.values()) == {ID}
    with pytest.raises(PiiKeyError, match="v2.sm4"):
        old.decrypt(ring.encrypt(ID))


def test_values_written_before_versions_are_version_1_aes() -> None:
    """The derivation is unchanged: an unprefixed ciphertext or hash of the old code opens
    and matches under a version-1 AES key of the same secret."""
    import hashlib
    import hmac
    import os

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    root = AES_SECRET.encode()
    legacy_hash = hmac.new(hmac.new(root, b"canbao/lookup-hash/v1", hashlib.sha256).digest(),
                           ID.encode(), hashlib.sha256).hexdigest()
    nonce = os.urandom(12)
    legacy_sealed = base64.b64encode(nonce + AESGCM(hmac.new(
        root, b"canbao/encryption/v1", hashlib.sha256).digest()).encrypt(
        nonce, ID.encode(), b"canbao-pii")).decode()
    ring = PiiVault([PiiKey(2, "sm4", SM4_SECRET), PiiKey(1, "aes", AES_SECRET)], current=2)
    assert ring.decrypt(legacy_sealed) == ID
    assert legacy_hash in ring.lookup_hashes(ID)
    assert ring.lookup_hashes(ID)[1] == f"{LEGACY}:{legacy_hash}"
    only_sm4 = PiiVault([PiiKey(2, "sm4", SM4_SECRET)])
    assert legacy_hash not in only_sm4.lookup_hashes(ID)
    with pytest.raises(PiiKeyError, match=LEGACY):
        only_sm4.decrypt(legacy_sealed)


def test_settings_build_the_key_ring() -> None:
    settings = Settings(environment="test", pii_key=SM4_SECRET, pii_key_version=2,
                        pii_suite="sm4", pii_previous_keys={1: {"suite": "aes", "key": AES_SECRET}})
    vault = vault_for(settings)
    assert vault.current.label == "v2.sm4" and vault.labels == ["v2.sm4", "v1.aes"]
    assert vault.decrypt(vault_for(AES_SECRET).encrypt(ID)) == ID
    with pytest.raises(ValidationError, match="CANBAO_PII_PREVIOUS_KEYS holds version 2"):
        Settings(environment="test", pii_key=SM4_SECRET, pii_key_version=2,
                 pii_previous_keys={2: {"suite": "aes", "key": AES_SECRET}})


# --- secrets outside development and tests ------------------------------------------------

@pytest.mark.parametrize("key", [
    "replace-with-a-long-random-secret",  # deploy/.env.example
    DEV_PII_KEY,
    "change-me-change-me-change-me-change-me",
    "k3Y-short",
    "a" * 64,
])
def test_placeholder_short_and_repetitive_pii_keys_are_refused_in_production(key: str) -> None:
    with pytest.raises(ValidationError, match="CANBAO_PII_KEY"):
        Settings(environment="production", pii_key=key)
    assert Settings(environment="development", pii_key=key).pii_key == key
    assert Settings(environment="test", pii_key=key).pii_key == key


def test_the_example_placeholder_is_refused_as_a_previous_key_too() -> None:
    with pytest.raises(ValidationError, match=r"CANBAO_PII_PREVIOUS_KEYS\[1\]"):
        Settings(environment="production", pii_key=SM4_SECRET, pii_key_version=2,
                 pii_previous_keys={1: {"key": "replace-with-a-long-random-secret"}})


def test_a_random_key_is_accepted_in_production() -> None:
    for secret, suite in itertools.product((AES_SECRET, SM4_SECRET), ("aes", "sm4")):
        assert Settings(environment="production", pii_key=secret, pii_suite=suite).pii_suite \
            == suite
