"""One task, ``retries=2``, a fault in each mutating call: never more than one OFS run across all its tries.

A real Airflow (``airflow dags test`` of tests/dags/retry_dags.py) on the newest 3.3.x and, in the
version matrix, on 2.11.x and 3.0.x. For each scenario the test reads the task's final state and try
number from the Airflow database and counts, in the simulator's journal, what every try did to OFS.

Where the answer of a mutating call was lost (the simulator's ``reset_after``: processed, then the
connection dropped) the task fails at once, whatever its retries. Where the wait for an existing run
is lost (two 503s spend the connection's retry budget of two), Airflow 3.3+ retries and the retry
reconnects to the stored run; older Airflow cannot reconnect, so the task fails at once naming the run.

Where OFS accepted the call but its success answer carries an unusable ``batchRunId`` (the simulator's
``bad_run_id:<shape>``), the task fails at once on every version, and OFS acted once: the fault matrix's
column "OFS accepted, then the task failed" (``fault_matrix.ACCEPTED_FAULTS``, docs/fault-matrix.md).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from airflow_provider_ofs._compat import HAS_TASK_STATE_STORE, airflow_version
from airflow_provider_ofs.hooks.scheduler import OFSSchedulerHook
from airflow_provider_ofs.simulator.simulator import CONN_ENV_VAR
from airflow_provider_ofs.states import RunState
from tests.airflow_cli import latest_run_rows
from tests.dags.retry_dags import ACCEPTED_SCENARIOS, DAG_ID, SCENARIOS
from tests.reliability.fault_matrix import ACCEPTED_CALLS, ACCEPTED_FAULTS, TriesResult, accepted_expected

pytestmark = [pytest.mark.airflow_e2e, pytest.mark.compat, pytest.mark.timeout(600)]

ONE_STEP = {"tasks": [{"code": "STEP", "seconds": 5, "outcome": "success"}]}
FAILS_ONCE = {"tasks": [{"code": "STEP", "seconds": 5, "outcome": "fail_once"}]}
CATALOGUE = {
    "batches": {
        **{batch: ONE_STEP for _, batch, _ in SCENARIOS.values() if batch != "R_NO_SUCH_BATCH"},
        "R_RESTART_LOST": FAILS_ONCE,
        "R_RESTART_WAIT": FAILS_ONCE,
        "R_INTERRUPT_LOST": {"tasks": [{"code": "LONG", "seconds": 3000, "outcome": "success"}]},
        **{batch: FAILS_ONCE for kind, batch, _ in ACCEPTED_SCENARIOS.values() if kind == "restart"},
    }
}
#: (call key, fault shape) -> the task id of that cell of the "OFS accepted, then the task failed" column
ACCEPTED_CELLS = {
    (f"{kind}-{'deferrable' if deferrable else 'sync'}", task_id.rsplit("_", 1)[1]): task_id
    for task_id, (kind, _, deferrable) in ACCEPTED_SCENARIOS.items()
}
#: verb -> batches whose first call of that verb loses its answer after OFS processed it
ANSWER_LOST = {
    "trigger": ["R_TRIGGER_LOST", "R_TRIGGER_LOST_D"],
    "restart": ["R_RESTART_LOST"],
    "rerun": ["R_RERUN_LOST"],
    "interrupt": ["R_INTERRUPT_LOST"],
}
WAIT_LOST = ["R_WAIT_LOST", "R_WAIT_LOST_D", "R_RESTART_WAIT", "R_RERUN_WAIT", "R_RERUN_WAIT_D"]

#: task id -> (final state, tries) on Airflow 3.3+ (None: the same on older Airflow)
RECONNECTS = ("success", 2) if HAS_TASK_STATE_STORE else ("failed", 1)
EXPECTED: dict[str, tuple[str, int]] = {
    "trigger_answer_lost": ("failed", 1),
    "trigger_answer_lost_deferred": ("failed", 1),
    "trigger_answer_too_slow": ("failed", 1),
    "trigger_http_500": ("failed", 1),
    "trigger_unknown_batch": ("failed", 1),
    "trigger_wait_lost": RECONNECTS,
    "trigger_wait_lost_deferred": RECONNECTS,
    "restart_answer_lost": ("failed", 1),
    "restart_wait_lost": RECONNECTS,
    "rerun_answer_lost": ("failed", 1),
    "rerun_wait_lost": RECONNECTS,
    "rerun_wait_lost_deferred": RECONNECTS,
    "interrupt_answer_lost": ("failed", 1),
    **{task_id: ("failed", 1) for task_id in ACCEPTED_SCENARIOS},
}
#: batch -> how many times OFS acted on it across all tries: (triggers or reruns that created a run,
#: restarts, interrupts). The runs the test prepared are not counted.
ACTED: dict[str, tuple[int, int, int]] = {
    "R_TRIGGER_LOST": (1, 0, 0),
    "R_TRIGGER_LOST_D": (1, 0, 0),
    "R_TRIGGER_SLOW": (1, 0, 0),
    "R_TRIGGER_500": (0, 0, 0),
    "R_NO_SUCH_BATCH": (0, 0, 0),
    "R_WAIT_LOST": (1, 0, 0),
    "R_WAIT_LOST_D": (1, 0, 0),
    "R_RESTART_LOST": (0, 1, 0),
    "R_RESTART_WAIT": (0, 1, 0),
    "R_RERUN_LOST": (1, 0, 0),
    "R_RERUN_WAIT": (1, 0, 0),
    "R_RERUN_WAIT_D": (1, 0, 0),
    "R_INTERRUPT_LOST": (0, 0, 1),
    **{batch: (0, 1, 0) if kind == "restart" else (1, 0, 0) for kind, batch, _ in ACCEPTED_SCENARIOS.values()},
}


def final_tasks(home: Any) -> dict[str, tuple[str, int]]:
    """Each task's state and try number in the latest run of the DAG, from the Airflow database."""
    rows = latest_run_rows(home, DAG_ID, "task_id, state, try_number")
    return {task_id: (state, try_number) for task_id, state, try_number in rows}


