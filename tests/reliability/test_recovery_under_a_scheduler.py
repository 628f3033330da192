"""``recovery=`` under a real scheduler and triggerer (Airflow 3.3+): each answer, given through the REST API as the
Required Actions page gives it, has its effect on OFS once.

The DAGs are in ``recovery_dags.py``: each batch fails, the task asks, and the test answers (or, for the timeout,
does not). It counts in the simulator's journal what every try did to OFS: 1 restart call for Restart, 1 rerun
call for Rerun, none for Mark done and Fail; and a try lost after the answer is retried without acting again.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from airflow_provider_ofs._compat import airflow_version
from airflow_provider_ofs.arguments import DEFAULT_CONN_ID
from airflow_provider_ofs.asset_events import ofs_batch_uri
from airflow_provider_ofs.recovery import FAIL, MARK_DONE, OPTIONS, RERUN, RESTART, XCOM_RECOVERY_KEY
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from tests.reliability.airflow_cluster import AirflowCluster
from tests.reliability.recovery_dags import CASES, MAPPED, catalogue

DAG_FILE = Path(__file__).with_name("recovery_dags.py")
FINISHED = ("success", "failed", "upstream_failed")

pytestmark = [
    pytest.mark.ui,  # the user's path, run by make test-ui beside the browser test: minutes of a scheduler
    pytest.mark.airflow_e2e,
    pytest.mark.timeout(900),
    pytest.mark.skipif(airflow_version() < (3, 3), reason="recovery= needs Airflow 3.3 (refused at parse before)"),
]


def states(cluster: AirflowCluster, dag_id: str) -> dict[str, tuple[str, int]]:
    """Task id -> (state, try number) of the DAG's tasks, once all have finished (else empty)."""
    rows = cluster.query("SELECT task_id, state, try_number FROM task_instance WHERE dag_id = ?", dag_id)
    found = {task_id: (state, tries) for task_id, state, tries in rows}
    return found if len(found) == 2 and all(state in FINISHED for state, _ in found.values()) else {}


def mapped_states(cluster: AirflowCluster) -> dict[int, tuple[str, int]]:
    """Map index -> (state, try number) of ``rc_mapped``'s load task, once both have finished (else empty)."""
    rows = cluster.query("SELECT map_index, state, try_number FROM task_instance WHERE dag_id = 'rc_mapped'")
    found = {index: (state, tries) for index, state, tries in rows}
    return found if len(found) == len(MAPPED) and all(state in FINISHED for state, _ in found.values()) else {}


def question(cluster: AirflowCluster, dag_id: str, map_index: int = -1) -> tuple[str, str, str, int] | None:
    """The DAG's load task awaiting an answer: (DAG run id, subject, body, try number), or ``None``."""
    rows = cluster.query(
        "SELECT ti.run_id, h.subject, h.body, ti.try_number FROM task_instance ti JOIN hitl_detail h "
        "ON h.ti_id = ti.id WHERE ti.dag_id = ? AND ti.task_id = 'load' AND ti.map_index = ? "
        "AND ti.state = 'awaiting_input'",
        dag_id,
        map_index,
    )
    return rows[0] if rows else None


def answer(cluster: AirflowCluster, dag_id: str, run_id: str, choice: str, map_index: int = -1) -> None:
    """Answer as the Required Actions page does: PATCH the task instance's HITL detail."""
    path = f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances/load/{map_index}/hitlDetails"
    responded = (
        "SELECT h.responded_at FROM task_instance ti JOIN hitl_detail h ON h.ti_id = ti.id WHERE ti.dag_id = ? "
        "AND ti.run_id = ? AND ti.task_id = 'load' AND ti.map_index = ? AND h.responded_at IS NOT NULL"
    )
    reply = cluster.rest(
        "PATCH",
        path,
        {"chosen_options": [choice]},
        applied=lambda: bool(cluster.query(responded, dag_id, run_id, map_index)),
    )
    assert reply["chosen_options"] == [choice]


