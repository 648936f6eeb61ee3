"""Any document, however odd: the loader answers with a SpecError or a spec that round-trips.

Never a TypeError or KeyError from a validator that met an unexpected shape.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kedge.errors import SpecError
from kedge.specs import loader
from kedge.specs.compose_service import Service

KEYS = [*Service.model_fields, "x-a", "extends", "bogus", "x-kedge"]
NESTED_KEYS = [*KEYS, "a", "source", "target", "type", "condition", "test", "limits", "memory"]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-5, 70000),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        ["", "a", "80:80", "1m", "data:/d", "CMD", "service:a", "./x:/y", "1g", "a=b", "$$"]
    ),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(NESTED_KEYS), inner, max_size=3),
    ),
    max_leaves=8,
)
SERVICES = st.dictionaries(
    st.sampled_from(["a", "b", "c"]),
    st.dictionaries(st.sampled_from(KEYS), VALUES, max_size=5),
    min_size=1,
    max_size=3,
)
DOCUMENTS = st.fixed_dictionaries(
    {"services": SERVICES},
    optional={
        "networks": st.dictionaries(st.sampled_from(["n", "default"]), VALUES, max_size=2),
        "volumes": st.dictionaries(st.just("data"), VALUES, max_size=1),
        "secrets": st.dictionaries(st.just("s"), VALUES, max_size=1),
        "configs": st.dictionaries(st.just("c"), VALUES, max_size=1),
        "x-kedge": VALUES,
        "name": VALUES,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(DOCUMENTS)
def test_the_loader_answers_every_document(document: dict[str, Any]) -> None:
    text = json.dumps(document)
    try:
        spec = loader.parse(text, name="fuzz")
    except SpecError as exc:
        rendered = exc.render()
        spec = None
    else:
        rendered = ""
    if spec is None:
        assert rendered.startswith("<string>")
    else:
        assert loader.from_canonical(loader.canonical(spec)) == spec
