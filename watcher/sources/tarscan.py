"""Stream a release tarball and look for a feature marker in its source.

Why the source and not the notes: docs/architecture.md, «What support landed means».

The body of ``GET /repos/{o}/{r}/tarball/{tag}`` arrives as byte chunks. It is a
gzip-compressed tar as ``git archive`` writes it: a pax global header whose
``comment`` is the commit SHA, then every file under one top-level directory
``{owner}-{repo}-{sha7}/``. :func:`scan_tarball` reads it once, front to back,
without ever holding more than a few MiB: gzip is inflated here with a bounded
output size, ``tarfile`` walks the result in stream mode, members that the globs
exclude are read past without being kept, and matching files are searched in
chunks. Nothing is written to disk and links are never followed.

Every way the archive can be wrong (truncated, corrupt, oversized, unsafe) ends in
one :class:`~watcher.core.errors.ArchiveError` naming the source URL; errors raised by
the chunk iterator itself (the HTTP transport) pass through unchanged so the caller
can translate them as network errors.
"""

from __future__ import annotations

import io
import re
import tarfile
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Self

from wcmatch import glob as wglob

from watcher.config.model import FeatureConfig, ScanCaps
from watcher.core.errors import ArchiveError
from watcher.core.models import FeatureHit, FeatureScan
from watcher.sources.comments import code_part

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = ["MAX_HITS", "Markers", "ScanOutcome", "scan_tarball", "scan_tarball_many"]

MiB = 1024 * 1024
# tarfile's read-ahead, and how much of a matching member is searched at a time.
# Measured (benchmarks/feature_scan.py) rather than guessed: 64 KiB already makes the
# per-read Python overhead of skipping members negligible, while 256 KiB or 1 MiB
# buffers were about twice as slow, because tarfile copies its whole buffer on every
# small read (each member header) and because bytes objects above glibc's 128 KiB
# mmap threshold are mapped and unmapped each time, faulting in fresh pages.
TAR_BUFSIZE = 64 * 1024
MEMBER_READ_SIZE = 64 * 1024
# Compressed input is fed to zlib in slices of at most this size: with an output
# limit, zlib hands back the unconsumed input as a new bytes object, so a huge chunk
# would otherwise be copied again and again.
INFLATE_SLICE = 64 * 1024
# Bytes kept either side of the marker for a hit's text: the whole line when it is
# shorter, so a hit's text is at most about 200 characters plus the marker.
CONTEXT_BYTES = 100
# With all_evidence, the scan stops collecting (and reading) after this many code hits.
MAX_HITS = 50
# A member up to this size is read whole (one bytes object) so that comments are told
# from code with the state of the whole file; bigger ones are streamed, judged per line.
WHOLE_MEMBER_BYTES = 1 * MiB
# pax / GNU long-name headers are read whole by tarfile; git writes a few hundred bytes.
MAX_META_HEADER_BYTES = 1 * MiB
_META_TYPES = frozenset(
    {
        tarfile.XHDTYPE,
        tarfile.XGLTYPE,
        tarfile.SOLARIS_XHDTYPE,
        tarfile.GNUTYPE_LONGNAME,
        tarfile.GNUTYPE_LONGLINK,
    }
)
# Archive paths are git paths: "/"-separated and case-sensitive whatever the host OS,
# and "**" means every file, dotfiles (.github/...) included.
_GLOB_FLAGS = wglob.GLOBSTAR | wglob.DOTGLOB | wglob.BRACE | wglob.CASE | wglob.FORCEUNIX
_COMMIT_SHA = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
_CAP_KEY = "watch[].feature.caps.{}"
_RETRY_HINT = "retry later; if it persists, the server is sending a broken archive"


#: What a scan came to for one rule: its FeatureScan, or the exception that ended it.
ScanOutcome = FeatureScan | Exception


