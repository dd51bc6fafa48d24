"""The Python evaluator against PostgreSQL where they could disagree most: words.

``datastore.matching`` splits text into words itself only when it can do so exactly as
PostgreSQL's parser does; these properties ask PostgreSQL about random text (punctuation,
hyphens, dots, HTML, non-ASCII letters) and require Python to either agree or defer.
"""

import pytest
from django.db import connection
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from datastore.filters import Condition
from datastore.matching import evaluate, evaluate_in_database, matches, search_words

pytestmark = pytest.mark.django_db

words = st.sampled_from(["fox", "Fox", "FOX", "dog", "a1", "7b", "42", "amp", "lt", "br", "x2F"])
foreign = st.sampled_from(["é", "É", "ß", "Ωmega", "日本", "\x0b", "1.5", "a.b"])
# Punctuation Python splits words on, and the rest.
safe = st.sampled_from(list(" \t\n\r!\"#$%'()*,:;=>?@[\\]^_`{|}"))
unsafe = st.sampled_from([*"&+-./<~", " - ", "&amp;", "<b>"])
plain_texts = st.lists(st.one_of(words, safe), max_size=14).map("".join)
any_texts = st.lists(st.one_of(words, words, safe, safe, unsafe, foreign), max_size=10).map("".join)
texts = st.one_of(plain_texts, any_texts)
settings_ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def lexemes(text: str) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT lexeme FROM unnest(to_tsvector('simple', %s))", [text])
        return {row[0] for row in cursor.fetchall()}


@settings_
@given(text=texts)
def test_python_words_are_postgresqls_or_python_defers(text):
    words = search_words(text)
    event("deferred" if words is None else "decided in Python")
    if words is not None:
        assert words == lexemes(text), text


@settings_
@given(field=texts, query=texts.filter(bool))
def test_search_agrees_with_the_sql_or_defers(field, query):
    condition = Condition(("t",), "search", query)
    data = {"t": field}
    verdict = evaluate(condition, data)
    event("deferred" if verdict is None else f"decided in Python: {verdict}")
    in_database = evaluate_in_database([condition], data)
    if verdict is not None:
        assert verdict == in_database, (field, query)
    assert matches([condition], data) == in_database


def test_examples():
    def search(field, query):
        return matches([Condition(("t",), "search", query)], {"t": field})

    assert search("Deploy the API", "deploy api")
    assert search("Fox, dog!", "(DOG)")
    assert not search("hot fix", "hot-fix")  # one hyphenated word to PostgreSQL
    assert search("hot-fix login", "hot-fix")
    assert not search("fox", "!!")  # no words at all: matches nothing
    assert evaluate(Condition(("t",), "search", "hot-fix"), {"t": "hot-fix"}) is None
    big, small = Condition(("n",), "gt", 10**20), Condition(("n",), "eq", 1)
    assert matches([big], {"n": 1e20 + 2**20}) == evaluate_in_database([big], {"n": 1e20 + 2**20})
    assert matches([small], {"n": 1.0}) and not matches([small], {"n": True})
