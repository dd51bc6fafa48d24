"""The README's "A first request" client-app flow, replayed request by request against the app.

The curl commands are read from the README's first ``sh`` block under that heading, so the
test replays what the README says, not a copy of it: the publishable key is the one the demo
seeding (``bootstrap_demo``, what ``make run`` runs) prints, ``$VAR=$(curl ... | jq -r .x)``
keeps field ``x`` of the answer, and every request must answer 2xx.
"""

import io
import json
import re
import shlex
from pathlib import Path

import pytest
from django.core.management import call_command

README = Path(__file__).resolve().parent.parent / "README.md"
TODOS = "/client/v1/collections/todos/records/"


def readme_block() -> list[str]:
    """The shell lines of the first ``sh`` block after "### A first request", continuations
    joined, comments and blank lines left out."""
    text = README.read_text()
    section = text.split("### A first request", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    joined = re.sub(r"\\\n\s*", " ", block)
    return [line.strip() for line in joined.splitlines() if line.strip() and line[0] != "#"]


def parse_curl(command: str, variables: dict) -> dict:
    """method, path, headers and body of one ``curl`` command (the README's subset)."""
    words = shlex.split(command)
    assert words[0] == "curl", command
    request = {"method": "GET", "headers": {}, "body": None, "url": None}
    i = 1
    while i < len(words):
        word = words[i]
        if word == "-s":
            i += 1
        elif word == "-X":
            request["method"] = words[i + 1]
            i += 2
        elif word == "-H":
            name, _, value = words[i + 1].partition(":")
            request["headers"][name.strip().lower()] = expand(value.strip(), variables)
            i += 2
        elif word == "-d":
            request["body"] = words[i + 1]
            i += 2
        else:
            assert request["url"] is None, f"unexpected {word!r} in {command}"
            request["url"] = expand(word, variables)
            i += 1
    base = variables["API"]
    assert request["url"].startswith(base), request["url"]
    request["path"] = request["url"][len(base) :]
    return request


def expand(text: str, variables: dict) -> str:
    return re.sub(r"\$(\w+)", lambda m: variables[m.group(1)], text)


def steps() -> list[dict]:
    """The block as steps: a variable set, or a request whose answer may be kept."""
    out = []
    for line in readme_block():
        line = line.split("  #", 1)[0].strip()
        captured = re.fullmatch(r"(\w+)=\$\((curl .+) \| jq -r \.(\w+)\)", line)
        assigned = re.fullmatch(r"(\w+)=(\S+)", line)
        if captured:
            out.append({"keep": captured[1], "curl": captured[2], "field": captured[3]})
        elif assigned:
            out.append({"set": assigned[1], "value": assigned[2]})
        else:
            out.append({"curl": line})
    return out


def test_the_readme_block_is_the_client_flow_it_describes():
    """What the block holds, so a later edit keeps the flow the issue asks for (this part
    needs no route of the app)."""
    flow = steps()
    variables = {s["set"]: s["value"] for s in flow if "set" in s}
    assert variables["API"] == "http://127.0.0.1:8000"
    requests = [parse_curl(s["curl"], {**variables, "ANN": "a", "BOB": "b"}) for s in flow
                if "curl" in s]  # fmt: skip
    calls = [(r["method"], r["path"]) for r in requests]
    assert calls == [
        ("POST", "/client/v1/auth/signup/"),
        ("POST", "/client/v1/auth/signin/"),
        ("POST", TODOS),
        ("GET", TODOS),
        ("POST", "/client/v1/auth/signup/"),
        ("POST", "/client/v1/auth/signin/"),
        ("GET", TODOS),
    ]
    assert all(r["headers"]["apikey"] == variables["PK"] for r in requests)
    assert [s["keep"] for s in flow if "keep" in s] == ["ANN", "BOB"]
    assert json.loads(requests[2]["body"]) == {"data": {"title": "Buy milk", "done": False}}


@pytest.mark.django_db
def test_the_readme_client_flow_works_as_written(client):
    out = io.StringIO()
    call_command("bootstrap_demo", stdout=out)
    publishable = re.search(r"Demo publishable key: (\S+)", out.getvalue())[1]
    variables: dict = {}
    answers = []
    for step in steps():
        if "set" in step:
            variables[step["set"]] = publishable if step["set"] == "PK" else step["value"]
            continue
        request = parse_curl(step["curl"], variables)
        extra = {"HTTP_APIKEY": request["headers"]["apikey"]}
        if "authorization" in request["headers"]:
            extra["HTTP_AUTHORIZATION"] = request["headers"]["authorization"]
        if request["body"] is not None:
            extra["data"] = request["body"]
            extra["content_type"] = request["headers"]["content-type"]
        response = getattr(client, request["method"].lower())(request["path"], **extra)
        assert 200 <= response.status_code < 300, (request["path"], response.content[:300])
        answers.append((request["method"], request["path"], response.json()))
        if "keep" in step:
            variables[step["keep"]] = response.json()[step["field"]]
    created = answers[2][2]
    ann_list, bob_list = answers[3][2]["results"], answers[6][2]["results"]
    assert [r["id"] for r in ann_list] == [created["id"]]
    assert ann_list[0]["data"] == {"title": "Buy milk", "done": False}
    assert ann_list[0]["end_user_id"] == answers[1][2]["user"]["id"]  # the session body
    assert bob_list == []