def recorded(cluster: AirflowCluster, dag_id: str, map_index: int = -1) -> list[dict[str, Any]]:
    """The task's XCom ``ofs_recovery``: the answers it recorded."""
    rows = cluster.query(
        "SELECT value FROM xcom WHERE dag_id = ? AND task_id = 'load' AND map_index = ? AND key = ?",
        dag_id,
        map_index,
        XCOM_RECOVERY_KEY,
    )
    if not rows:
        return []
    value = json.loads(rows[0][0]) if isinstance(rows[0][0], (str, bytes)) else rows[0][0]
    return value if isinstance(value, list) else json.loads(value)


def event_extras(cluster: AirflowCluster, uri: str) -> list[dict[str, Any]]:
    rows = cluster.query(
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.uri = ? ORDER BY e.id", uri
    )
    return [json.loads(extra) if isinstance(extra, str) else extra for (extra,) in rows]


def test_each_answer_acts_on_ofs_once_and_a_retry_after_it_does_not_act_again(
    airflow_cli: Any, ofs_simulator_factory: Any, tmp_path: Path
) -> None:
    simulator = ofs_simulator_factory(catalogue(), speed=1)
    connection = simulator.connection_json(retry_wait=0.2, monitor_url="https://ofs.example.com/monitor?run={run_id}")
    dags_folder = tmp_path / "dags"
    dags_folder.mkdir()
    shutil.copy(DAG_FILE, dags_folder)
    choices = {
        "rc_restart": RESTART,
        "rc_rerun": RERUN,
        "rc_done": MARK_DONE,
        "rc_fail": FAIL,
        "rc_retry": RESTART,
        "rc_lost": RESTART,
    }
    quick_answers: list[int] = []  # the tries of rc_quick answered

    def quick_ends(cluster: AirflowCluster) -> dict[str, tuple[str, int]]:
        """rc_quick's final states; answers Restart the moment the first question appears, and a retry's once
        parked."""
        asked_now = question(cluster, "rc_quick")
        new = asked_now is not None and asked_now[3] not in quick_answers
        if asked_now is not None and new and (not quick_answers or cluster.saw_park("rc_quick", "load")):
            answer(cluster, "rc_quick", asked_now[0], RESTART)
            quick_answers.append(asked_now[3])
        return states(cluster, "rc_quick")

    with AirflowCluster(tmp_path / "home", airflow_cli.pristine_db, dags_folder, {CONN_ENV_VAR: connection}) as cluster:
        cluster.start_airflow()
        cluster.wait_for("rc_quick's question", lambda: quick_ends(cluster) or quick_answers, 300)
        asked: dict[str, tuple[str, str, str, int]] = {}
        for dag_id in choices:
            asked[dag_id] = cluster.wait_for(f"{dag_id}'s question", lambda d=dag_id: question(cluster, d), 300)
            cluster.wait_for(f"{dag_id}'s asking try to end", lambda d=dag_id: cluster.saw_park(d, "load"), 120)
        mapped_choices = {0: RESTART, 1: RERUN}
        for index in mapped_choices:
            asked[f"rc_mapped[{index}]"] = cluster.wait_for(
                f"rc_mapped[{index}]'s question", lambda i=index: question(cluster, "rc_mapped", i), 300
            )
            cluster.wait_for("its asking try to end", lambda i=index: cluster.saw_park("rc_mapped", "load", i), 120)
        for index, choice in mapped_choices.items():
            answer(cluster, "rc_mapped", asked[f"rc_mapped[{index}]"][0], choice, index)
        for dag_id, choice in choices.items():
            if dag_id == "rc_retry":  # the status calls after the answer fail until the try gives the run up
                simulator.add_fault("status", [503] * 5, batch=CASES[dag_id][0])  # 5: every attempt of one call
            answer(cluster, dag_id, asked[dag_id][0], choice)
        final = {
            dag_id: cluster.wait_for(dag_id, lambda d=dag_id: states(cluster, d), 300)
            for dag_id in CASES
            if dag_id != "rc_quick"
        }
        final["rc_quick"] = cluster.wait_for("rc_quick", lambda: quick_ends(cluster), 300)
        final_mapped = cluster.wait_for("rc_mapped", lambda: mapped_states(cluster), 300)

    # The question names the batch, MIS date, run, failed task and the Batch Monitor link.
    _, subject, body, _ = asked["rc_restart"]
    [failed_run] = [run.run_id for run in simulator.runs.values() if run.name == "RC_RESTART"]
    assert subject == "OFS batch RC_RESTART for MIS date 2026-03-31 failed"
    assert failed_run in body
    assert "RC_STEP" in body
    assert "https://ofs.example.com/monitor?run=" in body
    assert all(option in body for option in OPTIONS)

    calls = {
        dag_id: (simulator.journal.count("restart", batch), simulator.journal.count("rerun", batch))
        for dag_id, (batch, _, _) in CASES.items()
    }
    report = f"{final}\n{calls}\n{cluster.report()}"
    assert final["rc_restart"] == {"load": ("success", 1), "after": ("success", 1)}, report
    assert calls["rc_restart"] == (1, 0), report
    assert final["rc_rerun"] == {"load": ("success", 1), "after": ("success", 1)}, report
    assert calls["rc_rerun"] == (0, 1), report
    assert final["rc_done"] == {"load": ("success", 1), "after": ("success", 1)}, report
    assert calls["rc_done"] == (0, 0), report
    assert final["rc_fail"]["load"] == ("failed", 1), report  # retries=2, yet no retry: a person said Fail
    assert final["rc_fail"]["after"][0] == "upstream_failed", report
    assert calls["rc_fail"] == (0, 0), report
    assert final["rc_timeout"]["load"] == ("success", 1), report
    assert calls["rc_timeout"] == (1, 0), report
    assert final["rc_retry"]["load"] == ("success", 2), report  # try 1 lost the run after restarting it
    assert calls["rc_retry"] == (1, 0), report
    assert simulator.journal.runs_created("RC_RETRY") == 1, report
    # Answered at once: whether or not Airflow failed the answered try (and the retry), one restart, one run, and
    # success in the last try answered.
    assert final["rc_quick"]["load"] == ("success", quick_answers[-1]), report
    assert calls["rc_quick"] == (1, 0), report
    assert simulator.journal.runs_created("RC_QUICK") == 1, report
    assert final["rc_lost"]["load"] == ("success", 2), report  # the retry asked, then restarted the kept run
    assert calls["rc_lost"] == (1, 0), report
    assert simulator.journal.runs_created("RC_LOST") == 1, report

    # A mapped task: each map index asks about its own batch's run, and its answer acts on that run only.
    assert final_mapped == {0: ("success", 1), 1: ("success", 1)}, report
    for index, batch in enumerate(MAPPED):
        assert asked[f"rc_mapped[{index}]"][1] == f"OFS batch {batch} for MIS date 2026-03-31 failed"
        failed = next(run.run_id for run in simulator.runs.values() if run.name == batch)  # the first: it failed
        [chosen] = recorded(cluster, "rc_mapped", index)
        assert (chosen["choice"], chosen["batchRunId"]) == (mapped_choices[index], failed)
    restarts_and_reruns = [(simulator.journal.count("restart", b), simulator.journal.count("rerun", b)) for b in MAPPED]
    assert restarts_and_reruns == [(1, 0), (0, 1)], report

    # Who chose what is recorded: XCom, and the extra of the event the final success emitted.
    [restart] = recorded(cluster, "rc_restart")
    assert (restart["choice"], restart["batchRunId"]) == (RESTART, failed_run)
    assert restart["by"]
    [timeout] = recorded(cluster, "rc_timeout")
    assert (timeout["choice"], timeout["by"]) == (RESTART, None)
    [done] = recorded(cluster, "rc_done")
    assert done["choice"] == MARK_DONE
    assert done["by"]
    [extra] = event_extras(cluster, ofs_batch_uri(DEFAULT_CONN_ID, "RC_RESTART"))
    assert extra["recovery"].startswith(f"Restart chosen by {restart['by']} at ")
    assert event_extras(cluster, ofs_batch_uri(DEFAULT_CONN_ID, "RC_DONE")) == []
    assert event_extras(cluster, ofs_batch_uri(DEFAULT_CONN_ID, "RC_FAIL")) == []
