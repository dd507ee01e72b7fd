"""A thin wrapper over the ``git`` command for one repository: write history, read it back.

Everything is real git, so SHAs, annotated tags and ``git archive`` tarballs (with the
commit SHA in their pax global header) are what GitHub would serve. The environment is
pinned (identity, dates, no user or system config) so the same history gives the same SHAs.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

CHUNK = 64 * 1024
# Refs reach git as arguments: refuse anything that could be read as an option.
SAFE_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/+-]*$")
AUTHOR = ("Stand-In Author", "author@example.invalid")


class GitError(RuntimeError):
    """A git command failed."""


@dataclass(frozen=True)
class TagInfo:
    """One tag: its ref target (a tag object when annotated) and the commit it points at."""

    name: str
    object_sha: str
    commit_sha: str
    annotated: bool


@dataclass(frozen=True)
class CommitInfo:
    """The fields of a commit object that the REST API exposes."""

    sha: str
    tree: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_date: str
    committer_name: str
    committer_email: str
    committer_date: str
    message: str


@dataclass(frozen=True)
class TagObject:
    """An annotated tag object."""

    sha: str
    tag: str
    object_sha: str
    object_type: str
    tagger_name: str
    tagger_email: str
    tagger_date: str
    message: str


@dataclass(frozen=True)
class Identity:
    """A commit author or committer."""

    name: str
    email: str
    date: datetime


@dataclass(frozen=True)
class TreeEntry:
    """One entry of a directory listing."""

    name: str
    path: str
    kind: str
    sha: str
    size: int


def git_date(when: datetime) -> str:
    """A datetime in the form GIT_*_DATE accepts, keeping its offset."""
    return when.isoformat()


@dataclass(frozen=True)
class FileDiff:
    """One file of a diff between two commits, as ``GET /pulls/{n}/files`` lists it."""

    path: str
    status: str
    sha: str
    additions: int
    deletions: int
    patch: str
    previous_path: str | None = None


# git's --raw status letters as GitHub names them.
_STATUS = {
    "A": "added",
    "M": "modified",
    "D": "removed",
    "R": "renamed",
    "C": "copied",
    "T": "changed",
}


class GitRepo:
    """One repository with a work tree (the work tree is only used to write history)."""

    def __init__(self, path: Path) -> None:
        """Wrap an existing repository at ``path``."""
        self.path = path
        # Writes are many small git calls; remembering what we wrote saves most reads.
        self._branch: str | None = None
        self._dates: dict[str, datetime] = {}
        # Set when plumbing moved the checked-out branch, so the work tree is behind it.
        self._stale_worktree = False

    @classmethod
    def init(cls, path: Path, default_branch: str = "main") -> GitRepo:
        """Create an empty repository with a pinned identity."""
        path.mkdir(parents=True, exist_ok=True)
        repo = cls(path)
        repo.git("init", "-q", "-b", default_branch)
        for key, value in (
            ("user.name", AUTHOR[0]),
            ("user.email", AUTHOR[1]),
            ("commit.gpgsign", "false"),
            ("tag.gpgsign", "false"),
            ("core.autocrlf", "false"),
        ):
            repo.git("config", key, value)
        return repo

    def _env(self, when: datetime | None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        # The developer's own git config must not change SHAs or sign anything.
        env.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", LC_ALL="C")
        if when is not None:
            env.update(GIT_AUTHOR_DATE=git_date(when), GIT_COMMITTER_DATE=git_date(when))
        return env

    def git(
        self,
        *args: str,
        when: datetime | None = None,
        check: bool = True,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> bytes:
        """Run ``git args`` in the repository (``stdin`` fed to it) and return its output."""
        proc = self.run(*args, when=when, stdin=stdin, env=env)
        if check and proc.returncode != 0:
            raise GitError(f"git {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
        return proc.stdout

    def run(
        self,
        *args: str,
        when: datetime | None = None,
        stdin: bytes | None = None,
        env: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[bytes]:
        """Run ``git args`` and return the finished process, whatever its exit status."""
        return subprocess.run(
            ["git", *args],
            cwd=self.path,
            env={**self._env(when), **(env or {})},
            input=stdin,
            capture_output=True,
            check=False,
        )

    # -- writing ---------------------------------------------------------------------

    def current_branch(self) -> str:
        """The branch checked out in the work tree."""
        if self._branch is None:
            self._branch = self.git("symbolic-ref", "--short", "HEAD").decode().strip()
        return self._branch

    def commit(
        self,
        files: Mapping[str, str | bytes | None],
        message: str,
        when: datetime,
        branch: str | None = None,
    ) -> str:
        """Write ``files`` (None deletes) on ``branch`` (default: current) and commit them."""
        if branch is not None and branch != self.current_branch():
            self.git("checkout", "-q", "-f", branch)
            self._branch = branch
            self._stale_worktree = False
        if self._stale_worktree:
            # The API moved this branch without touching files: catch the work tree up.
            self.git("reset", "-q", "--hard", "HEAD")
            self._stale_worktree = False
        for rel, content in files.items():
            target = self.path / rel
            if content is None:
                target.unlink(missing_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, when=when)
        sha = self.ref_sha(f"refs/heads/{self.current_branch()}")
        assert sha is not None
        self._dates[sha] = when
        return sha

    def create_branch(self, name: str, start: str) -> None:
        """Create branch ``name`` at ``start`` (a ref or SHA) without checking it out."""
        self.git("branch", name, start)

    def tag(self, name: str, target: str, when: datetime, message: str | None = None) -> str:
        """Tag ``target``: annotated when ``message`` is given, lightweight otherwise."""
        if message is None:
            self.git("tag", name, target)
        else:
            self.git("tag", "-a", "-m", message, name, target, when=when)
        sha = self.ref_sha(f"refs/tags/{name}")
        assert sha is not None
        return sha

    # -- plumbing (the git data API: no work tree involved) ------------------------------

    def hash_blob(self, data: bytes) -> str:
        """Store ``data`` as a blob and return its SHA-1."""
        return self.git("hash-object", "-w", "--stdin", stdin=data).decode().strip()

    def mktree(self, entries: Iterable[tuple[str, str, str, str]]) -> str:
        """Write a tree of (mode, type, sha, name) entries and return its SHA-1."""
        records = b"".join(
            f"{mode} {kind} {sha}\t{name}".encode() + b"\0" for mode, kind, sha, name in entries
        )
        return self.git("mktree", "-z", stdin=records).decode().strip()

    def ls_tree(self, tree: str, recursive: bool = False) -> list[tuple[str, str, str, int, str]]:
        """(mode, type, sha, size, path) of a tree's entries; ``recursive`` includes subtrees."""
        flags = ["-r", "-t"] if recursive else []
        out = self.git("ls-tree", "-l", "-z", *flags, tree, "--").decode()
        entries = []
        for record in filter(None, out.split("\0")):
            meta, path = record.split("\t", 1)
            mode, kind, sha, size = meta.split()
            entries.append((mode, kind, sha, int(size) if size != "-" else 0, path))
        return entries

    def commit_tree(
        self,
        tree: str,
        parents: Iterable[str],
        message: str,
        author: Identity,
        committer: Identity,
    ) -> str:
        """Write a commit object (message kept byte for byte) and return its SHA-1."""
        args = ["commit-tree", tree]
        for parent in parents:
            args += ["-p", parent]
        env = {
            "GIT_AUTHOR_NAME": author.name,
            "GIT_AUTHOR_EMAIL": author.email,
            "GIT_AUTHOR_DATE": git_date(author.date),
            "GIT_COMMITTER_NAME": committer.name,
            "GIT_COMMITTER_EMAIL": committer.email,
            "GIT_COMMITTER_DATE": git_date(committer.date),
        }
        sha = self.git(*args, stdin=message.encode(), env=env).decode().strip()
        self._dates[sha] = committer.date
        return sha

    def update_ref(self, full_ref: str, sha: str, old: str | None = None) -> bool:
        """Point ``full_ref`` at ``sha``; with ``old``, only if it still points there."""
        args = ["update-ref", full_ref, sha] + ([old] if old is not None else [])
        ok = self.run(*args).returncode == 0
        if ok and full_ref == f"refs/heads/{self.current_branch()}":
            self._stale_worktree = True
        return ok

    def delete_ref(self, full_ref: str) -> bool:
        """Delete ``full_ref``; False when it did not exist."""
        return self.run("update-ref", "-d", full_ref).returncode == 0

    def refs(self, prefix: str = "refs/") -> list[tuple[str, str, str]]:
        """(full ref, object SHA, object type) of every ref below ``prefix``, sorted by name."""
        fmt = "%(refname)%00%(objectname)%00%(objecttype)"
        out = self.git("for-each-ref", f"--format={fmt}", prefix.rstrip("/")).decode()
        rows = [tuple(line.split("\0")) for line in out.splitlines()]
        return [(r[0], r[1], r[2]) for r in rows if r[0].startswith(prefix)]

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        """Whether commit ``ancestor`` is reachable from ``descendant`` (or is it)."""
        return self.run("merge-base", "--is-ancestor", ancestor, descendant).returncode == 0

    def merge_base(self, one: str, two: str) -> str | None:
        """The best common ancestor of two commits, or None when they share no history."""
        out = self.git("merge-base", one, two, check=False).decode().strip()
        return out or None

    def count(self, exclude: str, include: str) -> int:
        """How many commits ``include`` has that ``exclude`` has not."""
        return int(self.git("rev-list", "--count", f"{exclude}..{include}").decode())

    def log_range(self, exclude: str, include: str, limit: int = 250) -> list[str]:
        """SHAs of ``exclude..include``, oldest first (at most ``limit``, like GitHub's 250)."""
        out = self.git("rev-list", "--reverse", f"--max-count={limit}", f"{exclude}..{include}")
        return out.decode().split()

    def merge_trees(self, base: str, head: str) -> str | None:
        """The tree of merging two commits (``git merge-tree``), or None on a conflict."""
        proc = self.run("merge-tree", "--write-tree", "--no-messages", base, head)
        if proc.returncode == 1:
            return None
        if proc.returncode != 0:
            raise GitError(f"git merge-tree: {proc.stderr.decode(errors='replace')}")
        return proc.stdout.decode().split()[0]

    def diff_stats(self, base: str, head: str) -> tuple[int, int, int]:
        """(additions, deletions, changed files) between two commits."""
        out = self.git("diff", "--numstat", "-z", base, head).decode()
        added = deleted = files = 0
        for record in filter(None, out.split("\0")):
            parts = record.split("\t")
            if len(parts) < 3:
                continue  # the second path of a rename record
            files += 1
            # Binary files show "-": GitHub counts them as changed with no lines.
            added += int(parts[0]) if parts[0].isdigit() else 0
            deleted += int(parts[1]) if parts[1].isdigit() else 0
        return added, deleted, files

    def diff_files(self, base: str, head: str) -> list[FileDiff]:
        """Each file changed between two commits, with its unified patch (renames found)."""
        out = self.git("diff", "--raw", "-M", "-z", "--no-abbrev", base, head).decode()
        fields = out.split("\0")
        diffs: list[FileDiff] = []
        i = 0
        while i + 1 < len(fields) and fields[i].startswith(":"):
            meta = fields[i][1:].split(" ")
            letter, new_sha = meta[4][0], meta[3]
            paths = [fields[i + 1]]
            if letter in "RC":
                paths.append(fields[i + 2])
            i += 1 + len(paths)
            patch = self.git("diff", "-M", "--unified=3", base, head, "--", *paths).decode(
                errors="replace"
            )
            # GitHub's patch is the hunks alone, without the final newline.
            body = patch[patch.index("@@") :].removesuffix("\n") if "@@" in patch else ""
            lines = body.splitlines()
            added = sum(1 for ln in lines if ln.startswith("+"))
            removed = sum(1 for ln in lines if ln.startswith("-"))
            old_path = paths[0] if letter in "RC" else None
            sha = new_sha if letter != "D" else meta[2]
            diffs.append(FileDiff(paths[-1], _STATUS[letter], sha, added, removed, body, old_path))
        return diffs

    def cat_blob(self, sha: str) -> bytes | None:
        """The bytes of blob ``sha``, or None when it is not a blob."""
        if self.object_type(sha) != "blob":
            return None
        return self.git("cat-file", "blob", sha)

    # -- reading ---------------------------------------------------------------------

    def ref_sha(self, full_ref: str) -> str | None:
        """The object a full ref names, without peeling, or None when it does not exist."""
        loose = self.path / ".git" / full_ref
        if SAFE_REF.match(full_ref) and ".." not in full_ref and loose.is_file():
            # A loose ref file is what git itself reads first; no process needed.
            return loose.read_text().strip()
        target = self.ref_target(full_ref)
        return target[0] if target else None

    def commit_date(self, sha: str) -> datetime:
        """The committer date of commit ``sha``."""
        if sha not in self._dates:
            self._dates[sha] = datetime.fromisoformat(self.commit_info(sha).committer_date)
        return self._dates[sha]

    def resolve(self, ref: str) -> str | None:
        """The commit SHA ``ref`` (tag, branch, ``refs/...`` or SHA) names, or None."""
        if not SAFE_REF.match(ref):
            return None
        out = self.git("rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False)
        return out.decode().strip() or None

    def ref_target(self, full_ref: str) -> tuple[str, str] | None:
        """(object SHA, object type) a full ref such as ``refs/tags/v1`` points at, or None."""
        if not SAFE_REF.match(full_ref) or not full_ref.startswith("refs/"):
            return None
        sha = self.git("show-ref", "--verify", "--hash", full_ref, check=False).decode().strip()
        if not sha:
            return None
        kind = self.object_type(sha)
        return (sha, kind) if kind else None

    def tags(self) -> list[TagInfo]:
        """Every tag, highest version-sorted name first (GitHub lists tags name-sorted too)."""
        fmt = "%(refname:strip=2)%00%(objectname)%00%(objecttype)%00%(*objectname)"
        out = self.git("for-each-ref", "--sort=-v:refname", f"--format={fmt}", "refs/tags")
        infos = []
        for line in out.decode().splitlines():
            name, sha, kind, peeled = line.split("\0")
            annotated = kind == "tag"
            infos.append(TagInfo(name, sha, peeled if annotated else sha, annotated))
        return infos

    def commit_info(self, sha: str) -> CommitInfo:
        """The commit object ``sha``."""
        fmt = "%H%x00%T%x00%P%x00%an%x00%ae%x00%aI%x00%cn%x00%ce%x00%cI%x00%B"
        out = self.git("show", "-s", f"--format={fmt}", sha, "--").decode()
        parts = out.split("\0")
        return CommitInfo(
            sha=parts[0],
            tree=parts[1],
            parents=tuple(parts[2].split()),
            author_name=parts[3],
            author_email=parts[4],
            author_date=parts[5],
            committer_name=parts[6],
            committer_email=parts[7],
            committer_date=parts[8],
            message=parts[9].rstrip("\n"),
        )

    def object_type(self, sha: str) -> str | None:
        """``commit``, ``tag``, ``tree`` or ``blob``; None for an unknown object."""
        if not SAFE_REF.match(sha):
            return None
        out = self.git("cat-file", "-t", sha, check=False).decode().strip()
        return out or None

    def tag_object(self, sha: str) -> TagObject | None:
        """The annotated tag object ``sha``, or None when it is not one."""
        if self.object_type(sha) != "tag":
            return None
        raw = self.git("cat-file", "tag", sha).decode()
        head, _, message = raw.partition("\n\n")
        fields = dict(line.split(" ", 1) for line in head.splitlines())
        tagger = re.match(r"(.*) <(.*)> (\d+) ([+-])(\d\d)(\d\d)$", fields["tagger"])
        if tagger is None:
            raise GitError(f"unparsable tagger in tag {sha}")
        sign = -1 if tagger.group(4) == "-" else 1
        offset = timedelta(hours=int(tagger.group(5)), minutes=int(tagger.group(6)))
        tagger_date = datetime.fromtimestamp(
            int(tagger.group(3)), timezone(sign * offset)
        ).isoformat()
        return TagObject(
            sha=sha,
            tag=fields["tag"],
            object_sha=fields["object"],
            object_type=fields["type"],
            tagger_name=tagger.group(1),
            tagger_email=tagger.group(2),
            tagger_date=tagger_date,
            message=message,
        )

    def read(self, commit: str, path: str) -> tuple[str, str, bytes] | None:
        """(kind, object SHA, blob bytes or b"") of ``path`` at ``commit``, or None."""
        spec = f"{commit}:{path.strip('/')}"
        sha = self.git("rev-parse", "--verify", "-q", spec, check=False).decode().strip()
        if not sha:
            return None
        kind = self.git("cat-file", "-t", sha).decode().strip()
        data = self.git("cat-file", "blob", sha) if kind == "blob" else b""
        return kind, sha, data

    def list_dir(self, commit: str, path: str) -> list[TreeEntry]:
        """The entries of directory ``path`` at ``commit``."""
        prefix = path.strip("/")
        spec = f"{commit}:{prefix}" if prefix else f"{commit}:"
        out = self.git("ls-tree", "-l", "-z", spec).decode()
        entries = []
        for record in filter(None, out.split("\0")):
            meta, name = record.split("\t", 1)
            _mode, kind, sha, size = meta.split()
            entries.append(
                TreeEntry(
                    name=name,
                    path=f"{prefix}/{name}" if prefix else name,
                    kind="file" if kind == "blob" else "dir",
                    sha=sha,
                    size=int(size) if size != "-" else 0,
                )
            )
        return entries

    def archive(self, sha: str, prefix: str) -> Iterator[bytes]:
        """Stream ``git archive --format=tar.gz`` of commit ``sha``; closing it kills git."""
        proc = subprocess.Popen(
            ["git", "archive", "--format=tar.gz", f"--prefix={prefix}", sha],
            cwd=self.path,
            env=self._env(None),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        return _drain(proc)


def _drain(proc: subprocess.Popen[bytes]) -> Iterator[bytes]:
    # A generator, so that closing it (client gone, HEAD request) ends git too.
    assert proc.stdout is not None
    try:
        while chunk := proc.stdout.read(CHUNK):
            yield chunk
    finally:
        proc.stdout.close()
        proc.kill()
        proc.wait()
