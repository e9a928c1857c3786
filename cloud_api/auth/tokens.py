"""Access tokens: short-lived JWTs (HS256, PyJWT) signed with the site's keys.

Keys come from a file or the environment (``GRIDWATCH_JWT_KEYS`` /
``GRIDWATCH_JWT_KEY_FILE``): one key per line as ``<kid>:<secret>``, the first
signs, every listed one verifies, so a key is rotated by putting the new one
first and dropping the old one after the access-token lifetime. With no key
configured the API makes one for its own lifetime (fine for one process and the
demo; sessions survive a restart anyway, their refresh cookies are in the store).

A token says who (``sub``), which sign-in session (``sid``), the person's epoch
(``ep``, bumped when they are disabled or change their password) and the
session's CSRF value; roles and areas are looked up fresh on every request, so
a change to them applies at once.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import jwt

ALGORITHM = "HS256"
ISSUER = "gridwatch"
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MIN_SECRET_BYTES = 32


class KeyProblem(ValueError):
    """A configured key is unusable; the message names where and how to fix it."""


@dataclass(frozen=True)
class SigningKey:
    kid: str
    secret: bytes


def new_key_line() -> str:
    return f"k{secrets.token_hex(4)}:{secrets.token_urlsafe(48)}"


def parse_keys(text: str, where: str) -> list[SigningKey]:
    keys: list[SigningKey] = []
    for n, raw in enumerate(re.split(r"[\n,]", text), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        kid, sep, secret = line.partition(":")
        fix = "write each key as <kid>:<secret>; 'gridwatch users jwt-key' prints a new one"
        if not sep or not _KID.match(kid):
            raise KeyProblem(f"{where} entry {n}: not <kid>:<secret> ({fix})")
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise KeyProblem(
                f"{where} entry {n} ({kid}): the secret is shorter than {MIN_SECRET_BYTES} bytes ({fix})"
            )
        if any(k.kid == kid for k in keys):
            raise KeyProblem(f"{where} entry {n}: key id {kid!r} is listed twice ({fix})")
        keys.append(SigningKey(kid, secret.encode()))
    return keys


def load_keys(env_value: str, key_file: Path | None) -> tuple[list[SigningKey], bool]:
    """(keys, configured); a fresh random key when nothing is configured."""
    if env_value.strip():
        return parse_keys(env_value, "GRIDWATCH_JWT_KEYS"), True
    if key_file is not None:
        try:
            text = key_file.read_text()
        except OSError as exc:
            raise KeyProblem(f"GRIDWATCH_JWT_KEY_FILE {key_file}: cannot read it ({exc.strerror})") from None
        keys = parse_keys(text, str(key_file))
        if not keys:
            raise KeyProblem(f"{key_file}: no key in it ('gridwatch users jwt-key >> {key_file}' adds one)")
        return keys, True
    return [SigningKey("ephemeral", secrets.token_bytes(32))], False


@dataclass(frozen=True)
class AccessClaims:
    person_id: str
    session_id: str
    epoch: int
    csrf: str
    expires: int  # unix seconds


class TokenRefused(Exception):
    pass


class AccessTokens:
    """Issues and checks access tokens; remembers tokens already checked (until they expire)."""

    _CACHE_MAX = 20_000

    def __init__(self, keys: list[SigningKey], ttl_s: int) -> None:
        if not keys:
            raise ValueError("no signing key")
        self.keys = keys
        self.ttl_s = ttl_s
        self._by_kid = {k.kid: k.secret for k in keys}
        self._checked: dict[str, AccessClaims] = {}

    def issue(self, person_id: str, session_id: str, epoch: int, csrf: str, now: datetime) -> tuple[str, int]:
        iat = int(now.timestamp())
        exp = iat + self.ttl_s
        claims = {"iss": ISSUER, "sub": person_id, "sid": session_id, "ep": epoch, "csrf": csrf}
        token = jwt.encode(
            claims | {"iat": iat, "exp": exp},
            self.keys[0].secret,
            algorithm=ALGORITHM,
            headers={"kid": self.keys[0].kid},
        )
        return token, exp

    def check(self, token: str, now: datetime) -> AccessClaims:
        """The token's claims; raises TokenRefused (signature, algorithm, key, expiry, shape)."""
        claims = self._checked.get(token)
        if claims is None:
            claims = self._verify(token)
            if len(self._checked) >= self._CACHE_MAX:
                self._checked.clear()
            self._checked[token] = claims
        if now.timestamp() >= claims.expires:
            raise TokenRefused("the access token has expired: refresh it (POST /api/v1/auth/refresh)")
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            header = jwt.get_unverified_header(token)
            secret = self._by_kid.get(str(header.get("kid")))
            if secret is None:
                raise TokenRefused("the access token was signed with a key this site does not know")
            # Only HS256: 'none' and every other algorithm are refused here, whatever the header says.
            # Expiry is checked against the injected clock by the caller, not the machine's; so is
            # nothing else of time (PyJWT would compare 'iat' with the machine's clock: a site clock
            # ahead of it would refuse every token this API just issued).
            payload = jwt.decode(
                token,
                secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": ["sub", "sid", "ep", "exp", "iss", "csrf"],
                },
            )
            claims = AccessClaims(
                str(payload["sub"]),
                str(payload["sid"]),
                int(payload["ep"]),
                str(payload["csrf"]),
                int(payload["exp"]),
            )
        except jwt.PyJWTError as exc:
            raise TokenRefused(f"the access token is not valid: {exc}") from None
        except (TypeError, ValueError, OverflowError):
            raise TokenRefused("the access token's claims are malformed") from None
        return claims
