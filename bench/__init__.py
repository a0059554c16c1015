"""Benchmarks (make bench): their own Kafka clients log in as the local broker's admin, as the tests' do, and
they make events with the tests' contact-sealing key pair and tracking-code key (the services they start get
the same, from tests/support/processes.py)."""

import os

from tests.support.infra import LOCAL_KAFKA_ADMIN
from tests.support.processes import TEST_ENV

for _name, _value in {**LOCAL_KAFKA_ADMIN, **TEST_ENV}.items():
    os.environ.setdefault(_name, _value)
