/**
 * Where the tests against real engines (PostgreSQL, etcd, S3) find them, and
 * whether they may skip. `scripts/ci/engines.sh start` runs all three on
 * loopback and prints these variables; CI sets STRATA_ENGINE_TESTS=1 so that an
 * engine that is not reachable fails the run instead of skipping silently.
 */
export const ENGINES = {
  postgresUrl: process.env.STRATA_TEST_POSTGRES_URL ?? "postgres://strata@127.70.0.1:55432/strata",
  etcdEndpoints: (process.env.STRATA_TEST_ETCD_ENDPOINTS ?? "http://127.70.0.1:23790").split(","),
  s3: {
    endpoint: process.env.STRATA_TEST_S3_ENDPOINT ?? "http://127.70.0.1:8090",
    region: process.env.STRATA_TEST_S3_REGION ?? "RegionOne",
    accessKeyId: process.env.STRATA_TEST_S3_ACCESS_KEY_ID ?? "test:tester",
    secretAccessKey: process.env.STRATA_TEST_S3_SECRET_ACCESS_KEY ?? "testing",
  },
};

/**
 * Runs `probe`; resolves to null when the engine answers, else to the reason
 * for skipping. With STRATA_ENGINE_TESTS set, an unreachable engine throws.
 */
export async function engineSkipReason(
  engine: string,
  probe: () => Promise<unknown>,
): Promise<string | null> {
  try {
    await probe();
    return null;
  } catch (err) {
    const reason = `${engine} not reachable (${(err as Error).message}); start it with scripts/ci/engines.sh start`;
    if (process.env.STRATA_ENGINE_TESTS)
      throw new Error(`STRATA_ENGINE_TESTS is set but ${reason}`);
    return reason;
  }
}
