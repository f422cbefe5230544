package processor

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/segmentd/segmentd/events"
)

// Dead-letter reason codes of the processor (the decoders' are in package events).
const (
	// ReasonContactTooLarge: applying the record would grow what a contact keeps
	// exactly (tags, lists, automations, back-in-stock subscriptions, conversations,
	// profile) past its share of --max-contact-bytes. The contact is left as it was.
	ReasonContactTooLarge events.Reason = "contact_too_large"
	// ReasonContactRefused: the brokers refused a record that segmentd produced for the
	// record's contact (e.g. MESSAGE_TOO_LARGE); the contact's input records are
	// dead-lettered until the process restarts, so that every other contact keeps being
	// processed.
	ReasonContactRefused events.Reason = "contact_refused"
)

// maxProduceRecordBytes is the largest record the processor produces: franz-go's
// default producer batch limit (1,000,012 bytes, Kafka's max.message.bytes default)
// less room for the batch's own header.
const maxProduceRecordBytes = 1_000_012 - 1024

// errRecordRefused aborts a window in which a produced record was refused.
var errRecordRefused = errors.New("a produced record was refused")

// recordSize estimates the bytes r takes in a batch.
func recordSize(r *kgo.Record) int {
	n := 32 + len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += 8 + len(h.Key) + len(h.Value)
	}
	return n
}

// refusedErr reports whether a produce error is the brokers' (or the client's) refusal
// of a record too large, which producing again cannot fix.
func refusedErr(err error) bool {
	return errors.Is(err, kerr.MessageTooLarge) || errors.Is(err, kerr.RecordListTooLarge) ||
		errors.Is(err, kerr.InvalidRecord) || errors.Is(err, kerr.CorruptMessage)
}

// refusal is a record refused in a window: the contact whose input is quarantined.
type refusal struct {
	key       string // contact key (the key of every record segmentd produces for it)
	topic     string
	partition int32
	size      int
	reason    string // metric label: record_too_large (checked before producing) or the broker's error
	err       error
	dlq       bool // the refused record was a dead letter: quarantine drops values
}

// refuseLocked records a refused record (w.mu held): it is logged with what names it,
// counted, and the window aborts; the next run dead-letters the contact's input.
func (w *window) refuseLocked(r *kgo.Record, size int, reason string, err error) {
	rf := refusal{key: string(r.Key), topic: r.Topic, partition: r.Partition, size: size, reason: reason, err: err, dlq: r.Topic == w.p.cfg.Topics.DLQ}
	w.mu.refused = append(w.mu.refused, rf)
	if w.mu.err == nil {
		w.mu.err = fmt.Errorf("produce to %s: %w: %w", r.Topic, errRecordRefused, err)
	}
	w.p.m.recordsRefused.WithLabelValues(reason).Inc()
	w.p.cfg.Logger.Error("record refused: quarantining its contact, whose input records go to the dead-letter topic",
		"topic", r.Topic, "partition", r.Partition, "contact", rf.key, "bytes", size, "reason", reason, "err", err)
}

// quarantineRefused moves the window's refusals to the processor's quarantine (the
// loop's goroutine, after the window's records are all acknowledged).
func (p *Processor) quarantineRefused(w *window) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, rf := range w.mu.refused {
		if p.quarantine == nil {
			p.quarantine = map[string]quarantined{}
		}
		q := p.quarantine[rf.key]
		q.detail = fmt.Sprintf("a %d-byte record for this contact was refused by %s (%s): %v", rf.size, rf.topic, rf.reason, rf.err)
		q.dropValue = q.dropValue || rf.dlq
		p.quarantine[rf.key] = q
	}
}

// quarantined is a contact whose input records are dead-lettered (ReasonContactRefused).
type quarantined struct {
	detail    string
	dropValue bool // its dead letter was refused too: dead-letter without the value
}
