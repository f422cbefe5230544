// Package operators is segmentd's rule language: it parses and validates segment
// definitions (SPEC §6), compiles them into predicates, evaluates them against a
// contact's attributes (SPEC §5), and indexes the predicates of a workspace so that an
// attribute change touches only the segments it can affect. It is pure code: no I/O,
// no clocks (now is always an argument), no package-level mutable state.
//
// # Types
//
// A Definition is a segment as written on the segments topic; ParseDefinition
// decodes and validates one, reporting the first problem as a *ValidationError that
// names its JSON path ("groups[1].conditions[0].op"). RulesKey is its canonical rules
// encoding: equal keys mean equal rules. Compile turns a valid definition into a
// Segment: ORed groups of ANDed conditions, each a predicate plus a negation flag.
// Attrs is the evaluation view of one contact, derived by the state package.
// A RuleSet holds the compiled segments of one workspace and the indexes over their
// predicates; Explain reports a segment's evaluation condition by condition.
// Segment references (references.go): a segment condition reads Attrs.Segments, the
// contact's current memberships; CheckReferences keeps a workspace's references
// acyclic and at most MaxReferenceDepth deep; DependencyOrder orders segments so that
// each follows the ones it references, and RuleSet.Referencing finds the segments
// to evaluate again when a membership changes.
//
// # Validation
//
// Beyond the table of SPEC §6, ParseDefinition rejects unknown and duplicate JSON keys
// and trailing data; lower-cases the workspace; requires country values to be two
// letters and language values a primary subtag ("es", not "es-MX", which no contact
// has); takes a JSON integer as a list or automation id (SPEC §2); and rejects numbers
// it cannot hold exactly (more than 19 significant digits) rather than rounding them.
// Integer fields accept fractional thresholds ("orders_count gt 2.5" is "gte 3").
//
// # Invariants
//
// Segments and RuleSets are immutable once built and safe for concurrent use; Match
// and Affected do not allocate (Affected reuses the caller's dst).
//
// Absent values: a condition on an absent value (no phone, country, language, city,
// province, email domain, order, message, engagement, creation date, or average order
// value) is false whatever its operator, the negations is_not and not_in included.
// Consent statuses are never absent (unknown). Sets are never absent: no tags, lists
// or purchases is the empty set, so has_not, not_in_list, not_in and not_between hold
// for a contact with nothing. Counters are present, zero, for every contact. An excluded
// contact matches no segment.
//
// Affected is a superset: for old and new attributes of one contact at one instant it
// returns every segment whose match may differ — never fewer — and finds them through
// the indexes without evaluating the other segments, so the work per event follows
// what changed, not the number of segments. Ordered fields keep their predicates'
// bounds sorted, so a value change from a to b costs a binary search and a scan of the
// bounds in [a, b]; string and set fields map each value to the predicates that
// mention it; identical predicates of several segments are indexed once. Time alone
// flips only the time-relative predicates (days since, in_last_days and
// more_than_days_ago on every date field, lifecycle_stage, and windows: a counter or
// sum with "in_last_days", whose value falls as items leave the window, window.go);
// NextFlip says when the next one flips for a contact, so the processor arms a timer
// instead of sweeping all contacts. in_last_days / more_than_days_ago on
// first_order_at and last_order_at are the predicates of days_since_first_order /
// days_since_last_order, indexed once. Absolute before/after/between never flip with
// time.
package operators