def scan_tarball(chunks: Iterable[bytes], rule: FeatureConfig, *, source: str) -> FeatureScan:
    """Scan a gzip-compressed source tarball, streamed as ``chunks``, for ``rule``'s markers.

    Member paths are matched against ``rule.paths`` / ``rule.exclude`` after the
    top-level directory is stripped. A hit whose marker is in the code part of its line
    (see :mod:`watcher.sources.comments`) ranks before a comment-only one. Reading stops
    at the first code hit unless ``rule.all_evidence`` (then at :data:`MAX_HITS` code
    hits); comment-only hits are kept but never stop it. ``complete`` is True only
    when the whole archive, gzip trailer included, was read and verified. Raises
    :class:`ArchiveError` naming ``source`` when the archive is truncated, corrupt,
    unsafe, or exceeds one of ``rule.caps``; an exception raised by ``chunks`` itself
    (the HTTP transport) propagates unchanged. ``chunks`` is not closed.
    """
    (outcome,) = scan_tarball_many(chunks, [rule], source=source)
    if isinstance(outcome, Exception):
        raise outcome
    return outcome


def scan_tarball_many(
    chunks: Iterable[bytes], rules: Sequence[FeatureConfig], *, source: str
) -> list[ScanOutcome]:
    """Scan one tarball for several rules at once: one download for every watch of a commit.

    Each rule is searched as :func:`scan_tarball` searches it alone, with its own paths,
    markers and stopping point, and comes to the same ``found``, ``hits`` and
    ``commit_sha`` (a rule that found nothing read the whole archive either way, so its
    ``members_seen`` is the same too). Reading goes on until every rule has stopped. A
    failure (truncated, corrupt, over a cap, the transport's error) is the outcome of
    each rule that had not stopped yet; a rule that had keeps its scan. The rules must
    share their caps (they bound the one download).
    """
    caps = rules[0].caps
    if any(rule.caps != caps for rule in rules):
        raise ValueError("scan_tarball_many: the rules of one scan must share their caps")
    stream = _GzipChunkStream(chunks, caps)
    searches = [_Search(rule) for rule in rules]
    failure: Exception
    try:
        _scan(stream, searches)
        return [search.outcome(failure=None) for search in searches]
    except _BadArchive as exc:
        failure = ArchiveError(f"{source}: {exc.detail}", hint=exc.hint)
        failure.__cause__ = exc
    except (tarfile.TarError, EOFError, zlib.error) as exc:
        # Whatever tarfile still raises itself (e.g. "unexpected end of data" inside a member).
        failure = ArchiveError(
            f"{source}: archive is truncated or corrupt ({str(exc) or type(exc).__name__})",
            hint=_RETRY_HINT,
        )
        failure.__cause__ = exc
    except Exception as exc:  # noqa: BLE001 - the transport's own error, passed on unchanged
        failure = exc
    return [search.outcome(failure) for search in searches]


class _BadArchive(Exception):
    """Raised deep in the pipeline; scan_tarball adds the source URL and re-raises."""

    def __init__(self, detail: str, hint: str = _RETRY_HINT) -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


def _cap_exceeded(key: str, what: str) -> _BadArchive:
    config_key = _CAP_KEY.format(key)
    return _BadArchive(
        f"archive exceeds {config_key}: {what}",
        hint=f"raise {config_key} only if the archive is genuine",
    )


def _unsafe(name: str, why: str) -> _BadArchive:
    return _BadArchive(
        f"unsafe member {name!r}: {why}",
        hint="git archive never writes such members; do not trust this archive",
    )


class _Search:
    """One rule's search through an archive: its globs, markers, and hits so far."""

    def __init__(self, rule: FeatureConfig) -> None:
        self.wanted = wglob.compile(list(rule.paths), flags=_GLOB_FLAGS, exclude=list(rule.exclude))
        self.markers = Markers(rule.all_markers)
        self.limit = MAX_HITS if rule.all_evidence else 1
        # Code hits rank before comment-only ones; the search stops only once enough code
        # hits are in, so a comment that names the marker never hides the code that uses it.
        self.code: list[FeatureHit] = []
        self.comments: list[FeatureHit] = []
        self.scan: FeatureScan | None = None

    def add(self, hit: FeatureHit) -> bool:
        """Keep ``hit``; True when the search has the code hits it stops at."""
        if hit.in_code:
            self.code.append(hit)
            return len(self.code) >= self.limit
        if len(self.comments) < self.limit:
            self.comments.append(hit)
        return False

    def stop(
        self, tar: tarfile.TarFile, members: int, stream: _GzipChunkStream, complete: bool
    ) -> None:
        """End the search with what it found, as far as the archive was read."""
        comment = tar.pax_headers.get("comment", "").strip()
        # The SHA is a cache key: anything that is not one is no SHA at all.
        sha = comment if _COMMIT_SHA.fullmatch(comment) else None
        hits = (*self.code, *self.comments)[: self.limit]
        self.scan = FeatureScan(
            found=bool(hits),
            hits=hits,
            commit_sha=sha,
            members_seen=members,
            bytes_read=stream.bytes_out,
            complete=complete,
        )

    def outcome(self, failure: Exception | None) -> ScanOutcome:
        """The scan, or ``failure`` when the search had not stopped before it."""
        if self.scan is not None:
            return self.scan
        assert failure is not None, "every search stops when the archive ends"
        return failure


