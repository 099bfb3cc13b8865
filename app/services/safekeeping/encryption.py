"""Backup files sealed with a passphrase: scrypt derives the key, AES-256-GCM
seals the file in 1 MiB chunks, so a file of any size streams through in
little memory.

Layout: MAGIC, scrypt's cost (log2 n, r, p), a 16-byte salt, a 32-byte
passphrase check and a 7-byte nonce prefix make the header; then chunks, each
a 4-byte length and its ciphertext with the tag. A chunk's nonce is the prefix,
its number and a last-chunk flag, and every chunk authenticates the header, so
a chunk moved, dropped, changed or cut off at the end fails to open. The
passphrase check (the second half of scrypt's output, the key being the first)
tells a wrong passphrase from a damaged file."""
import hmac
import os
import struct
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

MAGIC = b"AIXIN-BACKUP-1\n"
CHUNK = 1 << 20
# scrypt n = 2**15, r = 8: 32 MiB and about a tenth of a second, once per file.
LOG2_N, R, P = 15, 8, 1
PASSPHRASE_MIN_LENGTH = 12
_HEADER = struct.Struct(">BBB16s32s7s")
_LENGTH = struct.Struct(">I")


class WrongPassphrase(Exception):
    """The passphrase does not open this file."""


class Damaged(Exception):
    """The file is not a whole, unaltered sealed backup."""


def is_sealed(path) -> bool:
    with open(path, "rb") as f:
        return f.read(len(MAGIC)) == MAGIC


def _derive(passphrase: str, salt: bytes, log2_n: int, r: int, p: int) -> tuple[bytes, bytes]:
    out = Scrypt(salt=salt, length=64, n=1 << log2_n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return out[:32], out[32:]


def _nonce(prefix: bytes, number: int, last: bool) -> bytes:
    return prefix + struct.pack(">I", number) + (b"\x01" if last else b"\x00")


def seal(source: BinaryIO, target: BinaryIO, passphrase: str) -> None:
    """Write `source` sealed with `passphrase` to `target`."""
    salt, prefix = os.urandom(16), os.urandom(7)
    key, check = _derive(passphrase, salt, LOG2_N, R, P)
    header = MAGIC + _HEADER.pack(LOG2_N, R, P, salt, check, prefix)
    target.write(header)
    aead = AESGCM(key)
    number, chunk = 0, source.read(CHUNK)
    while True:
        following = source.read(CHUNK) if chunk else b""
        last = not following
        sealed = aead.encrypt(_nonce(prefix, number, last), chunk, header)
        target.write(_LENGTH.pack(len(sealed)) + sealed)
        if last:
            return
        number, chunk = number + 1, following


def unseal(source: BinaryIO, target: BinaryIO, passphrase: str) -> None:
    """Write what `source` seals to `target`; WrongPassphrase or Damaged when it
    cannot (the caller throws away what was written so far)."""
    head = source.read(len(MAGIC) + _HEADER.size)
    if len(head) < len(MAGIC) + _HEADER.size or not head.startswith(MAGIC):
        raise Damaged("not a sealed backup, or cut short")
    log2_n, r, p, salt, check, prefix = _HEADER.unpack(head[len(MAGIC):])
    if not (10 <= log2_n <= 20 and 1 <= r <= 32 and 1 <= p <= 4):
        raise Damaged("unexpected key derivation cost")
    key, expected = _derive(passphrase, salt, log2_n, r, p)
    if not hmac.compare_digest(check, expected):
        raise WrongPassphrase()
    aead = AESGCM(key)
    number, sealed = 0, _read_chunk(source)
    while True:
        if sealed is None:
            raise Damaged("cut short: the last chunk is missing")
        following = _read_chunk(source)
        try:
            target.write(aead.decrypt(_nonce(prefix, number, following is None), sealed, head))
        except InvalidTag:
            raise Damaged(f"chunk {number} does not authenticate") from None
        if following is None:
            return
        number, sealed = number + 1, following


def _read_chunk(source: BinaryIO) -> bytes | None:
    raw = source.read(_LENGTH.size)
    if not raw:
        return None
    if len(raw) < _LENGTH.size:
        raise Damaged("cut short inside a chunk's length")
    (length,) = _LENGTH.unpack(raw)
    if length > CHUNK + 16:
        raise Damaged("a chunk longer than any this program writes")
    data = source.read(length)
    if len(data) < length:
        raise Damaged("cut short inside a chunk")
    return data
