#!/usr/bin/env python3
"""Reads tradestream records in a schema-registry format with a client nobody here wrote.

confluent-kafka's Consumer reads the topics from the beginning, and its schema-registry
deserializers (AvroDeserializer, ProtobufDeserializer, JSONDeserializer) decode each value from
the Confluent wire format (magic byte 0, 4-byte big-endian schema id, for Protobuf the message
indexes, then the payload) with the writer schema from the registry. Each record goes to stdout
as one JSON object a line:

  {"topic": ..., "partition": ..., "offset": ..., "value": {...}}

where value has tradestream's JSON field names and conventions: decimals as strings with four
decimals ("187.2500"), times as RFC 3339 UTC strings ending in Z (as Go's RFC3339Nano writes
them: microseconds, trailing zeros dropped), integers as numbers, Protobuf's *_e4 fields as the
decimal field without the suffix and *_micros as the time field without it, limit_price left out
when absent, null or 0, order_type left out when empty. JSON Schema values are tradestream's JSON
already: they are printed as the payload has them (validated by JSONDeserializer against the
writer schema from the registry), after the same optional-field rules.

Protobuf: the message class (User, Price, Trade or Alert of user.proto, price.proto, trade_v2.proto,
alert.proto, compiled at run time with grpc_tools.protoc) is the one the record's message indexes name in its
writer schema, looked up by id in the registry; ProtobufDeserializer then reads the framing and
the payload with no registry client of its own (see Decoder.decode for why).

Run it with the interpreter of .stack/venv (scripts/deps test makes it):

  .stack/venv/bin/python scripts/interop/consume.py --brokers 127.0.0.1:9092 \\
      --registry http://127.0.0.1:8081/apis/ccompat/v7 --format avro \\
      --topic tradestream.trades --count 100

Without --count it stops at the end of the topics' partitions as they were at its start. Any
error (registry unreachable, unknown schema id, a record that does not deserialize, fewer
records than --count within --timeout) ends it with exit status 1 and a message on stderr that
names the topic, partition and offset.
"""

import argparse
import datetime
import decimal
import importlib
import json
import os
import sys
import tempfile
import time
import uuid

from confluent_kafka import Consumer, KafkaError, KafkaException, OFFSET_BEGINNING, TopicPartition
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.serialization import MessageField, SerializationContext

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMAS = os.path.join(ROOT, "internal", "format", "schemas")
# The .proto files compiled at run time: trade_v2 reads trade/1 records too (it only adds fields).
PROTO_FILES = ("user.proto", "price.proto", "trade_v2.proto", "alert.proto")

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


class Failure(Exception):
    """An error that ends the run with a message."""


def fail(msg):
    print(f"consume.py: error: {msg}", file=sys.stderr)
    sys.exit(1)


# ---------------------------------------------------------------------------------------------
# tradestream's JSON conventions


def format_time(t):
    """An aware datetime as Go's time.RFC3339Nano in UTC: 2026-01-02T15:04:05.123456Z."""
    t = t.astimezone(datetime.timezone.utc)
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        s += ("." + f"{t.microsecond:06d}").rstrip("0")
    return s + "Z"


def time_from_micros(us):
    return format_time(EPOCH + datetime.timedelta(microseconds=us))


def decimal_from_e4(n):
    """A fixed-scale integer (value x 10^4) as a decimal string with four places."""
    sign = "-" if n < 0 else ""
    q, r = divmod(abs(n), 10_000)
    return f"{sign}{q}.{r:04d}"


def format_decimal(d):
    if not isinstance(d, decimal.Decimal):
        raise Failure(f"expected a decimal, got {type(d).__name__} {d!r}")
    q = d.quantize(decimal.Decimal("0.0001"))
    if q != d:
        raise Failure(f"decimal {d} has more than four decimal places")
    return f"{q:.4f}"


def tidy(value):
    """Applies the optional-field rules: limit_price out when absent, null or 0, order_type out
    when empty."""
    if isinstance(value, dict):
        if "limit_price" in value and value["limit_price"] in (None, "0.0000", "-0.0000"):
            del value["limit_price"]
        if "order_type" in value and value["order_type"] in (None, ""):
            del value["order_type"]
    return value


def from_avro(v):
    """A record decoded by fastavro (Decimal, aware datetime, int, str, list, dict) as JSON."""
    if isinstance(v, dict):
        return {k: from_avro(x) for k, x in v.items()}
    if isinstance(v, list):
        return [from_avro(x) for x in v]
    if isinstance(v, decimal.Decimal):
        return format_decimal(v)
    if isinstance(v, datetime.datetime):
        if v.tzinfo is None:
            v = v.replace(tzinfo=datetime.timezone.utc)
        return format_time(v)
    return v


