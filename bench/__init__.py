"""Benchmarks (make bench): their own Kafka clients log in as the local broker's admin, as the tests' do."""

import os

from tests.support.infra import LOCAL_KAFKA_ADMIN

for _name, _value in LOCAL_KAFKA_ADMIN.items():
    os.environ.setdefault(_name, _value)
