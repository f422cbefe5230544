package segmentd.peer;

import java.util.HashMap;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CountDownLatch;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.state.Stores;

/**
 * The Kafka Streams peer of segmentd: the events topic into a per-contact RocksDB store,
 * the segments topic into a global store, memberships out. Flags are {@code --name value}.
 */
public final class Main {
  static final String CONTACTS = "contacts";
  static final String SEGMENTS = "segments";

  public static void main(String[] argv) throws Exception {
    Map<String, String> a = new HashMap<>(Map.of(
        "--bootstrap", "127.0.0.1:9092",
        "--application-id", "segmentd-kstreams-peer",
        "--events", "segmentd.events",
        "--segments", "segmentd.segments",
        "--membership", "segmentd.membership",
        "--state-dir", "/tmp/segmentd-kstreams-peer",
        "--threads", "2",
        "--commit-interval-ms", "100",
        "--cache-bytes", String.valueOf(32L << 20),
        "--exclusion-tag", "exclude_from_galantis"));
    for (int i = 0; i + 1 < argv.length; i += 2) {
      if (!a.containsKey(argv[i])) {
        System.err.println("kstreams-peer: unknown flag " + argv[i] + "; flags: " + a.keySet());
        System.exit(2);
      }
      a.put(argv[i], argv[i + 1]);
    }
    if (argv.length % 2 != 0) {
      System.err.println("kstreams-peer: flag " + argv[argv.length - 1] + " needs a value");
      System.exit(2);
    }

    StreamsBuilder b = new StreamsBuilder();
    // Segment definitions: a global store fed by the segments topic itself (restored
    // from it, no changelog), read by every task with a prefix scan of the workspace.
    b.addGlobalStore(
        Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(SEGMENTS), Serdes.String(), Serdes.String())
            .withLoggingDisabled(),
        a.get("--segments"),
        Consumed.with(Serdes.String(), Serdes.String()),
        SegmentsLoader::new);
    // Contacts: one RocksDB store, changelogged (exactly-once restore), cached.
    b.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(CONTACTS), Serdes.String(),
        Serdes.ByteArray()));
    String exclusion = a.get("--exclusion-tag").trim().toLowerCase(java.util.Locale.ROOT);
    b.stream(a.get("--events"), Consumed.with(Serdes.String(), Serdes.ByteArray()))
        .process(() -> new SegmentProcessor(exclusion), CONTACTS)
        .to(a.get("--membership"), Produced.with(Serdes.String(), Serdes.String()));

    Properties p = new Properties();
    p.put(StreamsConfig.APPLICATION_ID_CONFIG, a.get("--application-id"));
    p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, a.get("--bootstrap"));
    p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
    p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, Integer.parseInt(a.get("--commit-interval-ms")));
    p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, Integer.parseInt(a.get("--threads")));
    p.put(StreamsConfig.STATE_DIR_CONFIG, a.get("--state-dir"));
    p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, Long.parseLong(a.get("--cache-bytes")));
    p.put(StreamsConfig.ROCKSDB_CONFIG_SETTER_CLASS_CONFIG, BoundedRocksDB.class);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.MAX_POLL_RECORDS_CONFIG), 2000);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.FETCH_MIN_BYTES_CONFIG), 1);
    p.put(StreamsConfig.consumerPrefix(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG), 10_000);
    p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 5);
    p.put(StreamsConfig.producerPrefix(ProducerConfig.COMPRESSION_TYPE_CONFIG), "lz4");
    p.put(StreamsConfig.producerPrefix(ProducerConfig.BATCH_SIZE_CONFIG), 128 * 1024);

    KafkaStreams streams = new KafkaStreams(b.build(), p);
    CountDownLatch done = new CountDownLatch(1);
    streams.setStateListener((now, before) -> {
      System.err.println("kstreams-peer: state " + before + " -> " + now);
      if (now == KafkaStreams.State.ERROR || now == KafkaStreams.State.NOT_RUNNING) {
        done.countDown();
      }
    });
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      // Leave the group on the way out (Kafka Streams stays a member by default until
      // its session times out), so that the next run or an offset reset need not wait.
      streams.close(new KafkaStreams.CloseOptions().leaveGroup(true).timeout(java.time.Duration.ofSeconds(30)));
      done.countDown();
    }));
    streams.start();
    done.await();
    if (streams.state() == KafkaStreams.State.ERROR) {
      System.exit(1);
    }
  }
}
