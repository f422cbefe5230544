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

// refuseLocked records a refused record (w.mu held); the window aborts, and
// quarantineRefused decides whose input the next run dead-letters.
func (w *window) refuseLocked(r *kgo.Record, size int, reason string, err error) {
	rf := refusal{key: string(r.Key), topic: r.Topic, partition: r.Partition, size: size, reason: reason, err: err, dlq: r.Topic == w.opts.topics.DLQ}
	w.mu.refused = append(w.mu.refused, rf)
	if w.mu.err == nil {
		w.mu.err = fmt.Errorf("produce to %s: %w: %w", r.Topic, errRecordRefused, err)
	}
}

// quarantineRefused moves the window's refusals to the processor's quarantine (the
// loop's goroutine, after the window's records are all acknowledged). A record over
// the producer's limit is refused alone. The brokers refuse a whole batch: of each
// refused batch (topic and partition) only the largest record is taken for the
// culprit; if it was not, the next run's batch is refused again and the next largest
// goes, so a run of aborted windows converges on the records too large.
func (p *Processor) quarantineRefused(w *window) {
	w.mu.Lock()
	defer w.mu.Unlock()
	type tp struct {
		topic string
		part  int32
	}
	largest := map[tp]int{}
	for i, rf := range w.mu.refused {
		if rf.reason != "broker_refused" {
			continue
		}
		k := tp{rf.topic, rf.partition}
		if j, ok := largest[k]; !ok || rf.size > w.mu.refused[j].size {
			largest[k] = i
		}
	}
	for i, rf := range w.mu.refused {
		if rf.reason == "broker_refused" && largest[tp{rf.topic, rf.partition}] != i {
			p.cfg.Logger.Debug("record refused with its batch", "topic", rf.topic, "partition", rf.partition, "key", rf.key, "bytes", rf.size)
			continue
		}
		p.m.recordsRefused.WithLabelValues(rf.reason).Inc()
		p.cfg.Logger.Error("record refused: quarantining its contact, whose input records go to the dead-letter topic until restart",
			"topic", rf.topic, "partition", rf.partition, "contact", rf.key, "bytes", rf.size, "reason", rf.reason, "err", rf.err)
		if p.quarantine == nil {
			p.quarantine = map[string]quarantined{}
		}
		q := p.quarantine[rf.key]
		q.detail = fmt.Sprintf("a %d-byte record for this contact was refused by %s (%s): %v", rf.size, rf.topic, rf.reason, rf.err)
		q.dropValue = q.dropValue || rf.dlq
		p.quarantine[rf.key] = q
	}
	w.mu.refused = nil
}

// quarantined is a contact whose input records are dead-lettered (ReasonContactRefused).
type quarantined struct {
	detail    string
	dropValue bool // its dead letter was refused too: dead-letter without the value
}

// windowLimit is the most input records the next window takes.
func (p *Processor) windowLimit() int {
	if p.windowCap > 0 && p.windowCap < p.cfg.MaxWindowRecords {
		return p.windowCap
	}
	return p.cfg.MaxWindowRecords
}

// shrinkWindow halves the input of the next windows after w ran out of time: the same
// records processed again in a window as large would abort again, and nothing would
// ever be committed. Committed windows double it back (growWindow).
func (p *Processor) shrinkWindow(w *window) {
	if w.records == 0 {
		return
	}
	p.windowCap = max(1, min(w.records, p.windowLimit())/2)
	p.cfg.Logger.Warn("window ran out of time: taking fewer records per window", "max_window_records", p.windowCap)
}

func (p *Processor) growWindow() {
	if p.windowCap > 0 {
		if p.windowCap *= 2; p.windowCap >= p.cfg.MaxWindowRecords {
			p.windowCap = 0
		}
	}
}