def _scan(stream: _GzipChunkStream, searches: list[_Search]) -> None:
    caps = stream.caps
    running = list(searches)
    members = 0
    top: str | None = None
    with _StreamingTarFile.open(fileobj=stream, mode="r|", bufsize=TAR_BUFSIZE) as tar:
        while (member := tar.next()) is not None:
            members += 1
            if members > caps.max_members:
                raise _cap_exceeded("max_members", f"more than {caps.max_members:,} members")
            if member.size > caps.max_member_bytes:
                raise _cap_exceeded(
                    "max_member_bytes",
                    f"member {member.name!r} has {_size(member.size)} "
                    f"(limit {_size(caps.max_member_bytes)})",
                )
            top, path = _split_top(member, top)
            if member.issym() or member.islnk():
                _check_link(member, top)
                continue  # links are never followed: the target is scanned on its own
            # Directories, devices and FIFOs carry no source text.
            if path is None or not member.isfile():
                continue
            wanting = [search for search in running if search.wanted.match(path)]
            content = tar.extractfile(member) if wanting else None
            if content is None:
                continue
            for search, hit in _member_hits(content.read, member.size, path, wanting):
                if search.scan is None and search.add(hit):
                    search.stop(tar, members, stream, complete=False)
                    if all(s.scan is not None for s in wanting):
                        break
            running = [search for search in running if search.scan is None]
            if not running:
                return
        # tarfile stops at the first zero block; the gzip trailer (CRC, length) after
        # it is what proves the download was not cut short.
        stream.finish()
        for search in running:
            search.stop(tar, members, stream, complete=True)


class Markers:
    """The markers of a rule, matched as whole words at their word-character edges.

    ``tailcfg.PeerCapabilityRelay`` must not match inside
    ``tailcfg.PeerCapabilityRelayTarget`` (another capability); an edge that is not a
    word character (``tailscale.com/cap/relay`` ends in one, ``-target`` starts with
    ``-``) needs nothing around it.
    """

    def __init__(self, markers: Sequence[str]) -> None:
        """Prepare ``markers`` (at least one) for byte and text searches."""
        self.texts = tuple(markers)
        self.raw = tuple(m.encode("utf-8") for m in markers)
        self.longest = max(len(m) for m in self.raw)
        self.pattern = re.compile("|".join(_bounded(m) for m in self.texts))

    def positions(self, data: bytes, start: int, stop: int) -> list[int]:
        """Sorted start offsets in ``data[start:]`` before ``stop`` of whole-word matches."""
        found: set[int] = set()
        for raw in self.raw:
            pos = data.find(raw, start, max(start, stop + len(raw) - 1))
            while pos != -1:
                if _whole_word(data, pos, len(raw), raw):
                    found.add(pos)
                pos = data.find(raw, pos + 1, max(start, stop + len(raw) - 1))
        return sorted(found)

    def first_in(self, text: str) -> str | None:
        """The marker that occurs first in ``text`` as a whole word, if any."""
        match = self.pattern.search(text)
        return match.group(0) if match else None


def _bounded(marker: str) -> str:
    left = r"(?<![A-Za-z0-9_])" if _word_byte(marker.encode()[0]) else ""
    right = r"(?![A-Za-z0-9_])" if _word_byte(marker.encode()[-1]) else ""
    return f"{left}{re.escape(marker)}{right}"


def _word_byte(byte: int) -> bool:
    return byte == 0x5F or 0x30 <= byte <= 0x39 or 0x41 <= byte <= 0x5A or 0x61 <= byte <= 0x7A


def _whole_word(data: bytes, pos: int, size: int, raw: bytes) -> bool:
    if _word_byte(raw[0]) and pos > 0 and _word_byte(data[pos - 1]):
        return False
    end = pos + size
    return not (_word_byte(raw[-1]) and end < len(data) and _word_byte(data[end]))


