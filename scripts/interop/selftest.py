#!/usr/bin/env python3
"""Checks consume.py on records made here with confluent-kafka's own serializers.

For each format (avro, protobuf, jsonschema) it makes three topics of its own,
interop-check-<random>-<format>-{users,prices,trades} (1 partition each), writes a user, a
price, a trade/1 and two trade/2 records (a market and a limit order) through AvroSerializer,
ProtobufSerializer and JSONSerializer against the registry (TopicNameStrategy subjects
<topic>-value; trade/1 then trade/2 under one subject, which the registry's BACKWARD rule must
accept), runs consume.py on them and compares its output with the values expected in
tradestream's JSON. The topics are deleted afterwards (the subjects stay in the registry).

  .stack/venv/bin/python scripts/interop/selftest.py --brokers 127.0.0.1:9092 \\
      --registry http://127.0.0.1:8081/apis/ccompat/v7

Exit status 0 when every format matched, 1 otherwise.
"""

import argparse
import datetime
import decimal
import json
import os
import subprocess
import sys
import uuid

from confluent_kafka import Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.serialization import MessageField, SerializationContext

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import consume  # noqa: E402  (its Protobuf compiling and conventions)

SCHEMAS = consume.SCHEMAS
UTC = datetime.timezone.utc
D = decimal.Decimal

# The records, in tradestream's JSON: what consume.py must print as value.
USER = {"user_id": 42, "name": "Ada Lovelace", "email": "ada@example.com", "country": "GB",
        "signup_at": "2025-03-04T05:06:07.123456Z", "experience": "advanced",
        "risk_tolerance": "high", "sectors": ["tech", "energy"],
        "account": {"account_id": 4201, "type": "margin", "currency": "GBP", "balance": "7867.2200"},
        "updated_at": "2026-01-02T03:04:05Z"}
PRICE = {"symbol": "ACME", "sector": "tech", "seq": 7, "ts": "2026-01-02T03:04:05.1Z",
         "bid": "187.2400", "ask": "187.2600", "last": "187.2500", "volume": 1200}
TRADE1 = {"trade_id": 1001, "user_id": 42, "account_id": 4201, "symbol": "ACME", "side": "buy",
          "quantity": 10, "price": "187.2500", "fee": "1.8725", "ts": "2026-01-02T03:04:05.000001Z",
          "balance_after": "5994.7200"}
TRADE2_MARKET = dict(TRADE1, trade_id=1002, side="sell", balance_after="-12.5000", order_type="market")
TRADE2_LIMIT = dict(TRADE1, trade_id=1003, price="0.0001", order_type="limit", limit_price="187.3000")


