"""A body whose JSON cannot be converted (a 5000-digit number, absurd nesting) is a 400 with
a reason, never a 500."""

import pytest

from loyalty.pos.common import BadRequest, json_body


class Body:
    def __init__(self, text: str):
        self.body = text.encode()


@pytest.mark.parametrize(
    "text", ['{"sum": ' + "9" * 5000 + "}", "[" * 100000 + "]" * 100000, "{nope", "\udcff"]
)
def test_unconvertible_json_is_a_bad_request(text):
    try:
        body = Body(text)
    except UnicodeEncodeError:
        body = Body.__new__(Body)
        body.body = b"\xff\xfe"
    with pytest.raises(BadRequest):
        json_body(body)