def _member_hits(
    read: Callable[[int], bytes], size: int, path: str, searches: list[_Search]
) -> Iterator[tuple[_Search, FeatureHit]]:
    """The hits of one member for each search, each marked as in code or in a comment only.

    A member up to :data:`WHOLE_MEMBER_BYTES` is read whole, so a hit's line is judged
    with the comment state of everything before it (inside a ``/* ... */`` block or
    not). A bigger member is streamed, each chunk handed to every search still running,
    and each hit's line judged on its own.
    """
    if size <= WHOLE_MEMBER_BYTES:
        data = b"".join(iter(lambda: read(MEMBER_READ_SIZE), b""))
        code_lines: list[str] | None = None
        for search in searches:
            markers = search.markers
            if not any(raw in data for raw in markers.raw):
                continue  # the common case, decided by one fast substring search per marker
            found = list(_find_marker(io.BytesIO(data).read, markers))
            if not found:
                continue
            if code_lines is None:  # once for the member, whichever search needs it first
                code_lines = code_part(data.decode("utf-8", "replace"), path).split("\n")
            for line, text in found:
                yield search, _hit(path, line, text, code_lines[line - 1], markers)
        return
    finders = [(search, _LineFinder(search.markers)) for search in searches]
    while finders:
        chunk = read(MEMBER_READ_SIZE)
        for search, finder in finders:
            for line, text in finder.feed(chunk):
                yield search, _hit(path, line, text, code_part(text, path), search.markers)
        if not chunk:
            return
        # A search that stopped reads no further: with none left, neither does the member.
        finders = [(search, finder) for search, finder in finders if search.scan is None]


def _hit(path: str, line: int, text: str, code_line: str, markers: Markers) -> FeatureHit:
    in_code = markers.first_in(code_line)
    marker = in_code or markers.first_in(text) or markers.texts[0]
    return FeatureHit(
        path=_escaped(path), line=line, text=text, marker=marker, in_code=in_code is not None
    )


def _escaped(name: str) -> str:
    """A member name fit for one line of evidence: control characters (a newline, a
    terminal escape) written as Python escapes, so ``check``'s line is never split or
    recoloured by a file name."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in name)


def _size(n: int) -> str:
    return f"{n / MiB:,.1f} MiB" if n >= MiB else f"{n:,} bytes"


def _split_top(member: tarfile.TarInfo, top: str | None) -> tuple[str, str | None]:
    """The top-level directory and the member's path below it (None for the top itself)."""
    name = member.name
    if name.startswith("/"):
        raise _unsafe(name, "absolute path")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise _unsafe(name, "'..' in the path")
    if not parts:
        raise _BadArchive(f"archive is corrupt: member with an empty name {name!r}")
    if top is None:
        top = parts[0]
    if parts[0] != top or (len(parts) == 1 and not member.isdir()):
        raise _BadArchive(
            f"not a source archive: {name!r} is outside the top-level directory {top!r}",
            hint="the URL must be a GitHub /tarball/ endpoint (one top-level directory)",
        )
    return top, "/".join(parts[1:]) or None


def _check_link(member: tarfile.TarInfo, top: str) -> None:
    """Refuse a link whose target is absolute or leaves the top-level directory."""
    target = member.linkname
    if target.startswith("/"):
        raise _unsafe(member.name, f"link to the absolute path {target!r}")
    # A symlink resolves from its own directory, a hard link from the archive root.
    resolved = member.name.split("/")[:-1] if member.issym() else []
    for part in target.split("/"):
        if part == "..":
            if not resolved:
                break  # above the archive root
            resolved.pop()
        elif part not in ("", "."):
            resolved.append(part)
    else:
        if resolved[:1] == [top]:
            return
    raise _unsafe(member.name, f"link target {target!r} leaves {top + '/'!r}")


def _find_marker(read: Callable[[int], bytes], markers: Markers) -> Iterator[tuple[int, str]]:
    """Yield (1-based line, line text) for each line of a stream that contains a marker.

    The stream is read ``MEMBER_READ_SIZE`` at a time and handed to a :class:`_LineFinder`.
    """
    finder = _LineFinder(markers)
    while True:
        chunk = read(MEMBER_READ_SIZE)
        yield from finder.feed(chunk)
        if not chunk:
            return


