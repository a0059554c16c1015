"""Who may do what on Kafka: one SCRAM-SHA-512 principal per service, allowed exactly the topics and the consumer
group its code uses, nothing else (a broker with an authorizer refuses what no ACL allows).

This table is the one source: `python -m shared.kafka_access apply` gives the local broker its users and ACLs
(make run; the tests do the same per topic prefix), and `python -m shared.kafka_access strimzi` writes
deploy/k8s/base/kafka-users.yaml, Strimzi KafkaUsers with the same ACLs (a test keeps the file in step).

aiokafka has no public API for SCRAM users or ACLs; the requests below are Kafka's own (AlterUserScramCredentials
v0, CreateAcls and DeleteAcls v1), built on aiokafka's protocol classes and sent with its admin client's
`_send_request` (aiokafka is pinned in pyproject.toml for this reason).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import for_code
from aiokafka.protocol.admin import CreateAclsRequest, DeleteAclsRequest, DescribeAclsRequest
from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import CompactArray, CompactBytes, CompactString, Int8, Int16, Int32, Schema, TaggedFields

from shared.kafka import client_options
from shared.settings import KafkaSettings
from shared.topics import Topics, dead_letter_topic


@dataclass(frozen=True)
class Access:
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()  # the consumer groups it reads in (the service's group_id)
    # What it may only describe: topics' end offsets and consumer groups' committed offsets (lag).
    watched_topics: tuple[str, ...] = ()
    watched_groups: tuple[str, ...] = ()


def service_access(t: Topics) -> dict[str, Access]:
    """Principal (the service's name, as on its dead letters) -> what it may do. A consumer also writes the dead
    letters of what it consumes (`<topic>.dlq.<service>`). Creating topics and users is the admin's (locally) or
    Strimzi's (in the cluster), no service's."""

    def dead_letters(service: str, *consumed: str) -> tuple[str, ...]:
        return tuple(dead_letter_topic(topic, service) for topic in consumed)

    services = {
        "intake-web": Access(reads=(t.assigned, t.status),
                             writes=(t.received, t.citizen_replies, *dead_letters("intake-web", t.assigned, t.status)),
                             groups=("web-status",)),
        "intake-sms": Access(writes=(t.received, t.replies, t.citizen_replies)),
        "intake-whatsapp": Access(writes=(t.received, t.replies, t.citizen_replies, t.delivery_receipts,
                                          t.contact_changes, t.whatsapp_unusable)),
        "router": Access(reads=(t.received, t.citizen_replies, t.contact_changes),
                         writes=(t.assigned, t.status,
                                 *dead_letters("router", t.received, t.citizen_replies, t.contact_changes)),
                         groups=("router",)),
        "notifier": Access(reads=(t.assigned, t.replies, t.status, t.delivery_receipts),
                           writes=dead_letters("notifier", t.assigned, t.replies, t.status, t.delivery_receipts),
                           groups=("notifier",)),
        "lapor-sync": Access(reads=(t.assigned, t.status),
                             writes=(t.status, *dead_letters("lapor-sync", t.assigned, t.status)),
                             groups=("lapor-sync",)),
    }
    # KEDA's lag scalers (deploy/k8s/base/autoscaling.yaml): each consumer group's committed offsets against
    # the end of the topic it scales on.
    services["keda"] = Access(watched_topics=(t.received, t.assigned),
                              watched_groups=("router", "notifier", "lapor-sync"))
    # A person replaying dead letters (shared/replay.py): every service's, back to the topics they came from.
    all_topics = t.all_topics()
    dead = tuple(name for name in all_topics if ".dlq." in name)
    services["operator"] = Access(
        reads=dead, writes=tuple(name for name in all_topics if ".dlq." not in name and name != t.whatsapp_unusable),
        groups=tuple(f"replay-{service}" for service in services if service != "keda"))
    return services


# Kafka's codes: ResourceType, PatternType, AclOperation, AclPermissionType.
TOPIC, GROUP = 2, 3
LITERAL = 3
READ, WRITE, DESCRIBE = 3, 4, 8
ALLOW = 3
ANY = ANY_OPERATION = ANY_PERMISSION = 1
SCRAM_SHA_512 = 2
SCRAM_ITERATIONS = 8192


def bindings(principal: str, access: Access) -> list[tuple[Any, ...]]:
    """CreateAcls v1 creations: (resource type, name, pattern, principal, host, operation, permission)."""
    user = f"User:{principal}"
    # Read and Write imply Describe; Write on a topic also lets the idempotent producer get its producer id.
    rows = [(TOPIC, topic, LITERAL, user, "*", READ, ALLOW) for topic in access.reads]
    rows += [(TOPIC, topic, LITERAL, user, "*", WRITE, ALLOW) for topic in access.writes]
    rows += [(GROUP, group, LITERAL, user, "*", READ, ALLOW) for group in access.groups]
    rows += [(TOPIC, topic, LITERAL, user, "*", DESCRIBE, ALLOW) for topic in access.watched_topics]
    rows += [(GROUP, group, LITERAL, user, "*", DESCRIBE, ALLOW) for group in access.watched_groups]
    return rows


class _CreateAcls(CreateAclsRequest):
    """aiokafka's builder takes one ACL; the request takes many."""

    def __init__(self, creations: list[tuple[Any, ...]]) -> None:
        self._creations = creations

    def build(self, request_struct_class: type) -> RequestStruct:
        return request_struct_class(self._creations)


class _DeleteAcls(DeleteAclsRequest):
    def __init__(self, filters: list[tuple[Any, ...]]) -> None:
        self._filters = filters

    def build(self, request_struct_class: type) -> RequestStruct:
        return request_struct_class(self._filters)


class _AlterScramResponse(Response):
    API_KEY, API_VERSION = 51, 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("results", CompactArray(("user", CompactString("utf-8")), ("error_code", Int16),
                                 ("error_message", CompactString("utf-8")), ("tags", TaggedFields))),
        ("tags", TaggedFields))


