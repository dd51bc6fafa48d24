"""A request body as an uploaded file, read no further than the bucket takes: a raw upload
(the file's bytes as the body, its type as ``Content-Type``) or a multipart form's file."""

import tempfile

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import TemporaryFileUploadHandler
from django.http.multipartparser import MultiPartParserError

from storage.services import FileTooLarge

UPLOAD_CHUNK = 64 * 1024
# A multipart body is the file plus a few small fields.
MULTIPART_OVERHEAD = 64 * 1024


def raw_upload(request, bucket, key: str) -> UploadedFile:
    """The request body as an uploaded file, read no further than the bucket's limit."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > bucket.max_file_size:
        raise FileTooLarge(bucket)
    # Handed to the caller inside the UploadedFile, which closes it (``with``).
    spool = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115
    size = 0
    while chunk := request.read(UPLOAD_CHUNK):
        size += len(chunk)
        if size > bucket.max_file_size:
            raise FileTooLarge(bucket)
        spool.write(chunk)
    if size == 0:
        raise ValidationError({"file": "The body is the file's bytes; it is empty."})
    spool.seek(0)
    return UploadedFile(spool, key.rsplit("/", 1)[-1], request.content_type, size)


class _FormFileHandler(TemporaryFileUploadHandler):
    """Keeps the form's first file whatever its field's name (storage-js names it "", and
    Django's parser completes no file without a name), refusing more than the bucket takes."""

    def __init__(self, request, bucket):
        super().__init__(request)
        self.bucket = bucket
        self.size = 0
        self.pending = False
        self.first = None

    def new_file(self, *args, **kwargs):
        if self.pending:
            self.file_complete(self.size)
        super().new_file(*args, **kwargs)
        self.size = 0
        self.pending = True

    def receive_data_chunk(self, raw_data, start):
        self.size += len(raw_data)
        if self.size > self.bucket.max_file_size:
            raise FileTooLarge(self.bucket)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        self.pending = False
        file = super().file_complete(file_size)
        self.first = self.first or file
        return file

    def upload_interrupted(self):
        # What Django's parser calls when the body ended inside a nameless file's part, which
        # is how such a file ends (a broken body raises instead).
        if self.pending:
            self.file_complete(self.size)


def form_upload(request, bucket) -> UploadedFile:
    """The first file of a ``multipart/form-data`` body (the other fields are ignored)."""
    declared = request.META.get("CONTENT_LENGTH") or ""
    if declared.isdigit() and int(declared) > bucket.max_file_size + MULTIPART_OVERHEAD:
        raise FileTooLarge(bucket)
    handler = _FormFileHandler(request, bucket)
    request.upload_handlers = [handler]
    try:
        request.FILES  # noqa: B018 (parses the body)
    except MultiPartParserError:
        raise ValidationError({"file": "The multipart body could not be parsed."}) from None
    if handler.first is None or handler.first.size == 0:
        raise ValidationError({"file": "The form has no file, or an empty one."})
    return handler.first
