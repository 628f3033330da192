"""Request building: URL, headers and body of every ESI verb, and the ``dynamicParamList`` encoding."""

from __future__ import annotations

import datetime
import json

import pytest

from airflow_provider_ofs.arguments import encode_dynamic_params, join_codes, mis_date_text, wire_batch_type
from airflow_provider_ofs.protocol import MAX_REQUEST_BYTES, Verb, build_run_action, build_status, build_trigger
from tests.core.factory import make_settings

ESI = "https://tenant.example.com/app/SchedulerService/rest-api/v1/external/"


def body_of(request):
    return json.loads(request.body)


def test_every_call_carries_the_identity_headers_with_their_defaults():
    request = build_status(make_settings(), "RUN_1")

    assert request.headers == {
        "ofs_tenant_id": "TENANT_1",
        "ofs_service_id": "SERVICE_1",
        "ofs_workspace_id": "WS001",
        "ofs_remote_user": "batch_user",
        "locale": "en-US",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }


def test_headers_follow_the_connection_extras():
    settings = make_settings(workspace_id="WS002", remote_user="exec_user", locale="de-DE")

    headers = build_status(settings, "RUN_1").headers

    assert headers["ofs_workspace_id"] == "WS002"
    assert headers["ofs_remote_user"] == "exec_user"
    assert headers["locale"] == "de-DE"


def test_bearer_token_is_added_without_changing_the_original_request():
    request = build_status(make_settings(), "RUN_1")

    with_token = request.with_bearer("tok-123")

    assert with_token.headers["Authorization"] == "Bearer tok-123"
    assert "Authorization" not in request.headers
    assert (with_token.url, with_token.body, with_token.verb) == (request.url, request.body, request.verb)


@pytest.mark.parametrize(
    ("build", "verb"),
    [
        (lambda s: build_trigger(s, "B"), "trigger"),
        (lambda s: build_status(s, "R"), "status"),
        (lambda s: build_run_action(s, Verb.INTERRUPT, "B", "R"), "interrupt"),
        (lambda s: build_run_action(s, Verb.RESTART, "B", "R"), "restart"),
        (lambda s: build_run_action(s, Verb.RERUN, "B", "R"), "rerun"),
    ],
)
def test_every_verb_posts_to_its_path_under_the_base_path_prefix(build, verb):
    request = build(make_settings())

    assert request.url == ESI + verb
    assert request.verb == verb


def test_base_url_without_prefix_puts_the_esi_path_at_the_root():
    request = build_status(make_settings(host="http://127.0.0.1:9000"), "R")

    assert request.url == "http://127.0.0.1:9000/SchedulerService/rest-api/v1/external/status"


def test_trigger_of_a_batch_sends_batch_type_rest_and_empty_code_lists():
    request = build_trigger(make_settings(), "OFS_DAILY_DATA_LOAD")

    assert body_of(request) == {
        "batchName": "OFS_DAILY_DATA_LOAD",
        "batchType": "rest",
        "excludedTasks": "",
        "heldTasks": "",
    }


def test_trigger_of_a_group_sends_batch_type_group():
    assert body_of(build_trigger(make_settings(), "EOD", "group"))["batchType"] == "group"


@pytest.mark.parametrize("codes", [["T1", "T2"], ("T1", "T2"), "T1,T2", " T1 , T2 ,", "T1,,T2"])
def test_excluded_and_held_accept_lists_or_comma_strings(codes):
    body = body_of(build_trigger(make_settings(), "B", excluded_tasks=codes, held_tasks=codes))

    assert body["excludedTasks"] == "T1,T2"
    assert body["heldTasks"] == "T1,T2"


def test_a_listed_code_containing_a_comma_is_refused():
    with pytest.raises(ValueError, match="excluded_tasks"):
        build_trigger(make_settings(), "B", excluded_tasks=["T1,T2"])


def test_trigger_sends_dynamic_params_as_a_json_string():
    params = encode_dynamic_params("batch", mis_date="2024-03-31")

    body = body_of(build_trigger(make_settings(), "B", dynamic_params=params))

    assert isinstance(body["dynamicParamList"], str)
    assert json.loads(body["dynamicParamList"]) == {"batchParams": {"$FICMISDATE$": "2024-03-31"}}


@pytest.mark.parametrize(
    ("batch_type", "params", "sent"),
    [
        ("batch", {"batchParams": {"R": "EU"}}, {"batchParams": {"R": "EU"}}),
        ("group", {"B1": {"batchParams": {"R": "EU"}}}, [{"batchName": "B1", "batchParams": {"R": "EU"}}]),
        ("batch", '{"batchParams": {}}', {"batchParams": {}}),
    ],
)
def test_an_object_edition_gets_dynamic_params_as_json_itself(batch_type, params, sent):
    body = body_of(build_trigger(make_settings(dynamic_params_format="object"), "B", batch_type, dynamic_params=params))

    assert body["dynamicParamList"] == sent


