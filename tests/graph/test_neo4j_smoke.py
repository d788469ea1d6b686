"""Smoke test: the official neo4j driver writes and reads a small graph over Bolt."""

from __future__ import annotations

import uuid

import neo4j
from neo4j_server.server import Neo4jConnection

WRITE = """
MERGE (a:SmokeEntity {run: $run, name: $source})
MERGE (b:SmokeEntity {run: $run, name: $target})
SET a.embedding = $embedding
MERGE (a)-[r:RELATES_TO]->(b)
SET r.weight = $weight, r.description = $description
"""

READ = """
MATCH (a:SmokeEntity {run: $run})-[r:RELATES_TO]->(b:SmokeEntity {run: $run})
RETURN a.name AS source, b.name AS target, r.weight AS weight, r.description AS description,
       a.embedding AS embedding
"""

COUNT = "MATCH (n:SmokeEntity {run: $run}) RETURN count(n) AS nodes"


def test_write_read_and_cleanup(neo4j_server: Neo4jConnection) -> None:
    run = f"smoke-{uuid.uuid4().hex}"
    params = {
        "run": run,
        "source": "Marie Curie",
        "target": "巴黎",
        "embedding": [0.25, -0.5, 1.0],
        "weight": 0.75,
        "description": "worked in",
    }
    with neo4j.GraphDatabase.driver(neo4j_server.uri, auth=neo4j_server.auth) as driver:
        driver.verify_connectivity()
        try:
            for _ in range(2):  # MERGE is idempotent: the second write must not duplicate anything
                driver.execute_query(WRITE, params)
            records, _, _ = driver.execute_query(READ, {"run": run}, routing_=neo4j.RoutingControl.READ)
            assert [record.data() for record in records] == [
                {
                    "source": "Marie Curie",
                    "target": "巴黎",
                    "weight": 0.75,
                    "description": "worked in",
                    "embedding": [0.25, -0.5, 1.0],
                }
            ]
            assert driver.execute_query(COUNT, {"run": run}).records[0]["nodes"] == 2
        finally:
            driver.execute_query("MATCH (n:SmokeEntity {run: $run}) DETACH DELETE n", {"run": run})
        assert driver.execute_query(COUNT, {"run": run}).records[0]["nodes"] == 0
