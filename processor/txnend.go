package processor

import (
	"context"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// endContext returns the context to end window w's transaction with.
//
// franz-go's GroupTransactSession.End learns that the broker supports KIP-447 from
// the version of its TxnOffsetCommit response. A window that consumed nothing (a
// window of timers, backfills or reconciliation only) sends no TxnOffsetCommit, so
// End assumes an old broker and holds the session's lock for 500 ms after the
// commit, and the next window's End waits for it: such windows committed at most
// twice a second, which made backfills wait ~500 ms per window and timers fire late.
// Adding the committed offset of one partition this process owns (a no-op: the
// offset does not move) makes the request real, and End learns KIP-447 from its
// response. A partition is taken only if franz-go and the processor both consider it
// owned, so that a partition that moved is never committed again at an old offset;
// if the group moved on meanwhile, the commit fails like any other and the window
// aborts.
func (p *Processor) endContext(ctx context.Context, w *window) context.Context {
	if w.records > 0 {
		return ctx // the window's own offsets make the request
	}
	var topic string
	var part int32
	var at kgo.EpochOffset
	for t, ps := range p.sess.Client().CommittedOffsets() {
		if !slices.Contains(p.cfg.Topics.Events, t) {
			continue
		}
		for id, eo := range ps {
			if p.parts[id] != nil && eo.Offset >= 0 {
				topic, part, at = t, id, eo
				break
			}
		}
		if topic != "" {
			break
		}
	}
	if topic == "" {
		return ctx
	}
	return kgo.PreTxnCommitFnContext(ctx, func(req *kmsg.TxnOffsetCommitRequest) error {
		if len(req.Topics) > 0 {
			return nil // offsets to commit after all
		}
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = topic
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Partition = part
		rp.Offset = at.Offset
		rp.LeaderEpoch = at.Epoch
		rp.Metadata = &req.MemberID
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		return nil
	})
}
