package admin

import (
	"net/http"
	"slices"
	"strings"
)

// Custom methods. A method on a resource (…/segments/{id}:preview, the AIP-136
// style the API uses) cannot be a ServeMux pattern, whose wildcards are whole path
// segments. Such a route is served through the pattern of its resource
// (…/segments/{id}): the routes of the resource and of its verbs share one handler
// per method, which splits the verb off the wildcard's value and dispatches on it
// (404 for an unknown verb, 405 with Allow for a method the verb does not serve).
// Metrics and logs label the request with the route's own path (routeOf).

// splitVerb splits a route path whose last segment is a wildcard with a verb
// ("…/{id}:preview") into the mux path ("…/{id}"), the wildcard's name ("id") and the
// verb ("preview"). Any other path is returned whole, with no wildcard or verb.
func splitVerb(path string) (muxPath, wildcard, verb string) {
	i := strings.LastIndexByte(path, '/')
	last := path[i+1:]
	j := strings.Index(last, "}:")
	if !strings.HasPrefix(last, "{") || j < 0 {
		return path, "", ""
	}
	return path[:i+1+j+1], last[1:j], last[j+2:]
}

// endpoint is what one route path serves: its methods and their handlers.
type endpoint struct {
	methods []string
	fns     map[string]http.HandlerFunc
}

// allow is the Allow header of the endpoint: its methods, and HEAD with GET.
func (e *endpoint) allow() string {
	methods := slices.Clone(e.methods)
	if slices.Contains(methods, http.MethodGet) {
		methods = append(methods, http.MethodHead)
	}
	return strings.Join(methods, ", ")
}

// handler returns the endpoint's handler of method (GET's for HEAD), or nil.
func (e *endpoint) handler(method string) http.HandlerFunc {
	if fn := e.fns[method]; fn != nil {
		return fn
	}
	if method == http.MethodHead {
		return e.fns[http.MethodGet]
	}
	return nil
}

func methodNotAllowed(w http.ResponseWriter, r *http.Request, allowed string) {
	w.Header().Set("Allow", allowed)
	writeError(w, http.StatusMethodNotAllowed, "method %s not allowed; allowed: %s", r.Method, allowed)
}

func noSuchEndpoint(w http.ResponseWriter, _ *http.Request) {
	writeError(w, http.StatusNotFound, "no such endpoint; see GET /v1/openapi.yaml")
}

func (h *Handler) register() {
	byPath := map[string]map[string]*endpoint{} // mux path → verb ("" for none) → endpoint
	wildcards := map[string]string{}            // mux path → the wildcard carrying verbs
	var paths []string
	h.verbs = map[string][]string{}
	for _, rt := range h.routes() {
		fn := rt.handler
		if rt.ready {
			fn = h.needReady(fn)
		}
		mp, wc, verb := splitVerb(rt.path)
		if wc != "" {
			wildcards[mp] = wc
			if !slices.Contains(h.verbs[mp], verb) {
				h.verbs[mp] = append(h.verbs[mp], verb)
			}
		}
		eps := byPath[mp]
		if eps == nil {
			eps = map[string]*endpoint{}
			byPath[mp] = eps
			paths = append(paths, mp)
		}
		ep := eps[verb]
		if ep == nil {
			ep = &endpoint{fns: map[string]http.HandlerFunc{}}
			eps[verb] = ep
		}
		ep.methods = append(ep.methods, rt.method)
		ep.fns[rt.method] = fn
	}
	for _, mp := range paths {
		eps := byPath[mp]
		var methods []string
		for _, ep := range eps {
			for _, m := range ep.methods {
				if !slices.Contains(methods, m) {
					methods = append(methods, m)
				}
			}
		}
		wc, hasVerbs := wildcards[mp]
		if !hasVerbs {
			ep := eps[""]
			for _, m := range methods {
				h.mux.HandleFunc(m+" "+mp, ep.fns[m])
			}
			// Any other method on a known path: 405 with Allow, in JSON.
			allowed := ep.allow()
			h.mux.HandleFunc(mp, func(w http.ResponseWriter, r *http.Request) { methodNotAllowed(w, r, allowed) })
			continue
		}
		dispatch := verbDispatcher(wc, eps)
		for _, m := range methods {
			h.mux.HandleFunc(m+" "+mp, dispatch)
		}
		h.mux.HandleFunc(mp, dispatch)
	}
	h.mux.HandleFunc("/", noSuchEndpoint)
}

// verbDispatcher serves the routes of a resource and its verbs: the verb follows the
// last ':' of the wildcard's value, which the handler sees without it.
func verbDispatcher(wildcard string, eps map[string]*endpoint) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		v := r.PathValue(wildcard)
		verb := ""
		if i := strings.LastIndexByte(v, ':'); i >= 0 {
			if verb = v[i+1:]; verb == "" {
				noSuchEndpoint(w, r)
				return
			}
			r.SetPathValue(wildcard, v[:i])
		}
		ep := eps[verb]
		if ep == nil {
			noSuchEndpoint(w, r)
			return
		}
		fn := ep.handler(r.Method)
		if fn == nil {
			methodNotAllowed(w, r, ep.allow())
			return
		}
		fn(w, r)
	}
}

// routeOf is the route a request is labelled with in metrics and logs: the mux
// pattern that serves it ("GET /v1/workspaces/{ws}/segments/{id}"), with the verb
// when the request names one the pattern serves ("POST …/segments/{id}:preview").
func (h *Handler) routeOf(r *http.Request) string {
	_, pattern := h.mux.Handler(r)
	_, path, ok := strings.Cut(pattern, " ")
	if !ok {
		path = pattern
	}
	verbs := h.verbs[path]
	if len(verbs) == 0 {
		return pattern
	}
	last := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	if i := strings.LastIndexByte(last, ':'); i >= 0 && slices.Contains(verbs, last[i+1:]) {
		return pattern + ":" + last[i+1:]
	}
	return pattern
}
