package sink

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/common/types/traits"
	"cel.dev/cel-go/ext"
	"cel.dev/cel-go/interpreter"

	"github.com/tradestream/tradestream/internal/config"
)

// Declarative transforms: config.Transform steps compiled once, at start,
// into Transforms. Every problem of every step (structure, CEL syntax and
// types, unknown fields for the step's topics) is reported together by
// CompileTransforms, the way config validation reports.

// ErrDrop is what a Transform returns (or wraps) to drop a record: it is
// neither loaded nor dead-lettered, and its offset is consumed like any
// other's.
var ErrDrop = errors.New("dropped by a transform")

// ReasonTransformFailed: a declarative transform's expression failed on
// the record (a missing map key, an overflow, a value of the wrong type
// for the field it sets).
const ReasonTransformFailed = "transform_failed"

var reasonPattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

var stringsType = reflect.TypeOf([]string(nil))

// celEnv is the CEL environment of every expression: record (the event's
// fields), topic, key and schema, with CEL's string extensions.
func celEnv() (*cel.Env, error) {
	return cel.NewEnv(
		cel.Variable("record", cel.MapType(cel.StringType, cel.DynType)),
		cel.Variable("topic", cel.StringType),
		cel.Variable("key", cel.StringType),
		cel.Variable("schema", cel.StringType),
		ext.Strings(),
	)
}

// declared is one compiled step.
type declared struct {
	name   string
	topics [4]bool // by index in shortTopics
	when   cel.Program
	// Exactly one of drop, reject, set and unset is set.
	drop, reject cel.Program
	reason       string
	message      cel.Program
	set          []setter
	unset        []string
}

type setter struct {
	field string
	prog  cel.Program
}

// CompileTransforms compiles the declarative steps of the configuration
// into Transforms (one stage running the steps in order, sharing the
// view of each record), or reports every problem in them at once.
func CompileTransforms(specs []config.Transform) ([]Transform, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	env, err := celEnv()
	if err != nil {
		return nil, fmt.Errorf("sink transforms: CEL environment: %w", err)
	}
	var errs []error
	out := make(stage, 0, len(specs))
	names := map[string]bool{}
	for i, sp := range specs {
		c := compiler{env: env, where: fmt.Sprintf("sink transform %d", i+1)}
		if sp.Name != "" {
			c.where = fmt.Sprintf("sink transform %d (%s)", i+1, sp.Name)
			if names[sp.Name] {
				c.problem("name %q is used twice", sp.Name)
			}
			names[sp.Name] = true
		}
		d := c.compile(sp)
		errs = append(errs, c.errs...)
		out = append(out, d)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return []Transform{out}, nil
}

// stage runs compiled steps in order on one view of the record.
type stage []*declared

// Apply implements Transform.
func (s stage) Apply(rec *Record) error {
	topic := topicOf(rec)
	i := slices.Index(shortTopics, topic)
	if i < 0 {
		return nil // a tombstone
	}
	vars := recordVars{rec: rec, fields: eventFields[topic]}
	for _, d := range s {
		if !d.topics[i] {
			continue
		}
		if err := d.apply(&vars); err != nil {
			return err
		}
	}
	return nil
}

// compiler collects the problems of one step.
type compiler struct {
	env   *cel.Env
	where string
	errs  []error
	scope []string // the step's topics
}

func (c *compiler) problem(format string, args ...any) {
	c.errs = append(c.errs, fmt.Errorf("%s: %s", c.where, fmt.Sprintf(format, args...)))
}

func (c *compiler) compile(sp config.Transform) *declared {
	d := &declared{name: sp.Name, reason: sp.Reason}
	if d.name == "" {
		c.problem("needs a name")
	}
	c.scope = sp.Topics
	if len(c.scope) == 0 {
		c.scope = shortTopics
	}
	for _, t := range c.scope {
		i := slices.Index(shortTopics, t)
		if i < 0 {
			c.problem("topic %q: want users, prices, trades or alerts", t)
			continue
		}
		d.topics[i] = true
	}
	kinds := 0
	for _, set := range []bool{sp.Drop != "", sp.Reject != "", len(sp.Set) > 0, len(sp.Unset) > 0} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		c.problem("give exactly one of drop, reject, set and unset (got %d)", kinds)
	}
	if sp.When != "" {
		d.when = c.program("when", sp.When, cel.BoolType)
	}
	switch {
	case sp.Drop != "":
		d.drop = c.program("drop", sp.Drop, cel.BoolType)
	case sp.Reject != "":
		d.reject = c.program("reject", sp.Reject, cel.BoolType)
		if !reasonPattern.MatchString(sp.Reason) {
			c.problem("reason %q: want lower-case letters, digits and _ (e.g. above_notional)", sp.Reason)
		}
		if sp.Message != "" {
			d.message = c.program("message", sp.Message, cel.StringType)
		}
	}
	if sp.Reject == "" && (sp.Reason != "" || sp.Message != "") {
		c.problem("reason and message go with reject only")
	}
	fields := make([]string, 0, len(sp.Set))
	for f := range sp.Set {
		fields = append(fields, f)
	}
	sort.Strings(fields)
	for _, f := range fields {
		ok := c.settable(f, false)
		prog := c.program("set "+f, sp.Set[f], nil)
		if ok {
			d.set = append(d.set, setter{field: f, prog: prog})
		}
	}
	for _, f := range sp.Unset {
		if c.settable(f, true) {
			d.unset = append(d.unset, f)
		}
	}
	return d
}

