from __future__ import annotations

import pytest

from devtools.channels.testing import RsaKeyPair


@pytest.fixture(scope="session")
def platform_key() -> RsaKeyPair:
    """Throwaway stand-in for the WeChat Pay platform key (or the Alipay key)."""
    return RsaKeyPair.generate()


@pytest.fixture(scope="session")
def other_key() -> RsaKeyPair:
    """A second throwaway key: signatures made with it must never verify."""
    return RsaKeyPair.generate()
