package record_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// The OCSF reference facts of testdata/ocsf (its README.md describes them).
type (
	ocsfAttr struct {
		Type       string            `json:"type"`
		BaseType   string            `json:"base_type"`
		Object     bool              `json:"object"`
		IsArray    bool              `json:"is_array"`
		Required   string            `json:"requirement"`
		Profile    string            `json:"profile"`
		Sibling    string            `json:"sibling"`
		Deprecated bool              `json:"deprecated"`
		Enum       map[string]string `json:"enum"`
	}
	ocsfShape struct {
		Name        string              `json:"name"`
		ClassUID    *int                `json:"class_uid"`
		CategoryUID *int                `json:"category_uid"`
		Constraints map[string][]string `json:"constraints"`
		Attributes  map[string]ocsfAttr `json:"attributes"`
	}
	ocsfType struct {
		BaseType string  `json:"base_type"`
		Range    []int64 `json:"range"`
		MaxLen   int     `json:"max_len"`
	}
	ocsfRef struct {
		classes map[int]*ocsfShape // by class_uid
		objects map[string]*ocsfShape
		types   map[string]ocsfType
	}
)

var (
	ocsfRefOnce sync.Once
	ocsfRefVal  *ocsfRef
	ocsfRefErr  error
)

// loadOCSFRef reads the fixtures once.
func loadOCSFRef(t testing.TB) *ocsfRef {
	t.Helper()
	ocsfRefOnce.Do(func() {
		read := func(name string, v any) {
			if ocsfRefErr != nil {
				return
			}
			b, err := os.ReadFile(filepath.Join("testdata", "ocsf", name))
			if err == nil {
				err = json.Unmarshal(b, v)
			}
			if err != nil {
				ocsfRefErr = fmt.Errorf("%s: %w", name, err)
			}
		}
		var c struct{ Classes map[string]*ocsfShape }
		var o struct{ Objects map[string]*ocsfShape }
		var ty struct{ Types map[string]ocsfType }
		read("classes.json", &c)
		read("objects.json", &o)
		read("types.json", &ty)
		r := &ocsfRef{classes: map[int]*ocsfShape{}, objects: o.Objects, types: ty.Types}
		for _, s := range c.Classes {
			r.classes[*s.ClassUID] = s
		}
		ocsfRefVal = r
	})
	if ocsfRefErr != nil {
		t.Fatal(ocsfRefErr)
	}
	return ocsfRefVal
}

// decodeJSON decodes one record keeping numbers as written.
func decodeJSON(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, fmt.Errorf("more than one value")
	}
	return m, nil
}

// checkOCSF returns every way rec breaks the reference: an attribute its
// class or object does not define (or only under a profile the record does
// not list, or deprecated), a value not of the attribute's type, an enum
// value the enum lacks (99 without its caption), a required attribute
// missing, a constraint broken, a type_uid other than class_uid*100 +
// activity_id.
func (r *ocsfRef) check(rec map[string]any) []string {
	var errs []string
	fail := func(path, format string, args ...any) {
		errs = append(errs, path+": "+fmt.Sprintf(format, args...))
	}
	classUID, ok := asInt(rec["class_uid"])
	if !ok {
		return []string{"class_uid: missing or not an integer"}
	}
	class := r.classes[int(classUID)]
	if class == nil {
		return []string{fmt.Sprintf("class_uid %d: not a class of the fixtures", classUID)}
	}
	if cat, _ := asInt(rec["category_uid"]); cat != int64(*class.CategoryUID) {
		fail("category_uid", "%v, want %d", rec["category_uid"], *class.CategoryUID)
	}
	activity, _ := asInt(rec["activity_id"])
	if tu, _ := asInt(rec["type_uid"]); tu != classUID*100+activity {
		fail("type_uid", "%v, want %d", rec["type_uid"], classUID*100+activity)
	}
	profiles := map[string]bool{}
	if md, ok := rec["metadata"].(map[string]any); ok {
		if ps, ok := md["profiles"].([]any); ok {
			for _, p := range ps {
				s, _ := p.(string)
				profiles[s] = true
			}
		}
	}
	r.checkShape(class, rec, class.Name, profiles, fail)
	return errs
}