def parse_time(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def micros(s):
    t = parse_time(s)
    return (t - consume.EPOCH) // datetime.timedelta(microseconds=1)


def e4(s):
    return int(D(s) * 10_000)


TIME_FIELDS = {"signup_at", "updated_at", "ts"}
DECIMAL_FIELDS = {"balance", "bid", "ask", "last", "price", "fee", "balance_after", "limit_price"}


def to_avro(v):
    out = {}
    for k, x in v.items():
        if isinstance(x, dict):
            x = to_avro(x)
        elif k in TIME_FIELDS:
            x = parse_time(x)
        elif k in DECIMAL_FIELDS:
            x = D(x)
        out[k] = x
    return out


def to_proto(cls, v):
    msg = cls()
    for k, x in v.items():
        if isinstance(x, dict):
            getattr(msg, k).CopyFrom(to_proto(type(getattr(msg, k)), x))
        elif isinstance(x, list):
            getattr(msg, k).extend(x)
        elif k in TIME_FIELDS:
            setattr(msg, k + "_micros", micros(x))
        elif k in DECIMAL_FIELDS:
            setattr(msg, k + "_e4", e4(x))
        else:
            setattr(msg, k, x)
    return msg


def read(name):
    with open(os.path.join(SCHEMAS, name)) as f:
        return f.read()


def produce(args, fmt, registry, topics):
    """Writes the records of one format; returns {topic: [expected values in order]}."""
    from confluent_kafka.schema_registry.avro import AvroSerializer
    from confluent_kafka.schema_registry.json_schema import JSONSerializer

    users, prices, trades = topics
    plan = [(users, "user", USER), (prices, "price", PRICE), (trades, "trade_v1", TRADE1),
            (trades, "trade_v2", TRADE2_MARKET), (trades, "trade_v2", TRADE2_LIMIT)]
    producer = Producer({"bootstrap.servers": args.brokers})
    expected = {t: [] for t in topics}
    if fmt == "protobuf":
        classes = consume.compile_protos()
    for topic, schema, value in plan:
        ctx = SerializationContext(topic, MessageField.VALUE)
        if fmt == "avro":
            ser = AvroSerializer(registry, read(schema + ".avsc"))
            data = ser(to_avro(value), ctx)
        elif fmt == "jsonschema":
            ser = JSONSerializer(read(schema + ".schema.json"), registry)
            data = ser(value, ctx)
        else:
            name = {"user": "User", "price": "Price"}.get(schema, "Trade")
            msg = to_proto(classes[name], value)
            # The wire format by hand, as tradestream writes it: the .proto text registered under
            # <topic>-value, magic byte 0, the schema id, the message indexes [0] (one 0 byte:
            # User, Price and Trade are each the first message of their file), the payload.
            # Not ProtobufSerializer: it registers a base64 descriptor, or reads the latest
            # schema with format=serialized, and Apicurio 3.3.3 answers neither usably (it
            # cannot parse a base64 descriptor back; format=serialized returns the descriptor's
            # raw bytes in a JSON string, not base64). trade/1's message has trade/2's full
            # name (tradestream.Trade), so its payload is trade/2's message with fields 11 and
            # 12 unset: the same bytes.
            sid = registry.register_schema(f"{topic}-value", Schema(read(schema + ".proto"), "PROTOBUF"))
            data = b"\x00" + sid.to_bytes(4, "big") + b"\x00" + msg.SerializeToString()
        producer.produce(topic, value=data, key=str(value.get("user_id", value.get("symbol"))))
        expected[topic].append(value)
    if producer.flush(30) != 0:
        raise SystemExit(f"selftest: {fmt}: records not delivered within 30 s")
    return expected


def check(args, fmt, admin, registry):
    base = f"interop-check-{uuid.uuid4().hex[:8]}-{fmt}"
    topics = [f"{base}-users", f"{base}-prices", f"{base}-trades"]
    for f in admin.create_topics([NewTopic(t, 1, 1) for t in topics]).values():
        f.result(30)
    try:
        expected = produce(args, fmt, registry, topics)
        cmd = [sys.executable, os.path.join(HERE, "consume.py"), "--brokers", args.brokers,
               "--registry", args.registry, "--format", fmt, "--timeout", "60"]
        for t in topics:
            cmd += ["--topic", t]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if run.returncode != 0:
            print(f"selftest: {fmt}: consume.py exited {run.returncode}: {run.stderr.strip()}", file=sys.stderr)
            return False
        got = {t: [] for t in topics}
        for line in run.stdout.splitlines():
            rec = json.loads(line)
            if set(rec) != {"topic", "partition", "offset", "value"}:
                print(f"selftest: {fmt}: unexpected keys {sorted(rec)}", file=sys.stderr)
                return False
            got[rec["topic"]].append(rec["value"])
        ok = True
        for t in topics:
            if got[t] != expected[t]:
                ok = False
                print(f"selftest: {fmt}: {t}:\n  got  {got[t]}\n  want {expected[t]}", file=sys.stderr)
        n = sum(len(v) for v in got.values())
        print(f"selftest: {fmt}: {'ok' if ok else 'MISMATCH'} ({n} records)")
        return ok
    finally:
        for f in admin.delete_topics(topics).values():
            try:
                f.result(30)
            except Exception as e:
                print(f"selftest: could not delete a topic: {e}", file=sys.stderr)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--brokers", required=True)
    p.add_argument("--registry", required=True)
    p.add_argument("--format", action="append", choices=("avro", "protobuf", "jsonschema"),
                   help="the formats to check (repeatable; default all three)")
    args = p.parse_args()
    admin = AdminClient({"bootstrap.servers": args.brokers})
    registry = SchemaRegistryClient({"url": args.registry})
    results = [check(args, fmt, admin, registry) for fmt in (args.format or ["avro", "protobuf", "jsonschema"])]
    passed = sum(results)
    print(f"interop: {passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