def from_protobuf(msg):
    """A Protobuf message as JSON: *_e4 to decimals, *_micros to times, every field present (the
    proto3 zero values too), then the optional-field rules."""
    out = {}
    for field in msg.DESCRIPTOR.fields:
        value = getattr(msg, field.name)
        name = field.name
        if field.message_type is not None and not _is_repeated(field):
            value = tidy(from_protobuf(value))
        elif _is_repeated(field):
            value = [from_protobuf(x) if field.message_type is not None else x for x in value]
        if name.endswith("_e4"):
            name, value = name[: -len("_e4")], decimal_from_e4(value)
        elif name.endswith("_micros"):
            name, value = name[: -len("_micros")], time_from_micros(value)
        out[name] = value
    return tidy(out)


def _is_repeated(field):
    # protobuf 6+ has is_repeated; older ones only label.
    rep = getattr(field, "is_repeated", None)
    if rep is not None:
        return rep
    return field.label == field.LABEL_REPEATED


# ---------------------------------------------------------------------------------------------
# Deserializers


def compile_protos():
    """Compiles the .proto files with grpc_tools.protoc into a temporary directory and imports
    them; returns {message name: class}."""
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="tradestream-interop-")
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    args = ["protoc", f"-I{SCHEMAS}", f"-I{include}", f"--python_out={out}"] + list(PROTO_FILES)
    for f in PROTO_FILES:
        if not os.path.exists(os.path.join(SCHEMAS, f)):
            raise Failure(f"no {f} in {SCHEMAS}")
    if protoc.main(args) != 0:
        raise Failure(f"grpc_tools.protoc could not compile {', '.join(PROTO_FILES)} from {SCHEMAS}")
    sys.path.insert(0, out)
    classes = {}
    for f in PROTO_FILES:
        mod = importlib.import_module(f[: -len(".proto")] + "_pb2")
        for name, desc in mod.DESCRIPTOR.message_types_by_name.items():
            classes[name] = getattr(mod, name)
    return classes


class Decoder:
    """Decodes record values of one format; the Protobuf and JSON Schema deserializers are
    chosen by the message the writer schema (looked up by the record's schema id) defines."""

    def __init__(self, fmt, registry):
        self.fmt = fmt
        self.registry = registry
        self.by_id = {}
        if fmt == "avro":
            from confluent_kafka.schema_registry.avro import AvroDeserializer

            # No reader schema: the writer schema of each record's id, from the registry.
            self.avro = AvroDeserializer(registry)
        elif fmt == "protobuf":
            self.proto_classes = compile_protos()
            self.proto = {}
        elif fmt == "jsonschema":
            self.json = {}

    def schema_of(self, schema_id):
        s = self.by_id.get(schema_id)
        if s is None:
            s = self.registry.get_schema(schema_id)
            self.by_id[schema_id] = s
        return s

    @staticmethod
    def schema_id(raw):
        if raw is None:
            raise Failure("no value (a tombstone)")
        if len(raw) < 5 or raw[0] != 0:
            raise Failure(f"not in the Confluent wire format (first bytes {raw[:5].hex()})")
        return int.from_bytes(raw[1:5], "big")

    def decode(self, topic, raw):
        ctx = SerializationContext(topic, MessageField.VALUE)
        if self.fmt == "avro":
            value = self.avro(raw, ctx)
            return tidy(from_avro(value))
        sid = self.schema_id(raw)
        schema = self.schema_of(sid)
        if self.fmt == "protobuf":
            name = self._proto_message(schema.schema_str, sid, self._message_indexes(raw))
            deser = self.proto.get(name)
            if deser is None:
                from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer

                # No registry client: given one, the deserializer asks for the writer schema with
                # format=serialized, which Apicurio 3.3.3 answers with the descriptor's raw
                # bytes in a JSON string (not base64), so that it cannot parse it. The schema id
                # was looked up above and the message chosen by the record's indexes; the
                # deserializer reads the framing and decodes the payload with that class.
                deser = ProtobufDeserializer(self.proto_classes[name], {})
                self.proto[name] = deser
            return from_protobuf(deser(raw, ctx))
        # jsonschema: the writer schema from the registry (JSONDeserializer looks it up by id).
        deser = self.json.get("registry")
        if deser is None:
            from confluent_kafka.schema_registry.json_schema import JSONDeserializer

            deser = JSONDeserializer(None, schema_registry_client=self.registry)
            self.json["registry"] = deser
        value = deser(raw, ctx)
        if not isinstance(value, dict):
            raise Failure(f"a JSON {type(value).__name__}, not an object")
        return tidy(value)

    @staticmethod
    def _message_indexes(raw):
        """The message-index array after the schema id: zigzag varints, a count then the
        indexes; a single 0 byte stands for [0]."""
        pos = 5

        def varint():
            nonlocal pos
            shift = n = 0
            while True:
                if pos >= len(raw):
                    raise Failure("the value ends inside its message-index array")
                b = raw[pos]
                pos += 1
                n |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    return (n >> 1) ^ -(n & 1)

        count = varint()
        if count == 0:
            return [0]
        if count < 0 or count > 100:
            raise Failure(f"message-index array of length {count}")
        return [varint() for _ in range(count)]

    def _proto_message(self, text, sid, indexes):
        """The name of the message the record's indexes point at in the writer schema, which
        the registry holds as .proto text or as a base64 FileDescriptorProto (as this client's
        own ProtobufSerializer registers it)."""
        names = [line.split()[1].rstrip("{") for line in text.splitlines()
                 if line.startswith("message ") and len(line.split()) >= 2]
        if not names:
            import base64
            import binascii

            from google.protobuf import descriptor_pb2
            from google.protobuf.message import DecodeError

            try:
                fd = descriptor_pb2.FileDescriptorProto.FromString(base64.b64decode(text, validate=True))
                names = [m.name for m in fd.message_type]
            except (binascii.Error, ValueError, DecodeError):
                names = []
        if not names:
            raise Failure(f"schema id {sid} has no message definition")
        if len(indexes) != 1 or not 0 <= indexes[0] < len(names):
            raise Failure(f"message indexes {indexes} do not name a top-level message of schema id {sid} "
                          f"({', '.join(names)})")
        name = names[indexes[0]]
        if name not in self.proto_classes:
            raise Failure(f"schema id {sid} message {name} is in none of {', '.join(PROTO_FILES)}")
        return name


