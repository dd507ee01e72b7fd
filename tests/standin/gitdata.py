"""Git objects written the way GitHub's git data API writes them: trees edited by path.

``POST /git/trees`` takes a base tree and a list of path edits (nested paths, deletions
with ``sha: null``); :func:`edit_tree` applies them with real git (``ls-tree`` and
``mktree`` per touched directory), so the resulting SHAs are git's own. The same code
serves the test helpers (a human push, a merge), which therefore never touch a work tree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from tests.standin.gitrepo import GitError, GitRepo, Identity

# The modes GitHub accepts in a tree entry, with the object type each implies.
MODES = {"100644": "blob", "100755": "blob", "120000": "blob", "040000": "tree", "160000": "commit"}
# SHA-1 of the empty tree (a constant of git).
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


class TreeError(ValueError):
    """A tree edit GitHub would reject (422)."""


@dataclass(frozen=True)
class TreeEdit:
    """Put ``sha`` (of ``kind``, with ``mode``) at ``path``; ``sha`` None deletes the path."""

    path: str
    mode: str
    kind: str
    sha: str | None


def edit_tree(git: GitRepo, base_tree: str | None, edits: Sequence[TreeEdit]) -> str:
    """Apply ``edits`` to ``base_tree`` (None: start empty) and return the new tree's SHA."""
    for edit in edits:
        if MODES.get(edit.mode) != edit.kind:
            raise TreeError(f"tree.mode {edit.mode!r} does not fit tree.type {edit.kind!r}")
        parts = edit.path.split("/")
        if not edit.path or any(p in ("", ".", "..", ".git") for p in parts):
            raise TreeError(f"tree.path {edit.path!r} is not a valid path")
    try:
        return _edit(git, base_tree, [(e.path.split("/"), e) for e in edits])
    except GitError as exc:
        # mktree verifies that every entry names an existing object of its type.
        raise TreeError("tree.sha does not name an existing object of that type") from exc


def _edit(git: GitRepo, tree: str | None, edits: Sequence[tuple[list[str], TreeEdit]]) -> str:
    entries = {} if tree is None else _entries(git, tree)
    nested: dict[str, list[tuple[list[str], TreeEdit]]] = {}
    for parts, edit in edits:
        if len(parts) > 1:
            nested.setdefault(parts[0], []).append((parts[1:], edit))
        elif edit.sha is None:
            # GitHub ignores the deletion of a path that is not there.
            entries.pop(parts[0], None)
        else:
            entries[parts[0]] = (edit.mode, edit.kind, edit.sha)
    for name, sub_edits in nested.items():
        current = entries.get(name)
        subtree = current[2] if current is not None and current[1] == "tree" else None
        new = _edit(git, subtree, sub_edits)
        if new == EMPTY_TREE:
            # git has no empty directories: deleting a directory's last file removes it.
            entries.pop(name, None)
        else:
            entries[name] = ("040000", "tree", new)
    return git.mktree((mode, kind, sha, name) for name, (mode, kind, sha) in entries.items())


def _entries(git: GitRepo, tree: str) -> dict[str, tuple[str, str, str]]:
    return {path: (mode, kind, sha) for mode, kind, sha, _size, path in git.ls_tree(tree)}


def tree_of(git: GitRepo, commit: str) -> str:
    """The tree SHA of ``commit``."""
    return git.commit_info(commit).tree


def commit_files(
    git: GitRepo,
    branch: str,
    files: Mapping[str, str | bytes | None],
    message: str,
    author: Identity,
) -> str:
    """Commit ``files`` (None deletes) on top of ``branch`` and move the branch there.

    A branch that does not exist yet starts from an empty tree with no parent.
    """
    parent = git.ref_sha(f"refs/heads/{branch}")
    edits = [
        TreeEdit(path, "100644", "blob", None if data is None else git.hash_blob(_bytes(data)))
        for path, data in files.items()
    ]
    tree = edit_tree(git, tree_of(git, parent) if parent else None, edits)
    sha = git.commit_tree(tree, [parent] if parent else [], message, author, author)
    if not git.update_ref(f"refs/heads/{branch}", sha, parent or "0" * 40):
        raise TreeError(f"branch {branch} moved while committing")
    return sha


def merge_commit(
    git: GitRepo, parents: Iterable[str], message: str, author: Identity
) -> str | None:
    """A merge commit of exactly two ``parents`` (base first), or None when they conflict."""
    base, head = parents
    tree = git.merge_trees(base, head)
    if tree is None:
        return None
    return git.commit_tree(tree, [base, head], message, author, author)


def squash_commit(git: GitRepo, base: str, head: str, message: str, author: Identity) -> str | None:
    """One commit on ``base`` with the merged result of ``head``, or None on a conflict."""
    tree = git.merge_trees(base, head)
    if tree is None:
        return None
    return git.commit_tree(tree, [base], message, author, author)


def rebase_commits(git: GitRepo, base: str, head: str, committer: Identity) -> str:
    """GitHub's "rebase and merge": each commit of ``base..head`` re-applied on ``base``.

    Each commit's own changes (``git diff-tree`` against its first parent) are applied
    to the new tip's tree by path, as a cherry-pick does when nothing conflicts (the
    stand-in does not model rebase conflicts). Authors and messages are kept, the
    committer is the merger; the last new commit is GitHub's ``merge_commit_sha``.
    """
    tip = base
    for sha in git.log_range(base, head, limit=10_000):
        info = git.commit_info(sha)
        parent = info.parents[0] if info.parents else EMPTY_TREE
        out = git.git("diff-tree", "-r", "-z", "--no-commit-id", parent, sha).decode()
        fields = out.split("\0")
        edits = []
        for meta, path in zip(fields[0:-1:2], fields[1::2], strict=True):
            _, mode, _, new_sha, status = meta.lstrip(":").split()
            gone = status == "D"
            edits.append(TreeEdit(path, mode, MODES.get(mode, "blob"), None if gone else new_sha))
        tree = edit_tree(git, tree_of(git, tip), edits)
        author = Identity(
            info.author_name, info.author_email, datetime.fromisoformat(info.author_date)
        )
        tip = git.commit_tree(tree, [tip], info.message, author, committer)
    return tip


def _bytes(data: str | bytes) -> bytes:
    return data.encode() if isinstance(data, str) else data
