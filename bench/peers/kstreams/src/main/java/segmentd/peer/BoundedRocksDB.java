package segmentd.peer;

import java.util.Map;

import org.apache.kafka.streams.state.RocksDBConfigSetter;
import org.rocksdb.BlockBasedTableConfig;
import org.rocksdb.Cache;
import org.rocksdb.CompressionType;
import org.rocksdb.LRUCache;
import org.rocksdb.Options;
import org.rocksdb.WriteBufferManager;

/**
 * RocksDB bounded as the Kafka Streams memory-management guide recommends: one block
 * cache and one write-buffer manager shared by every store instance of the process,
 * index and filter blocks counted in the cache, LZ4 blocks, two background jobs for
 * two cores.
 */
public final class BoundedRocksDB implements RocksDBConfigSetter {
  static final long CACHE_BYTES = 64L << 20;
  static final long WRITE_BUFFER_BYTES = 32L << 20;
  private static final Cache CACHE = new LRUCache(CACHE_BYTES, -1, false, 0.1);
  private static final WriteBufferManager WBM = new WriteBufferManager(WRITE_BUFFER_BYTES, CACHE);

  @Override
  public void setConfig(String storeName, Options options, Map<String, Object> configs) {
    BlockBasedTableConfig t = (BlockBasedTableConfig) options.tableFormatConfig();
    t.setBlockCache(CACHE);
    t.setCacheIndexAndFilterBlocks(true);
    t.setCacheIndexAndFilterBlocksWithHighPriority(true);
    t.setPinTopLevelIndexAndFilter(true);
    t.setBlockSize(16 * 1024);
    options.setTableFormatConfig(t);
    options.setWriteBufferManager(WBM);
    options.setMaxWriteBufferNumber(2);
    options.setWriteBufferSize(8L << 20);
    options.setMaxBackgroundJobs(2);
    options.setCompressionType(CompressionType.LZ4_COMPRESSION);
  }

  @Override
  public void close(String storeName, Options options) {
    // CACHE and WBM are shared by every store: never closed here.
  }
}