// settable checks that field exists and may be set (or, with unset,
// cleared) on every topic of the step.
func (c *compiler) settable(name string, unset bool) bool {
	ok := true
	for _, t := range c.scope {
		fs, known := eventFields[t]
		if !known {
			continue
		}
		f, has := fs[name]
		switch {
		case !has:
			c.problem("field %q: no such field on topic %s (fields: %s)", name, t, fieldNames(t))
			ok = false
		case f.set == nil:
			c.problem("field %q of topic %s is derived and cannot be set", name, t)
			ok = false
		case unset && !f.optional:
			c.problem("field %q of topic %s is required and cannot be unset", name, t)
			ok = false
		}
	}
	return ok
}

// program compiles one expression, wanting the output type want (nil:
// any), and checks every record.<field> it names against the step's
// topics. It returns nil after reporting a problem.
func (c *compiler) program(what, expr string, want *cel.Type) cel.Program {
	checked, iss := c.env.Compile(expr)
	if iss.Err() != nil {
		c.problem("%s: %s", what, strings.ReplaceAll(iss.Err().Error(), "\n", "\n  "))
		return nil
	}
	if want != nil && !checked.OutputType().IsExactType(want) && !checked.OutputType().IsExactType(cel.DynType) {
		c.problem("%s: %q gives a %s, want a %s", what, expr, checked.OutputType(), want)
		return nil
	}
	for _, f := range recordFields(checked) {
		for _, t := range c.scope {
			if fs, known := eventFields[t]; known {
				if _, has := fs[f]; !has {
					c.problem("%s: record.%s: no such field on topic %s (fields: %s)", what, f, t, fieldNames(t))
				}
			}
		}
	}
	prog, err := c.env.Program(checked, cel.EvalOptions(cel.OptOptimize))
	if err != nil {
		c.problem("%s: %v", what, err)
		return nil
	}
	return prog
}

// recordFields returns the fields an expression selects from record
// (record.x, has(record.x)).
func recordFields(checked *cel.Ast) []string {
	var out []string
	ast.PostOrderVisit(checked.NativeRep().Expr(), ast.NewExprVisitor(func(e ast.Expr) {
		if e.Kind() != ast.SelectKind {
			return
		}
		sel := e.AsSelect()
		if op := sel.Operand(); op.Kind() == ast.IdentKind && op.AsIdent() == "record" {
			out = append(out, sel.FieldName())
		}
	}))
	return out
}