# ---------------------------------------------------------------------------------------------


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--brokers", required=True, help="Kafka bootstrap servers, host:port[,...]")
    p.add_argument("--registry", required=True, help="the Confluent-compatible registry URL, e.g. http://127.0.0.1:8081/apis/ccompat/v7")
    p.add_argument("--topic", action="append", required=True, help="a topic to read (repeatable)")
    p.add_argument("--format", required=True, choices=("avro", "protobuf", "jsonschema"))
    p.add_argument("--count", type=int, default=None, help="stop after N records in total (default: the end of the partitions)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds for the whole run (default 30)")
    return p.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    deadline = time.monotonic() + args.timeout
    registry = SchemaRegistryClient({"url": args.registry, "timeout": 10})
    try:
        registry.get_subjects()
    except Exception as e:  # the client raises requests/httpx errors or SchemaRegistryError
        fail(f"schema registry {args.registry} unreachable or not a Confluent-compatible API: {e}")
    try:
        decoder = Decoder(args.format, registry)
    except Failure as e:
        fail(str(e))

    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": f"tradestream-interop-{uuid.uuid4()}",
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "enable.partition.eof": True,
    })
    try:
        return run(args, consumer, decoder, deadline)
    finally:
        consumer.close()


def run(args, consumer, decoder, deadline):
    parts = []
    pending = set()  # partitions not yet read to their end (without --count)
    for topic in args.topic:
        try:
            md = consumer.list_topics(topic, timeout=max(1.0, deadline - time.monotonic()))
        except KafkaException as e:
            fail(f"topic {topic}: no metadata from {args.brokers}: {e}")
        tmd = md.topics.get(topic)
        if tmd is None or tmd.error is not None or not tmd.partitions:
            fail(f"topic {topic}: not found on {args.brokers} ({tmd.error if tmd else 'no metadata'})")
        for p in sorted(tmd.partitions):
            parts.append(TopicPartition(topic, p, OFFSET_BEGINNING))
            lo, hi = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if hi > lo:
                pending.add((topic, p))
    consumer.assign(parts)
    if args.count is None and not pending:
        return 0

    seen = 0
    out = sys.stdout
    while True:
        if args.count is not None and seen >= args.count:
            return 0
        left = deadline - time.monotonic()
        if left <= 0:
            want = f"{args.count}" if args.count is not None else "the end of the partitions"
            fail(f"timed out after {args.timeout:g}s with {seen} records of {want} from {', '.join(args.topic)}")
        msg = consumer.poll(min(1.0, left))
        if msg is None:
            continue
        where = f"topic {msg.topic()} partition {msg.partition()} offset {msg.offset()}"
        if msg.error() is not None:
            if msg.error().code() == KafkaError._PARTITION_EOF:
                pending.discard((msg.topic(), msg.partition()))
                if args.count is None and not pending:
                    return 0
                continue
            fail(f"{where}: {msg.error()}")
        try:
            value = decoder.decode(msg.topic(), msg.value())
        except Failure as e:
            fail(f"{where}: {e}")
        except Exception as e:  # the serdes raise SerializationError, SchemaRegistryError, ...
            fail(f"{where}: cannot deserialize the {args.format} value: {type(e).__name__}: {e}")
        out.write(json.dumps({"topic": msg.topic(), "partition": msg.partition(),
                              "offset": msg.offset(), "value": value}, separators=(",", ":")) + "\n")
        seen += 1


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(1)
