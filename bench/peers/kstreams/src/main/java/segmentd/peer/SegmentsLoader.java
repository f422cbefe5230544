package segmentd.peer;

import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

/** Feeds the global segments store: a definition per key, a tombstone deletes. */
final class SegmentsLoader implements Processor<String, String, Void, Void> {
  private KeyValueStore<String, String> store;

  @Override
  public void init(ProcessorContext<Void, Void> ctx) {
    store = ctx.getStateStore(Main.SEGMENTS);
  }

  @Override
  public void process(Record<String, String> r) {
    if (r.key() == null) {
      return;
    }
    if (r.value() == null) {
      store.delete(r.key());
      return;
    }
    try {
      Rules.Segment s = Rules.parse(r.value());
      if (!r.key().equals(s.workspace + "/" + s.id)) {
        System.err.println("kstreams-peer: segments key " + r.key() + " is not " + s.workspace + "/" + s.id + "; skipped");
        return;
      }
      store.put(r.key(), r.value());
    } catch (Exception e) {
      // Outside the peer's subset or invalid: the segment keeps its previous definition.
      System.err.println("kstreams-peer: definition " + r.key() + " skipped: " + e.getMessage());
    }
  }
}
