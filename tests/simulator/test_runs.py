"""Run semantics through HTTP: status shapes, outcomes, excluded/held, interrupt/restart/rerun, groups."""

from __future__ import annotations

import time

from esi_sim_support import EsiClient, task_codes

from airflow_provider_ofs.simulator import RunCode, Simulator

TEXTS = {"0": "SUCCESSFUL", "-1": "FAILED", "-2": "INTERRUPTED", "1": "NOT-STARTED", "2": "ON-GOING"}
TEXTS |= {"3": "ABORTED", "4": "EXCLUDED", "5": "HELD"}


def assert_codes_are_strings(answer: dict[str, object]) -> None:
    """ESI-NOTES 1: every code on the wire is a string, and texts match codes (ESI-NOTES 11)."""
    assert isinstance(answer["statusCode"], str)
    assert isinstance(answer["batchStatusCode"], str)
    assert answer["batchStatus"] == TEXTS[str(answer["batchStatusCode"])]
    for task in answer.get("taskStatusList", []):  # type: ignore[attr-defined]
        assert isinstance(task["statusCode"], str)
        assert task["taskStatus"] == TEXTS[task["statusCode"]]
    for child in answer["batchList"]:  # type: ignore[attr-defined]
        assert isinstance(child["batchStatusCode"], str)
        assert child["batchStatus"] == TEXTS[child["batchStatusCode"]]


def test_batch_status_shape_and_success(esi: EsiClient) -> None:
    run_id = esi.trigger("QUICK")
    answer = esi.status(run_id)
    assert answer["batchRunId"] == run_id
    assert answer["severity"] == "info"
    assert answer["batchList"] == []  # ESI-NOTES 12
    assert [t["taskCode"] for t in answer["taskStatusList"]] == ["A", "B", "C"]
    assert_codes_are_strings(answer)
    done = esi.wait_for(run_id, "0")
    assert task_codes(done) == {"A": "0", "B": "0", "C": "0"}
    assert_codes_are_strings(done)


def test_tasks_filter(esi: EsiClient) -> None:
    run_id = esi.trigger("QUICK")
    answer = esi.status(run_id, tasks=["C", "A"])
    assert [t["taskCode"] for t in answer["taskStatusList"]] == ["C", "A"]


def test_failed_run_two_layers(esi: EsiClient) -> None:
    """ESI-NOTES 2: the status call succeeds while the run failed."""
    run_id = esi.trigger("FAILING")
    answer = esi.wait_for(run_id, "-1")
    assert answer["statusCode"] == "0"
    assert task_codes(answer) == {"F1": "0", "F2": "-1", "F3": "1"}
    assert_codes_are_strings(answer)


def test_abort(esi: EsiClient) -> None:
    run_id = esi.trigger("ABORTING")
    answer = esi.wait_for(run_id, "3")
    assert task_codes(answer) == {"X1": "3", "X2": "1"}


def test_excluded_and_held(esi: EsiClient, sim: Simulator) -> None:
    """ESI-NOTES 10: excluded tasks end EXCLUDED; held tasks keep the run HELD, never finished."""
    run_id = esi.trigger("QUICK", excludedTasks="A", heldTasks="B")
    answer = esi.wait_for(run_id, "5")
    assert task_codes(answer) == {"A": "4", "B": "5", "C": "0"}
    assert_codes_are_strings(answer)
    assert esi.status(run_id)["batchStatusCode"] == "5"
    sim.release_held(run_id)  # test-only helper, not part of ESI
    assert task_codes(esi.wait_for(run_id, "0")) == {"A": "4", "B": "0", "C": "0"}


def test_fail_once_then_restart_same_id(esi: EsiClient, sim: Simulator) -> None:
    run_id = esi.trigger("FLAKY")
    assert task_codes(esi.wait_for(run_id, "-1")) == {"K1": "0", "K2": "-1", "K3": "1"}
    answer = esi.ok("restart", {"batchName": "FLAKY", "batchRunId": run_id})
    assert answer["batchRunId"] == run_id  # ESI-NOTES 8: watch the returned id
    assert task_codes(esi.wait_for(run_id, "0")) == {"K1": "0", "K2": "0", "K3": "0"}
    assert sim.get_run(run_id).attempt == 2
    assert sim.journal.runs_created("FLAKY") == 1


def test_restart_rules(esi: EsiClient) -> None:
    """ESI-NOTES 9: restart of an ongoing or successful run answers -8."""
    long_id = esi.trigger("LONG")
    ongoing = esi.action("restart", "LONG", long_id)
    assert ongoing.status_code == 200
    assert ongoing.json()["statusCode"] == "-8"
    quick_id = esi.trigger("QUICK")
    esi.wait_for(quick_id, "0")
    assert esi.action("restart", "QUICK", quick_id).json()["statusCode"] == "-8"
    aborted = esi.trigger("ABORTING")
    esi.wait_for(aborted, "3")
    assert esi.action("restart", "ABORTING", aborted).json()["statusCode"] == "0"