func (r *ocsfRef) checkShape(s *ocsfShape, v map[string]any, path string, profiles map[string]bool, fail func(path, format string, args ...any)) {
	for name, val := range v {
		p := path + "." + name
		a, ok := s.Attributes[name]
		switch {
		case !ok:
			fail(p, "no such attribute in %s", s.Name)
			continue
		case a.Profile != "" && !profiles[a.Profile]:
			fail(p, "of profile %q, which metadata.profiles does not list", a.Profile)
		case a.Deprecated:
			fail(p, "deprecated")
		}
		if a.IsArray {
			arr, ok := val.([]any)
			if !ok {
				fail(p, "%v is not an array", val)
				continue
			}
			for i, el := range arr {
				r.checkValue(a, el, fmt.Sprintf("%s[%d]", p, i), v, profiles, fail)
			}
			continue
		}
		r.checkValue(a, val, p, v, profiles, fail)
	}
	for name, a := range s.Attributes {
		if a.Required == "required" && (a.Profile == "" || profiles[a.Profile]) {
			if _, ok := v[name]; !ok {
				fail(path+"."+name, "required by %s, missing", s.Name)
			}
		}
	}
	if names := s.Constraints["at_least_one"]; len(names) > 0 && !slices.ContainsFunc(names, func(n string) bool { _, ok := v[n]; return ok }) {
		fail(path, "none of %v (at_least_one)", names)
	}
}

func (r *ocsfRef) checkValue(a ocsfAttr, val any, p string, parent map[string]any, profiles map[string]bool, fail func(path, format string, args ...any)) {
	if a.Object {
		m, ok := val.(map[string]any)
		if !ok {
			fail(p, "%v is not an object", val)
			return
		}
		if a.Type == "object" { // free-form: unmapped
			return
		}
		o := r.objects[a.Type]
		if o == nil {
			fail(p, "object %q is not in the fixtures", a.Type)
			return
		}
		r.checkShape(o, m, p, profiles, fail)
		return
	}
	typ := a.Type
	t, ok := r.types[typ]
	if !ok {
		fail(p, "type %q is not in the fixtures", typ)
		return
	}
	base := typ
	if t.BaseType != "" {
		base = t.BaseType
	}
	switch base {
	case "string_t":
		s, ok := val.(string)
		if !ok {
			fail(p, "%v is not a string (%s)", val, typ)
			return
		}
		if t.MaxLen > 0 && len(s) > t.MaxLen {
			fail(p, "%q longer than %d", s, t.MaxLen)
		}
		if typ == "ip_t" {
			if _, err := netip.ParseAddr(s); err != nil {
				fail(p, "%q is not an address: %v", s, err)
			}
		}
	case "integer_t", "long_t":
		n, ok := asInt(val)
		if !ok {
			fail(p, "%v is not an integer (%s)", val, typ)
			return
		}
		lo, hi := int64(math.MinInt64), int64(math.MaxInt64)
		if base == "integer_t" {
			lo, hi = math.MinInt32, math.MaxInt32
		}
		if len(t.Range) == 2 {
			lo, hi = t.Range[0], t.Range[1]
		}
		if typ == "timestamp_t" {
			// Milliseconds: 2001-09-09 to 5138-11-16. Seconds or
			// nanoseconds fall outside.
			lo, hi = 1e12, 1e14
		}
		if n < lo || n > hi {
			fail(p, "%d outside [%d, %d] (%s)", n, lo, hi, typ)
		}
		if len(a.Enum) > 0 {
			key := strconv.FormatInt(n, 10)
			if _, ok := a.Enum[key]; !ok {
				fail(p, "%d is not among the enum's values", n)
			} else if n == 99 && a.Sibling != "" && strings.HasSuffix(p, "_id") {
				if s, _ := parent[a.Sibling].(string); s == "" {
					fail(p, "99 Other without a caption in %s", a.Sibling)
				}
			}
		}
	case "boolean_t":
		if _, ok := val.(bool); !ok {
			fail(p, "%v is not a boolean", val)
		}
	case "float_t":
		if _, ok := val.(json.Number); !ok {
			fail(p, "%v is not a number", val)
		}
	default:
		fail(p, "type %q not checked by this test", typ)
	}
}

// asInt returns a JSON number written as an integer.
func asInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil
}

// jsonTypes adds the JSON type of every path of v (array elements under
// path[]) to types; it returns the paths whose type differs from one
// already there.
func jsonTypes(types map[string]string, where map[string]string, path string, v any, from string) []string {
	var clash []string
	typ := ""
	switch v := v.(type) {
	case map[string]any:
		typ = "object"
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			clash = append(clash, jsonTypes(types, where, p, v[k], from)...)
		}
	case []any:
		typ = "array"
		for _, el := range v {
			clash = append(clash, jsonTypes(types, where, path+"[]", el, from)...)
		}
	case string:
		typ = "string"
	case bool:
		typ = "boolean"
	case json.Number:
		typ = "number"
	case nil:
		typ = "null"
	}
	if old, ok := types[path]; ok && old != typ {
		clash = append(clash, fmt.Sprintf("%s: %s in %s, %s in %s", path, old, where[path], typ, from))
	} else if !ok {
		types[path], where[path] = typ, from
	}
	return clash
}

// linesOf splits a logger's output into its records.
func linesOf(b []byte) [][]byte {
	var out [][]byte
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(strings.TrimSpace(string(l))) > 0 {
			out = append(out, l)
		}
	}
	return out
}