def prepare_runs(hook: OFSSchedulerHook) -> dict[str, str]:
    """The runs restart, rerun and interrupt act on: failed, successful and ongoing ones."""
    failing = ["R_RESTART_LOST", "R_RESTART_WAIT", *(b for k, b, _ in ACCEPTED_SCENARIOS.values() if k == "restart")]
    finished = ["R_RERUN_LOST", "R_RERUN_WAIT", "R_RERUN_WAIT_D"]
    finished += [batch for kind, batch, _ in ACCEPTED_SCENARIOS.values() if kind == "rerun"]
    runs = {batch: hook.trigger(batch) for batch in (*failing, "R_INTERRUPT_LOST", *finished)}
    wanted = {batch: RunState.FAILED for batch in failing}
    wanted.update({batch: RunState.SUCCESSFUL for batch in finished})
    for batch, state in wanted.items():
        while hook.get_status(runs[batch]).state is not state:
            pass
    return runs


@pytest.fixture(scope="module")
def retried_dag(airflow_cli: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, dict[str, tuple[str, int]]]:
    """The DAG run against a simulator armed with every fault: (simulator, final task states and tries)."""
    from airflow_provider_ofs.simulator.simulator import Simulator

    with Simulator(CATALOGUE, speed=50, slow_seconds=1.0) as simulator:
        conn = simulator.connection_json(retry_wait=0.05, retry_attempts=2, timeout=0.5)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv(CONN_ENV_VAR, conn)
            runs = prepare_runs(OFSSchedulerHook())
        simulator.journal.clear()
        for verb, batches in ANSWER_LOST.items():
            for batch in batches:
                simulator.add_fault(verb, ["reset_after"], batch=batch)
        simulator.add_fault("trigger", ["slow"], batch="R_TRIGGER_SLOW")
        simulator.add_fault("trigger", [500], batch="R_TRIGGER_500")
        for batch in WAIT_LOST:
            simulator.add_fault("status", [503, 503], batch=batch)
        for task_id, (kind, batch, _) in ACCEPTED_SCENARIOS.items():
            simulator.add_fault(kind, [f"bad_run_id:{task_id.rsplit('_', 1)[1]}"], batch=batch)

        if airflow_version() == (3, 0):  # its dags test reads the DAG from the database only
            serialised = airflow_cli.run("dags", "reserialize")
            assert serialised.returncode == 0, serialised.output[-3000:]
        run = airflow_cli.run("dags", "test", DAG_ID, "--conf", json.dumps(runs), env={CONN_ENV_VAR: conn}, timeout=500)
        tasks = final_tasks(airflow_cli.home)
        assert set(tasks) == set(SCENARIOS), run.output[-4000:]
        yield simulator, tasks, run.output


@pytest.mark.parametrize("task_id", sorted(SCENARIOS))
def test_every_try_together_acts_on_ofs_at_most_once(retried_dag, task_id):
    simulator, tasks, output = retried_dag
    batch = SCENARIOS[task_id][1]

    acted = acted_on(simulator, batch)

    assert acted == ACTED[batch], f"{task_id}: {simulator.journal.entries(batch=batch)}"
    assert tasks[task_id] == EXPECTED[task_id], output[-4000:]


def acted_on(simulator: Any, batch: str) -> tuple[int, int, int]:
    """What every try of a task together did to OFS for its batch: (runs created, restarts, interrupts)."""
    return (
        simulator.journal.runs_created(batch),
        sum(1 for e in simulator.journal.entries("restart", batch) if e.api_status_code == "0"),
        sum(1 for e in simulator.journal.entries("interrupt", batch) if e.api_status_code == "0"),
    )


@pytest.mark.parametrize("fault", ACCEPTED_FAULTS, ids=lambda fault: fault.shape)
@pytest.mark.parametrize("call", ACCEPTED_CALLS, ids=lambda call: call.key)
def test_ofs_accepted_then_the_task_failed_and_no_try_acted_again(retried_dag, airflow_cli, call, fault):
    simulator, tasks, output = retried_dag
    task_id = ACCEPTED_CELLS[(call.key, fault.shape)]
    batch = SCENARIOS[task_id][1]
    state, tries = tasks[task_id]

    observed = TriesResult(state, tries, sum(acted_on(simulator, batch)))

    assert observed == accepted_expected(call, fault), (
        f"{task_id}: {simulator.journal.entries(batch=batch)}\n{output[-3000:]}"
    )
    assert observed.duplicates == 0
    assert simulator.journal.count(call.verb, batch) == 1, "the call was sent once, by the first try"
    published = {
        key for task, key in latest_run_rows(airflow_cli.home, DAG_ID, "task_id, key", "xcom") if task == task_id
    }
    assert "batch_run_id" not in published, "no XCom holds what is not a run id"