class _LineFinder:
    """The lines of a stream that contain a marker, fed one chunk at a time.

    The unsearched tail of each chunk is carried into the next one, together with
    ``CONTEXT_BYTES`` before it, so a marker split across chunks is found and a hit
    always has its context at hand (and the bytes either side of it, to tell a whole
    word). Fed chunk by chunk, so several searches can share one read of a member.
    """

    def __init__(self, markers: Markers) -> None:
        self.markers = markers
        self.data = b""
        self.base_offset = 0  # offset of data[0] in the member
        self.line = 1  # line number at data[counted]
        self.counted = 0
        self.start = 0  # first position in data where a match has not been looked for
        self.last_line = 0

    def feed(self, chunk: bytes) -> list[tuple[int, str]]:
        """(1-based line, line text) of each new line with a marker; ``b""`` ends the stream."""
        markers = self.markers
        eof = not chunk
        data = self.data + chunk if self.data else chunk
        # A match is reported once its right-hand context has arrived (or the file ended).
        stop = len(data) if eof else len(data) - markers.longest - CONTEXT_BYTES + 1
        found: list[tuple[int, str]] = []
        for pos in markers.positions(data, self.start, stop):
            self.line += data.count(b"\n", self.counted, pos)
            self.counted = pos
            if self.line != self.last_line:
                self.last_line = self.line
                size = next(len(r) for r in markers.raw if data.startswith(r, pos))
                at_start = self.base_offset == 0
                found.append(
                    (self.line, _line_text(data, pos, size, at_start=at_start, at_end=eof))
                )
        start = max(self.start, stop)
        # Keep what is not searched yet, plus the left-hand context of a match there.
        keep = max(0, start - CONTEXT_BYTES)
        self.line += data.count(b"\n", self.counted, max(self.counted, keep))
        self.counted = max(0, self.counted - keep)
        self.base_offset += keep
        self.start = start - keep
        self.data = data[keep:]
        return found


def _line_text(data: bytes, pos: int, size: int, *, at_start: bool, at_end: bool) -> str:
    """The stripped line around a match at ``pos``, cut to ``CONTEXT_BYTES`` either side."""
    low = max(0, pos - CONTEXT_BYTES)
    high = min(len(data), pos + size + CONTEXT_BYTES)
    newline = data.rfind(b"\n", low, pos)
    begin = newline + 1 if newline != -1 else low
    cut_left = newline == -1 and (low > 0 or not at_start)
    newline = data.find(b"\n", pos + size, high)
    end = newline if newline != -1 else high
    cut_right = newline == -1 and (high < len(data) or not at_end)
    text = data[begin:end].decode("utf-8", "replace").strip()
    # Evidence ends up in PR bodies and logs: no control characters from binary files.
    text = "".join(c if c.isprintable() or c == "\t" else "\ufffd" for c in text)
    return f"{'…' if cut_left else ''}{text}{'…' if cut_right else ''}"


class _CheckedTarInfo(tarfile.TarInfo):
    """A TarInfo that refuses headers tarfile would silently treat as the end of the archive.

    tarfile ends iteration quietly on a missing, short or invalid header after the
    first one; only an all-zero block is a real end-of-archive marker.
    """

    @classmethod
    def frombuf(cls, buf: bytes | bytearray, encoding: str, errors: str) -> Self:
        """Parse one header block, raising _BadArchive for a truncated or invalid one."""
        if len(buf) != tarfile.BLOCKSIZE:
            raise _BadArchive("archive is truncated (the tar stream ends inside a header)")
        if buf.count(0) == tarfile.BLOCKSIZE:
            return super().frombuf(buf, encoding, errors)  # raises tarfile's end-of-archive
        try:
            info = super().frombuf(buf, encoding, errors)
        except tarfile.HeaderError as exc:
            raise _BadArchive(f"archive is corrupt: invalid tar header ({exc})") from exc
        if info.type in _META_TYPES and info.size > MAX_META_HEADER_BYTES:
            raise _BadArchive(
                f"archive is corrupt: extended header of {_size(info.size)} "
                f"(limit {_size(MAX_META_HEADER_BYTES)})"
            )
        if info.type == tarfile.GNUTYPE_SPARSE:
            # Sparse maps are read whole by tarfile; git archive never writes them.
            raise _BadArchive(f"archive is corrupt: unsupported sparse member {info.name!r}")
        return info


