"""Tests for the streaming tarball scanner, on tarballs generated here the way git archive does."""

from __future__ import annotations

import gzip
import io
import itertools
import tarfile
import tracemalloc
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from watcher.config.model import FeatureConfig, ScanCaps
from watcher.core.errors import ArchiveError
from watcher.core.models import FeatureScan
from watcher.sources.tarscan import CONTEXT_BYTES, MAX_HITS, MEMBER_READ_SIZE, scan_tarball

TOP = "juanfont-headscale-1a2b3c4"
SHA = "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
URL = "https://api.github.com/repos/juanfont/headscale/tarball/v0.29.0"
MARKER = "tailscale.com/cap/relay"
# The built-in rule: Go files under hscontrol/, tests, vendor, go.sum, docs and testdata excluded.
RULE = FeatureConfig(marker=MARKER, paths=("hscontrol/**/*.go",))
GO_FILLER = b'package policy\n\nimport (\n\t"fmt"\n)\n\nfunc f() { fmt.Println(1) }\n'


@dataclass(frozen=True)
class Archive:
    """A generated tarball and the facts about it that tests compare against."""

    blob: bytes
    tar_size: int
    members: int

    def chunks(self, size: int = 65536) -> Iterator[bytes]:
        """The compressed bytes in pieces of ``size``, as an HTTP client would yield them."""
        return (self.blob[i : i + size] for i in range(0, len(self.blob), size))