@pytest.mark.parametrize(("batch_type", "encoded"), [("batch", "[]"), ("group", "{}"), ("batch", "not json")])
def test_an_object_edition_refuses_an_encoded_string_of_the_wrong_shape(batch_type, encoded):
    with pytest.raises(ValueError, match="dynamic_params_format 'object'"):
        build_trigger(make_settings(dynamic_params_format="object"), "B", batch_type, dynamic_params=encoded)


def test_included_tasks_are_sent_only_when_given():
    assert "includedTasks" not in body_of(build_trigger(make_settings(), "B"))
    assert "includedTasks" not in body_of(build_trigger(make_settings(), "B", included_tasks=[]))
    assert body_of(build_trigger(make_settings(), "B", included_tasks=["T1", "T2"]))["includedTasks"] == "T1,T2"


def test_trigger_without_dynamic_params_leaves_the_field_out():
    assert "dynamicParamList" not in body_of(build_trigger(make_settings(), "B"))


def test_unknown_batch_type_is_refused_before_sending():
    with pytest.raises(ValueError, match="'rest'"):
        build_trigger(make_settings(), "B", batch_type="rest")


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_batch_name_is_refused_before_sending(name):
    with pytest.raises(ValueError, match="batch_name"):
        build_trigger(make_settings(), name)


def test_batch_name_is_trimmed():
    assert body_of(build_trigger(make_settings(), "  B  "))["batchName"] == "B"


def test_status_sends_batch_run_id_and_optional_task_list():
    assert body_of(build_status(make_settings(), "RUN_1")) == {"batchRunId": "RUN_1"}
    assert body_of(build_status(make_settings(), "RUN_1", ["T1", "T2"])) == {
        "batchRunId": "RUN_1",
        "tasks": ["T1", "T2"],
    }


def test_status_of_an_empty_run_id_is_refused_before_sending():
    with pytest.raises(ValueError, match="batch_run_id"):
        build_status(make_settings(), "")


@pytest.mark.parametrize("verb", [Verb.INTERRUPT, Verb.RESTART, Verb.RERUN])
def test_run_actions_send_batch_name_and_batch_run_id(verb):
    body = body_of(build_run_action(make_settings(), verb, "B", "B_2024-03-31_1711843200000_1"))

    assert body == {"batchName": "B", "batchRunId": "B_2024-03-31_1711843200000_1"}


@pytest.mark.parametrize("verb", [Verb.TRIGGER, Verb.STATUS])
def test_run_action_builder_refuses_other_verbs(verb):
    with pytest.raises(ValueError, match="not a run action"):
        build_run_action(make_settings(), verb, "B", "R")


def test_wire_batch_type_maps_batch_to_rest():
    assert wire_batch_type("batch") == "rest"
    assert wire_batch_type("group") == "group"


def test_join_codes_of_nothing_is_an_empty_string():
    assert join_codes("held_tasks", None) == ""
    assert join_codes("held_tasks", []) == ""


# ---------------------------------------------------------------------------------------- dynamicParamList


def test_batch_params_with_mis_date_and_task_params():
    encoded = encode_dynamic_params(
        "batch",
        mis_date="2024-03-31",
        batch_params={"REGION": "EU"},
        task_params={"CALC_CREDIT_RWA": {"approach": "IRB"}},
    )

    assert json.loads(encoded) == {
        "batchParams": {"REGION": "EU", "$FICMISDATE$": "2024-03-31"},
        "taskRuntimeParams": {"CALC_CREDIT_RWA": {"approach": "IRB"}},
    }


def test_group_params_become_one_entry_per_batch_with_the_mis_date_in_each():
    encoded = encode_dynamic_params(
        "group",
        mis_date=datetime.date(2024, 3, 31),
        group_params={
            "OFS_DAILY_DATA_LOAD": {"batchParams": {"REGION": "EU"}},
            "OFS_REG_CAPITAL_CALC": {"taskRuntimeParams": {"CALC_CREDIT_RWA": {"approach": "IRB"}}},
        },
    )

    assert json.loads(encoded) == [
        {"batchName": "OFS_DAILY_DATA_LOAD", "batchParams": {"REGION": "EU", "$FICMISDATE$": "2024-03-31"}},
        {
            "batchName": "OFS_REG_CAPITAL_CALC",
            "batchParams": {"$FICMISDATE$": "2024-03-31"},
            "taskRuntimeParams": {"CALC_CREDIT_RWA": {"approach": "IRB"}},
        },
    ]


def test_user_batch_params_may_use_any_key_and_mis_date_wins_for_its_own():
    encoded = encode_dynamic_params(
        "batch", mis_date="2024-03-31", batch_params={"FICMISDATE$": "x", "$FICMISDATE$": "y"}
    )

    assert json.loads(encoded) == {"batchParams": {"FICMISDATE$": "x", "$FICMISDATE$": "2024-03-31"}}


def test_nothing_to_send_encodes_to_none():
    assert encode_dynamic_params("batch") is None
    assert encode_dynamic_params("batch", batch_params={}, task_params={}) is None
    assert encode_dynamic_params("group") is None


