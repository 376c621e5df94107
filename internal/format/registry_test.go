package format

import (
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tradestream/tradestream/internal/config"
	"github.com/tradestream/tradestream/internal/event"
	"github.com/tradestream/tradestream/internal/kafkatest"
	"github.com/tradestream/tradestream/internal/market"
)

func testRegistry(t *testing.T) *Registry {
	t.Helper()
	reg, err := NewRegistry(RegistryConfig{URL: kafkatest.Registry(t)})
	if err != nil {
		t.Fatal(err)
	}
	if err := reg.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	return reg
}

func uniqueTopic(prefix string) string {
	return fmt.Sprintf("%s-%d-%d", prefix, time.Now().UnixNano(), rand.IntN(1e6))
}

// TestTradeV2IsABackwardCompatibleVersionOfTradeV1 registers trade/1 and
// then trade/2 under one subject in each format: the registry, at its
// BACKWARD default, accepts trade/2 as the subject's second version, and
// refuses a deliberately incompatible change with its own explanation.
func TestTradeV2IsABackwardCompatibleVersionOfTradeV1(t *testing.T) {
	reg := testRegistry(t)
	ctx := context.Background()
	incompatible := map[Format]string{
		// A new field without a default: trade/1 records cannot be read.
		Avro: `{"type":"record","name":"Trade","namespace":"tradestream","fields":[{"name":"trade_id","type":"long"},{"name":"venue","type":"string"}]}`,
		// A field's type changed from int64 to string.
		Protobuf: "syntax = \"proto3\";\npackage tradestream;\n\nmessage Trade {\n  string trade_id = 1;\n}\n",
		// A property closed off and a new one required.
		JSONSchema: `{"$schema":"http://json-schema.org/draft-07/schema#","title":"Trade","type":"object","properties":{"trade_id":{"type":"string"},"venue":{"type":"string"}},"required":["trade_id","venue"],"additionalProperties":false}`,
	}
	for _, f := range []Format{Avro, Protobuf, JSONSchema} {
		t.Run(f.String(), func(t *testing.T) {
			topic := uniqueTopic("compat-" + f.String())
			var ids []int
			for _, v := range []string{event.SchemaTradeV1, event.SchemaTradeV2} {
				text, _ := Schema(f, v)
				id, err := reg.Register(ctx, Subject(topic), f, text)
				if err != nil {
					t.Fatalf("register %s: %v", v, err)
				}
				ids = append(ids, id)
			}
			if ids[0] == ids[1] {
				t.Fatalf("trade/1 and trade/2 got one id %d", ids[0])
			}
			versions, err := reg.cl.SubjectVersions(ctx, Subject(topic))
			if err != nil || len(versions) != 2 {
				t.Fatalf("subject versions %v (%v), want 2", versions, err)
			}
			// Registering the same schema again returns its id.
			text, _ := Schema(f, event.SchemaTradeV2)
			if id, err := reg.Register(ctx, Subject(topic), f, text); err != nil || id != ids[1] {
				t.Fatalf("re-registering trade/2: id %d (%v), want %d", id, err, ids[1])
			}
			_, err = reg.Register(ctx, Subject(topic), f, incompatible[f])
			var inc *IncompatibleError
			if !errors.As(err, &inc) {
				t.Fatalf("an incompatible schema: %v, want an IncompatibleError", err)
			}
			if !strings.Contains(err.Error(), "incompatible") || !strings.Contains(err.Error(), Subject(topic)) {
				t.Fatalf("the refusal does not say what and why: %v", err)
			}
			t.Logf("%s: trade/1 id %d, trade/2 id %d; refused: %v", f, ids[0], ids[1], err)
		})
	}
}

// TestASubjectKeepsOneFormat: writing Protobuf to a topic whose subject
// holds Avro schemas fails with a message saying so.
func TestASubjectKeepsOneFormat(t *testing.T) {
	reg := testRegistry(t)
	ctx := context.Background()
	topic := uniqueTopic("one-format")
	if _, err := NewEncoder(ctx, reg, Avro, []Registration{{Version: event.SchemaPriceV1, Topic: topic}}); err != nil {
		t.Fatal(err)
	}
	_, err := NewEncoder(ctx, reg, Protobuf, []Registration{{Version: event.SchemaPriceV1, Topic: topic}})
	if err == nil || !strings.Contains(err.Error(), "holds avro schemas") || !strings.Contains(err.Error(), "--topic-prefix") {
		t.Fatalf("protobuf on an Avro subject: %v", err)
	}
}

