package anycablesse

import (
	"bytes"
	"encoding/json"
	"os"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// readmeBlock returns the first fenced block of the given language after
// the heading.
func readmeBlock(t *testing.T, heading, lang string) string {
	t.Helper()
	raw, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(raw)
	i := strings.Index(s, "\n"+heading+"\n")
	if i < 0 {
		t.Fatalf("README.md has no %q section", heading)
	}
	s = s[i:]
	start := strings.Index(s, "```"+lang+"\n")
	if start < 0 {
		t.Fatalf("README.md %q has no %s block", heading, lang)
	}
	s = s[start+len("```"+lang+"\n"):]
	return s[:strings.Index(s, "```")]
}

func keysOf(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// The README's JSON reference and the handler's struct cannot drift: the
// block names every JSON field and nothing else, and decodes into the
// struct with the types it has.
func TestREADMEJSONReference(t *testing.T) {
	block := readmeBlock(t, "### JSON reference", "json")
	var fields map[string]json.RawMessage
	if err := json.Unmarshal([]byte(block), &fields); err != nil {
		t.Fatalf("the README's JSON reference is not JSON: %v", err)
	}
	if string(fields["handler"]) != `"anycable_sse"` {
		t.Errorf("handler: %s", fields["handler"])
	}
	delete(fields, "handler")
	if got, want := keysOf(fields), sorted(jsonFields(reflect.TypeOf(Handler{}))); !reflect.DeepEqual(got, want) {
		t.Errorf("README JSON fields:\n%v\nstruct fields:\n%v", got, want)
	}
	// The block shows one "broker" line per kind; together they name
	// every field of BrokerConfig.
	broker := map[string]json.RawMessage{}
	for _, line := range strings.Split(block, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, `"broker":`) {
			continue
		}
		var one map[string]map[string]json.RawMessage
		if err := json.Unmarshal([]byte("{"+strings.TrimSuffix(line, ",")+"}"), &one); err != nil {
			t.Fatalf("README broker line %q: %v", line, err)
		}
		for k, v := range one["broker"] {
			broker[k] = v
		}
	}
	if got, want := keysOf(broker), sorted(jsonFields(reflect.TypeOf(BrokerConfig{}))); !reflect.DeepEqual(got, want) {
		t.Errorf("README broker fields %v, struct %v", got, want)
	}
	rest, _ := json.Marshal(fields)
	dec := json.NewDecoder(bytes.NewReader(rest))
	dec.DisallowUnknownFields()
	var h Handler
	if err := dec.Decode(&h); err != nil {
		t.Fatalf("the README's JSON reference does not decode into Handler: %v", err)
	}
}

// The README's Caddyfile block lists exactly the subdirectives the parser
// knows (each has a case in subdirectiveCases, which checks its JSON field).
func TestREADMECaddyfileReference(t *testing.T) {
	block := readmeBlock(t, "## Caddyfile", "caddyfile")
	documented := map[string]bool{}
	for _, line := range strings.Split(block, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 || f[0] == "anycable_sse" || f[0] == "}" || strings.HasPrefix(f[0], "#") {
			continue
		}
		documented[f[0]] = true
	}
	tested := map[string]bool{}
	for _, c := range subdirectiveCases {
		tested[strings.Fields(c.line)[0]] = true
	}
	for name := range documented {
		if !tested[name] {
			t.Errorf("README documents %q, which has no parser case", name)
		}
	}
	for name := range tested {
		if !documented[name] {
			t.Errorf("the parser accepts %q, which the README's Caddyfile block does not list", name)
		}
	}
}