def test_json_special_characters_in_values_survive_encoding():
    tricky = {"quote": 'a"b', "backslash": "c\\d", "newline": "e\nf", "unicode": "Zürich €", "brace": "{x}"}

    assert json.loads(encode_dynamic_params("batch", batch_params=tricky)) == {"batchParams": tricky}


def test_dates_in_params_are_sent_as_iso_text():
    encoded = encode_dynamic_params("batch", batch_params={"AS_OF": datetime.date(2024, 1, 2)})

    assert json.loads(encoded) == {"batchParams": {"AS_OF": "2024-01-02"}}


def test_params_that_are_not_json_serialisable_are_refused_with_the_reason():
    with pytest.raises(ValueError, match="JSON-serialisable"):
        encode_dynamic_params("batch", batch_params={"x": object()})


def test_group_params_on_a_batch_are_refused():
    with pytest.raises(ValueError, match="group_params"):
        encode_dynamic_params("batch", group_params={"B": {"batchParams": {}}})


def test_batch_and_task_params_on_a_group_are_refused():
    with pytest.raises(ValueError, match="group_params"):
        encode_dynamic_params("group", batch_params={"x": 1})
    with pytest.raises(ValueError, match="group_params"):
        encode_dynamic_params("group", task_params={"T": {"x": 1}})


def test_mis_date_for_a_group_needs_the_batches_named():
    with pytest.raises(ValueError, match="group_params"):
        encode_dynamic_params("group", mis_date="2024-03-31")


def test_unknown_keys_in_a_group_entry_are_refused_by_name():
    with pytest.raises(ValueError, match="batchParam"):
        encode_dynamic_params("group", group_params={"B": {"batchParam": {"x": 1}}})


def test_unknown_batch_type_for_params_is_refused():
    with pytest.raises(ValueError, match="batch_type"):
        encode_dynamic_params("rest", mis_date="2024-03-31")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("2024-03-31", "2024-03-31"),
        (" 2024-03-31 ", "2024-03-31"),
        (datetime.date(2024, 3, 31), "2024-03-31"),
        (datetime.datetime(2024, 3, 31, 23, 59), "2024-03-31"),
        (None, None),
        ("", None),
    ],
)
def test_mis_date_text_accepts_dates_and_iso_text(value, text):
    assert mis_date_text(value) == text


@pytest.mark.parametrize(
    "value",
    [
        "31/03/2024",
        "2024-02-30",
        "yesterday",
        "2024-3-31",
        "20240331",
        "2024-W13-7",
        "\u0662\u0660\u0662\u0664-\u0660\u0663-\u0663\u0661",
    ],
)
def test_mis_date_that_is_not_yyyy_mm_dd_is_refused_with_the_value(value):
    with pytest.raises(ValueError, match="yyyy-mm-dd"):
        mis_date_text(value)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
@pytest.mark.parametrize(
    ("arguments", "named"),
    [
        (lambda bad: {"batch_params": {"RATE": bad}}, "batch_params['RATE']"),
        (lambda bad: {"task_params": {"T1": {"LIMITS": [1.0, bad]}}}, "task_params['T1']['LIMITS'][1]"),
        (lambda bad: {"group_params": {"B1": {"batchParams": {"X": bad}}}}, "group_params['B1']['batchParams']['X']"),
    ],
)
def test_nan_and_infinity_in_params_are_refused_by_key(arguments, named, bad):
    batch_type = "group" if "group_params" in arguments(bad) else "batch"

    with pytest.raises(ValueError, match="NaN or Infinity") as raised:
        encode_dynamic_params(batch_type, **arguments(bad))

    assert named in str(raised.value)


@pytest.mark.parametrize("params_format", ["string", "object"])
def test_nan_in_the_hooks_dynamic_params_is_refused_by_key_before_sending(params_format):
    settings = make_settings(dynamic_params_format=params_format)

    with pytest.raises(ValueError, match=r"dynamic_params\['batchParams'\]\['RATE'\] is nan"):
        build_trigger(settings, "B", dynamic_params={"batchParams": {"RATE": float("nan")}})


def test_nan_in_an_encoded_dynamic_params_string_is_refused_for_an_object_edition():
    settings = make_settings(dynamic_params_format="object")

    with pytest.raises(ValueError, match="NaN or Infinity"):
        build_trigger(settings, "B", dynamic_params='{"batchParams": {"RATE": NaN}}')


def test_a_request_body_over_the_limit_is_refused_before_sending_with_its_size():
    codes = [f"TASK_{number:07d}" for number in range(MAX_REQUEST_BYTES // 12)]

    with pytest.raises(ValueError, match=f"{MAX_REQUEST_BYTES} bytes") as raised:
        build_trigger(make_settings(), "B", excluded_tasks=codes)

    assert "trigger" in str(raised.value)
    assert "bytes" in str(raised.value)


def test_a_request_body_under_the_limit_is_sent_whole():
    codes = [f"TASK_{number:05d}" for number in range(1000)]

    assert body_of(build_trigger(make_settings(), "B", excluded_tasks=codes))["excludedTasks"].count(",") == 999
