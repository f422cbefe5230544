package processor

import "github.com/segmentd/segmentd/events"

// DeadLetterReasons returns every reason code a dead letter of the processor can carry
// in its segmentd-error header: the events package's, invalid_definition of the
// segments topic, and the contact bound's contact_too_large and contact_refused. The dead-letter metric pre-registers them; docs/SPEC.md §4.4 lists
// them (a test keeps the two in step). The caller owns the returned slice.
func DeadLetterReasons() []events.Reason {
	return append(events.Reasons(), reasonInvalidDefinition, ReasonContactTooLarge, ReasonContactRefused)
}