def test_interrupt_rules(esi: EsiClient, sim: Simulator) -> None:
    """ESI-NOTES 9: interrupt ongoing -> 0; again -> -7; not ongoing -> -8; then restart resumes."""
    run_id = esi.trigger("LONG")
    esi.wait_for(run_id, "2")
    first = esi.action("interrupt", "LONG", run_id)
    assert first.status_code == 200
    assert first.json()["statusCode"] == "0"
    answer = esi.status(run_id)
    assert answer["batchStatusCode"] == "-2"
    assert task_codes(answer) == {"L1": "-2", "L2": "1"}
    again = esi.action("interrupt", "LONG", run_id).json()
    assert again["statusCode"] == "-7"
    assert again["status"] != "success"
    quick_id = esi.trigger("QUICK")
    esi.wait_for(quick_id, "0")
    assert esi.action("interrupt", "QUICK", quick_id).json()["statusCode"] == "-8"
    assert esi.action("restart", "LONG", run_id).json()["statusCode"] == "0"
    assert sim.get_run(run_id).state is RunCode.ONGOING


def test_rerun_new_run_same_mis_date(esi: EsiClient, sim: Simulator) -> None:
    run_id = esi.trigger("FAILING", dynamicParamList='{"batchParams": {"$FICMISDATE$": "2024-02-29"}}')
    assert esi.action("rerun", "FAILING", run_id).json()["statusCode"] == "-8"  # still ongoing
    esi.wait_for(run_id, "-1")
    answer = esi.ok("rerun", {"batchName": "FAILING", "batchRunId": run_id})
    new_id = answer["batchRunId"]
    assert new_id != run_id
    assert new_id.startswith("FAILING_2024-02-29_")
    assert task_codes(esi.wait_for(new_id, "-1"))["F2"] == "-1"  # from the beginning, fails again
    assert esi.status(run_id)["batchStatusCode"] == "-1"  # the old run is untouched
    assert sim.journal.runs_created("FAILING") == 2


def test_rerun_of_fail_once_succeeds(esi: EsiClient) -> None:
    run_id = esi.trigger("FLAKY")
    esi.wait_for(run_id, "-1")
    new_id = esi.ok("rerun", {"batchName": "FLAKY", "batchRunId": run_id})["batchRunId"]
    assert esi.wait_for(new_id, "0")["batchStatusCode"] == "0"


def test_rerun_can_keep_the_run_id(esi: EsiClient) -> None:
    """ESI-NOTES 9: a firm may configure rerun to keep the id."""
    run_id = esi.trigger("KEEPER")
    esi.wait_for(run_id, "0")
    assert esi.ok("rerun", {"batchName": "KEEPER", "batchRunId": run_id})["batchRunId"] == run_id
    esi.wait_for(run_id, "0")


def test_group_status_shape_and_children(esi: EsiClient) -> None:
    """ESI-NOTES 12: batchList of child runs, no taskStatusList; children queryable by their ids."""
    run_id = esi.trigger("G_FAIL", "group")
    first = esi.status(run_id)
    assert "taskStatusList" not in first
    assert len(first["batchList"]) == 1  # only started or decided children
    answer = esi.wait_for(run_id, "-1")
    assert_codes_are_strings(answer)
    children = answer["batchList"]
    assert [c["batchRunId"].split("_")[0] for c in children] == ["QUICK", "FAILING"]  # FLAKY never started
    assert [c["batchStatusCode"] for c in children] == ["0", "-1"]
    child = esi.status(children[1]["batchRunId"])
    assert task_codes(child) == {"F1": "0", "F2": "-1", "F3": "1"}


def test_group_excluded_and_held_children(esi: EsiClient) -> None:
    """Excluded child -> 4, held child -> 5 and the group is HELD, not finished (ESI-NOTES 10)."""
    run_id = esi.trigger("G_FAIL", "group", excludedTasks="FAILING", heldTasks="FLAKY")
    answer = esi.wait_for(run_id, "5")
    states = {c["batchRunId"].split("_")[0]: c["batchStatusCode"] for c in answer["batchList"]}
    assert states == {"QUICK": "0", "FAILING": "4", "FLAKY": "5"}
    assert_codes_are_strings(answer)


def test_group_success_after_restart(esi: EsiClient) -> None:
    run_id = esi.trigger("G_OK", "group")
    failed = esi.wait_for(run_id, "-1")
    assert [c["batchStatusCode"] for c in failed["batchList"]] == ["0", "-1"]
    assert esi.ok("restart", {"batchName": "G_OK", "batchRunId": run_id})["batchRunId"] == run_id
    done = esi.wait_for(run_id, "0")
    assert [c["batchStatusCode"] for c in done["batchList"]] == ["0", "0"]
    assert [c["batchRunId"] for c in done["batchList"]] == [c["batchRunId"] for c in failed["batchList"]]


def test_group_interrupt_and_rerun(esi: EsiClient) -> None:
    run_id = esi.trigger("G_LONG", "group")
    answer = esi.wait_for(run_id, "2")
    while len(answer["batchList"]) < 2:  # QUICK takes 75 ms at speed 20
        time.sleep(0.01)
        answer = esi.status(run_id)
    assert esi.action("interrupt", "G_LONG", run_id).json()["statusCode"] == "0"
    stopped = esi.status(run_id)
    assert stopped["batchStatusCode"] == "-2"
    assert [c["batchStatusCode"] for c in stopped["batchList"]] == ["0", "-2"]
    assert esi.action("interrupt", "G_LONG", run_id).json()["statusCode"] == "-7"
    new_id = esi.ok("rerun", {"batchName": "G_LONG", "batchRunId": run_id})["batchRunId"]
    assert new_id != run_id
    assert esi.status(new_id)["batchStatusCode"] == "2"
