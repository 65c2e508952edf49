// The protect suite on real servers: Postgres (LINEAGE_TEST_PG_URL) and NATS JetStream
// (LINEAGE_TEST_NATS_URL). Missing servers: a visible skip outside CI, a failure in CI.
import { serverTargets } from "./protect-fixture.js";
import { protectSuite } from "./protect-suite.js";

const { pg, nats } = await serverTargets();
const skip = pg.skip ?? nats.skip;
protectSuite({
  name: "postgres+nats",
  ...(skip !== undefined ? { skip } : {}),
  ...(pg.url !== undefined ? { pgUrl: pg.url } : {}),
  config: (schema) => ({
    database: { postgres_url: pg.url, schema },
    nats: { url: nats.url, ensure_stream: true },
  }),
});
