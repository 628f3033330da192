"""``make demo``: an example DAG run in a real local Airflow against the OFS ESI simulator, with a short summary."""
