#!/usr/bin/env python3
"""Writes tests/fixtures/lead/*.json: lead-time scenarios, each a JSON array of activities in
the order they are delivered, built from the documented shapes (the seed push's payload,
payload.commits[] with sha, parents and author.date in epoch seconds, merges with
payload.environment the target and payload.outcome the child, parameters.from/into).

Run it after editing, and commit its output: the tests read the JSON, not this script."""

import copy
import datetime
import json
import pathlib

ROOT = pathlib.Path(__file__).resolve().parent.parent
SEED = json.loads((ROOT / "tests/fixtures/push-success-seed.json").read_text())
OUT = ROOT / "tests/fixtures/lead"
PROJECT = "shop"
TYPES = {"main": "production", "staging": "staging"}


def at(hhmm):
    """2026-11-10 at hh:mm UTC."""
    h, m = map(int, hhmm.split(":"))
    return datetime.datetime(2026, 11, 10, h, m, tzinfo=datetime.timezone.utc)


def iso(t):
    return t.isoformat(timespec="microseconds")


def sha(name):
    return (name * 40)[:40]


def activity(aid, kind, env, created, completed, result="success"):
    a = copy.deepcopy(SEED)
    a.pop("_links", None)
    a["log"] = ""
    a["id"], a["type"], a["project"] = aid, kind, PROJECT
    a["created_at"], a["started_at"] = iso(at(created)), iso(at(created))
    a["completed_at"] = a["updated_at"] = iso(at(completed))
    a["state"], a["result"] = "complete", result
    a["environments"] = [env]
    env_type = TYPES.get(env, "development")
    a["payload"] = {
        "environment": {"name": env, "id": env, "type": env_type, "is_main": env == "main"},
        "user": SEED["payload"].get("user"),
    }
    a["parameters"] = {"environment": env}
    a["description"] = f"<user>Dev</user> ran <strong>{kind}</strong>"
    return a


def push(aid, env, created, completed, commits, result="success"):
    a = activity(aid, "environment.push", env, created, completed, result)
    listed = []
    for name, authored in commits:
        author = {"name": "Dev", "email": "dev@example.com"}
        if authored is not None:
            author["date"] = int(at(authored).timestamp())
        listed.append({"sha": sha(name), "message": f"change {name}", "parents": [sha("0")], "author": author})
    a["payload"]["commits"] = listed
    a["payload"]["commits_count"] = len(listed)
    return a


def merge(aid, child, target, created, completed, result="success"):
    a = activity(aid, "environment.merge", target, created, completed, result)
    a["payload"]["outcome"] = {"name": child, "id": child, "type": TYPES.get(child, "development")}
    a["environments"] = [child, target]
    a["parameters"] = {"from": child, "into": target}
    return a


def redeploy(aid, env, created, completed, result="success"):
    return activity(aid, "environment.redeploy", env, created, completed, result)


SCENARIOS = {
    # A push straight to production delivers its own commits.
    "push-to-production": [
        push("p1", "main", "10:00", "10:05", [("a", "09:00"), ("b", "09:30")]),
    ],
    # Two pushes to a feature branch, then its merge into production (a commit without an
    # author date is delivered too, without a commit lead time).
    "feature-then-merge": [
        push("p1", "feature-x", "10:00", "10:02", [("a", "09:00")]),
        push("p2", "feature-x", "11:00", "11:02", [("b", "10:30"), ("c", None)]),
        merge("m1", "feature-x", "main", "12:00", "12:10"),
    ],
    # feature -> staging (not production: nothing delivered) -> production.
    "chain-through-staging": [
        push("p1", "feature-x", "10:00", "10:01", [("a", "09:50")]),
        merge("m1", "feature-x", "staging", "11:00", "11:05"),
        merge("m2", "staging", "main", "13:00", "13:10"),
    ],
    # The push to production fails to deploy: its commit waits for the redeploy that works.
    "failed-then-redeployed": [
        push("p1", "main", "10:00", "10:05", [("a", "09:00")], result="failure"),
        redeploy("r1", "main", "11:00", "11:20"),
    ],
    # One commit pushed to two branches: delivered once, seen first on the earlier push.
    "one-commit-two-branches": [
        push("p1", "feature-a", "10:00", "10:01", [("a", "09:00")]),
        push("p2", "feature-b", "10:30", "10:31", [("a", "09:00"), ("b", "10:20")]),
        merge("m1", "feature-b", "main", "11:00", "11:10"),
        merge("m2", "feature-a", "main", "12:00", "12:05"),
    ],
    # The same, delivered out of order: the later push arrives first.
    "out-of-order": [
        push("p2", "feature-b", "10:30", "10:31", [("a", "09:00"), ("b", "10:20")]),
        push("p1", "feature-a", "10:00", "10:01", [("a", "09:00")]),
        merge("m1", "feature-b", "main", "11:00", "11:10"),
    ],
}

for name, activities in SCENARIOS.items():
    (OUT / f"{name}.json").write_text(json.dumps(activities, indent=1) + "\n")