// TestDecoderFetchesSchemasFromTheRegistry encodes a seeded market with
// schemas registered in the real registry and reads it back with a fresh
// decoder that knows only the registry's URL.
func TestDecoderFetchesSchemasFromTheRegistry(t *testing.T) {
	reg := testRegistry(t)
	ctx := context.Background()
	for _, f := range []Format{Avro, Protobuf, JSONSchema} {
		t.Run(f.String(), func(t *testing.T) {
			topic := uniqueTopic("dec-" + f.String())
			enc, err := NewEncoder(ctx, reg, f, []Registration{
				{Version: event.SchemaUserV1, Topic: topic + ".users"}, {Version: event.SchemaPriceV1, Topic: topic + ".prices"},
				{Version: event.SchemaTradeV2, Topic: topic + ".trades"}, {Version: event.SchemaAlertV1, Topic: topic + ".alerts"},
			})
			if err != nil {
				t.Fatal(err)
			}
			dec := NewDecoder(reg, nil)
			for _, ev := range events(t, 600, event.SchemaTradeV2) {
				b, err := enc.Append(nil, ev.Schema, ev.Value())
				if err != nil {
					t.Fatal(err)
				}
				version, got, err := dec.Decode(ctx, nil, b)
				want, _ := event.Decode(ev.Schema, appendJSON(ev))
				if err != nil || version != ev.Schema || !reflect.DeepEqual(got, want) {
					t.Fatalf("%s: read %s %+v (%v), want %+v", ev.Schema, version, got, err, want)
				}
			}
			for _, a := range alerts(t, 200) {
				b, err := enc.Append(nil, event.SchemaAlertV1, a)
				if err != nil {
					t.Fatal(err)
				}
				version, got, err := dec.Decode(ctx, nil, b)
				if err != nil || version != event.SchemaAlertV1 || !reflect.DeepEqual(got, a) {
					t.Fatalf("alert/1: read %s %+v (%v), want %+v", version, got, err, a)
				}
			}
			// An id the registry never handed out.
			_, _, err = dec.Decode(ctx, nil, []byte{0, 0x7f, 0xff, 0xff, 0xf0, 2, 2})
			if event.ReasonOf(err) != event.ReasonUnknownSchema {
				t.Fatalf("unknown id: %v, want unknown_schema", err)
			}
		})
	}
}

// TestAlertSchemasAreAcceptedByTheRegistry registers alert/1 in each
// format under <prefix>alerts-value in the real registry: the registry
// accepts each file, gives the same id again on a restart, and hands
// back a schema the decoder reads as alert/1.
func TestAlertSchemasAreAcceptedByTheRegistry(t *testing.T) {
	reg := testRegistry(t)
	ctx := context.Background()
	for _, f := range []Format{Avro, Protobuf, JSONSchema} {
		t.Run(f.String(), func(t *testing.T) {
			topic := uniqueTopic("alert-"+f.String()) + ".alerts"
			regs := []Registration{{Version: event.SchemaAlertV1, Topic: topic}}
			enc, err := NewEncoder(ctx, reg, f, regs)
			if err != nil {
				t.Fatalf("register alert/1: %v", err)
			}
			id := enc.ID(event.SchemaAlertV1)
			if id == 0 || enc.IDs() != fmt.Sprintf("alert/1=%d", id) {
				t.Fatalf("ids %q", enc.IDs())
			}
			again, err := NewEncoder(ctx, reg, f, regs)
			if err != nil || again.ID(event.SchemaAlertV1) != id {
				t.Fatalf("re-registering alert/1: id %d (%v), want %d", again.ID(event.SchemaAlertV1), err, id)
			}
			s, err := reg.schemaByID(ctx, id)
			if err != nil {
				t.Fatal(err)
			}
			if s.Type != srType(f) {
				t.Fatalf("the registry holds a %s schema, want %s", s.Type, srType(f))
			}
			w := parseWriter(id, s)
			if w.err != nil {
				t.Fatalf("the registry's schema: %v", w.err)
			}
			k, version := w.kind, w.version
			if f == Protobuf {
				k, version = w.protoKinds[0], w.protoVersions[0]
			}
			if k != kindAlert || version != event.SchemaAlertV1 {
				t.Fatalf("the registry's schema reads as kind %d %q, want alert/1", k, version)
			}
			t.Logf("%s: alert/1 id %d under %s", f, id, Subject(topic))
		})
	}
}

