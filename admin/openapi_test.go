package admin

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"go.yaml.in/yaml/v3"

	"github.com/segmentd/segmentd/events"
)

// openAPIDoc is the part of openapi.yaml the tests check.
type openAPIDoc struct {
	OpenAPI string                          `yaml:"openapi"`
	Paths   map[string]map[string]yaml.Node `yaml:"paths"`
}

type openAPIOperation struct {
	OperationID string                    `yaml:"operationId"`
	Responses   map[string]map[string]any `yaml:"responses"`
}

var openAPIMethods = []string{"get", "put", "post", "delete", "patch", "head", "options"}

// TestOpenAPIDescribesEveryRoute: the routes the handler serves and the operations
// openapi.yaml describes are the same set, and every operation documents its
// success and its errors.
func TestOpenAPIDescribesEveryRoute(t *testing.T) {
	var doc openAPIDoc
	if err := yaml.Unmarshal(openAPIYAML, &doc); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.") {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	described := map[string]openAPIOperation{}
	for path, item := range doc.Paths {
		for key, node := range item {
			if slices.Contains(openAPIMethods, key) {
				var op openAPIOperation
				if err := node.Decode(&op); err != nil {
					t.Fatalf("%s %s: %v", key, path, err)
				}
				described[strings.ToUpper(key)+" "+path] = op
			}
		}
	}
	h, err := New(Config{Backend: &fakeBackend{w: newWorld(1)}, Producer: nopProducer{}, ListenAddr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	for _, rt := range h.routes() {
		key := rt.method + " " + rt.path
		served[key] = true
		op, ok := described[key]
		if !ok {
			t.Errorf("route %s is not in openapi.yaml", key)
			continue
		}
		if op.OperationID == "" {
			t.Errorf("%s: no operationId", key)
		}
		if !hasAny(op.Responses, "200", "201", "202") {
			t.Errorf("%s: no success response", key)
		}
		if !hasAny(op.Responses, "401") || !hasAny(op.Responses, "403") {
			t.Errorf("%s: 401/403 not documented", key)
		}
		if rt.ready && !hasAny(op.Responses, "503") {
			t.Errorf("%s: 503 not documented", key)
		}
		if strings.Contains(rt.path, "{") && !hasAny(op.Responses, "400") {
			t.Errorf("%s: 400 not documented", key)
		}
		// The mux really routes it (a custom method through its resource's pattern,
		// labelled with its own path).
		req, _ := http.NewRequest(rt.method, "http://x"+strings.NewReplacer("{ws}", "w", "{id}", "s", "{customer_id}", "1").Replace(rt.path), nil)
		if pattern := h.routeOf(req); pattern != key {
			t.Errorf("%s is routed to %q", key, pattern)
		}
	}
	for key := range described {
		if !served[key] {
			t.Errorf("openapi.yaml describes %s, which is not served", key)
		}
	}
}

// TestOpenAPIIsValid: openapi.yaml is a valid OpenAPI 3 document (kin-openapi's
// validator: schemas, references, parameters, no stray keys), and a stray key in a
// schema, as an unquoted description with a comma makes in a YAML flow mapping, is
// caught.
func TestOpenAPIIsValid(t *testing.T) {
	if err := validateOpenAPI(openAPIYAML); err != nil {
		t.Fatalf("openapi.yaml: %v", err)
	}
	stray := strings.Replace(string(openAPIYAML), "schemas:\n", "schemas:\n    Stray: {type: object, description: one, two}\n", 1)
	if err := validateOpenAPI([]byte(stray)); err == nil {
		t.Fatal("a schema with a stray key is accepted")
	}
}

func validateOpenAPI(data []byte) error {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(data)
	if err != nil {
		return err
	}
	return doc.Validate(context.Background())
}

func hasAny(m map[string]map[string]any, codes ...string) bool {
	for _, c := range codes {
		if _, ok := m[c]; ok {
			return true
		}
	}
	return false
}

// Every $ref points at a component that exists.
func TestOpenAPIRefsResolve(t *testing.T) {
	var root map[string]any
	if err := yaml.Unmarshal(openAPIYAML, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if k == "$ref" {
					ref, _ := x.(string)
					if !resolves(root, ref) {
						t.Errorf("unresolved $ref %q", ref)
					}
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(root)
}

func resolves(root map[string]any, ref string) bool {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return false
	}
	var cur any = root
	for _, part := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return false
		}
		if cur, ok = m[part]; !ok {
			return false
		}
	}
	return true
}

func TestOpenAPIServed(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", "/v1/openapi.yaml", "")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/yaml" || string(r.body) != string(openAPIYAML) {
		t.Fatalf("GET /v1/openapi.yaml: %d %s", r.status, r.header.Get("Content-Type"))
	}
}

// The documented pattern of {ws} is the rule the handler applies.
func TestOpenAPIWorkspacePattern(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromData(openAPIYAML)
	if err != nil {
		t.Fatal(err)
	}
	p := doc.Components.Parameters["ws"]
	if p == nil || p.Value.Schema == nil {
		t.Fatal("no ws parameter")
	}
	re := regexp.MustCompile(p.Value.Schema.Value.Pattern)
	for _, s := range []string{"acme.myshopify.com", "ACME.MyShopify.com", "a", "localhost", "a-b.c", "x1.y2", "..", "a..b", "-a.com", "a-.com",
		"a.com.", ".a.com", "<script>", "a.com:8080", "a_b.com", strings.Repeat("a", 63) + ".com", strings.Repeat("a", 64) + ".com"} {
		_, ok := events.ParseWorkspace(s)
		if got := re.MatchString(s); got != ok {
			t.Errorf("%q: pattern %v, rule %v", s, got, ok)
		}
	}
}