def entry(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    """A tar header for a non-regular member (link, FIFO, ...)."""
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def build(
    files: Mapping[str, bytes],
    *,
    sha: str | None = SHA,
    top: str = TOP,
    extra: Sequence[tarfile.TarInfo] = (),
) -> Archive:
    """A gzip tarball like git archive's: pax SHA header, top dir, a directory entry per dir."""
    raw = io.BytesIO()
    pax = {"comment": sha} if sha is not None else {}
    members = 0
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT, pax_headers=pax) as tar:
        dirs = {top} | {f"{top}/{name.rsplit('/', 1)[0]}" for name in files if "/" in name}
        for parent in sorted(dirs):
            tar.addfile(entry(parent + "/", tarfile.DIRTYPE))
            members += 1
        for name, data in files.items():
            info = tarfile.TarInfo(f"{top}/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
            members += 1
        for info in extra:
            tar.addfile(info)
            members += 1
    data = raw.getvalue()
    return Archive(gzip.compress(data, mtime=0), len(data), members)


def gzip_of(tar_bytes: bytes) -> Archive:
    """Wrap raw (possibly broken) tar bytes in valid gzip framing."""
    return Archive(gzip.compress(tar_bytes, mtime=0), len(tar_bytes), 0)


def go_file(marker_line: int, *, lines: int = 40, marker: str = MARKER) -> bytes:
    """A Go-ish file with the marker on ``marker_line`` (1-based), or nowhere if 0."""
    out = [f"// line {n}: nothing to see" for n in range(1, lines + 1)]
    if marker_line:
        out[marker_line - 1] = f'\tCapRelay tailcfg.NodeCapability = "{marker}"'
    return ("\n".join(out) + "\n").encode()


def rule(**changes: object) -> FeatureConfig:
    """RULE with some settings changed (caps given as a dict of ScanCaps fields)."""
    caps = changes.pop("caps", None)
    if isinstance(caps, dict):
        changes["caps"] = ScanCaps(**caps)
    return RULE.model_copy(update=changes)


def expect_error(archive: Archive | Iterator[bytes], scan_rule: FeatureConfig = RULE) -> str:
    """Scan, expect an ArchiveError naming the URL, return its message."""
    chunks = archive.chunks() if isinstance(archive, Archive) else archive
    with pytest.raises(ArchiveError) as caught:
        scan_tarball(chunks, scan_rule, source=URL)
    message = caught.value.message
    assert URL in message
    assert "\n" not in message
    return message


# --- finding the marker ------------------------------------------------------


@pytest.mark.parametrize("chunk_size", [1, 7, 65536])
def test_marker_in_included_file_gives_path_and_line(chunk_size: int) -> None:
    archive = build(
        {
            "go.mod": b"module github.com/juanfont/headscale\n",
            "hscontrol/app.go": GO_FILLER,
            "hscontrol/policy/v2/types.go": go_file(17),
        }
    )
    scan = scan_tarball(archive.chunks(chunk_size), RULE, source=URL)
    assert scan.found
    assert [(h.path, h.line) for h in scan.hits] == [("hscontrol/policy/v2/types.go", 17)]
    assert scan.hits[0].text == f'CapRelay tailcfg.NodeCapability = "{MARKER}"'
    assert scan.commit_sha == SHA
    assert not scan.complete  # stopped at the first hit, the last member


@pytest.mark.parametrize("chunk_size", [1, 7, 65536])
def test_full_scan_reports_members_bytes_and_sha(chunk_size: int) -> None:
    archive = build({"hscontrol/app.go": GO_FILLER, "README.md": b"# headscale\n"})
    scan = scan_tarball(archive.chunks(chunk_size), RULE, source=URL)
    assert not scan.found
    assert scan.hits == ()
    assert scan.complete
    assert scan.members_seen == archive.members
    assert scan.bytes_read == archive.tar_size
    assert scan.commit_sha == SHA


@pytest.mark.parametrize("comment", [None, "not a sha", SHA[:39]])
def test_commit_sha_is_none_without_a_sha_comment(comment: str | None) -> None:
    archive = build({"hscontrol/app.go": go_file(3)}, sha=comment)
    scan = scan_tarball(archive.chunks(), RULE, source=URL)
    assert scan.found
    assert scan.commit_sha is None


def _filler(size: int) -> tuple[bytes, int]:
    """``size`` bytes of newline-terminated filler lines, and how many lines that is."""
    lines = [b"f" * 59 + b"\n"] * (size // 60)
    if size % 60:
        lines.append(b"g" * (size % 60 - 1) + b"\n")
    return b"".join(lines), len(lines)


# Marker start positions around the end of the first read of a member: matches that
# straddle the boundary, and matches whose line context straddles it.
BOUNDARY = range(MEMBER_READ_SIZE - len(MARKER) - 2 * CONTEXT_BYTES, MEMBER_READ_SIZE + 2)


def test_marker_on_a_short_line_across_read_boundaries() -> None:
    line = f'\tx := "{MARKER}"'.encode()
    lead = line.index(MARKER.encode())
    for pos in BOUNDARY:
        head, lines = _filler(pos - lead)
        archive = build({"hscontrol/big.go": head + line + b"\n" + GO_FILLER})
        scan = scan_tarball(archive.chunks(), RULE, source=URL)
        assert [(h.path, h.line, h.text) for h in scan.hits] == [
            ("hscontrol/big.go", lines + 1, line.decode().strip())
        ], pos


def test_marker_on_a_long_line_across_read_boundaries() -> None:
    for pos in BOUNDARY:
        head, lines = _filler(MEMBER_READ_SIZE // 2)
        long_line = b"y" * (pos - len(head) - 1) + b" " + MARKER.encode() + b" " + b"z" * 300
        archive = build({"hscontrol/big.go": head + long_line + b"\n"})
        scan = scan_tarball(archive.chunks(), RULE, source=URL)
        assert [(h.line, h.text.startswith("…y"), h.text.endswith("z…")) for h in scan.hits] == [
            (lines + 1, True, True)
        ], pos
        assert MARKER in scan.hits[0].text


@pytest.mark.parametrize(
    "path",
    [
        "go.sum",
        "hscontrol/go.sum",
        "vendor/tailscale.com/tailcfg/tailcfg.go",
        "hscontrol/vendor/tailscale.com/tailcfg/tailcfg.go",
        "hscontrol/policy/v2/policy_test.go",
        "hscontrol/types_test.go",
        "docs/ref/relay.go",
        "hscontrol/policy/v2/testdata/grants.go",
        "cmd/headscale/main.go",
        "hscontrol/policy/v2/types.json",
    ],
)
def test_marker_only_in_excluded_places_is_not_found(path: str) -> None:
    files = {"hscontrol/app.go": GO_FILLER, path: go_file(5)}
    scan = scan_tarball(build(files).chunks(), RULE, source=URL)
    assert not scan.found
    assert scan.complete
    # Control: the same content in an included file is found, so the exclusion did it.
    control = scan_tarball(
        build({**files, "hscontrol/x.go": go_file(5)}).chunks(), RULE, source=URL
    )
    assert [h.path for h in control.hits] == ["hscontrol/x.go"]


def test_first_hit_stops_reading_but_all_evidence_reads_everything() -> None:
    files = {
        "hscontrol/a.go": go_file(3),
        "hscontrol/b.go": go_file(0),
        "hscontrol/c/d.go": go_file(11) + go_file(7, lines=10),
        "zz/big.bin": bytes(range(256)) * 4096,
    }
    archive = build(files)
    first = scan_tarball(archive.chunks(), RULE, source=URL)
    assert [(h.path, h.line) for h in first.hits] == [("hscontrol/a.go", 3)]
    assert not first.complete
    assert first.members_seen < archive.members
    assert first.bytes_read < archive.tar_size

    every = scan_tarball(archive.chunks(), rule(all_evidence=True), source=URL)
    assert [(h.path, h.line) for h in every.hits] == [
        ("hscontrol/a.go", 3),
        ("hscontrol/c/d.go", 11),
        ("hscontrol/c/d.go", 40 + 7),
    ]
    assert every.complete
    assert every.members_seen == archive.members
    assert every.bytes_read == archive.tar_size


def test_all_evidence_is_capped() -> None:
    files = {f"hscontrol/f{n:03}.go": go_file(2) for n in range(MAX_HITS + 5)}
    scan = scan_tarball(build(files).chunks(), rule(all_evidence=True), source=URL)
    assert len(scan.hits) == MAX_HITS
    assert [h.path for h in scan.hits] == sorted(files)[:MAX_HITS]
    assert not scan.complete


def test_one_hit_per_line_and_line_numbers_across_reads() -> None:
    line = f"{MARKER} {MARKER} {MARKER}".encode()
    lines = [b"filler %d" % n for n in range(60000)]  # ~600 KiB: several reads
    wanted = [1, 777, 30001, 59999, 60000]
    for n in wanted:
        lines[n - 1] = line
    scan = scan_tarball(
        build({"hscontrol/x.go": b"\r\n".join(lines)}).chunks(),
        rule(all_evidence=True),
        source=URL,
    )
    assert [h.line for h in scan.hits] == wanted
    assert {h.text for h in scan.hits} == {line.decode()}


def test_long_line_text_is_cut_around_the_marker() -> None:
    body = b"a" * 5000 + b" " + MARKER.encode() + b" " + b"b" * 5000 + b"\n"
    scan = scan_tarball(build({"hscontrol/min.go": body}).chunks(), RULE, source=URL)
    (hit,) = scan.hits
    assert hit.line == 1
    assert MARKER in hit.text
    assert hit.text.startswith("…a") and hit.text.endswith("b…")
    assert len(hit.text) <= 200 + len(MARKER) + 2


def test_marker_at_the_very_start_and_end_of_a_file() -> None:
    files = {"hscontrol/a.go": MARKER.encode(), "hscontrol/b.go": b"x\n" + MARKER.encode()}
    scan = scan_tarball(build(files).chunks(), rule(all_evidence=True), source=URL)
    assert [(h.path, h.line, h.text) for h in scan.hits] == [
        ("hscontrol/a.go", 1, MARKER),
        ("hscontrol/b.go", 2, MARKER),
    ]


# --- links and special members ----------------------------------------------


def test_in_tree_symlink_is_skipped_not_followed() -> None:
    # The link's name matches the globs; its target holds the marker but is excluded.
    archive = build(
        {"docs/relay.go": go_file(4), "hscontrol/app.go": GO_FILLER},
        extra=[
            entry(f"{TOP}/hscontrol/relay.go", tarfile.SYMTYPE, "../docs/relay.go"),
            entry(f"{TOP}/hscontrol/hard.go", tarfile.LNKTYPE, f"{TOP}/docs/relay.go"),
        ],
    )
    scan = scan_tarball(archive.chunks(), RULE, source=URL)
    assert not scan.found
    assert scan.complete
    assert scan.members_seen == archive.members


def test_fifo_and_device_members_are_skipped() -> None:
    archive = build(
        {"hscontrol/app.go": GO_FILLER},
        extra=[
            entry(f"{TOP}/hscontrol/fifo.go", tarfile.FIFOTYPE),
            entry(f"{TOP}/hscontrol/dev.go", tarfile.CHRTYPE),
        ],
    )
    scan = scan_tarball(archive.chunks(), RULE, source=URL)
    assert scan.complete
    assert scan.members_seen == archive.members


@pytest.mark.parametrize(
    ("member", "why"),
    [
        (entry("/etc/passwd"), "absolute"),
        (entry(f"{TOP}/../../etc/passwd"), ".."),
        (entry(f"{TOP}/hscontrol/../../x.go"), ".."),
        (entry(f"{TOP}/link", tarfile.SYMTYPE, "/etc/passwd"), "absolute"),
        (entry(f"{TOP}/a/link", tarfile.SYMTYPE, "../../../etc/passwd"), "leaves"),
        (entry(f"{TOP}/a/link", tarfile.SYMTYPE, "../../elsewhere"), "leaves"),
        (entry(f"{TOP}/a/link", tarfile.SYMTYPE, f"../../../{TOP}/a/x"), "leaves"),
        (entry(f"{TOP}/hard", tarfile.LNKTYPE, "../etc/passwd"), "leaves"),
        (entry(f"{TOP}/hard", tarfile.LNKTYPE, f"../{TOP}/x"), "leaves"),
        (entry(f"{TOP}/hard", tarfile.LNKTYPE, "/etc/passwd"), "absolute"),
    ],
    ids=lambda v: v.name if isinstance(v, tarfile.TarInfo) else v,
)
def test_unsafe_members_are_refused(member: tarfile.TarInfo, why: str) -> None:
    message = expect_error(build({"hscontrol/app.go": GO_FILLER}, extra=[member]))
    assert "unsafe member" in message
    assert why in message


def test_member_outside_the_top_directory_is_refused() -> None:
    archive = build({"hscontrol/app.go": GO_FILLER}, extra=[entry("other-top/x.go")])
    assert "top-level directory" in expect_error(archive)


# --- caps ----------------------------------------------------------------------


def test_each_cap_holds_at_the_archive_size_and_fails_just_below() -> None:
    files = {
        "hscontrol/app.go": GO_FILLER,
        "hscontrol/policy/v2/testdata/big.json": b'{"src": ["tag:a"]},\n' * 20000,
    }
    archive = build(files)
    exact = {
        "max_download_bytes": len(archive.blob),
        "max_total_bytes": archive.tar_size,
        "max_members": archive.members,
        "max_member_bytes": max(len(data) for data in files.values()),
    }
    scan = scan_tarball(archive.chunks(), rule(caps=exact), source=URL)
    assert scan.complete
    for key, value in exact.items():
        message = expect_error(archive, rule(caps={**exact, key: value - 1}))
        assert f"watch[].feature.caps.{key}" in message


def test_cap_error_hint_says_to_raise_it_only_for_genuine_archives() -> None:
    archive = build({"hscontrol/app.go": GO_FILLER, "b.txt": b"b", "c.txt": b"c"})
    with pytest.raises(ArchiveError) as caught:
        scan_tarball(archive.chunks(), rule(caps={"max_members": 2}), source=URL)
    assert "max_members" in caught.value.hint
    assert "genuine" in caught.value.hint


def test_highly_compressible_member_hits_total_cap_not_memory() -> None:
    # 64 MiB of zeros is ~64 KiB of gzip: the total cap must fire before it is inflated.
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"{TOP}/zeros.bin")
        info.size = 64 * 1024 * 1024
        tar.addfile(info, io.BytesIO(bytes(info.size)))
    blob = gzip.compress(raw.getvalue(), mtime=0)
    message = expect_error(iter([blob]), rule(caps={"max_total_bytes": 1024 * 1024}))
    assert "max_total_bytes" in message


# --- broken streams ---------------------------------------------------------------


def _full_archive() -> Archive:
    return build(
        {
            "hscontrol/app.go": GO_FILLER,
            "hscontrol/policy/v2/testdata/big.json": b'{"x": 1}\n' * 3000 + bytes(range(256)) * 64,
            "README.md": b"# headscale\n",
        }
    )


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, -9, -8, -4, -1])
def test_truncated_download_is_an_error(keep: float) -> None:
    archive = _full_archive()
    cut = int(len(archive.blob) * keep) if isinstance(keep, float) else len(archive.blob) + keep
    assert 0 <= cut < len(archive.blob)
    message = expect_error(Archive(archive.blob[:cut], 0, 0))
    assert "truncated" in message