class _AlterScramStruct(RequestStruct):
    FLEXIBLE_VERSION = True
    API_KEY, API_VERSION = 51, 0
    RESPONSE_TYPE = _AlterScramResponse
    SCHEMA = Schema(
        ("deletions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("tags", TaggedFields))),
        ("upsertions", CompactArray(("name", CompactString("utf-8")), ("mechanism", Int8), ("iterations", Int32),
                                    ("salt", CompactBytes), ("salted_password", CompactBytes), ("tags", TaggedFields))),
        ("tags", TaggedFields))


class _AlterScram(Request[_AlterScramStruct]):
    API_KEY = 51

    def __init__(self, upsertions: list[tuple[Any, ...]]) -> None:
        self._upsertions = upsertions

    def build(self, request_struct_class: type) -> RequestStruct:
        return request_struct_class([], self._upsertions, {})


def _raise_errors(what: str, results: list[tuple[int, str | None]]) -> None:
    if failed := [(code, message) for code, message in results if code]:
        code, message = failed[0]
        raise for_code(code)(f"{what}: {message} ({len(failed)} failed)")


async def set_passwords(admin: AIOKafkaAdminClient, passwords: dict[str, str]) -> None:
    """Create the users, or give them these passwords (the client salts: PBKDF2-HMAC-SHA512, as Kafka's tools)."""
    upsertions: list[tuple[Any, ...]] = []
    for user, password in passwords.items():
        salt = os.urandom(32)
        salted = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, SCRAM_ITERATIONS)
        upsertions.append((user, SCRAM_SHA_512, SCRAM_ITERATIONS, salt, salted, {}))
    response = await admin._send_request(_AlterScram(upsertions))  # noqa: SLF001 (see the module's docstring)
    _raise_errors("setting Kafka passwords", [(code, message) for _, code, message, _ in response.results])


async def grant(admin: AIOKafkaAdminClient, topics: Topics) -> int:
    """Every service's ACLs on these topics; granting twice changes nothing. Returns how many."""
    creations = [row for principal, access in service_access(topics).items() for row in bindings(principal, access)]
    response = await admin._send_request(_CreateAcls(creations))  # noqa: SLF001
    _raise_errors("creating ACLs", response.creation_responses)
    await _until_in_force(admin, creations)
    return len(creations)


async def _until_in_force(admin: AIOKafkaAdminClient, creations: list[tuple[Any, ...]], timeout: float = 15.0) -> None:
    """The controller has the ACLs; the broker's authorizer gets them moments later, not all at once (a service
    started at once was refused its producer id). The broker answers DescribeAcls from that authorizer."""
    wanted = {(kind, name, principal, operation) for kind, name, _, principal, _, operation, _ in creations}
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        response = await admin._send_request(DescribeAclsRequest(  # noqa: SLF001
            ANY, None, ANY, None, None, ANY_OPERATION, ANY_PERMISSION))
        _raise_errors("reading ACLs", [(response.error_code, response.error_message)])
        seen = {(kind, name, principal, operation)
                for kind, name, _, acls in response.resources for principal, _, operation, _ in acls}
        if wanted <= seen:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"{len(wanted - seen)} ACLs not in force after {timeout:.0f} s")
        await asyncio.sleep(0.05)


