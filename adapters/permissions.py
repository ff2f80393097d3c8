"""`directory_permissions` and `file_permissions`: modes set on what a cache creates.

As MapProxy sets them: on each directory and file the cache itself creates (never on existing
ones), with chmod, so the umask does not narrow them. Unset, the umask decides as usual.
"""

from __future__ import annotations

import os

import attrs


@attrs.frozen
class Permissions:
    """The modes for new directories and files; None leaves them to the umask."""

    dir_mode: int | None = None
    file_mode: int | None = None

    def makedirs(self, path: str | os.PathLike[str]) -> None:
        """Make directory `path` and its missing parents, each with `dir_mode`."""
        if self.dir_mode is None:
            os.makedirs(path, exist_ok=True)
            return
        missing = []
        current = os.path.abspath(path)
        while not os.path.isdir(current):
            missing.append(current)
            parent = os.path.dirname(current)
            if parent == current:
                break
            current = parent
        for directory in reversed(missing):
            try:
                os.mkdir(directory)
            except FileExistsError:
                continue  # made meanwhile by another writer, with its own mode
            os.chmod(directory, self.dir_mode)

    def set_file_mode(self, fd: int) -> None:
        """Give the newly created file open as `fd` its `file_mode`."""
        if self.file_mode is not None:
            os.fchmod(fd, self.file_mode)

    def set_path_mode(self, path: str | os.PathLike[str]) -> None:
        """Give the newly created file at `path` its `file_mode`."""
        if self.file_mode is not None:
            os.chmod(path, self.file_mode)