def test_tar_cut_at_a_member_boundary_inside_valid_gzip_is_an_error() -> None:
    # tarfile alone would take a missing header for the end of the archive.
    full = _full_archive()
    tar_bytes = gzip.decompress(full.blob)
    assert "truncated" in expect_error(gzip_of(tar_bytes[:1536]))
    assert "truncated" in expect_error(gzip_of(tar_bytes[: 1536 + 100]))


def test_corrupt_tar_header_is_an_error() -> None:
    tar_bytes = bytearray(gzip.decompress(_full_archive().blob))
    # The third header block (after pax global header + its data): the top dir entry.
    tar_bytes[1024 + 10] ^= 0xFF
    assert "corrupt" in expect_error(gzip_of(bytes(tar_bytes)))


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><body>rate limited</body></html>",
        b'{"message": "Not Found"}',
        b"\x1f\x8b\x08\x00garbage after a gzip magic number" * 10,
    ],
)
def test_garbage_is_an_error(body: bytes) -> None:
    assert "corrupt" in expect_error(iter([body]))


def test_gzip_of_something_else_is_an_error() -> None:
    assert "corrupt" in expect_error(gzip_of(b"just some text, not a tar archive\n" * 100))


def test_flipped_compressed_byte_is_an_error() -> None:
    archive = _full_archive()
    blob = bytearray(archive.blob)
    blob[len(blob) // 2] ^= 0x55
    message = expect_error(Archive(bytes(blob), 0, 0))
    assert "corrupt" in message


def test_empty_body_is_an_error() -> None:
    assert "truncated" in expect_error(iter([]))


def test_transport_errors_pass_through_unchanged() -> None:
    class Boom(Exception):
        pass

    def chunks() -> Iterator[bytes]:
        blob = _full_archive().blob
        yield blob[:100]
        raise Boom

    with pytest.raises(Boom):
        scan_tarball(chunks(), RULE, source=URL)


@pytest.mark.parametrize(
    ("member", "what"),
    [
        (entry(f"{TOP}/sparse.go", tarfile.GNUTYPE_SPARSE), "sparse"),
        (entry(f"{TOP}/{'n' * 200}.go", tarfile.REGTYPE), "extended header"),
    ],
    ids=["gnu-sparse", "huge-pax-header"],
)
def test_members_tarfile_would_read_whole_are_refused(member: tarfile.TarInfo, what: str) -> None:
    if what == "extended header":
        # A pax record of 2 MiB, which tarfile would read into memory in one piece.
        member.pax_headers = {"comment": "c" * (2 * 1024 * 1024)}
    message = expect_error(build({"hscontrol/app.go": GO_FILLER}, extra=[member]))
    assert "corrupt" in message
    assert what in message


# --- memory -------------------------------------------------------------------------


def _peak_traced_bytes(archive: Archive, scan_rule: FeatureConfig) -> tuple[int, FeatureScan]:
    tracemalloc.start()
    try:
        scan = scan_tarball(archive.chunks(), scan_rule, source=URL)
        return tracemalloc.get_traced_memory()[1], scan
    finally:
        tracemalloc.stop()


def test_memory_stays_flat_with_many_members() -> None:
    # tarfile keeps every member it has returned, unless told otherwise.
    dirs = [entry(f"{TOP}/d{n}/", tarfile.DIRTYPE) for n in range(15_000)]
    archive = build({"hscontrol/app.go": GO_FILLER}, extra=dirs)
    peak, scan = _peak_traced_bytes(archive, RULE)
    assert scan.members_seen == archive.members
    assert peak < 4 * 1024 * 1024


def test_memory_stays_flat_while_searching_a_huge_member() -> None:
    body = b"".join(b"%08d some go-ish text that is not the marker\n" % n for n in range(600_000))
    archive = build({"hscontrol/huge.go": body + go_file(2)})
    peak, scan = _peak_traced_bytes(archive, rule(all_evidence=True))
    assert [h.line for h in scan.hits] == [body.count(b"\n") + 2]
    assert peak < 4 * 1024 * 1024 < len(body) // 4


# --- concatenated gzip members -----------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    cuts=st.lists(st.integers(min_value=0, max_value=1 << 20), max_size=4),
    padding=st.integers(min_value=0, max_value=64),
    chunk_size=st.sampled_from([1, 7, 4096, 65536]),
)
def test_concatenated_gzip_members_are_one_archive(
    cuts: list[int], padding: int, chunk_size: int
) -> None:
    """However the tar bytes are split into gzip members (and zero-padded after the last),
    the scan reads them all: the same hits, members and bytes as one member, complete."""
    files = {f"hscontrol/f{n}.go": go_file(0) for n in range(6)} | {
        "hscontrol/z/last.go": go_file(7)
    }
    whole = build(files)
    tar_bytes = gzip.decompress(whole.blob)
    bounds = sorted({0, len(tar_bytes), *(c % (len(tar_bytes) + 1) for c in cuts)})
    blob = b"".join(gzip.compress(tar_bytes[a:b], mtime=0) for a, b in itertools.pairwise(bounds))
    split = Archive(blob + b"\0" * padding, whole.tar_size, whole.members)
    one = scan_tarball(whole.chunks(chunk_size), rule(all_evidence=True), source=URL)
    many = scan_tarball(split.chunks(chunk_size), rule(all_evidence=True), source=URL)
    assert many.complete and one.complete
    assert many.hits == one.hits and [h.path for h in many.hits] == ["hscontrol/z/last.go"]
    assert many.members_seen == one.members_seen
