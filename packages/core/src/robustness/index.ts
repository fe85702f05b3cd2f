/**
 * Robustness of a split, computed in shards that any number of workers can share: computeRobustness makes
 * one shard, serializeShard/parseShard move it through text, mergeShards joins a complete set. No I/O here;
 * must not import queues, databases or HTTP.
 */
export { type ComputeRobustnessOptions, computeRobustness, type RobustnessSplit } from './compute.ts';
export {
  type MergedRobustness,
  mergeShards,
  parseShard,
  type RobustnessRunHeader,
  type RobustnessShard,
  SHARD_FORMAT,
  type ShardHeader,
  type ShardRow,
  serializeShard,
  shardBounds,
} from './shard.ts';