// TestDecoderWaitsOutARegistryOutage puts an outage in front of the real
// registry: the first requests fail (503, then a refused connection
// through a closed port is the other test); the decoder retries, counts
// its waits, and decodes once the registry answers. A decoder whose
// registry never answers gives up only when its context ends, with an
// error that is not a dead letter's.
func TestDecoderWaitsOutARegistryOutage(t *testing.T) {
	reg := testRegistry(t)
	ctx := context.Background()
	topic := uniqueTopic("outage")
	enc, err := NewEncoder(ctx, reg, Avro, []Registration{{Version: event.SchemaPriceV1, Topic: topic}})
	if err != nil {
		t.Fatal(err)
	}
	var p *event.Price
	for _, ev := range events(t, 100, event.SchemaTradeV2) {
		if ev.Kind == market.KindPrice {
			p = ev.Price
			break
		}
	}
	if p == nil {
		t.Fatal("no price")
	}
	b, _ := enc.Append(nil, event.SchemaPriceV1, p)

	target, _ := url.Parse(reg.URL())
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	var failing atomic.Int64
	failing.Store(3)
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if failing.Add(-1) >= 0 {
			http.Error(w, "registry restarting", http.StatusServiceUnavailable)
			return
		}
		r.URL.Path = strings.TrimPrefix(r.URL.Path, "/p")
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	path := strings.TrimSuffix(target.Path, "/")
	flaky, err := NewRegistry(RegistryConfig{URL: srv.URL + "/p" + path})
	if err != nil {
		t.Fatal(err)
	}
	dec := NewDecoder(flaky, nil)
	version, v, err := dec.Decode(ctx, nil, b)
	if err != nil || version != event.SchemaPriceV1 || v.(*event.Price).Last != p.Last {
		t.Fatalf("after the outage: %s %v (%v)", version, v, err)
	}
	if w := dec.Waits.Load(); w != 3 {
		t.Fatalf("%d waits, want 3 (one per failed request)", w)
	}
	// Cached: no further request.
	before := served.Load()
	if _, _, err := dec.Decode(ctx, nil, b); err != nil || served.Load() != before {
		t.Fatalf("a second decode asked the registry again (%v)", err)
	}

	// A registry that never answers: Resolve returns when ctx ends, with
	// ctx's error, and nothing is cached.
	srv.Close()
	down := NewDecoder(flaky, nil)
	cctx, cancel := context.WithTimeout(ctx, 700*time.Millisecond)
	defer cancel()
	err = down.Resolve(cctx, b)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("an unreachable registry: %v, want the context's deadline", err)
	}
	if event.ReasonOf(err) != "" {
		t.Fatalf("an unreachable registry gave a dead letter's reason: %v", err)
	}
	if down.Waits.Load() == 0 {
		t.Fatal("no retry was counted")
	}
}

// TestCredentialsInTheURLAreNeverPrinted: a password written into the
// registry URL goes to basic authentication and stays out of every error.
func TestCredentialsInTheURLAreNeverPrinted(t *testing.T) {
	var gotUser, gotPass string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotUser, gotPass, _ = r.BasicAuth()
		http.Error(w, `{"error_code":50001,"message":"boom"}`, http.StatusInternalServerError)
	}))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	u.User = url.UserPassword("key", "s3cret-pass")
	reg, err := NewRegistry(RegistryConfig{URL: u.String()})
	if err != nil {
		t.Fatal(err)
	}
	_, err = reg.Register(context.Background(), "x-value", Avro, `"string"`)
	if err == nil || strings.Contains(err.Error(), "s3cret-pass") || strings.Contains(reg.URL(), "s3cret") {
		t.Fatalf("error %v / URL %s", err, reg.URL())
	}
	if gotUser != "key" || gotPass != "s3cret-pass" {
		t.Fatalf("basic auth %q/%q, want the URL's credentials", gotUser, gotPass)
	}
	if _, err := NewRegistry(RegistryConfig{URL: "ftp://key:s3cret-pass@host"}); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Fatalf("bad scheme: %v", err)
	}
}

// TestRegistryOverTLSWithAPrivateCA reaches an https registry whose
// certificate a private CA signed: refused with the system's roots,
// answered with the CA file of --schema-registry-tls-ca.
func TestRegistryOverTLSWithAPrivateCA(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`["AVRO","JSON","PROTOBUF"]`))
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	plain, err := NewRegistry(RegistryConfig{URL: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	if err := plain.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("with the system's roots: %v, want a certificate error", err)
	}
	tc, err := config.TLS{CAFile: ca}.ClientConfig("schema registry tls")
	if err != nil {
		t.Fatal(err)
	}
	trusted, err := NewRegistry(RegistryConfig{URL: srv.URL, TLS: tc})
	if err != nil {
		t.Fatal(err)
	}
	if err := trusted.Check(context.Background()); err != nil {
		t.Fatalf("with the CA file: %v", err)
	}
}