func fieldNames(topic string) string {
	names := make([]string, 0, len(eventFields[topic]))
	for n := range eventFields[topic] {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// apply runs the step on the record of vars, which covers one of its
// topics.
func (d *declared) apply(vars *recordVars) error {
	rec := vars.rec
	if d.when != nil {
		ok, err := d.test(d.when, vars)
		if err != nil || !ok {
			return err
		}
	}
	switch {
	case d.drop != nil:
		ok, err := d.test(d.drop, vars)
		if err != nil {
			return err
		}
		if ok {
			return ErrDrop
		}
	case d.reject != nil:
		return d.applyReject(vars)
	case len(d.set) > 0:
		if err := d.applySet(vars); err != nil {
			return err
		}
		return validate(rec)
	default:
		for _, f := range d.unset {
			vars.fields[f].set(rec, reflect.Zero(reflect.TypeOf(vars.fields[f].get(rec))).Interface())
		}
		return validate(rec)
	}
	return nil
}

func (d *declared) applyReject(vars *recordVars) error {
	ok, err := d.test(d.reject, vars)
	if err != nil || !ok {
		return err
	}
	msg := "rejected by transform " + d.name
	if d.message != nil {
		v, _, err := d.message.Eval(vars)
		if err != nil {
			return d.failed("message", err)
		}
		if s, isStr := v.(types.String); isStr {
			msg = string(s)
		}
	}
	return &Rejection{Reason: d.reason, Msg: msg}
}

// applySet evaluates every expression on the record as it was, then sets
// the fields.
func (d *declared) applySet(vars *recordVars) error {
	values := make([]any, len(d.set))
	for i, s := range d.set {
		v, _, err := s.prog.Eval(vars)
		if err != nil {
			return d.failed("set "+s.field, err)
		}
		if values[i], err = convert(vars.fields[s.field].kind, v); err != nil {
			return d.failed("set "+s.field, err)
		}
	}
	for i, s := range d.set {
		vars.fields[s.field].set(vars.rec, values[i])
	}
	return nil
}

func (d *declared) test(p cel.Program, vars *recordVars) (bool, error) {
	v, _, err := p.Eval(vars)
	if err != nil {
		return false, d.failed("", err)
	}
	b, ok := v.(types.Bool)
	if !ok {
		return false, d.failed("", fmt.Errorf("got a %s, want a bool", v.Type().TypeName()))
	}
	return bool(b), nil
}

func (d *declared) failed(what string, err error) error {
	if what != "" {
		what = " " + what
	}
	return Reject(ReasonTransformFailed, "transform %s%s: %v", d.name, what, err)
}

// recordVars is the activation of one record.
type recordVars struct {
	rec    *Record
	fields map[string]field
}

// ResolveName implements interpreter.Activation.
func (v *recordVars) ResolveName(name string) (any, bool) {
	switch name {
	case "record":
		return lazyRecord{v}, true
	case "topic":
		return v.rec.Topic, true
	case "key":
		return string(v.rec.Key), true
	case "schema":
		return v.rec.Schema, true
	}
	return nil, false
}

// Parent implements interpreter.Activation.
func (v *recordVars) Parent() interpreter.Activation { return nil }

// lazyRecord is record as a CEL map that reads a field only when an
// expression selects it; what needs the whole map (size, iteration,
// equality) gets a copy.
type lazyRecord struct{ v *recordVars }

var _ traits.Mapper = lazyRecord{}

func (l lazyRecord) full() traits.Mapper {
	m := make(map[string]any, len(l.v.fields))
	for n, f := range l.v.fields {
		m[n] = f.get(l.v.rec)
	}
	return types.DefaultTypeAdapter.NativeToValue(m).(traits.Mapper)
}

// Find implements traits.Mapper.
func (l lazyRecord) Find(key ref.Val) (ref.Val, bool) {
	s, ok := key.(types.String)
	if !ok {
		return nil, false
	}
	f, ok := l.v.fields[string(s)]
	if !ok {
		return nil, false
	}
	return types.DefaultTypeAdapter.NativeToValue(f.get(l.v.rec)), true
}

// Get implements traits.Indexer.
func (l lazyRecord) Get(key ref.Val) ref.Val {
	if v, ok := l.Find(key); ok {
		return v
	}
	return types.NewErr("no such key: %v", key)
}

// Contains implements traits.Container.
func (l lazyRecord) Contains(key ref.Val) ref.Val {
	_, ok := l.Find(key)
	return types.Bool(ok)
}

// Iterator implements traits.Iterable.
func (l lazyRecord) Iterator() traits.Iterator { return l.full().Iterator() }

// Size implements traits.Sizer.
func (l lazyRecord) Size() ref.Val { return types.Int(len(l.v.fields)) }

// ConvertToNative implements ref.Val.
func (l lazyRecord) ConvertToNative(t reflect.Type) (any, error) { return l.full().ConvertToNative(t) }

// ConvertToType implements ref.Val.
func (l lazyRecord) ConvertToType(t ref.Type) ref.Val { return l.full().ConvertToType(t) }

// Equal implements ref.Val.
func (l lazyRecord) Equal(o ref.Val) ref.Val { return l.full().Equal(o) }

// Type implements ref.Val.
func (l lazyRecord) Type() ref.Type { return types.MapType }

// Value implements ref.Val.
func (l lazyRecord) Value() any { return l.full().Value() }