class _StreamingTarFile(tarfile.TarFile):
    """A TarFile that forgets members once returned, so memory stays flat in stream mode."""

    tarinfo = _CheckedTarInfo
    members: list[tarfile.TarInfo]

    def next(self) -> tarfile.TarInfo | None:
        """The next member; tarfile's list of every member seen so far is emptied."""
        member = super().next()
        self.members.clear()
        return member


class _GzipChunkStream(io.RawIOBase):
    """Read-only file over an iterator of gzip chunks, yielding the inflated bytes.

    Inflating here rather than in ``tarfile`` (mode ``r|gz``) keeps memory bounded
    (zlib is never asked for more than the caller's read size, so a highly
    compressible member cannot balloon one read) and makes zlib check the gzip
    trailer, the only proof that a stream cut at a member boundary is incomplete.
    Compressed bytes count against ``max_download_bytes``, inflated ones against
    ``max_total_bytes``. Concatenated gzip members (RFC 1952 §2.2; pigz and appending
    tools write them) are one stream, read to the end of the last, as gzip(1) does;
    zero bytes after the last member are padding.
    """

    def __init__(self, chunks: Iterable[bytes], caps: ScanCaps) -> None:
        super().__init__()
        self._chunks = iter(chunks)
        self.caps = caps
        self._inflate = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)  # gzip framing
        self._chunk = memoryview(b"")
        self._pending: bytes | memoryview = b""
        self._exhausted = False
        self._head = b""  # the body's first bytes, quoted when it is not gzip at all
        self.bytes_in = 0
        self.bytes_out = 0

    def readable(self) -> bool:
        """Always True: this is a read-only stream."""
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        """Fill ``buffer`` with inflated bytes; 0 at the end of the gzip stream."""
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def read(self, size: int | None = -1, /) -> bytes:
        """Up to ``size`` inflated bytes (at most one tar buffer when unbounded); b"" at the end."""
        want = TAR_BUFSIZE if size is None or size < 0 else size
        out: list[bytes] = []
        while want > 0 and not self._ended():
            if not self._pending:
                self._pending = self._next_input()
            try:
                data = self._inflate.decompress(self._pending, want)
            except zlib.error as exc:
                raise self._corrupt(exc) from exc
            self._pending = self._inflate.unconsumed_tail
            if not data and not self._pending and self._exhausted:
                # Input used up, zlib has nothing left to give, and no trailer yet.
                raise _BadArchive(
                    "archive is truncated (the download ended before the end of the gzip data)"
                )
            out.append(data)
            want -= len(data)
            self.bytes_out += len(data)
        if self.bytes_out > self.caps.max_total_bytes:
            raise _cap_exceeded(
                "max_total_bytes",
                f"more than {_size(self.caps.max_total_bytes)} uncompressed",
            )
        return b"".join(out)

    def _ended(self) -> bool:
        """Whether the gzip stream is over; at the end of a member, the next one starts."""
        if not self._inflate.eof:
            return False
        rest = bytes(self._inflate.unused_data)
        while not rest.lstrip(b"\0"):
            more = self._next_input()
            if not more:
                return True  # the download ended at a member's end: the stream's end
            rest += bytes(more)
        self._inflate = zlib.decompressobj(wbits=zlib.MAX_WBITS | 16)
        self._pending = rest.lstrip(b"\0")
        return False

    def finish(self) -> None:
        """Read to the end of the gzip stream, so that zlib checks its trailer (CRC, length)."""
        while self.read(TAR_BUFSIZE):
            pass

    def _next_input(self) -> memoryview:
        while not self._chunk:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self._exhausted = True
                return memoryview(b"")
            self.bytes_in += len(chunk)
            if self.bytes_in > self.caps.max_download_bytes:
                raise _cap_exceeded(
                    "max_download_bytes",
                    f"more than {_size(self.caps.max_download_bytes)} compressed",
                )
            if len(self._head) < 16:
                self._head += bytes(chunk[: 16 - len(self._head)])
            self._chunk = memoryview(chunk)
        piece, self._chunk = self._chunk[:INFLATE_SLICE], self._chunk[INFLATE_SLICE:]
        return piece

    def _corrupt(self, exc: zlib.error) -> _BadArchive:
        if self.bytes_out == 0 and not self._head.startswith(b"\x1f\x8b"):
            return _BadArchive(f"archive is corrupt: not gzip data (starts with {self._head!r})")
        return _BadArchive(f"archive is corrupt: invalid gzip data ({exc})")
