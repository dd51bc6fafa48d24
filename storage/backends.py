"""Where object bytes live (``STORAGE_BACKEND``): Django storages that can also hand out a byte
range without reading the rest of the blob, for downloads and ``Range`` requests alike."""

from django.core.files.storage import FileSystemStorage
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

CHUNK_SIZE = 64 * 1024


class Chunks:
    """Iterates over ``length`` bytes of an open binary stream; closing it closes the stream."""

    def __init__(self, stream, length: int):
        self.stream = stream
        self.remaining = length

    def __iter__(self):
        while self.remaining > 0:
            chunk = self.stream.read(min(CHUNK_SIZE, self.remaining))
            if not chunk:
                return
            self.remaining -= len(chunk)
            yield chunk

    def close(self) -> None:
        self.stream.close()


class FileSystemBlobStorage(FileSystemStorage):
    def open_range(self, name: str, start: int, end: int) -> Chunks:
        """Bytes ``start`` to ``end`` inclusive."""
        handle = self.open(name, "rb")
        handle.seek(start)
        return Chunks(handle, end - start + 1)


class S3BlobStorage(S3Storage):
    def open_range(self, name: str, start: int, end: int) -> Chunks:
        """Bytes ``start`` to ``end`` inclusive, in one ranged GET (``S3File`` would first copy
        the whole object into memory)."""
        key = self._normalize_name(clean_name(name))
        body = self.bucket.Object(key).get(Range=f"bytes={start}-{end}")["Body"]
        return Chunks(body, end - start + 1)
