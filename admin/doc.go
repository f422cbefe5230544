// Package admin serves segmentd's admin API: JSON over HTTP under /v1, the table of
// SPEC §8. [New] returns a [Handler] (an http.Handler) that `segmentd run` mounts at
// /v1/ on its HTTP server beside /metrics, /healthz and /readyz. openapi.yaml in this
// directory describes every endpoint; the handler also serves it at
// GET /v1/openapi.yaml.
//
// # Reads and writes
//
// Reads go to a [Backend]: the query methods of *processor.Processor (processor/query.go),
// which answer for the partitions the process owns and say which in a Local. They answer
// in domain values (processor.SegmentInfo, processor.Contact with its operators.Attrs,
// …); the JSON the API shows is this package's: views.go renders them as [Segment],
// [Contact] (the attributes of SPEC §5 by name, evaluated at the contact's Now),
// [ContactSummary], and reads [AudienceRef] and the members cursor, so that processor
// changes do not change the wire. wire_test.go pins every kind of answer against a
// document written out by hand; openapi.yaml describes the same documents. Writes
// (PUT and DELETE of a segment) validate the definition with operators.ParseDefinition
// and produce it, or a tombstone, to the segments topic with a [Producer] (a
// kgo.Client: synchronous, acks=all), keyed "<workspace>/<id>".
//
// Writes follow the topic, not the process's view of it when the request came ("read
// your writes"): a write first calls Backend.SyncSegments, which waits until the process
// has applied everything the topic held, then decides (PUT: created, updated, or
// unchanged for an identical definition, which is not written again; DELETE: 404 for
// an unknown segment), produces, and calls Backend.WaitSegmentRecord for its own
// record, so that the answer and any later request to this process see the write. The
// writes of one handler are serialized. Both waits are bounded by the request timeout
// (504, saying whether the record was written). Other processes read the topic on their
// own and see a write about one commit interval later; a new definition's members are
// filled in by a backfill, shown as "backfilling": true. Every write is logged as an
// "admin write" line naming the client address, the workspace and the segment.
//
// The previews write nothing: POST …/segments:preview evaluates an unsaved definition
// (Backend.Preview), POST …/segments/{id}:preview compares a definition with segment
// id's current members (Backend.PreviewChange: members, matching, would enter, would
// leave, and the lowest customer ids of those entering and leaving). Both are reads
// that fan out. A custom method such as "{id}:preview" cannot be a ServeMux pattern
// (its wildcards are whole segments): routes.go serves it through the pattern of its
// resource, splitting the verb off the wildcard, and labels it with its own path.
//
// # Several processes
//
// Each process of a consumer group owns some partitions. Without peers, an answer
// covers the caller's process only and says which partitions in "partitions". With
// Config.Peers (the base URLs of the other processes' HTTP servers), a request fans out:
// the handler asks each peer the same question with ?local=true (a peer then answers
// from its own partitions and does not fan out again), forwarding the bearer token, and
// merges: counts are summed, lists concatenated, de-duplicated and sorted, "partitions"
// is the union; a contact or an explanation is the first answer that is not a 404 (a
// contact lives in exactly one partition); members pages go through the processes one
// after another, the cursor naming the process (local first, then the peers in the
// order given) and the position inside it.
//
// A peer that cannot be reached or answers with an error fails the whole request with
// 502 and {"error": "...", "peer": "<url>"}: an audience count that silently lacks some
// partitions is worse than none. Callers that prefer a partial answer can ask each
// process with ?local=true and add up themselves; "partitions" shows the coverage. The
// same peer list may be given to every process: a handler recognises itself in the
// list by the X-Segmentd-Instance header its answers carry, and skips itself. During a
// rebalance a partition can be briefly owned by two processes or by none; answers then
// count it twice or not at all until the group settles.
//
// # Security
//
// When the HTTP server listens on a non-loopback address (Config.ListenAddr), every
// /v1 request must carry "Authorization: Bearer <token>", compared with the configured
// token in constant time (the SHA-256 digests of both are compared with
// crypto/subtle, so neither the content nor the length leaks). With Config.Tokens the
// tokens are asked for on each request, so that they can be rotated while the process
// runs: any of them is accepted, the first is sent to peers. A configured token is
// required on a loopback address as well. On a non-loopback address without a token,
// the admin API is locked: every /v1 request is refused with 403 (the process still
// serves /metrics, /healthz and /readyz, so a metrics-only deployment keeps working).
// Missing or malformed credentials are 401 with a WWW-Authenticate challenge, a wrong
// token 403. Open on a loopback address (no token), the API serves only requests whose
// Host is a loopback name (localhost, a loopback IP such as 127.0.0.1 or [::1], any
// port) and refuses others with 403: a web page cannot reach it through a name of its
// own that resolves to 127.0.0.1 (DNS rebinding).
//
// Request bodies are limited to Config.MaxBodyBytes (default 1 MiB; larger is 413),
// and every request gets Config.RequestTimeout (default 30s). The request log names the
// method, the route pattern (e.g. GET /v1/workspaces/{ws}/contacts/{customer_id}), the
// status and the duration, never the path values, the query or a body: no contact data
// is logged. Config.Registerer receives segmentd_admin_requests_total{route, code} and
// segmentd_admin_request_seconds{route}, labelled the same way.
//
// # Errors
//
// The {ws} of every route must be a shop domain by the rule events are held to
// (events.ParseWorkspace); request bodies must be JSON (a Content-Type other than
// application/json or …+json is refused; none is taken as JSON).
//
// Every error is JSON {"error": "<message>"} with a status: 400 invalid input (an
// invalid definition adds "path", the JSON path the §6 message names; an invalid
// workspace), 401/403 authentication, 404 unknown segment, contact or endpoint (the
// message names which), 405 (with Allow), 408 a body not received within the server's
// read timeout (the message names no address), 413 body too large, 415 a body that is
// not JSON, 502 a peer failed (adds "peer"), 503 the process is not ready (reading
// definitions or restoring partitions; with Retry-After) or the segments topic cannot be
// read or written, 504 the request timed out (for a write, the message says whether the
// record was written).
package admin
