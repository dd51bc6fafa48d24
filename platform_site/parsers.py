"""The API's JSON parser: DRF's, plus a clear 400 for bodies nested too deeply to parse
(Python's decoder raises RecursionError there, which would otherwise be a 500)."""

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class JSONBodyParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError("JSON parse error - nested too deeply.") from exc
