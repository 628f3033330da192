"""Properties over arbitrary input: the parser only raises our errors; dynamic parameters round-trip."""

from __future__ import annotations

import contextlib
import json
import string

from hypothesis import given, settings
from hypothesis import strategies as st

from airflow_provider_ofs.arguments import encode_dynamic_params
from airflow_provider_ofs.exceptions import OFSSchedulerError
from airflow_provider_ofs.protocol import (
    HttpResponse,
    decode_answer,
    parse_status,
    parse_token_answer,
    run_id_from,
)
from airflow_provider_ofs.states import RunState
from tests.core.factory import make_settings

SETTINGS = make_settings()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
codes = st.one_of(
    st.sampled_from(["0", "-1", "-2", "1", "2", "3", "4", "5", "-3", "-8", "-9", "6", "", " 0", "x"]),
    st.integers(-10, 10),
    json_values,
)
entries = st.fixed_dictionaries(
    {},
    optional={
        "taskCode": st.text(max_size=6) | json_values,
        "batchRunId": st.text(max_size=6) | json_values,
        "statusCode": codes,
        "batchStatusCode": codes,
        "batchStatus": json_values,
    },
)
# Envelopes that look like ESI answers, so that the search reaches deep into the parser.
envelopes = st.fixed_dictionaries(
    {},
    optional={
        "status": json_values,
        "severity": json_values,
        "statusCode": codes,
        "summary": json_values,
        "batchRunId": st.text(max_size=10) | json_values,
        "batchStatusCode": codes,
        "batchStatus": json_values,
        "taskStatusList": st.lists(entries, max_size=4) | json_values,
        "batchList": st.lists(entries, max_size=4) | json_values,
    },
)
http_statuses = st.sampled_from([200, 201, 400, 401, 404, 429, 500, 502, 503, 504])


def read_status(response: HttpResponse) -> None:
    envelope = decode_answer(response, "status")
    status = parse_status(envelope, "ASKED")
    assert isinstance(status.state, RunState)
    run_id_from(envelope, "trigger")


@settings(max_examples=150, deadline=None)
@given(body=envelopes, status=http_statuses)
def test_parser_raises_only_our_errors_on_envelope_like_json(body, status):
    with contextlib.suppress(OFSSchedulerError):
        read_status(HttpResponse(status=status, body=json.dumps(body).encode(), content_type="application/json"))


@settings(max_examples=200, deadline=None)
@given(body=json_values, status=http_statuses)
def test_parser_raises_only_our_errors_on_arbitrary_json(body, status):
    with contextlib.suppress(OFSSchedulerError):
        read_status(HttpResponse(status=status, body=json.dumps(body).encode()))


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=200), status=http_statuses, retry_after=st.none() | st.text(max_size=10))
def test_parser_raises_only_our_errors_on_arbitrary_bytes(body, status, retry_after):
    response = HttpResponse(status=status, body=body, content_type="application/json", retry_after=retry_after)
    with contextlib.suppress(OFSSchedulerError):
        read_status(response)
    with contextlib.suppress(OFSSchedulerError):
        parse_token_answer(response, SETTINGS)


@settings(max_examples=100, deadline=None)
@given(
    body=json_values
    | st.dictionaries(st.sampled_from(["access_token", "expires_in", "refresh_token", "error"]), json_values),
    status=http_statuses,
)
def test_token_parser_raises_only_our_errors_on_arbitrary_json(body, status):
    try:
        token = parse_token_answer(HttpResponse(status=status, body=json.dumps(body).encode()), SETTINGS)
    except OFSSchedulerError:
        return
    assert token.access_token


param_keys = st.text(min_size=1, max_size=12)
param_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(param_keys, children, max_size=3),
    max_leaves=6,
)
params = st.dictionaries(param_keys, param_values, min_size=1, max_size=5)
task_codes = st.text(alphabet=string.ascii_uppercase + "_", min_size=1, max_size=10)


@settings(max_examples=60, deadline=None)
@given(batch_params=params, task_params=st.dictionaries(task_codes, params, max_size=3))
def test_batch_dynamic_params_round_trip(batch_params, task_params):
    decoded = json.loads(encode_dynamic_params("batch", batch_params=batch_params, task_params=task_params))

    assert decoded["batchParams"] == batch_params
    assert decoded.get("taskRuntimeParams", {}) == task_params


@settings(max_examples=40, deadline=None)
@given(
    group_params=st.dictionaries(
        task_codes,
        st.fixed_dictionaries(
            {"batchParams": params}, optional={"taskRuntimeParams": st.dictionaries(task_codes, params, max_size=2)}
        ),
        min_size=1,
        max_size=3,
    ),
    mis_date=st.dates(),
)
def test_group_dynamic_params_round_trip_with_the_mis_date(group_params, mis_date):
    decoded = json.loads(encode_dynamic_params("group", mis_date=mis_date, group_params=group_params))

    assert [entry["batchName"] for entry in decoded] == list(group_params)
    for entry in decoded:
        sent = group_params[entry["batchName"]]
        assert entry["batchParams"] == {**sent["batchParams"], "$FICMISDATE$": mis_date.isoformat()}
        assert entry.get("taskRuntimeParams", {}) == sent.get("taskRuntimeParams", {})