async def revoke(admin: AIOKafkaAdminClient, topics: Topics) -> None:
    """The topics' ACLs (a test's topics, deleted with them); consumer groups are shared and stay."""
    names = {row[1] for access in service_access(topics).values() for row in bindings("x", access) if row[0] == TOPIC}
    filters = [(TOPIC, name, LITERAL, None, None, ANY_OPERATION, ANY_PERMISSION) for name in sorted(names)]
    response = await admin._send_request(_DeleteAcls(filters))  # noqa: SLF001
    _raise_errors("deleting ACLs", [(r[0], r[1]) for r in response.filter_responses])


async def apply(settings: KafkaSettings, topics: Topics, passwords: dict[str, str]) -> int:
    admin = AIOKafkaAdminClient(**client_options(settings))
    await admin.start()
    try:
        if passwords:
            await set_passwords(admin, passwords)
        return await grant(admin, topics)
    finally:
        await admin.close()


def strimzi_users(topics: Topics, cluster: str = "aduan") -> list[dict[str, Any]]:
    """The same table as Strimzi KafkaUsers (kafka.strimzi.io/v1): the User Operator makes each user's SCRAM
    password, in a Secret of the user's name (key `password`), and its ACLs."""
    users = []
    for principal, access in service_access(topics).items():
        acls = [{"resource": {"type": "topic", "name": topic, "patternType": "literal"}, "operations": ["Read"]}
                for topic in access.reads]
        acls += [{"resource": {"type": "topic", "name": topic, "patternType": "literal"}, "operations": ["Write"]}
                 for topic in access.writes]
        acls += [{"resource": {"type": "group", "name": group, "patternType": "literal"}, "operations": ["Read"]}
                 for group in access.groups]
        acls += [{"resource": {"type": "topic", "name": topic, "patternType": "literal"}, "operations": ["Describe"]}
                 for topic in access.watched_topics]
        acls += [{"resource": {"type": "group", "name": group, "patternType": "literal"}, "operations": ["Describe"]}
                 for group in access.watched_groups]
        users.append({"apiVersion": "kafka.strimzi.io/v1", "kind": "KafkaUser",
                      "metadata": {"name": principal, "labels": {"strimzi.io/cluster": cluster}},
                      "spec": {"authentication": {"type": "scram-sha-512"},
                               "authorization": {"type": "simple", "acls": acls}}})
    return users


STRIMZI_HEADER = ("# Generated by `python -m shared.kafka_access strimzi` from shared/kafka_access.py: edit the table\n"
                  "# there. One SCRAM-SHA-512 user per service, allowed exactly its topics and consumer group.\n")


def strimzi_yaml() -> str:
    """The KafkaUsers as deploy/ writes YAML (one ACL a line)."""
    documents = []
    for user in strimzi_users(Topics("")):
        lines = ["apiVersion: kafka.strimzi.io/v1", "kind: KafkaUser", "metadata:",
                 f"  name: {user['metadata']['name']}", "  labels:",
                 f"    strimzi.io/cluster: {user['metadata']['labels']['strimzi.io/cluster']}", "spec:",
                 "  authentication:", "    type: scram-sha-512", "  authorization:", "    type: simple", "    acls:"]
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            lines += [f"      - resource: {{type: {resource['type']}, name: {resource['name']}, "
                      f"patternType: {resource['patternType']}}}",
                      f"        operations: [{', '.join(acl['operations'])}]"]
        documents.append("\n".join(lines) + "\n")
    return STRIMZI_HEADER + "---\n".join(documents)


def main() -> None:
    parser = argparse.ArgumentParser(description="Kafka users and ACLs of the services.")
    parser.add_argument("command", choices=["apply", "strimzi"])
    parser.add_argument("--prefix", default=None, help="topic prefix (default: ADUAN_KAFKA_TOPIC_PREFIX)")
    args = parser.parse_args()
    if args.command == "strimzi":
        sys.stdout.write(strimzi_yaml())
        return
    settings = KafkaSettings()
    passwords = json.loads(os.environ.get("ADUAN_KAFKA_SERVICE_PASSWORDS") or "{}")
    topics = Topics(args.prefix if args.prefix is not None else settings.topic_prefix)
    count = asyncio.run(apply(settings, topics, passwords))
    print(f"kafka: {len(passwords)} service passwords set, {count} ACLs in force")


if __name__ == "__main__":
    main()
