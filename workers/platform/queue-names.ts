/**
 * Each environment names its queues (`reelstream-transcode` locally, `reelstream-staging-transcode`
 * in staging, …: queue names are per account), and every dead-letter queue's name ends in `-dlq`
 * (testing/deploy-config.test.ts checks wrangler.toml): that suffix, not a name, tells a dead message.
 *
 * @example
 * isDeadLetterQueue(batch.queue); // true for "reelstream-production-transcode-dlq"
 */
export function isDeadLetterQueue(queue: string): boolean {
  return queue.endsWith("-dlq");
}
